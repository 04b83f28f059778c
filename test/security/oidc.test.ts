// The OpenID Connect access-token verifier, against a real development issuer (ephemeral key, random
// port) and tokens crafted by hand: every refusal is checked by its reason.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { DevIssuer } from '../../security/dev-issuer.js';
import { claimAt, OidcVerifier, ROLES, type OidcSettings, type Verification } from '../../security/oidc.js';

const AUDIENCE = 'medrelease-api';
const users = [
  { id: 'rm-alice', name: 'Alice Release', roles: ['release-manager'] },
  { id: 'au-erin', name: 'Erin Audit', roles: ['auditor', 'viewer'] },
  { id: 'dr-bob', name: 'Bob Approver', roles: ['medrelease-approvers', 'unrelated', 'viewer'] },
  { id: 'nobody', name: 'No Roles', roles: [] },
];

let issuer: DevIssuer;
before(async () => {
  issuer = await DevIssuer.start({ users, audience: AUDIENCE });
});
after(async () => {
  await issuer.close();
});

function settings(overrides: Partial<OidcSettings> = {}): OidcSettings {
  return {
    issuer: issuer.issuer,
    audience: AUDIENCE,
    jwksUri: issuer.jwksUri,
    rolesClaim: 'roles',
    roleMap: {},
    userClaim: 'preferred_username',
    nameClaim: 'name',
    clockToleranceSeconds: 30,
    algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    ...overrides,
  };
}

function verifier(
  overrides: Partial<OidcSettings> = {},
  options?: ConstructorParameters<typeof OidcVerifier>[1],
) {
  return new OidcVerifier(settings(overrides), options);
}

function accepted(verification: Verification) {
  assert.ok(verification.valid, verification.valid ? '' : `refused: ${verification.reason}`);
  return verification;
}

/** A refusal with the expected reason, which never repeats the token or its signature. */
function refused(verification: Verification, reason: RegExp, token?: string) {
  assert.equal(verification.valid, false, 'the token was accepted');
  if (verification.valid) return;
  assert.match(verification.reason, reason);
  if (token) {
    assert.ok(!verification.reason.includes(token));
    const signature = token.split('.')[2];
    if (signature) assert.ok(!verification.reason.includes(signature));
  }
}

const secondsFromNow = (seconds: number) => new Date(Date.now() + seconds * 1000);

/** A key pair the issuer does not publish, and its JWK thumbprint. */
async function foreignKey() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, kid: await calculateJwkThumbprint(await exportJWK(publicKey)) };
}

function standardClaims(extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuer.issuer,
    aud: AUDIENCE,
    sub: 'rm-alice',
    preferred_username: 'rm-alice',
    name: 'Alice Release',
    roles: ['release-manager'],
    iat: now,
    exp: now + 600,
    ...extra,
  };
}

describe('a valid token', () => {
  test('yields the person with id, name and roles, and when the token expires', async () => {
    const token = await issuer.mint('rm-alice');
    const verification = accepted(await verifier().verify(token));
    assert.deepEqual(verification.person, {
      id: 'rm-alice',
      name: 'Alice Release',
      roles: ['release-manager'],
    });
    const expiresIn = Date.parse(verification.expiresAt) - Date.now();
    assert.ok(expiresIn > 3500_000 && expiresIn <= 3600_000, `expires in ${expiresIn} ms`);
  });

  test('roles are mapped; unmapped medrelease roles count as themselves; the rest is ignored', async () => {
    const token = await issuer.mint('dr-bob');
    const verification = accepted(
      await verifier({ roleMap: { 'medrelease-approvers': ['clinical-approver'] } }).verify(token),
    );
    assert.deepEqual(verification.person.roles, ['clinical-approver', 'viewer']);
  });

  test('roles at a dot path (realm_access.roles)', async () => {
    const token = await issuer.mint('au-erin', {
      extraClaims: { roles: undefined, realm_access: { roles: ['ops', 'auditor'] } },
    });
    const check = verifier({ rolesClaim: 'realm_access.roles', roleMap: { ops: ['operator'] } });
    assert.deepEqual(accepted(await check.verify(token)).person.roles, ['operator', 'auditor']);
    assert.deepEqual(accepted(await verifier().verify(token)).person.roles, []);
  });

  test('roles as one space or comma separated string, in the order of ROLES, without repeats', async () => {
    const token = await issuer.mint('au-erin', { extraClaims: { roles: 'security viewer,auditor  viewer' } });
    assert.deepEqual(accepted(await verifier().verify(token)).person.roles, [
      'auditor',
      'viewer',
      'security',
    ]);
  });

  test('a person without any medrelease role is still authenticated (routes decide)', async () => {
    const token = await issuer.mint('nobody');
    assert.deepEqual(accepted(await verifier().verify(token)).person, {
      id: 'nobody',
      name: 'No Roles',
      roles: [],
    });
  });

  test('without the user claim the id is sub; without a name the name is the id', async () => {
    const token = await issuer.mint('au-erin', {
      extraClaims: { preferred_username: undefined, name: undefined },
    });
    assert.deepEqual(accepted(await verifier().verify(token)).person, {
      id: 'au-erin',
      name: 'au-erin',
      roles: ['auditor', 'viewer'],
    });
  });

  test('an id that is not a printable string without whitespace is refused, naming the claim', async () => {
    for (const id of ['has space', '', 'x'.repeat(129), 42, 'tab\there']) {
      const token = await issuer.mint('rm-alice', { extraClaims: { preferred_username: id } });
      refused(
        await verifier().verify(token),
        /the token's preferred_username claim is not a valid person id/,
        token,
      );
    }
    const custom = await issuer.mint('rm-alice', { extraClaims: { email: 'alice example' } });
    refused(
      await verifier({ userClaim: 'email' }).verify(custom),
      /the token's email claim is not a valid person id/,
    );
  });
});

describe('the validity window', () => {
  test('an expired token is refused', async () => {
    const token = await issuer.mint('rm-alice', { issuedAt: secondsFromNow(-7200), ttlSeconds: 3600 });
    refused(await verifier().verify(token), /^the token has expired$/, token);
  });

  test('an expiry within the clock tolerance is still accepted', async () => {
    const token = await issuer.mint('rm-alice', { issuedAt: secondsFromNow(-70), ttlSeconds: 60 });
    accepted(await verifier().verify(token));
    refused(await verifier({ clockToleranceSeconds: 0 }).verify(token), /^the token has expired$/);
  });

  test('nbf beyond the tolerance is refused, within it accepted', async () => {
    const early = await issuer.mint('rm-alice', { notBefore: secondsFromNow(120) });
    refused(await verifier().verify(early), /^the token is not yet valid$/, early);
    const skewed = await issuer.mint('rm-alice', { notBefore: secondsFromNow(20) });
    accepted(await verifier().verify(skewed));
  });

  test('iat in the future beyond the tolerance is refused, within it accepted', async () => {
    const future = await issuer.mint('rm-alice', { issuedAt: secondsFromNow(120), notBefore: new Date() });
    refused(await verifier().verify(future), /the token was issued in the future/, future);
    const skewed = await issuer.mint('rm-alice', { issuedAt: secondsFromNow(20), notBefore: new Date() });
    accepted(await verifier().verify(skewed));
  });

  test('the clock can be injected', async () => {
    const token = await issuer.mint('rm-alice');
    const later = verifier({}, { now: () => secondsFromNow(2 * 3600) });
    refused(await later.verify(token), /^the token has expired$/);
  });

  test('a token without exp is refused', async () => {
    const token = await issuer.mint('rm-alice', { extraClaims: { exp: undefined } });
    refused(await verifier().verify(token), /^the token has no exp claim$/, token);
  });

  test('a token without sub is refused', async () => {
    const token = await issuer.mint('rm-alice', { extraClaims: { sub: undefined } });
    refused(await verifier().verify(token), /^the token has no sub claim$/, token);
  });
});

describe('issuer, audience and signature', () => {
  test('a token from another issuer is refused, naming both', async () => {
    const token = await issuer.mint('rm-alice', { extraClaims: { iss: 'https://login.evil.example' } });
    const reason = `the token was issued by https://login.evil.example, not ${issuer.issuer}`;
    refused(
      await verifier().verify(token),
      new RegExp(`^${reason.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`),
      token,
    );
  });

  test('a token for another audience is refused; an audience array containing ours is accepted', async () => {
    const token = await issuer.mint('rm-alice', { audience: 'billing-api' });
    refused(await verifier().verify(token), /^the token is not for this audience \(medrelease-api\)$/, token);
    const several = await issuer.mint('rm-alice', { extraClaims: { aud: ['billing-api', AUDIENCE] } });
    accepted(await verifier().verify(several));
  });

  test('alg none is refused', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = base64url.encode(JSON.stringify(standardClaims()));
    const token = `${header}.${payload}.`;
    refused(await verifier().verify(token), /^the algorithm none is not accepted$/, token);
  });

  test('an HS256 token is refused, whatever its secret', async () => {
    const kid = issuer.publicJwks().keys[0]?.kid;
    const token = await new SignJWT(standardClaims())
      .setProtectedHeader({ alg: 'HS256', kid })
      .sign(new TextEncoder().encode('a shared secret that is long enough for HS256'));
    refused(await verifier().verify(token), /^the algorithm HS256 is not accepted$/, token);
  });

  test('an algorithm outside the allowed list is refused', async () => {
    const token = await issuer.mint('rm-alice');
    refused(
      await verifier({ algorithms: ['RS256'] }).verify(token),
      /^the algorithm ES256 is not accepted$/,
      token,
    );
  });

  test('a tampered payload (roles changed, signature kept) is refused', async () => {
    const token = await issuer.mint('au-erin');
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload ?? ''))) as Record<
      string,
      unknown
    >;
    claims.roles = ['release-manager', 'operator'];
    const tampered = `${header}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
    refused(await verifier().verify(tampered), /^the token signature does not verify$/, tampered);
  });

  test('a token signed by a key the issuer does not publish is refused', async () => {
    const foreign = await foreignKey();
    const token = await new SignJWT(standardClaims())
      .setProtectedHeader({ alg: 'ES256', kid: foreign.kid })
      .sign(foreign.privateKey);
    refused(
      await verifier().verify(token),
      new RegExp(`^no key ${foreign.kid} at the issuer's JWKS$`),
      token,
    );
    const posing = await new SignJWT(standardClaims())
      .setProtectedHeader({ alg: 'ES256', kid: issuer.publicJwks().keys[0]?.kid })
      .sign(foreign.privateKey);
    refused(await verifier().verify(posing), /^the token signature does not verify$/, posing);
  });

  test('what is not a signed JWT is refused', async () => {
    const check = verifier();
    refused(await check.verify(undefined), /^no credential was presented$/);
    refused(await check.verify(''), /^no credential was presented$/);
    refused(await check.verify('not-a-token'), /^the token is not a signed JWT$/);
    refused(await check.verify('a.b.c.d.e'), /^the token is not a signed JWT$/);
    refused(await check.verify('%%%.e30.'), /^the token is not a signed JWT$/);
    refused(await check.verify('x'.repeat(20_000)), /^the token is too long$/);
  });
});

describe('keys and discovery', () => {
  test('after a key rotation both old and new tokens verify', async () => {
    const rotating = await DevIssuer.start({ users, audience: AUDIENCE });
    try {
      const check = new OidcVerifier(settings({ issuer: rotating.issuer, jwksUri: rotating.jwksUri }), {
        jwksCooldownMs: 0,
      });
      const old = await rotating.mint('rm-alice');
      accepted(await check.verify(old)); // the old JWKS is now cached
      await rotating.rotateKey();
      const fresh = await rotating.mint('au-erin');
      assert.notEqual(fresh.split('.')[0], old.split('.')[0], 'the new token names a new kid');
      assert.equal(rotating.publicJwks().keys.length, 2);
      assert.equal(accepted(await check.verify(fresh)).person.id, 'au-erin');
      assert.equal(accepted(await check.verify(old)).person.id, 'rm-alice');
    } finally {
      await rotating.close();
    }
  });

  test('an unknown kid refetches the JWKS only after the cooldown', async () => {
    const rotating = await DevIssuer.start({ users, audience: AUDIENCE });
    try {
      const check = new OidcVerifier(settings({ issuer: rotating.issuer, jwksUri: rotating.jwksUri }), {
        jwksCooldownMs: 60_000,
      });
      accepted(await check.verify(await rotating.mint('rm-alice')));
      await rotating.rotateKey();
      const kid = rotating.publicJwks().keys[0]?.kid ?? '';
      refused(
        await check.verify(await rotating.mint('rm-alice')),
        new RegExp(`^no key ${kid} at the issuer's JWKS$`),
      );
    } finally {
      await rotating.close();
    }
  });

  test('without jwksUri the keys are discovered from the issuer', async () => {
    const token = await issuer.mint('au-erin');
    const check = verifier({ jwksUri: undefined });
    assert.equal(accepted(await check.verify(token)).person.id, 'au-erin');
    assert.equal(accepted(await check.verify(await issuer.mint('rm-alice'))).person.id, 'rm-alice');
  });

  test('an unreachable issuer gives a clear reason, and is tried again on the next call', async () => {
    const gone = await DevIssuer.start({ users, audience: AUDIENCE });
    const { issuer: url } = gone;
    const port = Number(new URL(url).port);
    const token = await gone.mint('rm-alice');
    await gone.close();
    const check = new OidcVerifier(settings({ issuer: url, jwksUri: undefined }), { fetchTimeoutMs: 2000 });
    refused(
      await check.verify(token),
      /^the issuer's keys cannot be fetched: discovery at .* failed: /,
      token,
    );
    const back = await DevIssuer.start({ users, audience: AUDIENCE, port });
    try {
      assert.equal(back.issuer, url);
      assert.equal(accepted(await check.verify(await back.mint('au-erin'))).person.id, 'au-erin');
    } finally {
      await back.close();
    }
  });

  test('an unreachable JWKS gives a clear reason', async () => {
    const gone = await DevIssuer.start({ users, audience: AUDIENCE });
    const token = await gone.mint('rm-alice');
    await gone.close();
    const check = new OidcVerifier(settings({ issuer: gone.issuer, jwksUri: gone.jwksUri }));
    refused(
      await check.verify(token),
      /^the issuer's keys cannot be fetched: http:\/\/127\.0\.0\.1:\d+\/jwks\.json: /,
      token,
    );
  });

  test('a discovery document that is missing, names another issuer or lacks jwks_uri is refused', async () => {
    const token = await issuer.mint('rm-alice');
    const missing = verifier({ issuer: `${issuer.issuer}/realms/other`, jwksUri: undefined });
    refused(
      await missing.verify(token),
      /^the issuer's keys cannot be fetched: discovery at .* failed: HTTP 404$/,
    );
    let document: Record<string, unknown> = {};
    const impostor = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document));
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
      const check = verifier({ issuer: url, jwksUri: undefined });
      document = { issuer: 'https://login.elsewhere.example', jwks_uri: issuer.jwksUri };
      refused(await check.verify(token), /names the issuer https:\/\/login\.elsewhere\.example$/);
      document = { issuer: url, jwks_uri: 'file:///etc/keys.json' };
      refused(await check.verify(token), /has no valid jwks_uri$/);
    } finally {
      impostor.closeAllConnections();
      await new Promise((resolve) => impostor.close(resolve));
    }
  });
});

describe('settings', () => {
  test('none and HMAC algorithms can never be allowed', () => {
    assert.throws(
      () => verifier({ algorithms: ['ES256', 'none'] }),
      /the algorithm none must never be accepted/,
    );
    assert.throws(
      () => verifier({ algorithms: ['HS256', 'RS256'] }),
      /the algorithm HS256 must never be accepted/,
    );
    assert.throws(() => verifier({ algorithms: ['hs512'] }), /the algorithm hs512 must never be accepted/);
    assert.throws(() => verifier({ algorithms: [] }), /algorithms is empty/);
  });

  test('a role map to an unknown role, a tolerance beyond 300 s, or a bad issuer URL is refused', () => {
    assert.throws(() => verifier({ roleMap: { admins: ['admin'] } }), /roleMap maps admins to admin/);
    assert.throws(() => verifier({ clockToleranceSeconds: 301 }), /clockToleranceSeconds/);
    assert.throws(
      () => verifier({ issuer: 'login.example.org' }),
      /issuer login\.example\.org is not an http\(s\) URL/,
    );
  });

  test('ROLES lists the seven roles in order', () => {
    assert.deepEqual(ROLES, [
      'release-manager',
      'clinical-approver',
      'operator',
      'auditor',
      'viewer',
      'regulatory-qa',
      'security',
    ]);
  });
});

describe('claimAt', () => {
  const claims = {
    roles: ['a'],
    realm_access: { roles: ['b'], nested: { deep: 1 } },
    'https://medrelease.example/roles': ['c'],
    list: [{ x: 1 }],
  };
  test('follows dot paths, prefers a claim named by the whole path, and never the prototype', () => {
    assert.deepEqual(claimAt(claims, 'roles'), ['a']);
    assert.deepEqual(claimAt(claims, 'realm_access.roles'), ['b']);
    assert.equal(claimAt(claims, 'realm_access.nested.deep'), 1);
    assert.deepEqual(claimAt(claims, 'https://medrelease.example/roles'), ['c']);
    assert.equal(claimAt(claims, 'realm_access.missing'), undefined);
    assert.equal(claimAt(claims, 'roles.length'), undefined);
    assert.equal(claimAt(claims, 'list.0.x'), undefined);
    assert.equal(claimAt(claims, 'constructor'), undefined);
    assert.equal(claimAt(claims, '__proto__.toString'), undefined);
  });
});
