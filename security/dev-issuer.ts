// A small local OpenID Connect issuer, for development and tests ONLY. It signs real access tokens
// (ES256, published in a JWKS) for a fixed list of demo users, so `npm start` and the tests exercise
// the same verification as production; its sign-in page lets ANYONE sign in as ANY user without a
// password. NEVER use it in production: it listens on loopback addresses only, and says what it is
// in every response (x-medrelease-dev-issuer). Supported: discovery, JWKS, authorization code with
// PKCE S256 for public clients, and mint() for tests and scripts.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIPv4, type AddressInfo } from 'node:net';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';

export interface DevUser {
  id: string;
  name: string;
  roles: string[];
}

export interface DevIssuerOptions {
  users: DevUser[];
  /** The `aud` of minted access tokens. */
  audience: string;
  /** The private signing key (JWK JSON, mode 0600), created at first start; otherwise an ephemeral key. */
  keyFile?: string;
  /** A loopback address only; default 127.0.0.1. */
  host?: string;
  /** Default 0 (a random free port). */
  port?: number;
  /** Default 3600. */
  tokenTtlSeconds?: number;
  /** Public authorization-code clients (PKCE S256 required). */
  clients?: { clientId: string; redirectUris: string[] }[];
}

export interface MintOptions {
  ttlSeconds?: number;
  audience?: string;
  notBefore?: Date;
  issuedAt?: Date;
  /** Merged last, so they may override the standard claims (tests craft bad tokens so); undefined drops a claim. */
  extraClaims?: Record<string, unknown>;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  userId: string;
  challenge: string;
  nonce: string | undefined;
  expiresAt: number;
}

const CODE_LIFETIME_MS = 60_000;
const MAX_BODY_BYTES = 64 * 1024;
const TEXT = 'text/plain; charset=utf-8';

export class DevIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  private readonly codes = new Map<string, PendingCode>();
  private readonly retiredKeys: JWK[] = [];

  private constructor(
    private readonly options: DevIssuerOptions,
    private readonly server: Server,
    private signingKey: SigningKey,
  ) {
    const { address, port } = server.address() as AddressInfo;
    const host =
      options.host === 'localhost' ? 'localhost' : address.includes(':') ? `[${address}]` : address;
    this.issuer = `http://${host}:${port}`;
    this.jwksUri = `${this.issuer}/jwks.json`;
  }

  static async start(options: DevIssuerOptions): Promise<DevIssuer> {
    if (process.env.NODE_ENV === 'production') {
      throw new Error('the development issuer does not run with NODE_ENV=production: configure auth.issuer');
    }
    const host = options.host ?? '127.0.0.1';
    if (!isLoopback(host)) {
      throw new Error(
        `DevIssuerOptions.host must be a loopback address (127.x.x.x, ::1, localhost), not '${host}'`,
      );
    }
    const ids = options.users.map((user) => user.id);
    if (ids.some((id) => !id) || new Set(ids).size !== ids.length) {
      throw new Error('DevIssuerOptions.users must have distinct, non-empty ids');
    }
    const key = options.keyFile
      ? await loadOrCreateKey(options.keyFile)
      : await toSigningKey(await newPrivateJwk());
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const issuer = new DevIssuer({ ...options, host }, server, key);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      response.setHeader('x-medrelease-dev-issuer', 'development only');
      issuer.handle(request, response).catch(() => {
        if (!response.headersSent) send(response, 500, TEXT, 'internal error\n');
        else response.destroy();
      });
    });
    return issuer;
  }

  async mint(userId: string, options: MintOptions = {}): Promise<string> {
    return this.sign(userId, options.audience ?? this.options.audience, 'at+jwt', options);
  }

  async rotateKey(): Promise<void> {
    this.retiredKeys.push(this.signingKey.publicJwk);
    this.signingKey = await toSigningKey(await newPrivateJwk());
  }

  publicJwks(): { keys: JWK[] } {
    return { keys: [this.signingKey.publicJwk, ...this.retiredKeys].map((jwk) => ({ ...jwk })) };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async sign(userId: string, audience: string, typ: string, options: MintOptions): Promise<string> {
    const user = this.options.users.find((candidate) => candidate.id === userId);
    if (!user) throw new Error(`the development issuer has no user '${userId}'`);
    const ttl = options.ttlSeconds ?? this.options.tokenTtlSeconds ?? 3600;
    if (!Number.isInteger(ttl) || ttl <= 0) throw new Error('the token lifetime must be a positive integer');
    const iat = Math.floor((options.issuedAt ?? new Date()).getTime() / 1000);
    const nbf = options.notBefore ? Math.floor(options.notBefore.getTime() / 1000) : iat;
    const claims = {
      iss: this.issuer,
      aud: audience,
      sub: user.id,
      preferred_username: user.id,
      name: user.name,
      roles: [...user.roles],
      iat,
      nbf,
      exp: iat + ttl,
      jti: randomBytes(16).toString('base64url'),
      ...options.extraClaims,
    };
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: this.signingKey.kid, typ })
      .sign(this.signingKey.privateKey);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.issuer);
    const route = `${request.method ?? ''} ${url.pathname}`;
    if (route === 'GET /.well-known/openid-configuration') {
      return sendJson(response, 200, {
        issuer: this.issuer,
        jwks_uri: this.jwksUri,
        authorization_endpoint: `${this.issuer}/authorize`,
        token_endpoint: `${this.issuer}/token`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code'],
        code_challenge_methods_supported: ['S256'],
        id_token_signing_alg_values_supported: ['ES256'],
        subject_types_supported: ['public'],
        token_endpoint_auth_methods_supported: ['none'],
      });
    }
    if (route === 'GET /jwks.json') return sendJson(response, 200, this.publicJwks());
    if (route === 'GET /authorize') return this.authorize(url.searchParams, response, false);
    if (route === 'POST /authorize' || route === 'POST /token') {
      const form = await readForm(request);
      if (form)
        return route === 'POST /token' ? this.token(form, response) : this.authorize(form, response, true);
      const problem = 'the body must be application/x-www-form-urlencoded, at most 64 KiB';
      if (route === 'POST /token')
        return sendJson(response, 400, { error: 'invalid_request', error_description: problem });
      return badRequest(response, problem);
    }
    send(response, 404, TEXT, 'not found\n');
  }

  /** GET renders the sign-in page; POST (a user chosen) issues a one-time code to the client. */
  private authorize(params: URLSearchParams, response: ServerResponse, signIn: boolean): void {
    const clientId = params.get('client_id') ?? '';
    const redirectUri = params.get('redirect_uri') ?? '';
    const client = this.options.clients?.find((candidate) => candidate.clientId === clientId);
    if (!client) return badRequest(response, 'client_id names no registered client');
    if (!client.redirectUris.includes(redirectUri)) {
      return badRequest(response, 'redirect_uri is not registered for this client');
    }
    const state = params.get('state');
    const back = (query: Record<string, string>) => {
      const target = new URL(redirectUri);
      for (const [name, value] of Object.entries(query)) target.searchParams.set(name, value);
      if (state !== null) target.searchParams.set('state', state);
      response.writeHead(302, { location: target.href, 'cache-control': 'no-store' }).end();
    };
    const challenge = params.get('code_challenge') ?? '';
    if (params.get('response_type') !== 'code') {
      return back({ error: 'unsupported_response_type', error_description: 'response_type must be code' });
    }
    if (params.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
      return back({
        error: 'invalid_request',
        error_description: 'PKCE with code_challenge_method S256 is required',
      });
    }
    if (!signIn) return send(response, 200, 'text/html; charset=utf-8', this.signInPage(params));
    const user = this.options.users.find((candidate) => candidate.id === params.get('login'));
    if (!user) return badRequest(response, 'login names no user');
    const now = Date.now();
    for (const [code, pending] of this.codes) if (pending.expiresAt <= now) this.codes.delete(code);
    const code = randomBytes(32).toString('base64url');
    const nonce = params.get('nonce') ?? undefined;
    this.codes.set(code, {
      clientId,
      redirectUri,
      userId: user.id,
      challenge,
      nonce,
      expiresAt: now + CODE_LIFETIME_MS,
    });
    back({ code });
  }

  private signInPage(params: URLSearchParams): string {
    const forwarded = ['response_type', 'client_id', 'redirect_uri', 'state', 'scope', 'nonce'];
    const hidden = [...forwarded, 'code_challenge', 'code_challenge_method']
      .filter((name) => params.has(name))
      .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params.get(name) ?? '')}">`)
      .join('');
    const buttons = this.options.users
      .map(
        (user) =>
          `<form method="post" action="/authorize">${hidden}<input type="hidden" name="login" value="${escapeHtml(user.id)}">` +
          `<button type="submit">${escapeHtml(user.name)} (${escapeHtml(user.id)}: ${escapeHtml(user.roles.join(', '))})</button></form>`,
      )
      .join('\n');
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>medrelease development sign-in</title></head>
<body><h1>medrelease development sign-in</h1>
<p><strong>This is a development issuer, not a real identity provider: anyone can sign in as anyone,
without a password. Never use it in production.</strong></p>
<p>Sign in to ${escapeHtml(params.get('client_id') ?? '')} as:</p>
${buttons}
</body></html>
`;
  }

  private async token(form: URLSearchParams, response: ServerResponse): Promise<void> {
    const fail = (error: string, description: string) =>
      sendJson(response, 400, { error, error_description: description });
    if (form.get('grant_type') !== 'authorization_code') {
      return fail('unsupported_grant_type', 'only grant_type authorization_code is supported');
    }
    const code = form.get('code') ?? '';
    const pending = this.codes.get(code);
    this.codes.delete(code); // one use, whatever the outcome
    if (!pending || pending.expiresAt <= Date.now())
      return fail('invalid_grant', 'the code is unknown, used or expired');
    if (form.get('client_id') !== pending.clientId)
      return fail('invalid_grant', 'the code was issued to another client');
    if (form.get('redirect_uri') !== pending.redirectUri) {
      return fail('invalid_grant', 'redirect_uri differs from the authorization request');
    }
    const verifier = form.get('code_verifier') ?? '';
    const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
    const expected = Buffer.from(pending.challenge);
    if (
      !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) ||
      computed.length !== expected.length ||
      !timingSafeEqual(computed, expected)
    ) {
      return fail('invalid_grant', 'the code_verifier does not match the code_challenge');
    }
    const ttl = this.options.tokenTtlSeconds ?? 3600;
    const issuedAt = new Date();
    const accessToken = await this.mint(pending.userId, { issuedAt });
    const idToken = await this.sign(pending.userId, pending.clientId, 'JWT', {
      issuedAt,
      extraClaims: pending.nonce === undefined ? {} : { nonce: pending.nonce },
    });
    sendJson(response, 200, {
      access_token: accessToken,
      id_token: idToken,
      token_type: 'Bearer',
      expires_in: ttl,
    });
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

async function newPrivateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return exportJWK(privateKey);
}

async function toSigningKey(privateJwk: JWK): Promise<SigningKey> {
  if (privateJwk.kty !== 'EC' || privateJwk.crv !== 'P-256' || typeof privateJwk.d !== 'string') {
    throw new Error('the signing key must be a private EC P-256 JWK');
  }
  const { kty, crv, x, y } = privateJwk;
  const kid = await calculateJwkThumbprint({ kty, crv, x, y });
  const privateKey = await importJWK({ ...privateJwk, alg: 'ES256' }, 'ES256');
  if (privateKey instanceof Uint8Array) throw new Error('the signing key must be an asymmetric key');
  return { kid, privateKey, publicJwk: { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' } };
}

/** Reads the key file, or creates it: written to a temporary file, then linked into place (never overwriting). */
async function loadOrCreateKey(keyFile: string): Promise<SigningKey> {
  try {
    return await readKeyFile(keyFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  const temporary = `${keyFile}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${JSON.stringify(await newPrivateJwk())}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, keyFile);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another start won the race
  } finally {
    await unlink(temporary);
  }
  return readKeyFile(keyFile);
}

async function readKeyFile(keyFile: string): Promise<SigningKey> {
  const { mode } = await stat(keyFile);
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new Error(
      `the key file ${keyFile} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
    );
  }
  try {
    return await toSigningKey(JSON.parse(await readFile(keyFile, 'utf8')) as JWK);
  } catch (error) {
    throw new Error(`the key file ${keyFile} is not usable: ${(error as Error).message}`);
  }
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams | undefined> {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response
    .writeHead(status, {
      'content-type': contentType,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'referrer-policy': 'no-referrer',
    })
    .end(body);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, 'application/json', JSON.stringify(body));
}

function badRequest(response: ServerResponse, problem: string): void {
  send(response, 400, TEXT, `invalid request: ${problem}\n`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
