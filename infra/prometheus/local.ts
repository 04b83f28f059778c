// A local Prometheus for development and the integration tests, from Debian's `prometheus` package
// (installed with apt-get when missing and allowed). It runs from a data folder of its own: the
// generated prometheus.yml, the TSDB (`tsdb/`), its log and its PID (`prometheus.pid`, plus
// `prometheus.json` with how it was started). Only the recorded PID is ever stopped, and only while it
// still runs that folder's configuration. Unless started detached, Prometheus dies with the process that
// started it: a SIGKILL of the parent (through the kernel's parent-death signal, via setpriv) as much as
// a normal exit (a process 'exit' hook), so a failing test leaves no Prometheus behind.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import {
  isErrorCode,
  findOnPath,
  isExecutableFile,
  isProcessAlive,
  processEnd,
  silent,
  type Log,
} from '../build-cache.js';
import { aptInstall } from '../debian-package.js';
import { findFreePort } from '../temporal.js';

export { findFreePort } from '../temporal.js';

const EXPLICIT_BINARY_VARIABLE = 'MEDRELEASE_PROMETHEUS_BIN';
const SYSTEM_BINARY = '/usr/bin/prometheus';
const INSTALL_COMMAND = 'apt-get install -y --no-install-recommends prometheus';
const CONFIG_FILE = 'prometheus.yml';
const LOG_FILE = 'prometheus.log';
const PID_FILE = 'prometheus.pid';
const STATE_FILE = 'prometheus.json';
const READY_TIMEOUT_MS = 30_000;
const TARGETS_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_LINES = 30;

// ---- the binary -----------------------------------------------------------------------------------

export interface PrometheusBinary {
  path: string;
  /** e.g. '2.42.0+ds' as `prometheus --version` prints it. */
  version: string;
  source: 'explicit' | 'path' | 'system' | 'apt-get';
}

/** Looks for Prometheus: `$MEDRELEASE_PROMETHEUS_BIN`, then PATH, then /usr/bin/prometheus. Never installs. */
export async function findPrometheus(): Promise<
  { path: string; source: 'explicit' | 'path' | 'system' } | undefined
> {
  const explicit = process.env[EXPLICIT_BINARY_VARIABLE];
  if (explicit) {
    const resolved = path.resolve(explicit);
    if (!(await isExecutableFile(resolved))) {
      throw new Error(`${EXPLICIT_BINARY_VARIABLE}=${explicit} is not an executable file`);
    }
    return { path: resolved, source: 'explicit' };
  }
  const onPath = await findOnPath('prometheus');
  if (onPath) return { path: onPath, source: 'path' };
  if (await isExecutableFile(SYSTEM_BINARY)) return { path: SYSTEM_BINARY, source: 'system' };
  return undefined;
}

/**
 * Finds Prometheus ({@link findPrometheus}) or, as root with apt-get at hand, installs Debian's package.
 * Otherwise throws an error naming the command to run.
 */
export async function ensurePrometheus(opts: { log?: Log } = {}): Promise<PrometheusBinary> {
  const log = opts.log ?? silent;
  const found = await findPrometheus();
  if (found) return { ...found, version: await prometheusVersion(found.path) };
  const aptGet = await findOnPath('apt-get');
  const isRoot = process.getuid?.() === 0;
  if (!aptGet || !isRoot) {
    const why = !aptGet ? 'apt-get is not available' : 'installing it needs root';
    throw new Error(
      `Prometheus is not installed (looked at $${EXPLICIT_BINARY_VARIABLE}, PATH and ${SYSTEM_BINARY}) and ` +
        `${why}. Install it with \`sudo ${INSTALL_COMMAND}\` (Debian/Ubuntu), or point ` +
        `${EXPLICIT_BINARY_VARIABLE} at a prometheus binary (2.x, https://prometheus.io/download/).`,
    );
  }
  await aptInstall(aptGet, 'prometheus', log);
  if (existsSync('/run/systemd/system')) {
    log(
      'Note: under systemd the package also enables and starts prometheus.service on :9090; medrelease ' +
        'runs its own, so `systemctl disable --now prometheus` if you do not want that one',
    );
  }
  const installed = await findPrometheus();
  if (!installed) {
    throw new Error(`${INSTALL_COMMAND} succeeded but no prometheus binary was found afterwards`);
  }
  const version = await prometheusVersion(installed.path);
  log(`Prometheus ${version} installed at ${installed.path}`);
  return { path: installed.path, version, source: 'apt-get' };
}

function lastLines(text: string, count = LOG_TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-count).join('\n') || '(no output)';
}

/** The version `prometheus --version` prints, e.g. '2.42.0+ds'. */
export async function prometheusVersion(binary: string): Promise<string> {
  let text: string;
  try {
    const { stdout, stderr } = await promisify(execFile)(binary, ['--version'], { timeout: 10_000 });
    text = `${stdout}\n${stderr}`;
  } catch (error) {
    throw new Error(`${binary} --version failed: ${(error as Error).message}`);
  }
  const match = /prometheus,\s+version\s+(\S+)/i.exec(text);
  if (!match?.[1]) throw new Error(`cannot read the version in the output of ${binary} --version:\n${text}`);
  return match[1];
}

// ---- configuration --------------------------------------------------------------------------------

export interface ScrapeTarget {
  /** The scrape job (`job` label); every distinct job becomes one scrape config. */
  job: string;
  /** host:port */
  address: string;
  /** Extra labels on every series of this target. */
  labels?: Record<string, string>;
  /** Default /metrics; every target of a job must use the same path. */
  metricsPath?: string;
}

const PROMETHEUS_DURATION = /^(?=\d)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;

function validateTargets(targets: readonly ScrapeTarget[]): void {
  const seen = new Set<string>();
  const paths = new Map<string, string>();
  for (const target of targets) {
    if (!target.job.trim()) throw new Error(`scrape target ${target.address}: the job name is empty`);
    const port = ADDRESS.exec(target.address)?.[2];
    if (port === undefined || Number(port) < 1 || Number(port) > 65535) {
      throw new Error(`scrape target of job ${target.job}: "${target.address}" is not host:port`);
    }
    for (const name of Object.keys(target.labels ?? {})) {
      if (!LABEL_NAME.test(name) || name.startsWith('__')) {
        throw new Error(`scrape target ${target.job}/${target.address}: invalid label name "${name}"`);
      }
    }
    const key = `${target.job}\0${target.address}`;
    if (seen.has(key)) throw new Error(`scrape target ${target.address} appears twice in job ${target.job}`);
    seen.add(key);
    const metricsPath = target.metricsPath ?? '/metrics';
    if (!metricsPath.startsWith('/')) {
      throw new Error(`scrape target ${target.job}/${target.address}: metricsPath must start with /`);
    }
    const jobPath = paths.get(target.job);
    if (jobPath !== undefined && jobPath !== metricsPath) {
      throw new Error(
        `job ${target.job} has targets with different metrics paths (${jobPath}, ${metricsPath}); ` +
          'use one job per path',
      );
    }
    paths.set(target.job, metricsPath);
  }
}

/** A Prometheus duration: whole seconds as '15s', anything else in milliseconds. */
function duration(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
}

/** The prometheus.yml for these targets: one scrape job per distinct `job`, static configs with labels. */
export function prometheusConfig(targets: readonly ScrapeTarget[], scrapeIntervalSeconds: number): string {
  validateTargets(targets);
  const jobs = new Map<string, ScrapeTarget[]>();
  for (const target of targets) jobs.set(target.job, [...(jobs.get(target.job) ?? []), target]);
  const document = {
    global: {
      scrape_interval: duration(scrapeIntervalSeconds),
      // Never longer than the interval (Prometheus refuses that); its own default is 10 s.
      scrape_timeout: duration(Math.min(scrapeIntervalSeconds, 10)),
      evaluation_interval: duration(scrapeIntervalSeconds),
    },
    scrape_configs: [...jobs].map(([job, members]) => ({
      job_name: job,
      metrics_path: members[0]?.metricsPath ?? '/metrics',
      static_configs: members.map((target) => ({
        targets: [target.address],
        ...(target.labels && Object.keys(target.labels).length ? { labels: { ...target.labels } } : {}),
      })),
    })),
  };
  return `# Generated by medrelease (infra/prometheus/local.ts); rewritten on every start and setTargets.\n${stringify(document)}`;
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

// ---- running --------------------------------------------------------------------------------------

export interface StartPrometheusOptions {
  /** Holds the configuration, the TSDB (`tsdb/`), the log and the PID file; created if missing. */
  dataDir: string;
  /** Default: a free port. A given port must be free. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Global scrape and evaluation interval; default 1 s. */
  scrapeIntervalSeconds?: number;
  targets: ScrapeTarget[];
  /** Also scrape Prometheus's own /metrics as job `prometheus`. Default false. */
  scrapeSelf?: boolean;
  /** `--storage.tsdb.retention.time`, e.g. '2h' or '15d'; Prometheus's default (15d) when absent. */
  retention?: string;
  /**
   * Default false: Prometheus dies with this process (normal exit or SIGKILL). True: it outlives this
   * process (the `infra:prometheus up` command), and only its recorded PID can stop it.
   */
  detached?: boolean;
  /** Default: {@link ensurePrometheus}. */
  binary?: string;
  readyTimeoutMs?: number;
  log?: Log;
}

/** What `prometheus.json` in the data folder records about a started Prometheus. */
export interface PrometheusState {
  pid: number;
  url: string;
  host: string;
  port: number;
  binary: string;
  version?: string;
  args: string[];
  configFile: string;
  logFile: string;
  targets: ScrapeTarget[];
  scrapeSelf: boolean;
  scrapeIntervalSeconds: number;
  startedAt: string;
}

export interface PrometheusHandle {
  /** e.g. http://127.0.0.1:9090 */
  readonly url: string;
  readonly port: number;
  /** The current process's PID; it changes on restart(). */
  readonly pid: number;
  readonly dataDir: string;
  readonly configFile: string;
  readonly logFile: string;
  /** The targets of the current configuration (without Prometheus itself). */
  readonly targets: readonly ScrapeTarget[];
  /** Resolves with how the current process ended, e.g. 'signal SIGKILL'. */
  readonly exited: Promise<string>;
  /** Whether the current process still runs. */
  readonly running: boolean;
  /**
   * Rewrites the configuration, asks Prometheus to reload it and resolves once /api/v1/targets lists
   * exactly these targets (up or not yet: see {@link waitForScrape}).
   */
  setTargets(targets: ScrapeTarget[], opts?: { timeoutMs?: number }): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10 s); resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, as a crash would; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts Prometheus again (stopping it first if it runs) on the same port and data folder, keeping the TSDB. */
  restart(): Promise<void>;
}

/** Starts Prometheus with a generated configuration and resolves once /-/ready answers 200. */
export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusHandle> {
  const log = options.log ?? silent;
  const host = options.host ?? '127.0.0.1';
  const interval = options.scrapeIntervalSeconds ?? 1;
  if (!(interval > 0)) throw new Error(`scrapeIntervalSeconds must be positive, got ${interval}`);
  if (options.retention !== undefined && !PROMETHEUS_DURATION.test(options.retention)) {
    throw new Error(`retention "${options.retention}" is not a Prometheus duration such as 2h, 15d or 1w`);
  }
  const dataDir = path.resolve(options.dataDir);
  const detached = options.detached ?? false;
  const scrapeSelf = options.scrapeSelf ?? false;
  const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const binary = options.binary ?? (await ensurePrometheus({ log }));
  const binaryPath = typeof binary === 'string' ? binary : binary.path;
  const version = typeof binary === 'string' ? undefined : binary.version;

  await mkdir(path.join(dataDir, 'tsdb'), { recursive: true });
  const previous = await readPrometheusState(dataDir);
  if (previous && isRecordedPrometheus(previous)) {
    throw new Error(
      `Prometheus (pid ${previous.pid}, ${previous.url}) already runs from ${dataDir}; stop it first ` +
        '(npm run infra:prometheus -- down) or use another data folder',
    );
  }
  const port = options.port ?? (await findFreePort(host));
  await assertPortFree(host, port);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const configFile = path.join(dataDir, CONFIG_FILE);
  const logFile = path.join(dataDir, LOG_FILE);
  let targets = [...options.targets];
  const withSelf = (list: readonly ScrapeTarget[]) =>
    scrapeSelf ? [...list, { job: 'prometheus', address: `${host}:${port}` }] : [...list];
  await writeAtomically(configFile, prometheusConfig(withSelf(targets), interval));

  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${path.join(dataDir, 'tsdb')}`,
    `--web.listen-address=${host.includes(':') ? `[${host}]` : host}:${port}`,
    '--web.enable-lifecycle',
    ...(options.retention ? [`--storage.tsdb.retention.time=${options.retention}`] : []),
  ];
  // setpriv (util-linux) sets the parent-death signal and then execs Prometheus: same PID, and the kernel
  // kills it when this process dies, even by SIGKILL, when no 'exit' hook runs.
  const setpriv = detached ? undefined : await findOnPath('setpriv');

  let child: ChildProcess;
  let exited: Promise<string>;
  let stopping: Promise<void> | undefined;

  const launch = async (): Promise<void> => {
    const started = Date.now();
    log(`Starting Prometheus on ${url} (data ${dataDir}, log ${logFile})`);
    const fd = openSync(logFile, 'a');
    const logOffset = fstatSync(fd).size;
    try {
      const [command, commandArgs] = setpriv
        ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', binaryPath, ...args]]
        : [binaryPath, args];
      child = spawn(command, commandArgs, { detached, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    exited = processEnd(child);
    if (child.pid === undefined) {
      throw new Error(`could not start ${binaryPath}: ${await exited}`);
    }
    stopping = undefined;
    if (detached) {
      child.unref();
    } else {
      // A last resort, synchronous: this process is ending (normally or by an uncaught error) while
      // Prometheus still runs. setpriv's parent-death signal covers the endings that skip 'exit'.
      const own = child;
      const killOnExit = () => own.kill('SIGKILL');
      process.on('exit', killOnExit);
      void exited.then(() => process.off('exit', killOnExit));
    }
    const pid = child.pid;
    const state: PrometheusState = {
      pid,
      url,
      host,
      port,
      binary: binaryPath,
      ...(version ? { version } : {}),
      args,
      configFile,
      logFile,
      targets,
      scrapeSelf,
      scrapeIntervalSeconds: interval,
      startedAt: new Date().toISOString(),
    };
    await writeFile(path.join(dataDir, PID_FILE), `${pid}\n`);
    await writeAtomically(path.join(dataDir, STATE_FILE), JSON.stringify(state, null, 2));
    try {
      await waitUntilReady(url, exited, { file: logFile, offset: logOffset }, readyTimeoutMs);
    } catch (error) {
      await terminate(child, exited, STOP_GRACE_MS);
      await forgetPid(dataDir, pid);
      throw error;
    }
    log(`Prometheus ready on ${url} (pid ${pid}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };

  await launch();

  const handle: PrometheusHandle = {
    url,
    port,
    dataDir,
    configFile,
    logFile,
    get pid() {
      return child.pid!;
    },
    get targets() {
      return targets;
    },
    get exited() {
      return exited;
    },
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    async setTargets(next, opts = {}) {
      const text = prometheusConfig(withSelf(next), interval);
      const previousText = await readFile(configFile, 'utf8');
      await writeAtomically(configFile, text);
      try {
        await reloadConfig(url);
      } catch (error) {
        // Leave the file as the running Prometheus has it, so a restart does not pick up the refused one.
        await writeAtomically(configFile, previousText);
        throw error;
      }
      targets = [...next];
      await updateRecordedTargets(dataDir, targets);
      log(`Prometheus reloaded with ${next.length} target(s); waiting until it lists them`);
      await waitForTargetList(url, withSelf(next), opts.timeoutMs ?? TARGETS_TIMEOUT_MS);
    },
    stop(graceMs = STOP_GRACE_MS) {
      stopping ??= (async () => {
        const pid = child.pid!;
        await terminate(child, exited, graceMs);
        await forgetPid(dataDir, pid);
        log(`Prometheus (pid ${pid}) stopped`);
      })();
      return stopping;
    },
    async kill() {
      const pid = child.pid!;
      if (handle.running) child.kill('SIGKILL');
      await exited;
      await forgetPid(dataDir, pid);
    },
    async restart() {
      if (handle.running) await handle.stop();
      await assertPortFree(host, port);
      await launch();
    },
  };
  return handle;
}

/** Sends SIGTERM, then SIGKILL if the process has not exited within the grace period. */
async function terminate(child: ChildProcess, exited: Promise<string>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  // Unreferenced: a stopping Prometheus must not keep the caller's process alive for the grace period.
  const timeout = delay(graceMs, 'timeout', { ref: false });
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Removes the PID file (and state) if they still name `pid`: a newer start may have replaced them. */
async function forgetPid(dataDir: string, pid: number): Promise<void> {
  const recorded = await readFile(path.join(dataDir, PID_FILE), 'utf8').catch(() => '');
  if (Number(recorded.trim()) !== pid) return;
  await rm(path.join(dataDir, PID_FILE), { force: true });
}

async function updateRecordedTargets(dataDir: string, targets: ScrapeTarget[]): Promise<void> {
  const state = await readPrometheusState(dataDir);
  if (!state) return;
  await writeAtomically(path.join(dataDir, STATE_FILE), JSON.stringify({ ...state, targets }, null, 2));
}

async function waitUntilReady(
  url: string,
  exited: Promise<string>,
  logFile: { file: string; offset: number },
  timeoutMs: number,
): Promise<void> {
  let exitReason: string | undefined;
  void exited.then((reason) => (exitReason = reason));
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (exitReason) {
      throw new Error(
        `Prometheus ended (${exitReason}) before it was ready. ${startupLog(logFile.file, logFile.offset)}`,
      );
    }
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = describeFetchError(error);
    }
    await delay(100);
  }
  throw new Error(
    `Prometheus at ${url} was not ready within ${timeoutMs / 1000} s (last: ${last}). ` +
      startupLog(logFile.file, logFile.offset),
  );
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}

/**
 * What this start wrote to the log (from `offset`): its error lines first (a bad flag is reported above
 * the whole usage text), then its last lines.
 */
function startupLog(file: string, offset: number): string {
  let text: string;
  try {
    text = readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return `(cannot read its log ${file})`;
  }
  const errors = text
    .split('\n')
    .filter((line) => /\berror\b|level=error|err=/i.test(line))
    .slice(0, 10);
  const errorPart = errors.length ? `Errors in its log:\n${errors.join('\n')}\n` : '';
  return `${errorPart}Last lines of its log (${file}):\n${lastLines(text, LOG_TAIL_LINES)}`;
}

/** POST /-/reload (needs --web.enable-lifecycle); Prometheus answers 500 with the reason when the config is bad. */
export async function reloadConfig(url: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new Error(`Prometheus at ${url} did not take the reload: ${describeFetchError(error)}`);
  }
  const body = await response.text();
  if (response.status !== 200) {
    throw new Error(`Prometheus at ${url} refused the new configuration (HTTP ${response.status}): ${body}`);
  }
}

// ---- targets --------------------------------------------------------------------------------------

export interface ActiveTarget {
  job: string;
  /** host:port as configured (`__address__`). */
  address: string;
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
  scrapeUrl: string;
}

/** The active targets as /api/v1/targets reports them. */
export async function activeTargets(
  url: string,
  opts: { signal?: AbortSignal } = {},
): Promise<ActiveTarget[]> {
  const signal = opts.signal
    ? AbortSignal.any([opts.signal, AbortSignal.timeout(5000)])
    : AbortSignal.timeout(5000);
  const response = await fetch(`${url}/api/v1/targets?state=active`, { signal });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}/api/v1/targets: HTTP ${response.status}: ${text}`);
  const body = JSON.parse(text) as {
    data?: {
      activeTargets?: Array<{
        scrapePool?: string;
        discoveredLabels?: Record<string, string>;
        labels?: Record<string, string>;
        health?: string;
        lastError?: string;
        lastScrape?: string;
        scrapeUrl?: string;
      }>;
    };
  };
  return (body.data?.activeTargets ?? []).map((target) => ({
    job: target.scrapePool ?? target.labels?.job ?? '',
    address: target.discoveredLabels?.__address__ ?? target.labels?.instance ?? '',
    labels: target.labels ?? {},
    health: target.health === 'up' || target.health === 'down' ? target.health : 'unknown',
    lastError: target.lastError ?? '',
    lastScrape: target.lastScrape ?? '',
    scrapeUrl: target.scrapeUrl ?? '',
  }));
}

function sameTarget(a: { job: string; address: string }, b: { job: string; address: string }): boolean {
  return a.job === b.job && a.address === b.address;
}

/**
 * Waits until /api/v1/targets lists exactly `expected`. Prometheus applies new targets in batches (every
 * 5 s by default), so this takes up to about 10 s after a reload.
 */
async function waitForTargetList(url: string, expected: ScrapeTarget[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let listed: ActiveTarget[] = [];
  let last = '';
  while (Date.now() < deadline) {
    try {
      listed = await activeTargets(url);
      const complete = expected.every((want) => listed.some((have) => sameTarget(have, want)));
      const extra = listed.some((have) => !expected.some((want) => sameTarget(have, want)));
      if (complete && !extra) return;
    } catch (error) {
      last = ` (last error: ${describeFetchError(error)})`;
    }
    await delay(200);
  }
  throw new Error(
    `Prometheus at ${url} did not list the targets ${describeTargets(expected)} within ${timeoutMs / 1000} s; ` +
      `it lists ${describeTargets(listed)}${last}`,
  );
}

function describeTargets(targets: ReadonlyArray<{ job: string; address: string }>): string {
  return targets.length ? targets.map((target) => `${target.job}/${target.address}`).join(', ') : 'none';
}

export interface WaitForScrapeOptions {
  /** Only these jobs' targets; default every active target. */
  job?: string | string[];
  /** And at least this many samples of `up` per target (successful or not); default 1. */
  minSamples?: number;
  /** At least this many targets must be listed (so an empty list does not count as all up); default 1. */
  minTargets?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Waits until every (selected) active target is `up` and, with minSamples, has been scraped at least
 * that often. Resolves with the targets; rejects on timeout with each target's health and last error.
 */
export async function waitForScrape(url: string, opts: WaitForScrapeOptions = {}): Promise<ActiveTarget[]> {
  const jobs = opts.job === undefined ? undefined : Array.isArray(opts.job) ? opts.job : [opts.job];
  const minSamples = opts.minSamples ?? 1;
  const minTargets = opts.minTargets ?? 1;
  const timeoutMs = opts.timeoutMs ?? TARGETS_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let selected: ActiveTarget[] = [];
  let last = '';
  while (Date.now() < deadline) {
    opts.signal?.throwIfAborted();
    try {
      selected = (await activeTargets(url, opts)).filter((target) => !jobs || jobs.includes(target.job));
      if (selected.length >= minTargets && selected.every((target) => target.health === 'up')) {
        if (minSamples <= 1) return selected;
        const counts = await upSampleCounts(url, selected, opts.signal);
        if (
          selected.every(
            (target) => (counts.get(`${target.job}\0${target.labels.instance}`) ?? 0) >= minSamples,
          )
        ) {
          return selected;
        }
        last = ` (fewer than ${minSamples} samples so far)`;
      } else {
        last = '';
      }
    } catch (error) {
      opts.signal?.throwIfAborted();
      last = ` (last error: ${describeFetchError(error)})`;
    }
    await delay(200);
  }
  const report = selected.length
    ? selected
        .map(
          (target) =>
            `${target.job}/${target.address}: ${target.health}${target.lastError ? ` (${target.lastError})` : ''}`,
        )
        .join('; ')
    : 'no matching targets';
  throw new Error(`targets of ${url} not all up within ${timeoutMs / 1000} s: ${report}${last}`);
}

/** count_over_time(up[1h]) per job and instance. */
async function upSampleCounts(
  url: string,
  targets: ActiveTarget[],
  signal: AbortSignal | undefined,
): Promise<Map<string, number>> {
  const jobs = [...new Set(targets.map((target) => target.job))];
  const selector = `up{job=~"${jobs.map(escapeRegex).join('|')}"}`;
  const timeout = AbortSignal.timeout(5000);
  const response = await fetch(`${url}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: `count_over_time(${selector}[1h])` }),
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`query of up samples: HTTP ${response.status}: ${text}`);
  const body = JSON.parse(text) as {
    data?: { result?: Array<{ metric?: Record<string, string>; value?: [number, string] }> };
  };
  const counts = new Map<string, number>();
  for (const entry of body.data?.result ?? []) {
    counts.set(`${entry.metric?.job}\0${entry.metric?.instance}`, Number(entry.value?.[1] ?? 0));
  }
  return counts;
}

/** Escapes a literal for a PromQL regex inside a double-quoted string. */
function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/[\\"]/g, '\\$&');
}

// ---- a recorded Prometheus (the CLI's up/down/status across processes) -----------------------------

/** The state `startPrometheus` recorded in `dataDir`, or null when there is none. */
export async function readPrometheusState(dataDir: string): Promise<PrometheusState | null> {
  try {
    return JSON.parse(await readFile(path.join(dataDir, STATE_FILE), 'utf8')) as PrometheusState;
  } catch (error) {
    if (isErrorCode(error, 'ENOENT')) return null;
    throw error;
  }
}

/** The PID in `<dataDir>/prometheus.pid`, or undefined. */
export async function readRecordedPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(path.join(dataDir, PID_FILE), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * True while `state.pid` is alive and still runs Prometheus with this data folder's configuration
 * (a PID can be reused by another program).
 */
export function isRecordedPrometheus(state: PrometheusState, pid = state.pid): boolean {
  if (!isProcessAlive(pid)) return false;
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    // No /proc (not Linux): trust the PID.
    return true;
  }
  return (
    path.basename(argv[0] ?? '') === path.basename(state.binary) &&
    argv.includes(`--config.file=${state.configFile}`)
  );
}

/**
 * Stops the Prometheus recorded in `dataDir` (SIGTERM, SIGKILL after the grace period), only if its PID
 * still runs that Prometheus. Resolves with whether it stopped one; the TSDB is kept.
 */
export async function stopRecordedPrometheus(
  dataDir: string,
  opts: { log?: Log; graceMs?: number } = {},
): Promise<boolean> {
  const log = opts.log ?? silent;
  const directory = path.resolve(dataDir);
  const state = await readPrometheusState(directory);
  const pid = await readRecordedPid(directory);
  if (!state || pid === undefined) {
    log(`no Prometheus recorded in ${directory}`);
    return false;
  }
  if (!isRecordedPrometheus(state, pid)) {
    log(`the recorded pid ${pid} is not running Prometheus from ${directory} any more; nothing to stop`);
    await rm(path.join(directory, PID_FILE), { force: true });
    return false;
  }
  log(`stopping Prometheus (pid ${pid}, ${state.url})`);
  process.kill(pid, 'SIGTERM');
  const graceMs = opts.graceMs ?? STOP_GRACE_MS;
  for (let waited = 0; waited < graceMs && isRecordedPrometheus(state, pid); waited += 100) await delay(100);
  if (isRecordedPrometheus(state, pid)) {
    log(`Prometheus (pid ${pid}) did not stop within ${graceMs / 1000} s; sending SIGKILL`);
    process.kill(pid, 'SIGKILL');
    for (let waited = 0; waited < 5000 && isRecordedPrometheus(state, pid); waited += 100) await delay(100);
  }
  await rm(path.join(directory, PID_FILE), { force: true });
  return true;
}

/** Rewrites a recorded, running Prometheus's configuration with new targets and reloads it. */
export async function reconfigureRecordedPrometheus(
  state: PrometheusState,
  targets: ScrapeTarget[],
): Promise<void> {
  const all = state.scrapeSelf
    ? [...targets, { job: 'prometheus', address: `${state.host}:${state.port}` }]
    : targets;
  await writeAtomically(state.configFile, prometheusConfig(all, state.scrapeIntervalSeconds));
  await reloadConfig(state.url);
  await updateRecordedTargets(path.dirname(state.configFile), targets);
}

// ---- ports ----------------------------------------------------------------------------------------

/** Resolves with whether host:port can be bound right now. */
export async function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function assertPortFree(host: string, port: number): Promise<void> {
  if (!(await isPortFree(host, port))) {
    throw new Error(`Cannot start Prometheus: ${host}:${port} is not free`);
  }
}
