// Finds or builds the Temporal CLI and runs its dev server (SQLite persistence, Web UI, the release's
// custom search attributes). The SDK's own dev-server download needs the internet, so it is only the
// last resort.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
// Not re-exported from the package index; it maps SDK type names to the wire enum the operator API uses.
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { SEARCH_ATTRIBUTES } from '../domain/search-attributes.js';
import {
  ensureCachedBuild,
  forEachLine,
  findOnPath,
  isExecutableFile,
  processEnd,
  runGo,
  silent,
  toolDirectory,
  type Log,
} from './build-cache.js';

export { cacheRoot } from './build-cache.js';

// v1.6.0 and later use a `replace` directive in go.mod, which `go install pkg@version` refuses.
export const TEMPORAL_CLI_VERSION = '1.5.1';

const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
const EXPLICIT_CLI_VARIABLE = 'MEDRELEASE_TEMPORAL_CLI';
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_LINES = 40;

export type TemporalCli =
  | { path: string; source: 'explicit' | 'path' | 'cache' | 'go-install' }
  | { path: undefined; source: 'sdk-download' };

function cachedCliPath(): string {
  return path.join(toolDirectory('temporal', TEMPORAL_CLI_VERSION), 'temporal');
}

/** Looks for an existing CLI: `$MEDRELEASE_TEMPORAL_CLI`, then `temporal` on PATH, then the cache. Never builds. */
export async function findTemporalCli(): Promise<
  { path: string; source: 'explicit' | 'path' | 'cache' } | undefined
> {
  const explicit = process.env[EXPLICIT_CLI_VARIABLE];
  if (explicit) {
    const resolved = path.resolve(explicit);
    if (!(await isExecutableFile(resolved))) {
      throw new Error(`${EXPLICIT_CLI_VARIABLE}=${explicit} is not an executable file`);
    }
    return { path: resolved, source: 'explicit' };
  }
  const onPath = await findOnPath('temporal');
  if (onPath) return { path: onPath, source: 'path' };
  const cached = cachedCliPath();
  if (await isExecutableFile(cached)) return { path: cached, source: 'cache' };
  return undefined;
}

/**
 * Finds a Temporal CLI ({@link findTemporalCli}) or builds one into the cache with `go install`. When neither
 * works the caller should let @temporalio/testing download its own, which needs the internet.
 */
export async function ensureTemporalCli(opts: { log?: Log } = {}): Promise<TemporalCli> {
  const log = opts.log ?? silent;
  const found = await findTemporalCli();
  if (found) return found;
  if (!(await findOnPath('go'))) {
    log('No Temporal CLI and no Go toolchain found; falling back to the SDK download (needs the internet)');
    return { path: undefined, source: 'sdk-download' };
  }
  const cached = cachedCliPath();
  const { outcome } = await ensureCachedBuild({
    tool: 'temporal',
    version: TEMPORAL_CLI_VERSION,
    files: ['temporal'],
    log,
    // go install writes straight into GOBIN: the staging folder, published by a rename when complete.
    build: (staging) =>
      runGo({
        args: ['install', `${CLI_MODULE}@v${TEMPORAL_CLI_VERSION}`],
        env: { GOBIN: staging },
        label: 'Building the Temporal CLI (several minutes on a cold Go cache)',
        log,
      }),
  });
  if (outcome === 'failed') {
    log('Building the Temporal CLI failed; falling back to the SDK download (needs the internet)');
    return { path: undefined, source: 'sdk-download' };
  }
  return { path: cached, source: outcome === 'built' ? 'go-install' : 'cache' };
}

/**
 * Options of {@link startDevServer}. Every field left unset takes its value from {@link DEV_SERVER_DEFAULTS}
 * (or, where that has none, stays off).
 */
export interface DevServerOptions {
  /** Address the gRPC frontend (and the UI) bind to. */
  ip?: string;
  /** gRPC frontend port. */
  port?: number;
  /** Web UI port; ignored when headless. */
  uiPort?: number;
  /** Run without the Web UI. */
  headless?: boolean;
  /** Namespace created at start (`default` always exists too) and checked for readiness. */
  namespace?: string;
  /** SQLite file; state survives restarts from the same file. Its folder is created if missing. */
  dbFile: string;
  /** Server log level: debug, info, warn, error or never. */
  logLevel?: string;
  /** Remote codec endpoint the Web UI uses to decode payloads. */
  uiCodecEndpoint?: string;
  /** Receives progress lines, and the server's output when there is no logFile. */
  log?: Log;
  /** The server's stdout and stderr are appended to this file (and then not sent to log). */
  logFile?: string;
  /**
   * SQLite pragmas of the database file. Default: write-ahead logging with synchronous=normal, which
   * survives a crash of the server process (not of the machine) and took 200 concurrent releases from
   * 0.36–0.60 to 1.10 releases/s (docs/benchmarks.md); the default rollback journal stalled under load.
   */
  sqlitePragmas?: Record<string, string>;
}

/** The defaults of {@link DevServerOptions}, in one place. */
const DEV_SERVER_DEFAULTS: Required<Omit<DevServerOptions, 'dbFile' | 'uiCodecEndpoint' | 'logFile'>> = {
  sqlitePragmas: { journal_mode: 'wal', synchronous: 'normal' },
  ip: '127.0.0.1',
  port: 7233,
  uiPort: 8233,
  headless: false,
  namespace: 'default',
  logLevel: 'warn',
  log: silent,
};

function withDefaults(opts: DevServerOptions) {
  return {
    ip: opts.ip ?? DEV_SERVER_DEFAULTS.ip,
    port: opts.port ?? DEV_SERVER_DEFAULTS.port,
    uiPort: opts.uiPort ?? DEV_SERVER_DEFAULTS.uiPort,
    headless: opts.headless ?? DEV_SERVER_DEFAULTS.headless,
    namespace: opts.namespace ?? DEV_SERVER_DEFAULTS.namespace,
    dbFile: opts.dbFile,
    logLevel: opts.logLevel ?? DEV_SERVER_DEFAULTS.logLevel,
    uiCodecEndpoint: opts.uiCodecEndpoint,
    log: opts.log ?? DEV_SERVER_DEFAULTS.log,
    logFile: opts.logFile,
    sqlitePragmas: opts.sqlitePragmas ?? DEV_SERVER_DEFAULTS.sqlitePragmas,
  };
}

type ResolvedDevServerOptions = ReturnType<typeof withDefaults>;

export interface DevServerHandle {
  /** host:port of the gRPC frontend. */
  address: string;
  namespace: string;
  /** Absent when headless. */
  uiUrl?: string;
  /** Absent when the SDK runs the server. */
  pid?: number;
  /** Resolves when the server process ends, for whatever reason, e.g. 'exit code 1'; absent when the SDK runs it. */
  exited?: Promise<string>;
  /** Stops the server and resolves once its process has exited; calling it again is harmless. */
  stop(): Promise<void>;
}

/** Starts a dev server and resolves once it answers for the namespace and has all custom search attributes. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServerHandle> {
  const options = withDefaults(opts);
  const cli = await ensureTemporalCli({ log: options.log });
  await mkdir(path.dirname(path.resolve(options.dbFile)), { recursive: true });
  if (options.logFile) await mkdir(path.dirname(path.resolve(options.logFile)), { recursive: true });
  if (cli.path === undefined) return startSdkDevServer(options);
  return startCliDevServer(cli.path, options);
}

function devServerArguments(options: ResolvedDevServerOptions): string[] {
  const searchAttributes = Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => [
    '--search-attribute',
    `${name}=${type}`,
  ]);
  return [
    'server',
    'start-dev',
    ...['--db-filename', options.dbFile],
    ...['--ip', options.ip],
    ...['--port', String(options.port)],
    ...['--ui-port', String(options.uiPort)],
    ...['--namespace', options.namespace],
    ...['--log-level', options.logLevel],
    ...(options.headless ? ['--headless'] : []),
    ...uiCodecArguments(options),
    ...pragmaArguments(options),
    ...searchAttributes,
  ];
}

function pragmaArguments(options: ResolvedDevServerOptions): string[] {
  return Object.entries(options.sqlitePragmas).flatMap(([name, value]) => [
    '--sqlite-pragma',
    `${name}=${value}`,
  ]);
}

function uiCodecArguments(options: ResolvedDevServerOptions): string[] {
  return options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : [];
}

function uiUrl(options: ResolvedDevServerOptions): string | undefined {
  return options.headless ? undefined : `http://${options.ip}:${options.uiPort}`;
}

async function startCliDevServer(cli: string, options: ResolvedDevServerOptions): Promise<DevServerHandle> {
  // Otherwise a server already on the port would answer the readiness check while ours fails to bind.
  await assertPortFree(options.ip, options.port, 'port');
  if (!options.headless) await assertPortFree(options.ip, options.uiPort, 'UI port');
  const address = `${options.ip}:${options.port}`;
  options.log(`Starting the Temporal dev server on ${address} (db ${options.dbFile})`);
  const child = spawn(cli, devServerArguments(options), { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = processEnd(child);
  const output = captureOutput(child.stdout, child.stderr, options);
  // A dev server must not outlive the process that started it, even when that process fails.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= terminate(child, exited).then(async () => {
      process.off('exit', killOnExit);
      await output.close();
    });
    return stopping;
  };
  try {
    const connection = await waitUntilReady(address, options.namespace, exited, output.tail);
    try {
      await ensureSearchAttributes(connection, options.namespace, options.log);
    } finally {
      await connection.close();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  options.log(`Temporal dev server ready on ${address}${options.headless ? '' : `, UI ${uiUrl(options)}`}`);
  return { address, namespace: options.namespace, uiUrl: uiUrl(options), pid: child.pid, exited, stop };
}

/** Sends SIGTERM, then SIGKILL if the process has not exited within the grace period. */
async function terminate(child: ChildProcess, exited: Promise<string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  // Unreferenced: a stopped server must not keep the caller's process alive for the grace period.
  const timeout = delay(STOP_GRACE_MS, 'timeout', { ref: false });
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Forwards the server's output to the log file (or, without one, the log), keeping its last lines for error messages. */
function captureOutput(stdout: Readable, stderr: Readable, options: ResolvedDevServerOptions) {
  const file = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  // An unwritable log file must not take the server (or the caller) down with it.
  file?.on('error', (error) =>
    options.log(`Cannot write the server log ${options.logFile}: ${error.message}`),
  );
  const lines: string[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > LOG_TAIL_LINES) lines.shift();
    // With a log file the server's own lines go there only; the caller's log keeps the launcher's progress.
    if (file) file.write(`${line}\n`);
    else options.log(`temporal: ${line}`);
  };
  forEachLine(stdout, onLine);
  forEachLine(stderr, onLine);
  return {
    tail: () => (lines.length ? lines.join('\n') : '(no output)'),
    close: () => new Promise<void>((resolve) => (file ? file.end(resolve) : resolve())),
  };
}

async function waitUntilReady(
  address: string,
  namespace: string,
  exited: Promise<string>,
  tail: () => string,
): Promise<Connection> {
  let exitReason: string | undefined;
  void exited.then((reason) => (exitReason = reason));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exitReason) {
      throw new Error(
        `Temporal dev server ended (${exitReason}) before it was ready. Server output:\n${tail()}`,
      );
    }
    try {
      return await connectToNamespace(address, namespace);
    } catch (error) {
      lastError = error;
      await delay(250);
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(
    `Temporal dev server at ${address} was not ready for namespace ${namespace} within ` +
      `${READY_TIMEOUT_MS / 1000} s (last error: ${reason}). Server output:\n${tail()}`,
  );
}

async function connectToNamespace(address: string, namespace: string): Promise<Connection> {
  const connection = await Connection.connect({ address, connectTimeout: '2s' });
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return connection;
  } catch (error) {
    await connection.close();
    throw error;
  }
}

const SDK_SEARCH_ATTRIBUTE_TYPES: Record<(typeof SEARCH_ATTRIBUTES)[string], SearchAttributeType> = {
  Keyword: SearchAttributeType.KEYWORD,
  KeywordList: SearchAttributeType.KEYWORD_LIST,
};

type IndexedValueType = NonNullable<ReturnType<typeof encodeSearchAttributeIndexedValueType>>;

function indexedValueType(name: string): IndexedValueType {
  return encodeSearchAttributeIndexedValueType(SDK_SEARCH_ATTRIBUTE_TYPES[SEARCH_ATTRIBUTES[name]!])!;
}

/**
 * The server registers `--search-attribute`s only when it creates the namespace, so a db file from an
 * older release would lack newer attributes: add those.
 */
async function ensureSearchAttributes(connection: Connection, namespace: string, log: Log): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing: Record<string, IndexedValueType> = {};
  for (const name of Object.keys(SEARCH_ATTRIBUTES)) {
    const registered = customAttributes?.[name];
    if (registered === undefined || registered === null) {
      missing[name] = indexedValueType(name);
    } else if (registered !== indexedValueType(name)) {
      throw new Error(
        `Search attribute ${name} is registered with another type than ${SEARCH_ATTRIBUTES[name]} ` +
          `in namespace ${namespace}; start from a new db file`,
      );
    }
  }
  if (Object.keys(missing).length === 0) return;
  log(`Registering search attributes ${Object.keys(missing).join(', ')} in namespace ${namespace}`);
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
}

async function startSdkDevServer(options: ResolvedDevServerOptions): Promise<DevServerHandle> {
  // Imported only here: it loads the SDK's native core, which nothing else in this module needs.
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  options.log('Starting the dev server through @temporalio/testing (downloads it; needs the internet)');
  const environment = await TestWorkflowEnvironment.createLocal({
    server: {
      dbFilename: options.dbFile,
      ip: options.ip,
      port: options.port,
      ui: !options.headless,
      uiPort: options.headless ? undefined : options.uiPort,
      namespace: options.namespace,
      log: { format: 'pretty', level: options.logLevel },
      searchAttributes: Object.entries(SEARCH_ATTRIBUTES).map(([name, type]) =>
        defineSearchAttributeKey(name, SDK_SEARCH_ATTRIBUTE_TYPES[type]),
      ),
      extraArgs: [...uiCodecArguments(options), ...pragmaArguments(options)],
    },
  });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= environment.teardown());
  try {
    await ensureSearchAttributes(environment.connection, options.namespace, options.log);
  } catch (error) {
    await stop();
    throw error;
  }
  return { address: environment.address, namespace: options.namespace, uiUrl: uiUrl(options), stop };
}

/** A port that was free a moment ago; another process may still take it before the caller binds it. */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return listenOnce(host, 0);
}

async function assertPortFree(host: string, port: number, role: string): Promise<void> {
  try {
    await listenOnce(host, port);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Cannot start the Temporal dev server: its ${role} ${host}:${port} is not free (${reason})`,
    );
  }
}

/** Binds host:port, closes it again and resolves with the port bound. */
function listenOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}
