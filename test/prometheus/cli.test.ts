// `npm run infra:prometheus -- up|status|down` end to end, with its own data folder and a free port:
// `up` leaves a detached Prometheus running with its PID recorded, a second `up` finds it, `status`
// reports it, `down` stops exactly that PID, and a stale PID file is never acted on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isProcessAlive } from '../../infra/build-cache.js';
import { ensurePrometheus, findFreePort } from '../../infra/prometheus/local.js';

const CLI = fileURLToPath(new URL('../../infra/prometheus/cli.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

void test(
  'infra:prometheus up, status and down manage one recorded Prometheus',
  { timeout: 180_000 },
  async (t) => {
    await ensurePrometheus();
    const directory = await mkdtemp(path.join(tmpdir(), 'medrelease-prometheus-cli-'));
    const dataDir = path.join(directory, 'data');
    const port = await findFreePort();
    const pidFile = path.join(dataDir, 'prometheus.pid');
    t.after(async () => {
      await cli(['down', '--data-dir', dataDir]);
      // A last resort if the test failed before `down`: only the PID the CLI recorded.
      const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (pid > 0 && isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
      await rm(directory, { recursive: true, force: true });
    });

    const up = await cli([
      'up',
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--targets',
      'model=127.0.0.1:9',
    ]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`Prometheus: http://127\\.0\\.0\\.1:${port} \\(pid \\d+\\)`));
    assert.match(
      up.stdout,
      new RegExp(`targets: +model=127\\.0\\.0\\.1:9, prometheus=127\\.0\\.0\\.1:${port}`),
    );
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(isProcessAlive(pid), 'the Prometheus started by up outlives the command');

    const again = await cli(['up', '--data-dir', dataDir]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`\\(pid ${pid}\\)`));
    assert.match(again.stderr, /already runs/);

    const status = await cli(['status', '--data-dir', dataDir]);
    assert.match(
      status.stdout,
      new RegExp(`Prometheus: http://127\\.0\\.0\\.1:${port} \\(pid ${pid}\\) running`),
    );

    const down = await cli(['down', '--data-dir', dataDir]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /Prometheus stopped/);
    for (let waited = 0; waited < 5000 && isProcessAlive(pid); waited += 50) await delay(50);
    const stopped = await cli(['status', '--data-dir', dataDir]);
    assert.equal(stopped.code, 1);
    assert.match(stopped.stdout, /STOPPED/);

    // A PID file naming some other live process (this test's own) is never signalled.
    await writeFile(pidFile, `${process.pid}\n`);
    const stale = await cli(['down', '--data-dir', dataDir]);
    assert.equal(stale.code, 0);
    assert.match(stale.stdout, /nothing was running/);
    assert.match(stale.stderr, /not running Prometheus/);

    const usage = await cli(['sideways']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: npm run infra:prometheus/);
    const badTargets = await cli(['up', '--data-dir', dataDir, '--targets', 'no-equals-sign']);
    assert.equal(badTargets.code, 2);
    assert.match(badTargets.stderr, /is not job=host:port/);
  },
);
