// Liveness, readiness against a real and an unreachable Temporal server, and how the other routes
// answer when Temporal cannot be reached.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { parseConfig } from '../../domain/config.js';
import { findFreePort } from '../../infra/temporal.js';
import { TestEnvironment } from '../helpers/environment.js';
import { as, assertError, build } from './helper.js';

describe('health and readiness', () => {
  let env: TestEnvironment;
  let deadConnection: Connection;
  let deadClient: Client;

  before(async () => {
    env = await TestEnvironment.create();
    // Nothing listens on a port that was just free.
    deadConnection = Connection.lazy({ address: `127.0.0.1:${await findFreePort()}` });
    deadClient = new Client({ connection: deadConnection });
  });
  after(async () => {
    // The probes against the dead server give up at their 2 s deadline, but the SDK's retry back-off
    // may still hold a call: closing the channel under it throws "Channel has been shut down" outside
    // any test. Let those calls end first.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await deadConnection?.close();
    await env?.close();
  });

  test('/healthz and /readyz with the real server', async (t) => {
    const app = await build(t, env);
    const healthz = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(healthz.statusCode, 200);
    assert.deepEqual(healthz.json(), { status: 'ok' });
    const readyz = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(readyz.statusCode, 200, readyz.body);
    assert.deepEqual(readyz.json(), { status: 'ready' });
  });

  test('/metrics exposes request latency by route template (never by release id) and process metrics', async (t) => {
    const app = await build(t, env);
    await app.inject({ method: 'GET', url: '/healthz' });
    const missing = await as(env, app, 'viewer').get('/v1/releases/rel-does-not-exist');
    assert.equal(missing.statusCode, 404);
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(response.headers['content-type'] as string, /^text\/plain/);
    assert.match(
      response.body,
      /medrelease_api_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} 1/,
    );
    assert.match(response.body, /route="\/v1\/releases\/:releaseId",status_code="404"/);
    assert.doesNotMatch(response.body, /rel-does-not-exist/);
    assert.match(response.body, /medrelease_api_process_resident_memory_bytes/);
  });

  test('/readyz is 503 TEMPORAL_UNAVAILABLE within about 2 s when Temporal is down; /healthz stays 200', async (t) => {
    const app = await build(t, env, { client: deadClient });
    const started = Date.now();
    const readyz = await app.inject({ method: 'GET', url: '/readyz' });
    assertError(readyz, 503, 'TEMPORAL_UNAVAILABLE');
    assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });

  test('a route that needs Temporal answers 503 TEMPORAL_UNAVAILABLE, with no internals', async (t) => {
    const config = parseConfig({ ...env.config, api: { ...env.config.api, requestTimeoutMs: 2000 } });
    const app = await build(t, env, { client: deadClient, config });
    const response = await as(env, app, 'viewer').get('/v1/releases');
    const error = assertError(response, 503, 'TEMPORAL_UNAVAILABLE');
    assert.doesNotMatch(response.body, /at .*\.js|grpc|DEADLINE/i);
    assert.equal(error.problems, undefined);
  });
});
