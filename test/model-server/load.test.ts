// The load generator against in-process model servers: the rate, the spread over targets, the open
// loop (slow servers do not slow it down; the in-flight cap drops), and input drift.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { startLoad } from '../../examples/model-server/load.js';
import {
  startModelServer,
  type ModelServer,
  type ModelServerOptions,
} from '../../examples/model-server/server.js';
import { scrape, trainedModelDir, value } from './helpers.js';

let modelDir = '';
const servers: ModelServer[] = [];

before(async () => {
  ({ dir: modelDir } = await trainedModelDir('model-server-load-'));
});
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await rm(modelDir, { recursive: true, force: true });
});

async function start(options: ModelServerOptions = {}): Promise<ModelServer> {
  const server = await startModelServer({ modelDir, logger: false, ...options });
  servers.push(server);
  await server.ready;
  return server;
}

describe('the load generator', () => {
  test('sends the configured rate, split evenly over the targets', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    const progress: number[] = [];
    const load = startLoad({
      targets: [a.url, b.url],
      rps: 100,
      durationSeconds: 2,
      seed: 1,
      progressIntervalMs: 500,
      onProgress: (report) => progress.push(report.sent),
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const midway = load.stats().sent;
    assert.ok(midway >= 85 && midway <= 115, `sent ${midway} after 1 s at 100/s`);
    const stats = await load.done;
    assert.equal(stats.sent, 200);
    assert.equal(stats.ok, 200);
    assert.equal(stats.errors, 0);
    assert.ok(stats.elapsedSeconds >= 1.9 && stats.elapsedSeconds < 2.5, `took ${stats.elapsedSeconds} s`);
    assert.deepEqual(
      Object.values(stats.byTarget).map((entry) => entry.sent),
      [100, 100],
    );
    assert.ok(stats.latencyMs.p50 > 0 && stats.latencyMs.p99 >= stats.latencyMs.p50);
    assert.ok(progress.length >= 2, `progress reports: ${progress.join(', ')}`);
    const served = await Promise.all(
      [a, b].map(async (server) =>
        value(await scrape(server.url), 'inference_requests_total', { status: '200' }),
      ),
    );
    assert.deepEqual(served, [100, 100]);
  });

  test('weights split the traffic, and errors are counted by status', async () => {
    const [stable, canary] = await Promise.all([
      start(),
      start({ track: 'canary', faults: { errorRate: 1 } }),
    ]);
    const stats = await startLoad({
      targets: [stable.url, canary.url],
      weights: [3, 1],
      rps: 200,
      durationSeconds: 0.5,
    }).done;
    assert.equal(stats.sent, 100);
    assert.equal(stats.byTarget[stable.url]!.sent, 75);
    assert.equal(stats.byTarget[canary.url]!.sent, 25);
    assert.equal(stats.byStatus['500'], 25);
    assert.equal(stats.errors, 25);
  });

  test('open loop: a slow server does not slow the sending; the in-flight cap drops instead', async () => {
    const slow = await start({ faults: { latencyMs: 400 } });
    const started = performance.now();
    const load = startLoad({ targets: [slow.url], rps: 50, durationSeconds: 1, maxInFlight: 10 });
    const stats = await load.done;
    assert.ok(stats.elapsedSeconds < 1.2, `sending took ${stats.elapsedSeconds} s`);
    assert.equal(stats.sent + stats.dropped, 50);
    // At most 10 in flight for 0.4 s each: about 10 / 0.4 = 25 requests a second get through.
    assert.ok(stats.dropped >= 15 && stats.sent <= 35, `sent ${stats.sent}, dropped ${stats.dropped}`);
    assert.ok(stats.latencyMs.p50 >= 400);
    assert.ok(performance.now() - started < 2500);
  });

  test("input drift shows in the server's drift gauges", async () => {
    const [plain, drifted] = await Promise.all([start(), start()]);
    await Promise.all([
      startLoad({ targets: [plain.url], rps: 400, durationSeconds: 0.5, seed: 2 }).done,
      startLoad({ targets: [drifted.url], rps: 400, durationSeconds: 0.5, seed: 2, drift: 1 }).done,
    ]);
    const [plainSamples, driftedSamples] = await Promise.all([scrape(plain.url), scrape(drifted.url)]);
    assert.equal(value(driftedSamples, 'inference_input_drift_window_size'), 200);
    assert.ok(value(plainSamples, 'inference_input_drift_max') < 0.3);
    for (const feature of ['heart_rate', 'systolic_bp', 'lactate']) {
      const drift = value(driftedSamples, 'inference_input_drift', { feature });
      assert.ok(drift > 0.6, `${feature}: ${drift}`);
    }
  });

  test('invalid options are refused at once', () => {
    assert.throws(() => startLoad({ targets: [], rps: 1 }), /at least one target/);
    assert.throws(() => startLoad({ targets: ['ftp://x'], rps: 1 }), /http or https/);
    assert.throws(() => startLoad({ targets: ['http://127.0.0.1:1'], rps: 0 }), /rps/);
    assert.throws(() => startLoad({ targets: ['http://127.0.0.1:1'], rps: 1, weights: [1, 2] }), /weights/);
  });
});
