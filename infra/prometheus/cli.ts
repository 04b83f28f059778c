// Command line for a local Prometheus (`npm run infra:prometheus -- <command>`):
//   install   find Prometheus or install Debian's package (as root); print its path and version
//   up        install Prometheus if missing (Debian package, as root), start it in the background from
//             .data/prometheus on 127.0.0.1 (port 9090 or the next free one) scraping the given targets
//             and itself, and record its PID; when it already runs, apply the given targets
//   down      stop the recorded PID, only if it still runs this folder's Prometheus (the TSDB is kept)
//   status    URL, PID, and every target with its health
// Options: --port N (must then be free), --targets job=host:port[/path],… , --data-dir DIR,
// --scrape-interval SECONDS (default 1), --retention DURATION (e.g. 2d).
// Progress goes to stderr, results to stdout.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  activeTargets,
  ensurePrometheus,
  isPortFree,
  isRecordedPrometheus,
  readPrometheusState,
  readRecordedPid,
  reconfigureRecordedPrometheus,
  startPrometheus,
  stopRecordedPrometheus,
  type ScrapeTarget,
} from './local.js';

const USAGE =
  'usage: npm run infra:prometheus -- <install|up|down|status> [--port N] [--targets job=host:port[/path],...] ' +
  '[--data-dir DIR] [--scrape-interval SECONDS] [--retention DURATION]';
const DEFAULT_PORT = 9090;
const PORT_SEARCH = 100;
const HOST = '127.0.0.1';
// This file runs as dist/infra/prometheus/cli.js, three levels below the repository root.
const repositoryRoot = fileURLToPath(new URL('../../..', import.meta.url));
const started = Date.now();
const log = (line: string) =>
  console.error(`[prometheus ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}`);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string' },
    targets: { type: 'string' },
    'data-dir': { type: 'string' },
    'scrape-interval': { type: 'string' },
    retention: { type: 'string' },
  },
});
const dataDir = path.resolve(values['data-dir'] ?? path.join(repositoryRoot, '.data', 'prometheus'));

class UsageError extends Error {}

/** `job=host:port[/metrics/path],…` */
function parseTargets(text: string | undefined): ScrapeTarget[] {
  if (!text?.trim()) return [];
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^([^=\s]+)=([^/\s]+)(\/\S*)?$/.exec(entry);
      if (!match?.[1] || !match[2]) {
        throw new UsageError(`--targets: "${entry}" is not job=host:port or job=host:port/path`);
      }
      return { job: match[1], address: match[2], ...(match[3] ? { metricsPath: match[3] } : {}) };
    });
}

function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`--port: ${text} is not a port`);
  return port;
}

async function choosePort(explicit: number | undefined): Promise<number> {
  if (explicit !== undefined) {
    if (!(await isPortFree(HOST, explicit)))
      throw new Error(`--port ${explicit}: ${HOST}:${explicit} is not free`);
    return explicit;
  }
  for (let port = DEFAULT_PORT; port < DEFAULT_PORT + PORT_SEARCH; port += 1) {
    if (await isPortFree(HOST, port)) {
      if (port !== DEFAULT_PORT) log(`port ${DEFAULT_PORT} is taken; using ${port}`);
      return port;
    }
  }
  throw new Error(
    `no free port from ${DEFAULT_PORT} to ${DEFAULT_PORT + PORT_SEARCH - 1} on ${HOST}; pass --port`,
  );
}

async function up(): Promise<number> {
  const targets = parseTargets(values.targets);
  const interval = values['scrape-interval'] === undefined ? 1 : Number(values['scrape-interval']);
  if (!(interval > 0))
    throw new UsageError(`--scrape-interval: ${values['scrape-interval']} is not a positive number`);
  const existing = await readPrometheusState(dataDir);
  const recordedPid = await readRecordedPid(dataDir);
  if (existing && recordedPid !== undefined && isRecordedPrometheus(existing, recordedPid)) {
    log(`Prometheus already runs from ${dataDir} (pid ${recordedPid})`);
    if (values.targets !== undefined) {
      await reconfigureRecordedPrometheus(existing, targets);
      log(`configuration reloaded with ${targets.length} target(s)`);
    }
    console.log(
      `Prometheus: ${existing.url} (pid ${recordedPid}); stop with: npm run infra:prometheus -- down`,
    );
    return 0;
  }
  const binary = await ensurePrometheus({ log });
  log(`using Prometheus ${binary.version} (${binary.path}, ${binary.source})`);
  const port = await choosePort(parsePort(values.port));
  const prometheus = await startPrometheus({
    dataDir,
    port,
    host: HOST,
    targets,
    scrapeSelf: true,
    scrapeIntervalSeconds: interval,
    ...(values.retention ? { retention: values.retention } : {}),
    detached: true,
    binary: binary.path,
    log,
  });
  console.log(`Prometheus: ${prometheus.url} (pid ${prometheus.pid})`);
  console.log(`data:       ${dataDir} (log ${prometheus.logFile})`);
  console.log(
    `targets:    ${[...targets.map((target) => `${target.job}=${target.address}`), `prometheus=${HOST}:${port}`].join(', ')}`,
  );
  console.log('stop with:  npm run infra:prometheus -- down');
  return 0;
}

async function down(): Promise<number> {
  const stopped = await stopRecordedPrometheus(dataDir, { log });
  console.log(stopped ? 'Prometheus stopped' : 'nothing was running');
  return 0;
}

async function status(): Promise<number> {
  const state = await readPrometheusState(dataDir);
  const pid = await readRecordedPid(dataDir);
  if (!state) {
    console.log(`no Prometheus recorded in ${dataDir}`);
    return 1;
  }
  const running = pid !== undefined && isRecordedPrometheus(state, pid);
  console.log(`Prometheus: ${state.url} (pid ${pid ?? state.pid}) ${running ? 'running' : 'STOPPED'}`);
  console.log(`data:       ${dataDir}`);
  if (!running) return 1;
  let targets;
  try {
    targets = await activeTargets(state.url);
  } catch (error) {
    console.log(`cannot list targets: ${(error as Error).message}`);
    return 1;
  }
  if (targets.length === 0) console.log('targets:    none');
  for (const target of targets) {
    const detail = target.lastError ? ` (${target.lastError})` : '';
    console.log(`  ${target.job.padEnd(20)} ${target.scrapeUrl.padEnd(40)} ${target.health}${detail}`);
  }
  return targets.every((target) => target.health === 'up') ? 0 : 1;
}

async function install(): Promise<number> {
  const binary = await ensurePrometheus({ log });
  console.log(`prometheus ${binary.version}: ${binary.path} (${binary.source})`);
  return 0;
}

async function main(): Promise<number> {
  switch (positionals[0]) {
    case 'install':
      return install();
    case 'up':
      return up();
    case 'down':
      return down();
    case 'status':
      return status();
    default:
      console.error(USAGE);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log((error as Error).message);
    if (error instanceof UsageError) console.error(USAGE);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
