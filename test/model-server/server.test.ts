// The model server in-process: readiness, /predict and its validation, the metrics and their labels,
// and each fault's observable effect.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadServerConfig } from '../../examples/model-server/config.js';
import { FEATURES, generateCohort } from '../../examples/model-server/data.js';
import {
  startModelServer,
  type ModelServer,
  type ModelServerOptions,
} from '../../examples/model-server/server.js';
import { getJson, HIGH_RISK, LOW_RISK, postJson, scrape, trainedModelDir, value } from './helpers.js';

const LABELS = { model: 'sepsis-risk', version: '2.3.0', cloud: 'test-cloud', track: 'canary' };

let modelDir = '';
const servers: ModelServer[] = [];
const scratch: string[] = [];

before(async () => {
  ({ dir: modelDir } = await trainedModelDir('model-server-server-'));
  scratch.push(modelDir);
});
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function start(options: ModelServerOptions = {}): Promise<ModelServer> {
  const server = await startModelServer({
    modelDir,
    version: LABELS.version,
    cloud: LABELS.cloud,
    track: 'canary',
    logger: false,
    ...options,
  });
  servers.push(server);
  await server.ready;
  return server;
}

/** Patients from the cohort, the same ones for every server. */
const patients = generateCohort({ size: 200, seed: 5 }).rows;

async function predictAll(
  server: ModelServer,
  count: number,
): Promise<{ status: number; probability: number }[]> {
  const results = [];
  for (const features of patients.slice(0, count)) {
    const { status, json } = await postJson(`${server.url}/predict`, { features });
    results.push({
      status,
      probability: (json.prediction as { probability?: number } | undefined)?.probability ?? NaN,
    });
  }
  return results;
}

describe('the model server', () => {
  let server: ModelServer;
  before(async () => {
    server = await start();
  });

  test('/healthz is 200 and /readyz is 200 with the model identity once loaded', async () => {
    assert.equal((await getJson(`${server.url}/healthz`)).status, 200);
    const ready = await getJson(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(ready.json.status, 'ready');
    assert.equal(ready.json.version, LABELS.version);
    assert.match(String(ready.json.weightsSha256), /^[0-9a-f]{64}$/);
    const info = await getJson(`${server.url}/`);
    assert.equal((info.json.training as { seed: number }).seed, 42);
  });

  test('/predict answers one patient and a batch, with probability and confidence', async () => {
    const high = await postJson(`${server.url}/predict`, { features: HIGH_RISK });
    assert.equal(high.status, 200, JSON.stringify(high.json));
    assert.equal(high.json.model, 'sepsis-risk');
    assert.equal(high.json.version, LABELS.version);
    const prediction = high.json.prediction as { label: string; probability: number; confidence: number };
    assert.equal(prediction.label, 'sepsis');
    assert.ok(prediction.probability > 0.8);
    assert.equal(prediction.confidence, prediction.probability);

    const batch = await postJson(`${server.url}/predict`, { instances: [LOW_RISK, HIGH_RISK, LOW_RISK] });
    assert.equal(batch.status, 200);
    const predictions = batch.json.predictions as {
      label: string;
      probability: number;
      confidence: number;
    }[];
    assert.deepEqual(
      predictions.map((entry) => entry.label),
      ['no-sepsis', 'sepsis', 'no-sepsis'],
    );
    assert.ok(Math.abs(predictions[0]!.confidence - (1 - predictions[0]!.probability)) < 1e-6);
    assert.equal(predictions[1]!.probability, prediction.probability);
  });

  test('/predict refuses invalid input with 400, naming the field and the rule', async () => {
    const cases: { body: unknown; field: string; rule: string; message: RegExp }[] = [
      {
        body: { features: { ...HIGH_RISK, lactate: undefined } },
        field: '/features/lactate',
        rule: 'required',
        message: /is required/,
      },
      {
        body: { features: { ...HIGH_RISK, heart_rate: 400 } },
        field: '/features/heart_rate',
        rule: 'maximum',
        message: /at most 250 .*beats\/min/,
      },
      {
        body: { features: { ...HIGH_RISK, systolic_bp: 10 } },
        field: '/features/systolic_bp',
        rule: 'minimum',
        message: /at least 40/,
      },
      {
        body: { features: { ...HIGH_RISK, temperature: '38.5' } },
        field: '/features/temperature',
        rule: 'type',
        message: /must be a number/,
      },
      {
        body: { features: { ...HIGH_RISK, age: 54 } },
        field: '/features/age',
        rule: 'additionalProperties',
        message: /not a known field/,
      },
      { body: {}, field: '', rule: 'minProperties', message: /exactly one of "features"/ },
      {
        body: { instances: [LOW_RISK, { ...LOW_RISK, wbc: -1 }] },
        field: '/instances/1/wbc',
        rule: 'minimum',
        message: /at least 0\.1/,
      },
    ];
    for (const { body, field, rule, message } of cases) {
      const { status, json } = await postJson(`${server.url}/predict`, body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(json.code, 'VALIDATION_FAILED');
      const problems = json.problems as { field: string; rule: string; message: string }[];
      const found = problems.find((entry) => entry.field === field && entry.rule === rule);
      assert.ok(found, `${JSON.stringify(problems)} lacks ${field} ${rule}`);
      assert.match(found.message, message);
      assert.ok(String(json.message).includes(field), String(json.message));
    }
  });

  test('/metrics: every series carries model, version, cloud and track; counters and histograms move', async () => {
    const before = await scrape(server.url);
    for (let index = 0; index < 10; index += 1) {
      assert.equal((await postJson(`${server.url}/predict`, { features: patients[index] })).status, 200);
    }
    assert.equal((await postJson(`${server.url}/predict`, { features: {} })).status, 400);
    const samples = await scrape(server.url);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      value(samples, name, labels) - value(before, name, labels);

    for (const sample of samples) {
      for (const [label, expected] of Object.entries(LABELS)) {
        assert.equal(sample.labels[label], expected, `${sample.name} ${label}`);
      }
    }
    assert.equal(delta('inference_requests_total', { status: '200' }), 10);
    assert.equal(delta('inference_requests_total', { status: '400' }), 1);
    assert.equal(delta('inference_request_duration_seconds_count'), 11);
    assert.equal(delta('inference_request_duration_seconds_bucket', { le: '+Inf' }), 11);
    assert.equal(delta('inference_prediction_confidence_count'), 10);
    const classes =
      delta('inference_predictions_total', { class: 'sepsis' }) +
      delta('inference_predictions_total', { class: 'no-sepsis' });
    assert.equal(classes, 10);
    assert.equal(value(samples, 'inference_model_loaded'), 1);
    for (const feature of FEATURES) {
      assert.ok(
        samples.some(
          (sample) => sample.name === 'inference_input_drift' && sample.labels.feature === feature,
        ),
      );
    }
    assert.ok(value(samples, 'inference_input_drift_window_size') >= 10);
    assert.ok(value(samples, 'process_start_time_seconds') > 1e9);
    // The confidence buckets are 0.05 … 1 in steps of 0.05.
    const buckets = samples
      .filter((sample) => sample.name === 'inference_prediction_confidence_bucket')
      .map((sample) => sample.labels.le);
    assert.equal(buckets.length, 21);
    assert.deepEqual(buckets.slice(0, 3), ['0.05', '0.1', '0.15']);
  });

  test('the drift gauges stay low for training-distribution inputs', async () => {
    const fresh = await start();
    for (const features of patients) await postJson(`${fresh.url}/predict`, { features });
    const samples = await scrape(fresh.url);
    assert.equal(value(samples, 'inference_input_drift_window_size'), 200);
    assert.ok(
      value(samples, 'inference_input_drift_max') < 0.25,
      String(value(samples, 'inference_input_drift_max')),
    );
  });
});

describe('faults', () => {
  test('latency: the duration histogram moves above the added latency', async () => {
    const fast = await start();
    const slow = await start({ faults: { latencyMs: 150, latencyJitterMs: 50 } });
    await predictAll(fast, 5);
    const started = performance.now();
    await predictAll(slow, 5);
    assert.ok(performance.now() - started >= 5 * 150);
    const [fastSamples, slowSamples] = await Promise.all([scrape(fast.url), scrape(slow.url)]);
    const below = (samples: typeof fastSamples) =>
      value(samples, 'inference_request_duration_seconds_bucket', { le: '0.15' });
    assert.equal(below(fastSamples), 5);
    assert.equal(below(slowSamples), 0);
    assert.equal(value(slowSamples, 'inference_request_duration_seconds_bucket', { le: '0.3' }), 5);
    const mean = value(slowSamples, 'inference_request_duration_seconds_sum') / 5;
    assert.ok(mean >= 0.15 && mean < 0.3, `mean ${mean}`);
  });

  test('error rate 1.0: every request is a 500, counted with status "500"', async () => {
    const broken = await start({ faults: { errorRate: 1 } });
    const results = await predictAll(broken, 5);
    assert.deepEqual(
      results.map((result) => result.status),
      [500, 500, 500, 500, 500],
    );
    const { json } = await postJson(`${broken.url}/predict`, { features: LOW_RISK });
    assert.equal(json.code, 'INJECTED_FAULT');
    const samples = await scrape(broken.url);
    assert.equal(value(samples, 'inference_requests_total', { status: '500' }), 6);
    assert.equal(value(samples, 'inference_requests_total', { status: '200' }), 0);
    assert.equal(value(samples, 'inference_prediction_confidence_count'), 0);
  });

  test('error rate 0.3: about that share of requests fails', async () => {
    const flaky = await start({ faults: { errorRate: 0.3 } });
    const results = await predictAll(flaky, 150);
    const failed = results.filter((result) => result.status === 500).length;
    assert.ok(failed > 25 && failed < 65, `${failed} of 150 failed`);
  });

  test('drift: the same inputs get clearly higher probabilities', async () => {
    const normal = await start();
    const drifted = await start({ faults: { drift: 2 } });
    const meanProbability = (results: { probability: number }[]) =>
      results.reduce((sum, result) => sum + result.probability, 0) / results.length;
    const base = meanProbability(await predictAll(normal, 60));
    const shifted = meanProbability(await predictAll(drifted, 60));
    assert.ok(shifted - base > 0.15, `mean probability ${base} → ${shifted}`);
    const [normalSamples, driftedSamples] = await Promise.all([scrape(normal.url), scrape(drifted.url)]);
    const histogramMean = (samples: typeof normalSamples) =>
      value(samples, 'inference_prediction_confidence_sum') /
      value(samples, 'inference_prediction_confidence_count');
    assert.ok(histogramMean(driftedSamples) - histogramMean(normalSamples) > 0.15);
    assert.ok(
      value(driftedSamples, 'inference_predictions_total', { class: 'sepsis' }) >
        value(normalSamples, 'inference_predictions_total', { class: 'sepsis' }) + 5,
    );
  });

  test('crash after N: the hook fires right after the Nth /predict answer, not before', async () => {
    let crashes = 0;
    const doomed = await start({ faults: { crashAfter: 3 }, onCrash: () => (crashes += 1) });
    await getJson(`${doomed.url}/healthz`);
    await predictAll(doomed, 2);
    assert.equal(crashes, 0);
    const third = await postJson(`${doomed.url}/predict`, { features: LOW_RISK });
    assert.equal(third.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(crashes, 1);
  });

  test('PUT /admin/faults switches faults at run time when ADMIN_FAULTS is on, and only then', async () => {
    const admin = await start({ adminFaults: true });
    assert.equal((await postJson(`${admin.url}/predict`, { features: LOW_RISK })).status, 200);
    const put = async (body: unknown) => {
      const response = await fetch(`${admin.url}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    };
    const set = await put({ errorRate: 1 });
    assert.equal(set.status, 200);
    assert.equal(set.json.errorRate, 1);
    assert.equal(set.json.latencyMs, 0);
    assert.equal((await postJson(`${admin.url}/predict`, { features: LOW_RISK })).status, 500);
    const invalid = await put({ errorRate: 2 });
    assert.equal(invalid.status, 400);
    assert.ok((invalid.json.problems as { field: string }[]).some((entry) => entry.field === '/errorRate'));
    assert.equal((await put({})).status, 200);
    assert.equal((await postJson(`${admin.url}/predict`, { features: LOW_RISK })).status, 200);
    assert.equal((await getJson(`${admin.url}/admin/faults`)).json.errorRate, 0);

    const plain = await start();
    const refused = await fetch(`${plain.url}/admin/faults`, { method: 'PUT', body: '{}' });
    assert.equal(refused.status, 404);
  });
});

describe('starting', () => {
  test('with an empty model directory: 503 while it trains a model there, then ready', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'model-server-empty-'));
    scratch.push(dir);
    const server = await startModelServer({ modelDir: dir, logger: false });
    servers.push(server);
    const loading = await getJson(`${server.url}/readyz`);
    assert.equal(loading.status, 503);
    assert.equal(loading.json.status, 'loading');
    assert.equal((await getJson(`${server.url}/healthz`)).status, 200);
    const early = await postJson(`${server.url}/predict`, { features: LOW_RISK });
    assert.equal(early.status, 503);
    assert.equal(early.json.code, 'MODEL_NOT_READY');
    assert.equal(value(await scrape(server.url), 'inference_model_loaded'), 0);

    await server.ready;
    assert.equal((await getJson(`${server.url}/readyz`)).status, 200);
    assert.equal(value(await scrape(server.url), 'inference_model_loaded'), 1);
    assert.ok((await readdir(dir)).includes('model.json'));
  });

  test('with a damaged model: ready rejects and /readyz says why', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'model-server-damaged-'));
    scratch.push(dir);
    await writeFile(path.join(dir, 'model.json'), 'not json');
    await writeFile(path.join(dir, 'preprocessing.json'), 'not json either');
    const server = await startModelServer({ modelDir: dir, logger: false });
    servers.push(server);
    await assert.rejects(server.ready, /preprocessing\.json is not valid JSON/);
    const readyz = await getJson(`${server.url}/readyz`);
    assert.equal(readyz.status, 503);
    assert.equal(readyz.json.status, 'failed');
  });

  test('invalid options are refused, naming the setting', async () => {
    await assert.rejects(
      startModelServer({ track: 'blue' as 'stable', logger: false }),
      (error: Error) => error instanceof ConfigError && /MODEL_TRACK/.test(error.message),
    );
    await assert.rejects(
      startModelServer({ faults: { errorRate: 1.5 }, logger: false }),
      /FAULT_ERROR_RATE.*from 0 to 1/,
    );
  });
});

describe('configuration from the environment', () => {
  test('defaults', () => {
    const config = loadServerConfig({});
    assert.equal(config.modelName, 'sepsis-risk');
    assert.equal(config.track, 'stable');
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.driftWindow, 200);
    assert.equal(config.adminFaults, false);
    assert.ok(config.modelDir.endsWith(path.join('.data', 'model-server', '1.0.0')));
    assert.deepEqual(config.faults, {
      latencyMs: 0,
      latencyJitterMs: 0,
      errorRate: 0,
      drift: 0,
      crashAfter: 0,
    });
  });

  test('every variable is read', () => {
    const config = loadServerConfig({
      MODEL_NAME: 'sepsis-risk-eu',
      MODEL_VERSION: '2.0.0-rc.1',
      MODEL_CLOUD: 'aws',
      MODEL_TRACK: 'canary',
      PORT: '9001',
      HOST: '0.0.0.0',
      MODEL_DIR: '/var/lib/model',
      MODEL_SEED: '7',
      FAULT_LATENCY_MS: '250',
      FAULT_LATENCY_JITTER_MS: '50',
      FAULT_ERROR_RATE: '0.05',
      FAULT_DRIFT: '-1.5',
      FAULT_CRASH_AFTER: '100',
      ADMIN_FAULTS: '1',
      DRIFT_WINDOW: '500',
    });
    assert.deepEqual(
      { ...config, logLevel: undefined },
      {
        modelName: 'sepsis-risk-eu',
        version: '2.0.0-rc.1',
        cloud: 'aws',
        track: 'canary',
        port: 9001,
        host: '0.0.0.0',
        modelDir: path.resolve('/var/lib/model'),
        seed: 7,
        faults: { latencyMs: 250, latencyJitterMs: 50, errorRate: 0.05, drift: -1.5, crashAfter: 100 },
        adminFaults: true,
        driftWindow: 500,
        logLevel: undefined,
      },
    );
  });

  test('an invalid value fails naming the variable and the rule', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ MODEL_TRACK: 'blue' }, /MODEL_TRACK must be one of stable, canary, not "blue"/],
      [{ FAULT_ERROR_RATE: '1.5' }, /FAULT_ERROR_RATE must be a number from 0 to 1/],
      [{ FAULT_ERROR_RATE: 'often' }, /FAULT_ERROR_RATE must be a number/],
      [{ FAULT_CRASH_AFTER: '2.5' }, /FAULT_CRASH_AFTER must be an integer/],
      [{ FAULT_LATENCY_MS: '-5' }, /FAULT_LATENCY_MS must be a number from 0 to 60000/],
      [{ PORT: '70000' }, /PORT must be an integer from 0 to 65535/],
      [{ MODEL_VERSION: '../etc' }, /MODEL_VERSION must be 1 to 63 letters/],
      [{ ADMIN_FAULTS: 'yes' }, /ADMIN_FAULTS must be 0 .* or 1/],
    ];
    for (const [env, message] of cases) {
      assert.throws(
        () => loadServerConfig(env),
        (error: Error) => error instanceof ConfigError && message.test(error.message),
      );
    }
  });
});
