// The Prometheus client's failure handling against real sockets (no Prometheus needed): a closed port
// is 'unreachable' after retries + 1 attempts, a server that never answers is a 'timeout', a caller's
// abort is 'canceled' and never retried; requests are form-encoded POSTs and credentials in the URL
// become a header, never part of a message. Also the generated prometheus.yml and its validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import {
  createPrometheusClient,
  parseSampleValue,
  type QueryRecord,
} from '../../activities/telemetry/prometheus-api.js';
import { findFreePort, prometheusConfig } from '../../infra/prometheus/local.js';
import { failure, SilentServer } from './metrics-server.js';

interface GeneratedConfig {
  global: Record<string, string>;
  scrape_configs: Array<{
    job_name: string;
    metrics_path: string;
    static_configs: Array<{ targets: string[]; labels?: Record<string, string> }>;
  }>;
}

void test('a closed port is unreachable after retries + 1 attempts, with backoff', async () => {
  const port = await findFreePort();
  const records: QueryRecord[] = [];
  const client = createPrometheusClient({
    url: `http://reader:s3cret@127.0.0.1:${port}/`,
    retries: 2,
    retryDelayMs: 40,
    onRecord: (record) => records.push(record),
  });
  const started = Date.now();
  const error = await failure(
    client.queryRange('up', { start: new Date(Date.now() - 60_000), end: new Date(), stepSeconds: 15 }),
  );
  assert.equal(error.kind, 'unreachable');
  assert.equal(error.retryable, true);
  assert.equal(error.record?.attempts, 3);
  assert.equal(error.record?.outcome, 'error');
  assert.equal(error.record?.errorKind, 'unreachable');
  assert.equal(error.record?.kind, 'range');
  assert.equal(error.record?.stepSeconds, 15);
  assert.ok(Date.now() - started >= 40 + 80, 'waits 40 ms, then 80 ms between attempts');
  assert.match(error.message, /ECONNREFUSED/);
  assert.equal(error.url, `http://127.0.0.1:${port}`);
  assert.doesNotMatch(error.message, /s3cret/);
  assert.doesNotMatch(JSON.stringify(error.record), /s3cret/);
  assert.deepEqual(records, [error.record]);
  assert.equal(client.url, `http://127.0.0.1:${port}`);
});

void test('a server that never answers is a timeout, retried, and the request is a form POST', async (t) => {
  const server = await SilentServer.start();
  t.after(() => server.close());
  const client = createPrometheusClient({
    url: `http://reader:s3cret@${server.url.slice('http://'.length)}/prom`,
    timeoutMs: 300,
    retries: 1,
    retryDelayMs: 10,
    headers: async () => Promise.resolve({ 'x-scope-orgid': 'medrelease' }),
  });
  const query = `sum(rate(http_requests_total{job="model-server",path=~"/predict|/explain"}[5m])) > 0.5 and on() ${'vector(1) + '.repeat(200)}vector(1)`;
  const started = Date.now();
  const error = await failure(client.query(query, { time: new Date(1_700_000_000_000) }));
  assert.equal(error.kind, 'timeout');
  assert.equal(error.retryable, true);
  assert.equal(error.record?.attempts, 2);
  assert.ok(Date.now() - started >= 600, 'two attempts of 300 ms');
  assert.ok(error.message.length < 500, 'a long query is shortened in the message');
  assert.equal(error.query, query);

  assert.equal(server.requests.length, 2);
  const [request] = server.requests;
  assert.equal(request?.method, 'POST');
  assert.equal(request?.url, '/prom/api/v1/query');
  assert.equal(request?.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(request?.headers.authorization, `Basic ${Buffer.from('reader:s3cret').toString('base64')}`);
  assert.equal(request?.headers['x-scope-orgid'], 'medrelease');
  const form = new URLSearchParams(request?.body);
  assert.equal(form.get('query'), query);
  assert.equal(form.get('time'), '1700000000.000');
});

void test("a caller's abort is 'canceled', combined with the timeout, and never retried", async (t) => {
  const server = await SilentServer.start();
  t.after(() => server.close());
  const client = createPrometheusClient({ url: server.url, timeoutMs: 10_000, retries: 3, retryDelayMs: 10 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('activity cancelled')), 100);
  const started = Date.now();
  const error = await failure(client.query('up', { signal: controller.signal }));
  assert.equal(error.kind, 'canceled');
  assert.equal(error.retryable, false);
  assert.equal(error.record?.attempts, 1);
  assert.match(error.message, /activity cancelled/);
  assert.ok(Date.now() - started < 2000, 'the abort ends the call at once, not the 10 s timeout');

  const already = await failure(client.query('up', { signal: AbortSignal.abort() }));
  assert.equal(already.kind, 'canceled');
  assert.equal(server.requests.length, 1, 'an aborted signal sends nothing');

  // Aborted while waiting to retry an unreachable Prometheus.
  const closed = createPrometheusClient({
    url: `http://127.0.0.1:${await findFreePort()}`,
    retries: 5,
    retryDelayMs: 5000,
  });
  const waiting = new AbortController();
  setTimeout(() => waiting.abort(), 100);
  const during = await failure(closed.query('up', { signal: waiting.signal }));
  assert.equal(during.kind, 'canceled');
  assert.equal(during.record?.attempts, 1);
});

void test('sample values: NaN and ±Inf are never 0, garbage is refused', () => {
  assert.ok(Number.isNaN(parseSampleValue('NaN')));
  assert.equal(parseSampleValue('+Inf'), Infinity);
  assert.equal(parseSampleValue('-Inf'), -Infinity);
  assert.equal(parseSampleValue('0.25'), 0.25);
  assert.equal(parseSampleValue('-1e-3'), -0.001);
  assert.equal(parseSampleValue('1712345678'), 1712345678);
  for (const bad of ['', ' ', 'abc', '1,5', null, 3]) {
    assert.throws(() => parseSampleValue(bad), /not/);
  }
});

void test('the client refuses bad options', () => {
  assert.throws(() => createPrometheusClient({ url: 'not a url' }), /not a valid URL/);
  assert.throws(() => createPrometheusClient({ url: 'ftp://host' }), /http or https/);
  assert.throws(() => createPrometheusClient({ url: 'http://h', retries: -1 }), /retries/);
  const client = createPrometheusClient({ url: 'http://127.0.0.1:9' });
  assert.throws(
    () => void client.queryRange('up', { start: new Date(), end: new Date(), stepSeconds: 0 }),
    /stepSeconds/,
  );
});

void test('prometheus.yml: one job per distinct job, static configs with labels, the interval', () => {
  const text = prometheusConfig(
    [
      { job: 'model-server', address: '127.0.0.1:8001', labels: { cloud: 'aws', track: 'canary' } },
      { job: 'model-server', address: '127.0.0.1:8002', labels: { cloud: 'aws', track: 'stable' } },
      { job: 'exporter', address: 'localhost:9100', metricsPath: '/probe/metrics' },
    ],
    1,
  );
  const document = parse(text) as GeneratedConfig;
  assert.deepEqual(document.global, {
    scrape_interval: '1s',
    scrape_timeout: '1s',
    evaluation_interval: '1s',
  });
  assert.deepEqual(
    document.scrape_configs.map((job) => job.job_name),
    ['model-server', 'exporter'],
  );
  assert.deepEqual(document.scrape_configs[0]?.static_configs, [
    { targets: ['127.0.0.1:8001'], labels: { cloud: 'aws', track: 'canary' } },
    { targets: ['127.0.0.1:8002'], labels: { cloud: 'aws', track: 'stable' } },
  ]);
  assert.equal(document.scrape_configs[1]?.metrics_path, '/probe/metrics');
  assert.equal((parse(prometheusConfig([], 0.5)) as GeneratedConfig).global.scrape_interval, '500ms');
  assert.equal((parse(prometheusConfig([], 30)) as GeneratedConfig).global.scrape_timeout, '10s');

  assert.throws(() => prometheusConfig([{ job: 'a', address: 'localhost' }], 1), /not host:port/);
  assert.throws(
    () => prometheusConfig([{ job: 'a', address: 'h:1', labels: { 'bad-name': 'x' } }], 1),
    /label/,
  );
  assert.throws(
    () =>
      prometheusConfig(
        [
          { job: 'a', address: 'h:1' },
          { job: 'a', address: 'h:2', metricsPath: '/other' },
        ],
        1,
      ),
    /different metrics paths/,
  );
  assert.throws(
    () =>
      prometheusConfig(
        [
          { job: 'a', address: 'h:1' },
          { job: 'a', address: 'h:1' },
        ],
        1,
      ),
    /twice/,
  );
});
