// The telemetry lab: real inference telemetry on one machine. A Prometheus (Debian's package, started
// by infra/prometheus/local.ts) scrapes, every second, reference model servers (examples/model-server)
// running as separate processes — per cloud, a stable instance of the stable version and a canary
// instance of the new one — while the load generator sends them requests. The end-to-end test of the
// prometheus telemetry source, bench:telemetry and `npm run lab:telemetry` (for `npm start` against
// real metrics) all run on it.
//
// Traffic: each instance gets the same request rate whatever the canary's weight (the simulated cloud
// driver routes nothing), as a canary analysis with an equally sized baseline deployment would see
// (Kayenta's advice). Faults are switched on and off per instance at run time (PUT /admin/faults).
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { CloudConfig } from '../domain/config.js';
import { defaultPlacement } from '../domain/config.js';
import type { Faults } from '../examples/model-server/config.js';
import { startLoad, type LoadHandle, type LoadStats } from '../examples/model-server/load.js';
import { ensureModel } from '../examples/model-server/model.js';
import { findFreePort, startPrometheus, waitForScrape, type PrometheusHandle } from './prometheus/local.js';

const SERVER_ENTRY = fileURLToPath(new URL('../examples/model-server/server.js', import.meta.url));
const LOAD_ENTRY = fileURLToPath(new URL('../examples/model-server/load.js', import.meta.url));
/** What a detached lab records in its data folder, for `lab:telemetry status|fault|down`. */
export const LAB_STATE_FILE = 'lab.json';

export interface LabState {
  prometheus: { url: string; pid: number; dataDir: string };
  instances: Array<{ cloud: string; track: LabTrack; version: string; url: string; pid: number }>;
  load: { pid: number; rpsPerInstance: number } | null;
  model: string;
  stableVersion: string;
  canaryVersion: string;
  scrapeIntervalSeconds: number;
}
const JOB = 'model-servers';

export type LabTrack = 'stable' | 'canary';

export interface LabInstance {
  cloud: string;
  track: LabTrack;
  version: string;
  url: string;
  port: number;
  process: ChildProcess;
}

export interface TelemetryLabOptions {
  /** Holds Prometheus's data, the trained model and the servers' logs. */
  dataDir: string;
  clouds?: string[];
  model?: string;
  stableVersion?: string;
  canaryVersion?: string;
  /** Requests per second sent to each instance. Default 20. */
  rpsPerInstance?: number;
  scrapeIntervalSeconds?: number;
  /** Default: a free port. */
  prometheusPort?: number;
  /** Prometheus and the servers outlive this process (`lab:telemetry up`). Default false. */
  detached?: boolean;
  log?: (line: string) => void;
}

export interface TelemetryLab {
  readonly prometheus: PrometheusHandle;
  readonly instances: readonly LabInstance[];
  readonly model: string;
  readonly stableVersion: string;
  readonly canaryVersion: string;
  readonly scrapeIntervalSeconds: number;
  /** Cloud configuration entries that read this lab's Prometheus (simulated driver). */
  cloudConfigs(): CloudConfig[];
  /** Sets the faults of the matching instances (every cloud when `cloud` is absent); others are untouched. */
  setFaults(track: LabTrack, faults: Partial<Faults>, cloud?: string): Promise<void>;
  load(): LoadStats;
  stop(): Promise<void>;
}

export async function startTelemetryLab(options: TelemetryLabOptions): Promise<TelemetryLab> {
  const log = options.log ?? (() => {});
  const clouds = options.clouds ?? ['aws', 'azure', 'gcp'];
  const model = options.model ?? 'sepsis-risk';
  const stableVersion = options.stableVersion ?? '1.0.0';
  const canaryVersion = options.canaryVersion ?? '2.0.0';
  // Twice a second: the source's step is two scrape intervals, so a 30 s window holds 30 samples.
  const scrapeIntervalSeconds = options.scrapeIntervalSeconds ?? 0.5;
  const rps = options.rpsPerInstance ?? 20;
  const dataDir = path.resolve(options.dataDir);
  const modelDir = path.join(dataDir, 'model');
  await mkdir(dataDir, { recursive: true });

  // One classifier for both tracks (a healthy canary is the stable model's equal), trained once here
  // rather than by six servers at once.
  const started = Date.now();
  const { model: classifier, trained } = await ensureModel(modelDir, {
    seed: 42,
    version: stableVersion,
    model,
  });
  classifier.dispose();
  log(
    `model ${trained ? `trained in ${((Date.now() - started) / 1000).toFixed(1)} s` : 'loaded'} (${modelDir})`,
  );

  const instances: LabInstance[] = [];
  const stopAll = async () => {
    for (const instance of instances)
      if (instance.process.exitCode === null) instance.process.kill('SIGTERM');
    await Promise.all(
      instances.map((instance) =>
        instance.process.exitCode === null && instance.process.signalCode === null
          ? new Promise<void>((resolve) => instance.process.once('exit', () => resolve()))
          : Promise.resolve(),
      ),
    );
  };
  let prometheus: PrometheusHandle | undefined;
  let load: LoadHandle | undefined;
  let loadProcess: ChildProcess | undefined;
  try {
    for (const cloud of clouds) {
      for (const track of ['stable', 'canary'] as const) {
        const port = await findFreePort();
        const version = track === 'stable' ? stableVersion : canaryVersion;
        const serverLog = path.join(dataDir, `server-${cloud}-${track}.log`);
        const child = spawn(process.execPath, [SERVER_ENTRY], {
          env: {
            ...process.env,
            MODEL_NAME: model,
            MODEL_VERSION: version,
            MODEL_CLOUD: cloud,
            MODEL_TRACK: track,
            PORT: String(port),
            HOST: '127.0.0.1',
            MODEL_DIR: modelDir,
            ADMIN_FAULTS: '1',
            LOG_LEVEL: 'warn',
          },
          // Detached servers outlive this process: their output goes to a file, not to a pipe.
          stdio: options.detached
            ? ['ignore', openSync(serverLog, 'a'), openSync(serverLog, 'a')]
            : ['ignore', 'ignore', 'pipe'],
          detached: options.detached ?? false,
        });
        child.stderr?.on('data', (chunk: Buffer) => log(`[${cloud}/${track}] ${chunk.toString().trimEnd()}`));
        if (options.detached) child.unref();
        instances.push({ cloud, track, version, url: `http://127.0.0.1:${port}`, port, process: child });
      }
    }
    if (!options.detached)
      process.once('exit', () => instances.forEach((instance) => instance.process.kill('SIGKILL')));
    await Promise.all(instances.map((instance) => waitReady(instance)));
    log(
      `${instances.length} model servers ready (${clouds.join(', ')} × stable ${stableVersion}, canary ${canaryVersion})`,
    );

    prometheus = await startPrometheus({
      dataDir: path.join(dataDir, 'prometheus'),
      ...(options.prometheusPort ? { port: options.prometheusPort } : {}),
      scrapeIntervalSeconds,
      detached: options.detached ?? false,
      // The servers label their own series (model, version, cloud, track); the target adds only job and instance.
      targets: instances.map((instance) => ({ job: JOB, address: `127.0.0.1:${instance.port}` })),
      log,
    });
    log(`Prometheus ${prometheus.url}`);
    if (options.detached) {
      // The load generator's own CLI, so that it keeps running after `lab:telemetry up` returns.
      const loadLog = path.join(dataDir, 'load.log');
      loadProcess = spawn(
        process.execPath,
        [
          LOAD_ENTRY,
          '--targets',
          instances.map((instance) => instance.url).join(','),
          '--rps',
          String(rps * instances.length),
          '--seed',
          '7',
          '--progress-seconds',
          '60',
        ],
        { stdio: ['ignore', openSync(loadLog, 'a'), openSync(loadLog, 'a')], detached: true },
      );
      loadProcess.unref();
    } else {
      load = startLoad({
        targets: instances.map((instance) => instance.url),
        rps: rps * instances.length,
        seed: 7,
      });
    }
    await waitForScrape(prometheus.url, {
      job: JOB,
      minTargets: instances.length,
      minSamples: 2,
      timeoutMs: 60_000,
    });
    log(`every server scraped; load ${rps} requests/s per instance`);
  } catch (error) {
    await load?.stop();
    loadProcess?.kill('SIGTERM');
    await prometheus?.stop();
    await stopAll();
    throw error;
  }
  const running = { prometheus, load };
  const state: LabState = {
    prometheus: { url: prometheus.url, pid: prometheus.pid, dataDir: prometheus.dataDir },
    instances: instances.map(({ cloud, track, version, url, process: child }) => ({
      cloud,
      track,
      version,
      url,
      pid: child.pid!,
    })),
    load: loadProcess?.pid ? { pid: loadProcess.pid, rpsPerInstance: rps } : null,
    model,
    stableVersion,
    canaryVersion,
    scrapeIntervalSeconds,
  };
  await writeFile(path.join(dataDir, LAB_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  return {
    prometheus: running.prometheus,
    instances,
    model,
    stableVersion,
    canaryVersion,
    scrapeIntervalSeconds,
    cloudConfigs: () => labCloudConfigs(state),
    setFaults: (track, faults, cloud) => setLabFaults(state, track, faults, cloud),
    load: () => {
      if (!running.load) throw new Error('the load of a detached lab runs in its own process (load.log)');
      return running.load.stats();
    },
    async stop() {
      await running.load?.stop();
      loadProcess?.kill('SIGTERM');
      await running.prometheus.stop();
      await stopAll();
    },
  };
}

async function waitReady(instance: LabInstance, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | undefined;
  instance.process.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
  });
  while (Date.now() < deadline) {
    if (exited)
      throw new Error(`model server ${instance.cloud}/${instance.track} ${exited} before it was ready`);
    try {
      const response = await fetch(`${instance.url}/readyz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await delay(200);
  }
  throw new Error(`model server ${instance.cloud}/${instance.track} not ready after ${timeoutMs / 1000} s`);
}

/** Cloud configuration entries (simulated driver) whose telemetry is the lab's Prometheus. */
export function labCloudConfigs(state: LabState): CloudConfig[] {
  const clouds = [...new Set(state.instances.map((instance) => instance.cloud))];
  return clouds.map((name) => ({
    name,
    driver: 'simulated' as const,
    ...defaultPlacement(name),
    telemetry: 'prometheus' as const,
    prometheus: {
      url: state.prometheus.url,
      scrapeIntervalSeconds: state.scrapeIntervalSeconds,
      timeoutMs: 2000,
      retries: 2,
    },
  }));
}

/** Sets the faults of the lab's instances of one track (of one cloud, or all). */
export async function setLabFaults(
  state: Pick<LabState, 'instances'>,
  track: LabTrack,
  faults: Partial<Faults>,
  cloud?: string,
): Promise<void> {
  const matching = state.instances.filter(
    (instance) => instance.track === track && (cloud === undefined || instance.cloud === cloud),
  );
  if (matching.length === 0) throw new Error(`no ${track} instance${cloud ? ` in ${cloud}` : ''} in the lab`);
  await Promise.all(
    matching.map(async (instance) => {
      const response = await fetch(`${instance.url}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(faults),
      });
      if (!response.ok) {
        throw new Error(
          `${instance.cloud}/${instance.track}: PUT /admin/faults → ${response.status} ${await response.text()}`,
        );
      }
    }),
  );
}
