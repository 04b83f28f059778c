// The build cache for the real infrastructure (the Temporal CLI, etcd, the Kubernetes control plane,
// KWOK): each tool is built once from the Go module proxy into `<cache>/bin/<tool>-<version>/`,
// outside the repository, under a lock so parallel processes build it once, and published by an
// atomic rename so a killed build never leaves a half-written tool behind.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  access,
  constants,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
} from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';

export type Log = (line: string) => void;
export const silent: Log = () => {};

/** Root of medrelease's cache, outside the repository so a fresh clone or `git clean` keeps the builds. */
export function cacheRoot(): string {
  if (process.env.MEDRELEASE_CACHE_DIR) return process.env.MEDRELEASE_CACHE_DIR;
  if (process.env.XDG_CACHE_HOME) return path.join(process.env.XDG_CACHE_HOME, 'medrelease');
  return path.join(homedir(), '.cache', 'medrelease');
}

/** `<cache>/bin/<tool>-<version>`: one folder per tool and version. */
export function toolDirectory(tool: string, version: string): string {
  return path.join(cacheRoot(), 'bin', `${tool}-${version}`);
}

export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const stats = await stat(file);
    await access(file, constants.X_OK);
    return stats.isFile();
  } catch {
    return false;
  }
}

export interface CachedBuild {
  tool: string;
  version: string;
  /** Files the finished build holds; the build counts as cached when all are there. */
  files: string[];
  /** Builds into `staging` (an empty folder); resolves false when the build failed. */
  build: (staging: string) => Promise<boolean>;
  log?: Log;
}

/**
 * The tool's folder, built first if any of its files is missing. Resolves with how it was obtained;
 * 'failed' leaves nothing behind.
 */
export async function ensureCachedBuild(
  spec: CachedBuild,
): Promise<{ directory: string; outcome: 'cached' | 'built' | 'failed' }> {
  const log = spec.log ?? silent;
  const directory = toolDirectory(spec.tool, spec.version);
  const complete = async () =>
    (await Promise.all(spec.files.map((file) => exists(path.join(directory, file))))).every(Boolean);
  if (await complete()) return { directory, outcome: 'cached' };
  const binDirectory = path.dirname(directory);
  await mkdir(binDirectory, { recursive: true });
  const release = await acquireLock(`${directory}.lock`, `${spec.tool} ${spec.version}`, log);
  try {
    if (await complete()) return { directory, outcome: 'cached' };
    const prefix = `.${spec.tool}-${spec.version}-build-`;
    // Only called while holding the lock, so any staging folder left is from a killed build.
    for (const name of await readdir(binDirectory)) {
      if (name.startsWith(prefix)) await rm(path.join(binDirectory, name), { recursive: true, force: true });
    }
    const staging = await mkdtemp(path.join(binDirectory, prefix));
    try {
      if (!(await spec.build(staging))) return { directory, outcome: 'failed' };
      for (const file of spec.files) {
        if (!(await exists(path.join(staging, file)))) {
          log(`${spec.tool} ${spec.version}: the build finished without ${file}`);
          return { directory, outcome: 'failed' };
        }
      }
      await rm(directory, { recursive: true, force: true });
      await rename(staging, directory);
      return { directory, outcome: 'built' };
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  } finally {
    await release();
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** A lock file holding the owner's pid; a lock whose owner died (e.g. killed mid-build) is taken over. */
export async function acquireLock(lockFile: string, what: string, log: Log): Promise<() => Promise<void>> {
  let announcedWait = false;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lockFile, { force: true });
    } catch (error) {
      if (!isErrorCode(error, 'EEXIST')) throw error;
    }
    const owner = Number(await readFile(lockFile, 'utf8').catch(() => ''));
    if (owner && !isProcessAlive(owner)) {
      await rm(lockFile, { force: true });
      continue;
    }
    if (!announcedWait) {
      log(`Another process (pid ${owner || 'unknown'}) is building ${what}; waiting for it`);
      announcedWait = true;
    }
    await delay(1_000);
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return isErrorCode(error, 'EPERM');
  }
}

export function isErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

export function forEachLine(stream: Readable, onLine: Log): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
}

/** Resolves once the process has ended or could not start, describing how, e.g. 'exit code 1'. */
export function processEnd(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve(`could not run: ${error.message}`));
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`));
  });
}

export interface GoCommand {
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** What the log calls this command, e.g. 'Building kube-apiserver'. */
  label: string;
  log: Log;
}

/**
 * Runs a `go` command with its output streamed to the log, time-stamped. When the only failure is
 * that the checksum database is unreachable (the Go module proxy answers, sum.golang.org does not),
 * the command is repeated once with GOSUMDB=off; a checksum mismatch is never retried.
 */
export async function runGo(command: GoCommand): Promise<boolean> {
  const first = await runGoOnce(command, {});
  if (first.ok) return true;
  if (!isChecksumDatabaseUnreachable(first.output)) return false;
  command.log('The Go checksum database is unreachable; repeating this one command with GOSUMDB=off');
  return (await runGoOnce(command, { GOSUMDB: 'off' })).ok;
}

/** A mismatch is a real integrity failure and must not be retried without the checksum database. */
function isChecksumDatabaseUnreachable(output: string[]): boolean {
  const text = output.join('\n');
  // Go reports a failed checksum-database lookup as "<module>@<version>: verifying module|go.mod: <cause>".
  return /verifying (module|go\.mod): /.test(text) && !/checksum mismatch/.test(text);
}

async function runGoOnce(
  command: GoCommand,
  extraEnvironment: Record<string, string>,
): Promise<{ ok: boolean; output: string[] }> {
  const started = Date.now();
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)}s`;
  command.log(`${command.label}: go ${command.args.join(' ')}`);
  const child = spawn('go', command.args, {
    ...(command.cwd ? { cwd: command.cwd } : {}),
    env: { ...process.env, ...command.env, ...extraEnvironment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const onLine = (line: string) => {
    output.push(line);
    command.log(`[${elapsed()}] ${line}`);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  const ended = await processEnd(child);
  const ok = ended === 'exit code 0';
  command.log(`${command.label} ${ok ? 'finished' : `failed (${ended})`} after ${elapsed()}`);
  return { ok, output };
}

/** Captures a `go` command's standard output (for `go mod download -json`, `go env`). */
export async function goOutput(args: string[], cwd?: string): Promise<string> {
  const child = spawn('go', args, { ...(cwd ? { cwd } : {}), stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  const errors: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => errors.push(chunk));
  const ended = await processEnd(child);
  if (ended !== 'exit code 0') {
    throw new Error(`go ${args.join(' ')} failed (${ended}): ${Buffer.concat(errors).toString().trim()}`);
  }
  return Buffer.concat(chunks).toString();
}

/** The first executable `command` on PATH. */
export async function findOnPath(command: string): Promise<string | undefined> {
  for (const directory of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!directory) continue;
    const candidate = path.join(directory, command);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
