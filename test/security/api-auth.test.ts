// Attacks on the API's authentication and authorisation, through the whole app: bad tokens of every
// kind are 401 and start nothing; roles cannot be escalated; a sign-off cannot be replayed or given
// twice; the requester never signs off; and the transport protections (security headers, body limit,
// rate limit, no stack traces) hold.
import assert from 'node:assert/strict';
import { generateKeyPair, SignJWT } from 'jose';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { parseConfig } from '../../domain/config.js';
import { TestEnvironment } from '../helpers/environment.js';
import { assertError, assertNotStarted, buildTestApp } from '../api/helper.js';

describe('API authentication attacks', () => {
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

  const create = (token: string, releaseId: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/releases',
      headers: { authorization: `Bearer ${token}` },
      payload: env.request({ releaseId }),
    });

  /** Replaces the payload of a signed token, keeping its header and signature. */
  const tamper = (token: string, change: (claims: Record<string, unknown>) => void): string => {
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    change(claims);
    return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
  };

  const cases: [string, () => Promise<string>, RegExp][] = [
    [
      'expired',
      () => env.issuer.mint('rm-alice', { issuedAt: new Date(Date.now() - 7200_000), ttlSeconds: 3600 }),
      /expired/,
    ],
    [
      'not yet valid',
      () => env.issuer.mint('rm-alice', { notBefore: new Date(Date.now() + 3600_000) }),
      /not yet valid/,
    ],
    ['for another audience', () => env.issuer.mint('rm-alice', { audience: 'another-service' }), /audience/],
    [
      'from another issuer',
      () => env.issuer.mint('rm-alice', { extraClaims: { iss: 'https://login.attacker.example' } }),
      /issued by/,
    ],
    [
      'unsigned (alg none)',
      () => {
        const claims = {
          iss: env.issuer.issuer,
          aud: 'medrelease-api',
          sub: 'rm-alice',
          preferred_username: 'rm-alice',
          roles: ['release-manager'],
          exp: Math.floor(Date.now() / 1000) + 600,
        };
        return Promise.resolve(
          `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`,
        );
      },
      /none|not accepted|algorithm/,
    ],
    [
      'tampered (viewer → release-manager)',
      async () => tamper(await env.issuer.mint('vw-frank'), (claims) => (claims.roles = ['release-manager'])),
      /signature/,
    ],
    [
      'signed by a key the issuer does not publish',
      async () => {
        const { privateKey } = await generateKeyPair('ES256');
        return new SignJWT({ preferred_username: 'rm-alice', roles: ['release-manager'] })
          .setProtectedHeader({ alg: 'ES256', kid: 'attacker-key' })
          .setIssuer(env.issuer.issuer)
          .setAudience('medrelease-api')
          .setSubject('rm-alice')
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(privateKey);
      },
      /key|signature/,
    ],
    [
      'HMAC-signed with the public key as secret (algorithm confusion)',
      async () =>
        new SignJWT({ preferred_username: 'rm-alice', roles: ['release-manager'] })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(env.issuer.issuer)
          .setAudience('medrelease-api')
          .setSubject('rm-alice')
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(new TextEncoder().encode(JSON.stringify(env.issuer.publicJwks()))),
      /algorithm|not accepted|HS256/,
    ],
    ['garbage', () => Promise.resolve('not-a-token-at-all'), /not a signed JWT|JWT|malformed/],
  ];

  for (const [what, make, reason] of cases) {
    test(`a token ${what} → 401 naming why, and nothing starts`, async () => {
      const releaseId = `rel-bad-${what.replace(/[^a-z]+/g, '-').replace(/-+$/, '')}`.slice(0, 60);
      const response = await create(await make(), releaseId);
      const body = assertError(response, 401, 'UNAUTHENTICATED');
      assert.match(body.message, reason);
      assert.match(String(response.headers['www-authenticate']), /invalid_token/);
      await assertNotStarted(env.client, releaseId);
    });
  }

  test('a valid token within the allowed clock skew is accepted', async () => {
    const token = await env.issuer.mint('rm-alice', { notBefore: new Date(Date.now() + 10_000) });
    const response = await app.inject({
      method: 'GET',
      url: '/v1/releases?limit=1',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(response.statusCode, 200, response.body);
  });

  test('privilege escalation across roles: each role is refused what it does not hold', async () => {
    const attempts: [keyof TestEnvironment['users'], string, unknown][] = [
      ['viewer', '/v1/releases', env.request({ releaseId: 'rel-esc-viewer' })],
      ['operator', '/v1/releases', env.request({ releaseId: 'rel-esc-operator' })],
      ['approverA', '/v1/releases/rel-x/pause', { reason: 'escalate' }],
      ['operator', '/v1/releases/rel-x/signoff', { decision: 'approve', comment: 'escalate' }],
      ['auditor', '/v1/releases/rel-x/rollback', { reason: 'escalate' }],
      ['qa', '/v1/releases/rel-x/signoff', { decision: 'approve', comment: 'escalate' }],
    ];
    for (const [user, url, payload] of attempts) {
      const response = await app.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${env.users[user].token}` },
        payload: payload as Record<string, unknown>,
      });
      assertError(response, 403, 'FORBIDDEN');
    }
    await assertNotStarted(env.client, 'rel-esc-viewer');
    await assertNotStarted(env.client, 'rel-esc-operator');
    for (const user of ['viewer', 'operator', 'manager'] as const) {
      const audit = await app.inject({
        method: 'GET',
        url: '/v1/audit',
        headers: { authorization: `Bearer ${env.users[user].token}` },
      });
      assert.match(assertError(audit, 403, 'FORBIDDEN').message, /auditor/);
    }
    const auditor = await app.inject({
      method: 'GET',
      url: '/v1/audit',
      headers: { authorization: `Bearer ${env.users.auditor.token}` },
    });
    assert.equal(auditor.statusCode, 200, auditor.body);
  });

  test('a valid token with no medrelease role may read nothing', async () => {
    const token = await env.issuer.mint('vw-frank', { extraClaims: { roles: ['hospital-staff'] } });
    const response = await app.inject({
      method: 'GET',
      url: '/v1/releases',
      headers: { authorization: `Bearer ${token}` },
    });
    assertError(response, 403, 'FORBIDDEN');
  });

  test('roles come from the configured claim, mapped from identity-provider group names', async () => {
    const config = parseConfig({
      ...env.config,
      auth: {
        ...env.config.auth,
        rolesClaim: 'realm_access.roles',
        roleMap: { 'mlops-release-managers': ['release-manager'] },
      },
    });
    const mapped = await buildTestApp(env, { config });
    try {
      const token = await env.issuer.mint('vw-frank', {
        extraClaims: { roles: undefined, realm_access: { roles: ['mlops-release-managers'] } },
      });
      const response = await mapped.inject({
        method: 'POST',
        url: '/v1/releases',
        headers: { authorization: `Bearer ${token}` },
        payload: { nonsense: true },
      });
      // Past the role check (release-manager): the body is what is refused.
      assertError(response, 400, 'VALIDATION_FAILED');
      // The default `roles` claim is not read under this configuration.
      const plain = await mapped.inject({
        method: 'POST',
        url: '/v1/releases',
        headers: { authorization: `Bearer ${env.users.manager.token}` },
        payload: { nonsense: true },
      });
      assertError(plain, 403, 'FORBIDDEN');
    } finally {
      await mapped.close();
    }
  });

  test('security headers on every response; errors carry no stack trace', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/v1/releases',
      headers: { authorization: 'Bearer x' },
    });
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
    assert.equal(response.headers['x-frame-options'], 'SAMEORIGIN');
    assert.match(String(response.headers['content-security-policy']), /default-src 'none'/);
    assert.match(String(response.headers['strict-transport-security']), /max-age=\d+/);
    assert.equal(response.headers['referrer-policy'], 'no-referrer');
    assert.equal(response.headers['x-powered-by'], undefined);
    const malformed = await app.inject({
      method: 'POST',
      url: '/v1/releases',
      headers: { authorization: `Bearer ${env.users.manager.token}`, 'content-type': 'application/json' },
      payload: '{"model": ',
    });
    assertError(malformed, 400, 'INVALID_BODY');
    assert.doesNotMatch(malformed.body, /\s+at\s+\S+\s+\(|node_modules|\.js:\d+/);
  });

  test('a body over 1 MiB → 413, before anything else', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/releases',
      headers: { authorization: `Bearer ${env.users.manager.token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ padding: 'x'.repeat(1024 * 1024 + 10) }),
    });
    assertError(response, 413, 'BODY_TOO_LARGE');
  });

  test('rate limit per caller: 429 with Retry-After for that caller only; probes are exempt', async () => {
    const config = parseConfig({
      ...env.config,
      api: { ...env.config.api, rateLimit: { max: 5, windowSeconds: 60 } },
    });
    const limited = await buildTestApp(env, { config });
    try {
      const get = (user: keyof TestEnvironment['users']) =>
        limited.inject({
          method: 'GET',
          url: '/v1/releases?limit=1',
          headers: { authorization: `Bearer ${env.users[user].token}` },
        });
      for (let index = 0; index < 5; index++) assert.equal((await get('viewer')).statusCode, 200);
      const refused = await get('viewer');
      assertError(refused, 429, 'RATE_LIMITED');
      assert.ok(Number(refused.headers['retry-after']) > 0);
      assert.equal((await get('operator')).statusCode, 200, 'another caller is not limited');
      for (let index = 0; index < 10; index++) {
        assert.equal((await limited.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      }
    } finally {
      await limited.close();
    }
  });

  test('a mangled session cookie is 401, not 500', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: { cookie: 'medrelease_session=%E0%A4%A', 'content-type': 'application/json' },
      payload: { payloads: [] },
    });
    assertError(response, 401, 'UNAUTHENTICATED');
  });

  test('the identity provider unreachable: 503 without its address, and nothing starts', async () => {
    const config = parseConfig({
      ...env.config,
      auth: { ...env.config.auth, jwksUri: 'http://127.0.0.1:9/jwks.json' },
    });
    const cut = await buildTestApp(env, { config });
    try {
      const response = await cut.inject({
        method: 'POST',
        url: '/v1/releases',
        headers: { authorization: `Bearer ${env.users.manager.token}` },
        payload: env.request({ releaseId: 'rel-idp-down' }),
      });
      const body = assertError(response, 503, 'IDENTITY_PROVIDER_UNAVAILABLE');
      assert.doesNotMatch(body.message, /127\.0\.0\.1|jwks/);
      await assertNotStarted(env.client, 'rel-idp-down');
    } finally {
      await cut.close();
    }
  });

  test('an address that keeps failing authentication is refused before any token is checked', async () => {
    const config = parseConfig({
      ...env.config,
      api: { ...env.config.api, rateLimit: { max: 1000, windowSeconds: 60, failedAuthMax: 3 } },
    });
    const limited = await buildTestApp(env, { config });
    try {
      const call = (token: string, remoteAddress = '10.0.0.7') =>
        limited.inject({
          method: 'GET',
          url: '/v1/releases?limit=1',
          remoteAddress,
          headers: { authorization: `Bearer ${token}` },
        });
      for (let attempt = 0; attempt < 3; attempt++)
        assertError(await call(`guess-${attempt}`), 401, 'UNAUTHENTICATED');
      const blocked = await call(env.users.viewer.token);
      assertError(blocked, 429, 'RATE_LIMITED');
      assert.ok(Number(blocked.headers['retry-after']) > 0);
      // Another address is not affected.
      assert.equal((await call(env.users.viewer.token, '10.0.0.8')).statusCode, 200);
    } finally {
      await limited.close();
    }
  });
});
