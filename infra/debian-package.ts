// Installing a Debian package the tests or the product need (Prometheus, Chromium) when it is missing:
// as root with apt-get at hand, without prompts, waiting for another apt/dpkg run to finish, running
// `apt-get update` once if the package is unknown, and showing progress as it goes.
import { spawn } from 'node:child_process';
import { forEachLine, processEnd, type Log } from './build-cache.js';

/** How long `apt-get` waits for another apt/dpkg run (e.g. a parallel test) to release its lock. */
const DPKG_LOCK_TIMEOUT_SECONDS = 300;
const LOG_TAIL_LINES = 30;

/** Installs `pkg` with apt-get (the caller checked that it runs as root); throws with apt's last lines. */
export async function aptInstall(aptGet: string, pkg: string, log: Log): Promise<void> {
  const command = `apt-get install -y --no-install-recommends ${pkg}`;
  const started = Date.now();
  log(`${pkg} is not installed; running: ${command}`);
  const lock = ['-o', `DPkg::Lock::Timeout=${DPKG_LOCK_TIMEOUT_SECONDS}`];
  const install = () => runApt(aptGet, [...lock, 'install', '-y', '--no-install-recommends', pkg], pkg, log);
  let result = await install();
  if (!result.ok && /Unable to locate package|has no installation candidate/.test(result.output)) {
    log('apt-get does not know the package yet; running apt-get update first');
    const update = await runApt(aptGet, [...lock, 'update'], pkg, log);
    if (!update.ok) throw new Error(`apt-get update failed (${update.ended}):\n${lastLines(update.output)}`);
    result = await install();
  }
  if (!result.ok) throw new Error(`${command} failed (${result.ended}):\n${lastLines(result.output)}`);
  log(`apt-get finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * Runs apt-get without prompts. Its milestones (download size, fetched, setting up the package) reach
 * the log, plus a line every 15 s while it works; the whole output is kept for the error message.
 */
async function runApt(
  aptGet: string,
  args: string[],
  pkg: string,
  log: Log,
): Promise<{ ok: boolean; ended: string; output: string }> {
  const started = Date.now();
  const child = spawn(aptGet, args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    if (/^(Need to get|Fetched|E:)/.test(line) || line.startsWith(`Setting up ${pkg}`))
      log(`apt-get: ${line}`);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  const ticker = setInterval(
    () => log(`apt-get ${args.at(-1) ?? ''} still running (${Math.round((Date.now() - started) / 1000)} s)`),
    15_000,
  );
  ticker.unref();
  try {
    const ended = await processEnd(child);
    return { ok: ended === 'exit code 0', ended, output: lines.join('\n') };
  } finally {
    clearInterval(ticker);
  }
}

function lastLines(text: string, count = LOG_TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-count).join('\n') || '(no output)';
}
