// `npm run lab:telemetry -- up|status|fault|down`: the telemetry lab (infra/telemetry-lab.ts) as
// long-running processes on this machine, for running `npm start` against real metrics.
//
//   up     [--rps N] [--port P]   Prometheus, 6 reference model servers (aws, azure, gcp × stable
//                                 1.0.0, canary 2.0.0 of sepsis-risk) and the load generator, all
//                                 detached; writes .data/lab/config.yaml (three simulated clouds whose
//                                 telemetry is that Prometheus) and puts sepsis-risk 1.0.0 in place as
//                                 the stable version of the simulated clouds in .data/
//   status                        what runs, the targets' health
//   fault  [--cloud C] [--track canary|stable] [--latency-ms N] [--error-rate R] [--drift D]
//          [--crash-after N] | --clear
//   down                          stops what `up` started (only those processes)
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { SimulatedCloudDriver } from '../activities/cloud/simulated.js';
import { parseConfig } from '../domain/config.js';
import type { Faults } from '../examples/model-server/config.js';
import { stateDirectory } from '../workers/factory.js';
import { activeTargets, stopRecordedPrometheus } from './prometheus/local.js';
import {
  LAB_STATE_FILE,
  labCloudConfigs,
  setLabFaults,
  startTelemetryLab,
  type LabState,
} from './telemetry-lab.js';

const DATA_DIR = '.data';
const LAB_DIR = path.join(DATA_DIR, 'lab');
const CONFIG_FILE = path.join(LAB_DIR, 'config.yaml');
const log = (line: string) => console.log(`[lab] ${line}`);

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    rps: { type: 'string' },
    port: { type: 'string' },
    cloud: { type: 'string' },
    track: { type: 'string', default: 'canary' },
    'latency-ms': { type: 'string' },
    'error-rate': { type: 'string' },
    drift: { type: 'string' },
    'crash-after': { type: 'string' },
    clear: { type: 'boolean', default: false },
  },
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function readState(): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(path.join(LAB_DIR, LAB_STATE_FILE), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

async function commandLine(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function number(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number ≥ 0, got ${text}`);
  return value;
}

async function up(): Promise<void> {
  const existing = await readState();
  if (existing && alive(existing.prometheus.pid)) {
    log(`already running: Prometheus ${existing.prometheus.url}; configuration ${CONFIG_FILE}`);
    return;
  }
  const rps = number('rps', values.rps) ?? 20;
  const port = number('port', values.port);
  const state: LabState = await startTelemetryLab({
    dataDir: LAB_DIR,
    rpsPerInstance: rps,
    detached: true,
    ...(port ? { prometheusPort: port } : {}),
    log,
  }).then(async () => (await readState())!);
  const clouds = labCloudConfigs(state);
  await writeFile(
    CONFIG_FILE,
    `# Written by \`npm run lab:telemetry -- up\`: three simulated clouds whose canary telemetry is the\n` +
      `# lab's Prometheus (docs/telemetry.md). MEDRELEASE_CONFIG=${CONFIG_FILE} npm start\n` +
      `# The lab's releases carry no manifest: only the built-in request checks judge them (the compliance\n` +
      `# gate on a full manifest is shown by examples/release-request.json on the default configuration).\n` +
      stringify({ clouds, compliance: { requireManifest: false } }),
  );
  const config = parseConfig({ dataDir: DATA_DIR, clouds, compliance: { requireManifest: false } });
  for (const cloud of config.clouds) {
    const driver = new SimulatedCloudDriver(cloud.name, {
      stateDir: stateDirectory(config, 'sim-clouds', cloud.name),
    });
    const current = await driver.describe(state.model);
    if (current?.stable && current.stable.version !== state.stableVersion) {
      log(
        `warning: ${cloud.name} runs ${state.model} ${current.stable.version} as stable, the lab's stable servers are ` +
          `${state.stableVersion}: a release's baseline would find no data (stop npm start and remove ` +
          `${stateDirectory(config, 'sim-clouds', cloud.name)} to start afresh)`,
      );
      continue;
    }
    if (current) continue;
    await driver.seedStable(state.model, {
      version: state.stableVersion,
      image: `registry.example.org/models/${state.model}:${state.stableVersion}@sha256:${'0'.repeat(58)}100000`,
    });
  }
  log(`Prometheus ${state.prometheus.url} (graph: ${state.prometheus.url}/graph)`);
  log(`configuration for npm start: ${CONFIG_FILE}`);
  log(`  MEDRELEASE_CONFIG=${CONFIG_FILE} npm start`);
  log(
    `  then create a release of ${state.model} ${state.canaryVersion} from examples/release-request.lab.json (docs/telemetry.md)`,
  );
}

async function status(): Promise<void> {
  const state = await readState();
  if (!state) {
    log('not running (no lab.json)');
    return;
  }
  log(
    `Prometheus ${state.prometheus.url}: ${alive(state.prometheus.pid) ? `pid ${state.prometheus.pid}` : 'not running'}`,
  );
  for (const instance of state.instances) {
    log(
      `${instance.cloud}/${instance.track} ${state.model} ${instance.version} ${instance.url}: ${alive(instance.pid) ? `pid ${instance.pid}` : 'not running'}`,
    );
  }
  if (state.load)
    log(
      `load ${state.load.rpsPerInstance} requests/s per instance: ${alive(state.load.pid) ? `pid ${state.load.pid}` : 'not running'}`,
    );
  if (alive(state.prometheus.pid)) {
    const targets = await activeTargets(state.prometheus.url);
    log(`targets: ${targets.filter((target) => target.health === 'up').length} of ${targets.length} up`);
  }
}

async function fault(): Promise<void> {
  const state = await readState();
  if (!state) throw new Error('the lab is not running: npm run lab:telemetry -- up');
  const track = values.track;
  if (track !== 'canary' && track !== 'stable') {
    throw new Error(`--track must be canary or stable, got ${String(track)}`);
  }
  const faults: Partial<Faults> = values.clear
    ? {}
    : {
        ...(values['latency-ms'] !== undefined
          ? { latencyMs: number('latency-ms', values['latency-ms'])! }
          : {}),
        ...(values['error-rate'] !== undefined
          ? { errorRate: number('error-rate', values['error-rate'])! }
          : {}),
        ...(values.drift !== undefined ? { drift: number('drift', values.drift)! } : {}),
        ...(values['crash-after'] !== undefined
          ? { crashAfter: number('crash-after', values['crash-after'])! }
          : {}),
      };
  if (!values.clear && Object.keys(faults).length === 0) {
    throw new Error('name a fault (--latency-ms, --error-rate, --drift, --crash-after) or --clear');
  }
  await setLabFaults(state, track, faults, values.cloud);
  log(
    `${track} in ${values.cloud ?? 'every cloud'}: ${values.clear ? 'faults cleared' : JSON.stringify(faults)}`,
  );
}

async function down(): Promise<void> {
  const state = await readState();
  if (!state) {
    log('not running (no lab.json)');
    return;
  }
  const pids = [...state.instances.map((instance) => instance.pid), ...(state.load ? [state.load.pid] : [])];
  for (const pid of pids) {
    // Only processes that are still the lab's own (a recycled PID is left alone).
    if (alive(pid) && /examples\/model-server\/(server|load)\.js/.test(await commandLine(pid))) {
      process.kill(pid, 'SIGTERM');
    }
  }
  await stopRecordedPrometheus(state.prometheus.dataDir, { log });
  await rm(path.join(LAB_DIR, LAB_STATE_FILE), { force: true });
  log('stopped');
}

const command = positionals[0];
try {
  switch (command) {
    case 'up':
      await up();
      break;
    case 'status':
      await status();
      break;
    case 'fault':
      await fault();
      break;
    case 'down':
      await down();
      break;
    default:
      console.error(
        'usage: npm run lab:telemetry -- up [--rps N] [--port P] | status | fault [--cloud C] [--track canary|stable] [--latency-ms N] [--error-rate R] [--drift D] [--crash-after N] | fault --clear | down',
      );
      process.exit(2);
  }
} catch (error) {
  console.error(`[lab] ${(error as Error).message}`);
  process.exit(1);
}
