// Authentication and roles: who may call what, decided before the body is read, and nothing starts
// when the answer is no.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { TestEnvironment } from '../helpers/environment.js';
import { as, assertError, assertNotStarted, buildTestApp } from './helper.js';

describe('API authentication and permissions', () => {
  let env: TestEnvironment;
  let app: FastifyInstance;

  before(async () => {
    env = await TestEnvironment.create();
    app = await buildTestApp(env);
  });
  after(async () => {
    await app?.close();
    await env?.close();
  });

  test('no token → 401 UNAUTHENTICATED with a Bearer challenge, and nothing starts', async () => {
    const request = env.request({ releaseId: 'rel-auth-missing' });
    const response = await app.inject({ method: 'POST', url: '/v1/releases', payload: request });
    assertError(response, 401, 'UNAUTHENTICATED');
    assert.match(String(response.headers['www-authenticate']), /^Bearer /);
    await assertNotStarted(env.client, 'rel-auth-missing');
  });

  test('a wrong token or a malformed Authorization header → 401', async () => {
    const wrong = await app.inject({
      method: 'GET',
      url: '/v1/releases',
      headers: { authorization: 'Bearer not-a-real-token-at-all-000' },
    });
    const body = assertError(wrong, 401, 'UNAUTHENTICATED');
    assert.match(body.message, /refused: the token is not a signed JWT/);
    assert.match(String(wrong.headers['www-authenticate']), /invalid_token/);
    const basic = await app.inject({
      method: 'GET',
      url: '/v1/releases',
      headers: { authorization: `Basic ${env.users.viewer.token}` },
    });
    assertError(basic, 401, 'UNAUTHENTICATED');
  });

  test('a role that may not create → 403 FORBIDDEN naming the role, and nothing starts', async () => {
    for (const user of ['viewer', 'operator', 'approverA'] as const) {
      const releaseId = `rel-auth-${user.toLowerCase()}`;
      const response = await as(env, app, user).post('/v1/releases', env.request({ releaseId }));
      const body = assertError(response, 403, 'FORBIDDEN');
      assert.match(body.message, /release-manager/);
      await assertNotStarted(env.client, releaseId);
    }
  });

  test('roles are checked before the body: a viewer with a malformed body still gets 403', async () => {
    const response = await as(env, app, 'viewer').post('/v1/releases', { nonsense: true });
    assertError(response, 403, 'FORBIDDEN');
  });

  test('sign-off needs clinical-approver; pause needs operator; abort allows a release manager', async () => {
    const signoff = await as(env, app, 'viewer').post('/v1/releases/rel-anything/signoff', {
      decision: 'approve',
      comment: 'fine by me',
    });
    assert.match(assertError(signoff, 403, 'FORBIDDEN').message, /clinical-approver/);
    const pause = await as(env, app, 'manager').post('/v1/releases/rel-anything/pause', {
      reason: 'lunch break',
    });
    assert.match(assertError(pause, 403, 'FORBIDDEN').message, /operator/);
    // A release manager may abort: past the role check, the unknown release is a 404.
    const abort = await as(env, app, 'manager').post('/v1/releases/rel-anything/abort', {
      reason: 'changed my mind',
    });
    assertError(abort, 404, 'RELEASE_NOT_FOUND', '/releaseId');
  });

  test('every authenticated role may read', async () => {
    for (const user of ['viewer', 'operator', 'approverA', 'manager'] as const) {
      const response = await as(env, app, user).get('/v1/releases?limit=1');
      assert.equal(response.statusCode, 200, response.body);
    }
  });

  test('health and the API docs need no token', async () => {
    assert.deepEqual((await app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
    assert.equal((await app.inject({ method: 'GET', url: '/docs/json' })).statusCode, 200);
  });

  test('an unknown route → 404 ROUTE_NOT_FOUND', async () => {
    assertError(await app.inject({ method: 'GET', url: '/nowhere' }), 404, 'ROUTE_NOT_FOUND');
  });
});
