// A real Prometheus (Debian's package, installed by ensurePrometheus when missing) started by
// startPrometheus on a free port in a temporary folder, scraping a tiny local HTTP server every second
// whose metrics the test controls. Checks what canary analysis relies on: range and instant queries
// return exactly what was served (labels, gauge changes at the right times, counter rates), NaN and
// ±Inf stay NaN and ±Inf, no data is an empty result, PromQL errors are typed and not retried, a
// reloaded configuration brings a new target up, data survives a SIGKILL and restart on the same port,
// stop() leaves no process and a SIGKILLed parent takes its Prometheus with it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createPrometheusClient, type PrometheusClient } from '../../activities/telemetry/prometheus-api.js';
import { isProcessAlive } from '../../infra/build-cache.js';
import {
  activeTargets,
  ensurePrometheus,
  isPortFree,
  startPrometheus,
  waitForScrape,
  type PrometheusHandle,
  type ScrapeTarget,
} from '../../infra/prometheus/local.js';
import { failure, MetricsServer } from './metrics-server.js';

const LOCAL_MODULE = fileURLToPath(new URL('../../infra/prometheus/local.js', import.meta.url));

async function waitUntilGone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) return false;
    await delay(50);
  }
  return true;
}

void describe('a local Prometheus', { timeout: 240_000 }, () => {
  const lines: string[] = [];
  const log = (line: string) => lines.push(`[${new Date().toISOString()}] ${line}`);
  const testStart = new Date();
  let directory: string;
  let model: MetricsServer;
  let second: MetricsServer | undefined;
  let prometheus: PrometheusHandle;
  let client: PrometheusClient;
  const strayPids: number[] = [];

  before(
    async () => {
      const installStarted = Date.now();
      const binary = await ensurePrometheus({ log });
      log(
        `ensurePrometheus: ${binary.path} ${binary.version} (${binary.source}) in ${Date.now() - installStarted} ms`,
      );
      assert.match(binary.version, /^\d+\.\d+\.\d+/);
      directory = await mkdtemp(path.join(tmpdir(), 'medrelease-prometheus-'));
      model = await MetricsServer.start({ counterPerSecond: 50 });
      const started = Date.now();
      prometheus = await startPrometheus({
        dataDir: path.join(directory, 'data'),
        scrapeIntervalSeconds: 1,
        targets: [{ job: 'model-server', address: model.address, labels: { cloud: 'aws', track: 'canary' } }],
        binary: binary.path,
        log,
      });
      log(`start-to-ready ${Date.now() - started} ms`);
      client = createPrometheusClient({ url: prometheus.url, timeoutMs: 5000, retries: 2, retryDelayMs: 50 });
      const firstScrape = Date.now();
      await waitForScrape(prometheus.url, { job: 'model-server', timeoutMs: 30_000 });
      log(`first scrape of the target after ${Date.now() - firstScrape} ms`);
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await prometheus?.stop();
    await model?.close();
    await second?.close();
    for (const pid of strayPids) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    if (directory) await rm(directory, { recursive: true, force: true });
    console.log(lines.join('\n'));
  });

  void test('records its PID and refuses a second start from the same folder', async () => {
    const recorded = await readFile(path.join(prometheus.dataDir, 'prometheus.pid'), 'utf8');
    assert.equal(Number(recorded.trim()), prometheus.pid);
    const config = await readFile(prometheus.configFile, 'utf8');
    assert.match(config, /scrape_interval: 1s/);
    assert.match(config, /job_name: model-server/);
    await assert.rejects(startPrometheus({ dataDir: prometheus.dataDir, targets: [] }), /already runs from/);
  });

  void test('a range query returns the served series: labels, gauge changes at the right time, counter rate', async () => {
    await model.waitForScrapes(3);
    const changedAt = Date.now();
    model.gauge = 7;
    await model.waitForScrapes(4);
    const end = new Date();
    const result = await client.queryRange('medrelease_test_temperature{sensor="a"}', {
      start: testStart,
      end,
      stepSeconds: 0.5,
    });
    log(`range query: ${result.record.durationMs} ms, ${result.record.sampleCount} samples`);
    assert.equal(result.resultType, 'matrix');
    assert.equal(result.series.length, 1);
    const [series] = result.series;
    assert.deepEqual(series?.labels, {
      __name__: 'medrelease_test_temperature',
      sensor: 'a',
      job: 'model-server',
      instance: model.address,
      cloud: 'aws',
      track: 'canary',
    });
    const samples = series?.samples ?? [];
    const changed = changedAt / 1000;
    const before = samples.filter(([time]) => time < changed - 0.5);
    const afterChange = samples.filter(([time]) => time > changed + 2.5);
    assert.ok(before.length >= 2, `samples before the change: ${JSON.stringify(samples)}`);
    assert.ok(afterChange.length >= 1, `samples after the change: ${JSON.stringify(samples)}`);
    assert.ok(
      before.every(([, value]) => value === 1),
      `before the change: ${JSON.stringify(before)}`,
    );
    assert.ok(
      afterChange.every(([, value]) => value === 7),
      `after the change: ${JSON.stringify(afterChange)}`,
    );
    assert.ok(samples.every(([, value]) => value === 1 || value === 7));
    for (let index = 1; index < samples.length; index += 1) {
      assert.ok(Math.abs(samples[index]![0] - samples[index - 1]![0] - 0.5) < 1e-6, 'samples every step');
    }
    assert.equal(result.record.kind, 'range');
    assert.equal(result.record.outcome, 'ok');
    assert.equal(result.record.attempts, 1);
    assert.equal(result.record.seriesCount, 1);
    assert.equal(result.record.sampleCount, samples.length);
    assert.equal(result.record.nanCount, 0);
    assert.equal(result.record.stepSeconds, 0.5);
    assert.equal(result.record.end, end.toISOString());

    // The counter grows by 50/s; rate() over a few scrapes sees that, within loose bounds.
    const rate = await client.queryRange('rate(medrelease_test_requests_total[4s])', {
      start: new Date(end.getTime() - 2000),
      end,
      stepSeconds: 1,
    });
    const rates = rate.series[0]?.samples.map(([, value]) => value) ?? [];
    assert.ok(rates.length >= 2, `rate samples: ${JSON.stringify(rate.series)}`);
    for (const value of rates) assert.ok(value > 35 && value < 65, `rate ${value} should be about 50/s`);
    assert.deepEqual(rate.series[0]?.labels, {
      route: '/predict',
      status: '200',
      job: 'model-server',
      instance: model.address,
      cloud: 'aws',
      track: 'canary',
    });
  });

  void test('instant queries: vectors with labels, scalars, strings, NaN and ±Inf kept as such', async () => {
    const both = await client.query('medrelease_test_temperature');
    assert.equal(both.resultType, 'vector');
    const bySensor = new Map(both.series.map((entry) => [entry.labels.sensor, entry.samples[0]?.[1]]));
    assert.equal(bySensor.get('a'), 7);
    assert.equal(bySensor.get('b'), 20);
    assert.equal(both.record.kind, 'instant');
    assert.equal(both.record.seriesCount, 2);

    const at = new Date(Date.now() - 1000);
    const pinned = await client.query('medrelease_test_temperature{sensor="b"}', { time: at });
    assert.equal(pinned.series[0]?.samples[0]?.[0], Math.round(at.getTime()) / 1000);
    assert.equal(pinned.record.time, at.toISOString());

    const nan = await client.query('medrelease_test_ratio');
    assert.equal(nan.series.length, 1);
    assert.ok(Number.isNaN(nan.series[0]?.samples[0]?.[1]), 'NaN must stay NaN, never 0');
    assert.equal(nan.record.nanCount, 1);

    const nanRange = await client.queryRange('medrelease_test_ratio', {
      start: new Date(Date.now() - 3000),
      end: new Date(),
      stepSeconds: 1,
    });
    assert.ok(nanRange.record.sampleCount >= 3);
    assert.equal(nanRange.record.nanCount, nanRange.record.sampleCount);
    assert.ok(nanRange.series[0]?.samples.every(([, value]) => Number.isNaN(value)));

    const limits = await client.query('medrelease_test_limit');
    const byBound = new Map(limits.series.map((entry) => [entry.labels.bound, entry.samples[0]?.[1]]));
    assert.equal(byBound.get('upper'), Infinity);
    assert.equal(byBound.get('lower'), -Infinity);
    assert.equal(limits.record.nanCount, 0);

    const scalar = await client.query('0 / 0');
    assert.equal(scalar.resultType, 'scalar');
    assert.equal(scalar.series.length, 1);
    assert.deepEqual(scalar.series[0]?.labels, {});
    assert.ok(Number.isNaN(scalar.series[0]?.samples[0]?.[1]));

    const number = await client.query('scalar(medrelease_test_temperature{sensor="b"}) * 2');
    assert.equal(number.series[0]?.samples[0]?.[1], 40);

    const text = await client.query('"hello"');
    assert.equal(text.resultType, 'string');
    assert.deepEqual(text.series, []);
    assert.equal(text.string?.value, 'hello');
  });

  void test('no data is an empty series list, not zeros', async () => {
    const instant = await client.query('medrelease_test_absent_metric');
    assert.equal(instant.resultType, 'vector');
    assert.deepEqual(instant.series, []);
    assert.equal(instant.record.seriesCount, 0);
    const range = await client.queryRange('medrelease_test_absent_metric{cloud="aws"}', {
      start: testStart,
      end: new Date(),
      stepSeconds: 1,
    });
    assert.equal(range.resultType, 'matrix');
    assert.deepEqual(range.series, []);
    assert.equal(range.record.sampleCount, 0);
    assert.equal(range.record.outcome, 'ok');
  });

  void test('PromQL errors are typed and not retried', async () => {
    const records: string[] = [];
    const recording = createPrometheusClient({
      url: prometheus.url,
      retries: 3,
      retryDelayMs: 10,
      onRecord: (record) => records.push(`${record.outcome}:${record.errorKind ?? ''}`),
    });
    const syntax = await failure(recording.query('sum(rate(medrelease_test_requests_total[1m]'));
    assert.equal(syntax.kind, 'bad_data');
    assert.equal(syntax.status, 400);
    assert.equal(syntax.errorType, 'bad_data');
    assert.equal(syntax.retryable, false);
    assert.equal(syntax.record?.attempts, 1);
    assert.equal(syntax.record?.outcome, 'error');
    assert.match(syntax.record?.error ?? '', /parse error/);
    assert.equal(syntax.query, 'sum(rate(medrelease_test_requests_total[1m]');

    const badStep = await failure(
      recording.queryRange('up', {
        start: new Date(Date.now() - 10 * 86_400_000),
        end: new Date(),
        stepSeconds: 1,
      }),
    );
    assert.equal(badStep.kind, 'bad_data', 'more than 11,000 points per series');
    assert.equal(badStep.record?.attempts, 1);

    // Two series on the left, one on the right, no group_left: fails at evaluation (HTTP 422).
    const execution = await failure(recording.query('medrelease_test_temperature / on() vector(1)'));
    assert.equal(execution.kind, 'execution');
    assert.equal(execution.status, 422);
    assert.equal(execution.errorType, 'execution');
    assert.equal(execution.retryable, false);
    assert.equal(execution.record?.attempts, 1);
    assert.deepEqual(records, ['error:bad_data', 'error:bad_data', 'error:execution']);
  });

  void test('setTargets adds a target that becomes up', async () => {
    second = await MetricsServer.start({ counterPerSecond: 10 });
    const targets: ScrapeTarget[] = [
      { job: 'model-server', address: model.address, labels: { cloud: 'aws', track: 'canary' } },
      { job: 'model-server-gcp', address: second.address, labels: { cloud: 'gcp' } },
    ];
    const started = Date.now();
    await prometheus.setTargets(targets);
    const listed = await activeTargets(prometheus.url);
    assert.deepEqual(listed.map((target) => `${target.job}/${target.address}`).sort(), [
      `model-server-gcp/${second.address}`,
      `model-server/${model.address}`,
    ]);
    const up = await waitForScrape(prometheus.url, {
      job: 'model-server-gcp',
      minSamples: 2,
      timeoutMs: 20_000,
    });
    assert.deepEqual(
      up.map((target) => [target.health, target.labels.cloud]),
      [['up', 'gcp']],
    );
    log(`setTargets: new target up after ${Date.now() - started} ms`);
    await second.waitForScrapes(1);
    const upNow = await client.query('up{job="model-server-gcp"}');
    assert.equal(upNow.series.length, 1);
    assert.equal(upNow.series[0]?.labels.cloud, 'gcp');
    assert.equal(upNow.series[0]?.samples[0]?.[1], 1);
    assert.deepEqual(prometheus.targets, targets);
  });

  void test('kill() then restart() on the same port keeps the data from before', async () => {
    const pid = prometheus.pid;
    const url = prometheus.url;
    const killedAt = Date.now();
    await prometheus.kill();
    assert.equal(await waitUntilGone(pid), true, `pid ${pid} should be gone`);
    assert.equal(prometheus.running, false);
    assert.equal(existsSync(path.join(prometheus.dataDir, 'prometheus.pid')), false);
    const down = await failure(createPrometheusClient({ url, retries: 0 }).query('up', { time: new Date() }));
    assert.equal(down.kind, 'unreachable');

    const restartStarted = Date.now();
    await prometheus.restart();
    log(`restart-to-ready ${Date.now() - restartStarted} ms`);
    assert.notEqual(prometheus.pid, pid);
    assert.equal(prometheus.url, url);
    const result = await client.queryRange('medrelease_test_temperature{sensor="a"}', {
      start: testStart,
      end: new Date(),
      stepSeconds: 1,
    });
    const samples = result.series[0]?.samples ?? [];
    const beforeKill = samples.filter(([time]) => time < killedAt / 1000 - 1);
    assert.ok(beforeKill.length >= 5, `samples from before the kill survive: ${JSON.stringify(samples)}`);
    assert.ok(beforeKill.some(([, value]) => value === 1) && beforeKill.some(([, value]) => value === 7));
    // The reloaded configuration (two targets) is what the restarted Prometheus runs with.
    const config = await readFile(prometheus.configFile, 'utf8');
    assert.ok(config.includes(model.address) && config.includes(second!.address));
  });

  void test('stop() leaves no process behind', async () => {
    const pid = prometheus.pid;
    await prometheus.stop();
    assert.equal(isProcessAlive(pid), false);
    assert.equal(prometheus.running, false);
    assert.equal(existsSync(path.join(prometheus.dataDir, 'prometheus.pid')), false);
    assert.equal(await isPortFree('127.0.0.1', prometheus.port), true);
    await prometheus.stop(); // harmless when repeated
  });

  void test('a Prometheus dies with the process that started it, even on SIGKILL', async () => {
    const dataDir = path.join(directory, 'orphan');
    const script = `
      import { startPrometheus } from ${JSON.stringify(LOCAL_MODULE)};
      const handle = await startPrometheus({ dataDir: ${JSON.stringify(dataDir)}, targets: [] });
      console.log(JSON.stringify({ pid: handle.pid }));
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code, signal) =>
        reject(new Error(`the child ended (${code ?? signal}) before starting`)),
      );
    });
    const { pid } = JSON.parse(line) as { pid: number };
    strayPids.push(pid);
    assert.equal(isProcessAlive(pid), true);
    child.kill('SIGKILL');
    assert.equal(await waitUntilGone(pid, 5000), true, `Prometheus ${pid} outlived its SIGKILLed parent`);
  });
});

void test('a Prometheus that ends before it is ready fails the start with its errors, leaving nothing', async (t) => {
  const directory = await mkdtemp(path.join(tmpdir(), 'medrelease-prometheus-broken-'));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const binary = path.join(directory, 'prometheus');
  await writeFile(
    binary,
    '#!/bin/sh\necho \'ts=2024-01-01 level=info msg="Starting Prometheus"\'\n' +
      'echo \'ts=2024-01-01 level=error msg="opening storage failed" err="boom"\'\nexit 1\n',
  );
  await chmod(binary, 0o755);
  const dataDir = path.join(directory, 'data');
  await assert.rejects(startPrometheus({ dataDir, targets: [], binary }), (error: Error) => {
    assert.match(error.message, /ended \(exit code 1\) before it was ready/);
    assert.match(error.message, /Errors in its log:\n.*opening storage failed/);
    return true;
  });
  assert.equal(existsSync(path.join(dataDir, 'prometheus.pid')), false);
  await assert.rejects(
    startPrometheus({ dataDir, targets: [], binary, retention: '15 days' }),
    /not a Prometheus duration/,
  );
});
