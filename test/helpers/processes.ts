// Worker entry points run as real child processes, for the tests that kill them (SIGKILL, no
// goodbye) or take their server away. Each process's output goes to one shared, bounded log that a
// failing test prints; every process started here is killed when the test process exits, so a
// failed or timed-out test leaves no orphan behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import type { Config } from '../../domain/config.js';

/** dist/workers, next to this compiled file's dist/test/helpers. */
export const WORKERS_DIR = fileURLToPath(new URL('../../workers/', import.meta.url));

/**
 * Environment variables that override the configuration file (domain/config.ts, loadConfig) or change
 * the log format: a child must read only the file the test wrote, whatever the developer's shell has set.
 */
const CONFIG_OVERRIDES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'MEDRELEASE_TEMPORAL_UI_URL',
  'MEDRELEASE_TASK_QUEUE_PREFIX',
  'MEDRELEASE_API_PORT',
  'MEDRELEASE_API_HOST',
  'MEDRELEASE_DATA_DIR',
  'MEDRELEASE_OIDC_ISSUER',
  'MEDRELEASE_OIDC_AUDIENCE',
  'MEDRELEASE_OIDC_JWKS_URI',
  'MEDRELEASE_PAYLOAD_KEY_FILE',
  'MEDRELEASE_PAYLOAD_KEYS',
  'MEDRELEASE_LOG_PRETTY',
  'MEDRELEASE_CLOUD',
];

const MAX_LOG_LINES = 2000;

/** Output of every child process, one line each, prefixed with the process's name and pid. */
export class ProcessLog {
  private readonly lines: string[] = [];
  private dropped = 0;

  add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > MAX_LOG_LINES) {
      this.lines.shift();
      this.dropped += 1;
    }
  }

  text(): string {
    if (this.lines.length === 0) return '(no output)';
    return `${this.dropped ? `(${this.dropped} earlier lines dropped)\n` : ''}${this.lines.join('\n')}`;
  }
}

const running = new Set<ChildProcess>();
// A synchronous last resort: the test process is ending (normally, by an uncaught error, or by the
// test runner's timeout) and a child is still alive.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface WorkerProcessOptions {
  /** Shown in the log, e.g. 'control' or 'aws'. */
  name: string;
  /** A file in dist/workers without its extension. */
  entry: 'control-worker' | 'cloud-worker';
  /** The configuration file (MEDRELEASE_CONFIG). */
  configFile: string;
  cloud?: string;
  log: ProcessLog;
  /** MEDRELEASE_LOG_LEVEL; default warn. */
  logLevel?: string;
}

export class WorkerProcess {
  readonly name: string;
  readonly pid: number;
  /** The identity the Temporal SDK gives this worker by default (workers/factory.ts sets none). */
  readonly identity: string;
  /** Resolves with how the process ended, e.g. 'exit code 0' or 'signal SIGKILL'. */
  readonly exited: Promise<string>;
  private readonly child: ChildProcess;

  private constructor(child: ChildProcess, name: string) {
    this.child = child;
    this.name = name;
    this.pid = child.pid!;
    this.identity = `${this.pid}@${hostname()}`;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(child);
        resolve(signal ? `signal ${signal}` : `exit code ${code}`);
      });
    });
  }

  static start(options: WorkerProcessOptions): WorkerProcess {
    const environment: NodeJS.ProcessEnv = { ...process.env };
    for (const variable of CONFIG_OVERRIDES) delete environment[variable];
    environment.MEDRELEASE_CONFIG = options.configFile;
    environment.MEDRELEASE_LOG_LEVEL = options.logLevel ?? 'warn';
    if (options.cloud) environment.MEDRELEASE_CLOUD = options.cloud;
    const child = spawn(process.execPath, [path.join(WORKERS_DIR, `${options.entry}.js`)], {
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`could not start the ${options.name} worker process`);
    running.add(child);
    const worker = new WorkerProcess(child, options.name);
    const prefix = `[${options.name} ${worker.pid}]`;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) =>
        options.log.add(`${prefix} ${line}`),
      );
    }
    void worker.exited.then((how) => options.log.add(`${prefix} ended: ${how}`));
    return worker;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Kills the process at once, as a crash or the OOM killer would, and waits until it is gone. */
  async kill(): Promise<string> {
    if (this.alive) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM (the worker finishes the tasks in hand), then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<string> {
    if (this.alive) this.child.kill('SIGTERM');
    const timeout = delay(graceMs, 'timeout', { ref: false });
    if ((await Promise.race([this.exited, timeout])) === 'timeout') this.child.kill('SIGKILL');
    return this.exited;
  }
}

/** The control worker and one cloud worker per cloud of `config`, each its own process. */
export class WorkerFleet {
  readonly log = new ProcessLog();
  readonly processes: WorkerProcess[] = [];

  private constructor(
    readonly config: Config,
    readonly configFile: string,
  ) {}

  /** Writes `config` to `configFile` (JSON) for the child processes to read. */
  static async create(config: Config, configFile: string): Promise<WorkerFleet> {
    await writeFile(configFile, JSON.stringify(config, null, 2));
    return new WorkerFleet(config, configFile);
  }

  /** Starts the worker of `which`: 'control' or a cloud's name (into another log, at another level, if given). */
  start(which: string, options: { log?: ProcessLog; logLevel?: string } = {}): WorkerProcess {
    const shared = {
      name: which,
      configFile: this.configFile,
      log: options.log ?? this.log,
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    };
    const worker =
      which === 'control'
        ? WorkerProcess.start({ ...shared, entry: 'control-worker' })
        : WorkerProcess.start({ ...shared, entry: 'cloud-worker', cloud: which });
    this.processes.push(worker);
    return worker;
  }

  startAll(): WorkerProcess[] {
    return ['control', ...this.config.clouds.map((cloud) => cloud.name)].map((which) => this.start(which));
  }

  /** The live process of `which`, the one started last. */
  current(which: string): WorkerProcess {
    const found = this.processes.findLast((worker) => worker.name === which && worker.alive);
    if (!found) throw new Error(`no live ${which} worker process`);
    return found;
  }

  alive(): WorkerProcess[] {
    return this.processes.filter((worker) => worker.alive);
  }

  /** Stops every process still alive (SIGTERM, then SIGKILL) and waits for each to be gone. */
  async stopAll(graceMs = 5000): Promise<void> {
    await Promise.all(this.processes.map((worker) => worker.stop(graceMs)));
  }
}

/**
 * Waits until `worker` polls `taskQueue` for workflow and activity tasks, as the server sees it:
 * proof that the process bundled its workflows, connected and is ready to take work.
 */
export async function waitUntilPolling(
  client: Client,
  namespace: string,
  taskQueue: string,
  worker: WorkerProcess,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Wire values of temporal.api.enums.v1: TaskQueueType WORKFLOW = 1, ACTIVITY = 2; TaskQueueKind NORMAL = 1.
  const types = [1, 2];
  while (Date.now() < deadline) {
    if (!worker.alive)
      throw new Error(`the ${worker.name} worker (pid ${worker.pid}) ended: ${await worker.exited}`);
    try {
      const polling = await Promise.all(
        types.map(async (taskQueueType) => {
          const { pollers } = await client.workflowService.describeTaskQueue({
            namespace,
            taskQueue: { name: taskQueue, kind: 1 },
            taskQueueType,
          });
          return (pollers ?? []).some((poller) => poller.identity === worker.identity);
        }),
      );
      if (polling.every(Boolean)) return;
    } catch {
      // The server may be restarting: ask again.
    }
    await delay(200);
  }
  throw new Error(
    `the ${worker.name} worker (pid ${worker.pid}) did not poll ${taskQueue} within ${timeoutMs} ms`,
  );
}
