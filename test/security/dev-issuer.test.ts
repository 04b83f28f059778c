// The development OpenID Connect issuer: discovery, the authorization-code flow with PKCE end to end
// (its tokens accepted by the real verifier), one-time codes, redirect URIs, the persisted key, the
// loopback-only rule and HTML escaping.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { DevIssuer } from '../../security/dev-issuer.js';
import { OidcVerifier, type OidcSettings } from '../../security/oidc.js';

const AUDIENCE = 'medrelease-api';
const CLIENT = 'medrelease-web';
const REDIRECT = 'http://127.0.0.1:9/callback';
const users = [
  { id: 'rm-alice', name: 'Alice Release', roles: ['release-manager'] },
  { id: 'dr-bob', name: 'Bob <script>alert("x")</script> & Co', roles: ['clinical-approver'] },
];

let issuer: DevIssuer;
before(async () => {
  issuer = await DevIssuer.start({
    users,
    audience: AUDIENCE,
    clients: [{ clientId: CLIENT, redirectUris: [REDIRECT] }],
  });
});
after(async () => {
  await issuer.close();
});

function verifierFor(audience: string, overrides: Partial<OidcSettings> = {}) {
  return new OidcVerifier({
    issuer: issuer.issuer,
    audience,
    rolesClaim: 'roles',
    roleMap: {},
    userClaim: 'preferred_username',
    nameClaim: 'name',
    clockToleranceSeconds: 30,
    algorithms: ['ES256'],
    ...overrides,
  });
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeParams(challenge: string, extra: Record<string, string> = {}) {
  return {
    response_type: 'code',
    client_id: CLIENT,
    redirect_uri: REDIRECT,
    state: 'st-123',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'openid',
    ...extra,
  };
}

function postForm(url: string, fields: Record<string, string>) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

/** Signs in as a user and returns the code the client receives. */
async function codeFor(login: string, challenge: string, extra: Record<string, string> = {}) {
  const response = await postForm(`${issuer.issuer}/authorize`, {
    ...authorizeParams(challenge, extra),
    login,
  });
  assert.equal(response.status, 302);
  const location = new URL(response.headers.get('location') ?? '');
  assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
  assert.equal(location.searchParams.get('state'), 'st-123');
  const code = location.searchParams.get('code');
  assert.ok(code && code.length >= 40, 'a long random code');
  return code;
}

function exchange(code: string, codeVerifier: string, overrides: Record<string, string> = {}) {
  return postForm(`${issuer.issuer}/token`, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    client_id: CLIENT,
    code_verifier: codeVerifier,
    ...overrides,
  });
}

describe('development issuer endpoints', () => {
  test('the discovery document describes the issuer', async () => {
    const response = await fetch(`${issuer.issuer}/.well-known/openid-configuration`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-medrelease-dev-issuer'), 'development only');
    const document = (await response.json()) as Record<string, unknown>;
    assert.match(issuer.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(
      {
        issuer: document.issuer,
        jwks_uri: document.jwks_uri,
        authorization_endpoint: document.authorization_endpoint,
        token_endpoint: document.token_endpoint,
        response_types_supported: document.response_types_supported,
        grant_types_supported: document.grant_types_supported,
        code_challenge_methods_supported: document.code_challenge_methods_supported,
        id_token_signing_alg_values_supported: document.id_token_signing_alg_values_supported,
        subject_types_supported: document.subject_types_supported,
      },
      {
        issuer: issuer.issuer,
        jwks_uri: `${issuer.issuer}/jwks.json`,
        authorization_endpoint: `${issuer.issuer}/authorize`,
        token_endpoint: `${issuer.issuer}/token`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code'],
        code_challenge_methods_supported: ['S256'],
        id_token_signing_alg_values_supported: ['ES256'],
        subject_types_supported: ['public'],
      },
    );
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: Record<string, unknown>[] };
    assert.deepEqual(jwks, issuer.publicJwks());
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.d, undefined, 'no private part is published');
    assert.equal((await fetch(`${issuer.issuer}/admin`)).status, 404);
  });

  test('minted access tokens carry the documented header and claims', async () => {
    const token = await issuer.mint('rm-alice');
    const header = decodeProtectedHeader(token);
    assert.deepEqual(header, { alg: 'ES256', kid: issuer.publicJwks().keys[0]?.kid, typ: 'at+jwt' });
    const claims = decodeJwt(token);
    assert.equal(claims.iss, issuer.issuer);
    assert.equal(claims.aud, AUDIENCE);
    assert.equal(claims.sub, 'rm-alice');
    assert.equal(claims.preferred_username, 'rm-alice');
    assert.equal(claims.name, 'Alice Release');
    assert.deepEqual(claims.roles, ['release-manager']);
    assert.equal(claims.nbf, claims.iat);
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 3600);
    assert.match(String(claims.jti), /^[A-Za-z0-9_-]{20,}$/);
    assert.notEqual(decodeJwt(await issuer.mint('rm-alice')).jti, claims.jti);
    await assert.rejects(issuer.mint('mallory'), /no user 'mallory'/);
  });
});

describe('authorization code with PKCE', () => {
  test('sign-in page, code, token exchange: the verifier accepts the tokens', async () => {
    const { verifier, challenge } = pkce();
    const query = new URLSearchParams(authorizeParams(challenge, { nonce: 'n-42' }));
    const page = await fetch(`${issuer.issuer}/authorize?${query.toString()}`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    assert.match(html, /<title>medrelease development sign-in<\/title>/);
    assert.match(html, /development issuer/);
    for (const user of users) assert.ok(html.includes(`name="login" value="${user.id}"`), user.id);
    assert.ok(html.includes('Alice Release'));

    const code = await codeFor('rm-alice', challenge, { nonce: 'n-42' });
    const response = await exchange(code, verifier);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const tokens = (await response.json()) as Record<string, unknown>;
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.expires_in, 3600);
    const access = await verifierFor(AUDIENCE).verify(String(tokens.access_token));
    assert.ok(access.valid, access.valid ? '' : access.reason);
    assert.deepEqual(access.person, { id: 'rm-alice', name: 'Alice Release', roles: ['release-manager'] });
    const id = await verifierFor(CLIENT).verify(String(tokens.id_token));
    assert.ok(id.valid, id.valid ? '' : id.reason);
    assert.equal(decodeJwt(String(tokens.id_token)).nonce, 'n-42');
    const refusal = await verifierFor(AUDIENCE).verify(String(tokens.id_token));
    assert.ok(
      !refusal.valid && /not for this audience/.test(refusal.reason),
      'the id token is not an access token',
    );
  });

  test('a wrong code_verifier is invalid_grant', async () => {
    const { challenge } = pkce();
    const code = await codeFor('rm-alice', challenge);
    const response = await exchange(code, pkce().verifier);
    assert.equal(response.status, 400);
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body.error, 'invalid_grant');
    assert.match(String(body.error_description), /code_verifier/);
  });

  test('a code is used once', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor('dr-bob', challenge);
    assert.equal((await exchange(code, verifier)).status, 200);
    const again = await exchange(code, verifier);
    assert.equal(again.status, 400);
    assert.deepEqual(await again.json(), {
      error: 'invalid_grant',
      error_description: 'the code is unknown, used or expired',
    });
  });

  test('a code is bound to its client and redirect URI; other grants are refused', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor('rm-alice', challenge);
    const response = await exchange(code, verifier, { redirect_uri: 'http://127.0.0.1:9/other' });
    assert.equal(response.status, 400);
    assert.match(JSON.stringify(await response.json()), /"invalid_grant".*redirect_uri/);
    const grant = await exchange('x', verifier, { grant_type: 'password' });
    assert.equal(((await grant.json()) as Record<string, unknown>).error, 'unsupported_grant_type');
    const json = await fetch(`${issuer.issuer}/token`, { method: 'POST', body: '{}' });
    assert.equal(json.status, 400);
    assert.equal(((await json.json()) as Record<string, unknown>).error, 'invalid_request');
  });

  test('an unregistered redirect URI or client gets a 400 page, never a redirect', async () => {
    const { challenge } = pkce();
    const evil = new URLSearchParams(authorizeParams(challenge, { redirect_uri: 'https://evil.example/cb' }));
    const page = await fetch(`${issuer.issuer}/authorize?${evil.toString()}`, { redirect: 'manual' });
    assert.equal(page.status, 400);
    assert.equal(page.headers.get('location'), null);
    assert.match(await page.text(), /redirect_uri/);
    const post = await postForm(`${issuer.issuer}/authorize`, {
      ...authorizeParams(challenge, { redirect_uri: 'https://evil.example/cb' }),
      login: 'rm-alice',
    });
    assert.equal(post.status, 400);
    assert.equal(post.headers.get('location'), null);
    const stranger = new URLSearchParams(authorizeParams(challenge, { client_id: 'stranger' }));
    const unknown = await fetch(`${issuer.issuer}/authorize?${stranger.toString()}`, { redirect: 'manual' });
    assert.equal(unknown.status, 400);
    assert.match(await unknown.text(), /client_id/);
  });

  test('PKCE S256 is required', async () => {
    const plain = new URLSearchParams(authorizeParams('x'.repeat(43), { code_challenge_method: 'plain' }));
    const response = await fetch(`${issuer.issuer}/authorize?${plain.toString()}`, { redirect: 'manual' });
    assert.equal(response.status, 302);
    const location = new URL(response.headers.get('location') ?? '');
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.equal(location.searchParams.get('code'), null);
  });

  test('user names, state and every other echoed value are escaped in the page', async () => {
    const { challenge } = pkce();
    const query = new URLSearchParams(authorizeParams(challenge, { state: '"><script>alert(1)</script>' }));
    const html = await (await fetch(`${issuer.issuer}/authorize?${query.toString()}`)).text();
    assert.ok(!html.includes('<script>'), 'no script element');
    assert.ok(html.includes('Bob &#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; Co'));
    assert.ok(html.includes('value="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;"'));
  });
});

describe('development issuer lifecycle', () => {
  let directory: string;
  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'medrelease-dev-issuer-'));
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  test('the key file is created with mode 0600 and reused after a restart', async () => {
    const keyFile = path.join(directory, 'nested', 'issuer-key.json');
    const first = await DevIssuer.start({ users, audience: AUDIENCE, keyFile });
    const kid = first.publicJwks().keys[0]?.kid;
    const token = await first.mint('rm-alice');
    await first.close();
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const stored = JSON.parse(await readFile(keyFile, 'utf8')) as Record<string, unknown>;
    assert.equal(stored.kty, 'EC');
    assert.equal(typeof stored.d, 'string');
    const second = await DevIssuer.start({ users, audience: AUDIENCE, keyFile });
    try {
      assert.equal(second.publicJwks().keys[0]?.kid, kid);
      assert.equal(decodeProtectedHeader(await second.mint('rm-alice')).kid, kid);
      const check = verifierFor(AUDIENCE, { issuer: first.issuer, jwksUri: second.jwksUri });
      const verification = await check.verify(token);
      assert.ok(verification.valid, verification.valid ? '' : verification.reason);
    } finally {
      await second.close();
    }
    assert.equal(JSON.stringify(JSON.parse(await readFile(keyFile, 'utf8'))), JSON.stringify(stored));
  });

  test('a key file readable by others is refused', async () => {
    const keyFile = path.join(directory, 'open-key.json');
    await (await DevIssuer.start({ users, audience: AUDIENCE, keyFile })).close();
    await chmod(keyFile, 0o644);
    await assert.rejects(DevIssuer.start({ users, audience: AUDIENCE, keyFile }), /readable by others/);
  });

  test('rotation keeps the previous public key in the JWKS', async () => {
    const rotating = await DevIssuer.start({ users, audience: AUDIENCE });
    try {
      const before = rotating.publicJwks().keys[0]?.kid;
      await rotating.rotateKey();
      const kids = rotating.publicJwks().keys.map((key) => key.kid);
      assert.equal(kids.length, 2);
      assert.equal(kids[1], before);
      assert.notEqual(kids[0], before);
      assert.equal(decodeProtectedHeader(await rotating.mint('rm-alice')).kid, kids[0]);
    } finally {
      await rotating.close();
    }
  });

  test('only loopback hosts are accepted', async () => {
    for (const host of ['0.0.0.0', '192.168.1.10', '::', 'example.org']) {
      await assert.rejects(DevIssuer.start({ users, audience: AUDIENCE, host }), /DevIssuerOptions\.host/);
    }
  });
});
