// Browser sign-in for the Temporal UI's codec endpoint. The UI calls /codec/* from its own origin
// with the browser's cookies ("include cross-origin credentials"), so an operator signs in here
// once: the OpenID Connect authorization-code flow with PKCE against the configured issuer, after
// which an HttpOnly cookie holding the access token is sent to /codec/* only (Path=/codec). The
// token is verified exactly as a bearer token is, on every codec request.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ApiError, ErrorResponse } from '../errors.js';
import { SESSION_COOKIE } from '../plugins/auth.js';

const LOGIN_COOKIE = 'medrelease_login';
const LOGIN_TTL_SECONDS = 600;

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

export interface SessionOptions {
  issuer: string;
  clientId: string;
  /** Origins a sign-in may return to (the Temporal UI's). */
  returnOrigins: string[];
}

const session: FastifyPluginCallback<SessionOptions> = (app, options, done) => {
  let discovery: Promise<Discovery> | undefined;
  const discover = (): Promise<Discovery> => {
    discovery ??= fetchDiscovery(options.issuer).catch((error: unknown) => {
      discovery = undefined;
      throw error;
    });
    return discovery;
  };

  const callbackUrl = (request: FastifyRequest) => `${request.protocol}://${request.host}/auth/callback`;
  const secure = (request: FastifyRequest) => (request.protocol === 'https' ? '; Secure' : '');

  app.get(
    '/auth/login',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['session'],
        summary: 'Sign in for the Temporal UI',
        description:
          'Starts the OpenID Connect sign-in (authorization code with PKCE) that gives this browser a session cookie for the codec endpoint, so the Temporal UI can show decrypted payloads.',
        querystring: Type.Object({ return_to: Type.Optional(Type.String({ maxLength: 1024 })) }),
        response: {
          303: { description: 'To the identity provider’s sign-in page.', type: 'null' },
          503: { ...ErrorResponse, description: 'IDENTITY_PROVIDER_UNAVAILABLE.' },
        },
      },
    },
    async (request, reply) => {
      const { return_to: returnTo } = request.query as { return_to?: string };
      const endpoints = await discover().catch((error: unknown) => {
        request.log.error({ err: error }, 'the identity provider cannot be reached');
        throw new ApiError(
          'IDENTITY_PROVIDER_UNAVAILABLE',
          'the identity provider cannot be reached; try again later',
        );
      });
      const state = randomBytes(16).toString('base64url');
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const login = Buffer.from(
        JSON.stringify({ state, verifier, returnTo: allowedReturn(returnTo, options.returnOrigins) }),
      ).toString('base64url');
      const target = new URL(endpoints.authorization_endpoint);
      target.search = new URLSearchParams({
        response_type: 'code',
        client_id: options.clientId,
        redirect_uri: callbackUrl(request),
        scope: 'openid profile',
        state,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }).toString();
      return reply
        .header(
          'set-cookie',
          `${LOGIN_COOKIE}=${login}; HttpOnly; SameSite=Lax; Path=/auth; Max-Age=${LOGIN_TTL_SECONDS}${secure(request)}`,
        )
        .redirect(target.toString(), 303);
    },
  );

  app.get(
    '/auth/callback',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['session'],
        summary: 'Sign-in callback',
        description: 'Where the identity provider returns the browser; sets the codec session cookie.',
        querystring: Type.Object({
          code: Type.Optional(Type.String({ maxLength: 512 })),
          state: Type.Optional(Type.String({ maxLength: 256 })),
          error: Type.Optional(Type.String({ maxLength: 256 })),
        }),
        response: {
          200: {
            description: 'Signed in (a page saying as whom); the session cookie is set.',
            content: { 'text/html': { schema: { type: 'string' } } },
          },
          303: { description: 'Signed in; back to the Temporal UI (`return_to`).', type: 'null' },
          401: { ...ErrorResponse, description: 'UNAUTHENTICATED: the sign-in failed or expired.' },
          503: { ...ErrorResponse, description: 'IDENTITY_PROVIDER_UNAVAILABLE.' },
        },
      },
    },
    async (request, reply) => {
      const query = request.query as { code?: string; state?: string; error?: string };
      if (query.error)
        throw new ApiError('UNAUTHENTICATED', `the identity provider refused the sign-in (${query.error})`);
      const login = readLogin(request.headers.cookie);
      if (!login || !query.state || login.state !== query.state || !query.code) {
        throw new ApiError(
          'UNAUTHENTICATED',
          'the sign-in is not valid or has expired; start again at /auth/login',
        );
      }
      const endpoints = await discover();
      const response = await fetch(endpoints.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: query.code,
          redirect_uri: callbackUrl(request),
          client_id: options.clientId,
          code_verifier: login.verifier,
        }),
        signal: AbortSignal.timeout(10_000),
      });
      const tokens = (await response.json().catch(() => ({}))) as { access_token?: string; error?: string };
      if (!response.ok || !tokens.access_token) {
        throw new ApiError(
          'UNAUTHENTICATED',
          `the identity provider did not issue a token (${tokens.error ?? response.status})`,
        );
      }
      const verification = await app.verifier.verify(tokens.access_token);
      if (!verification.valid) {
        throw new ApiError('UNAUTHENTICATED', `the issued token was refused: ${verification.reason}`);
      }
      const maxAge = Math.max(0, Math.floor((Date.parse(verification.expiresAt) - Date.now()) / 1000));
      void reply.header('set-cookie', [
        `${SESSION_COOKIE}=${encodeURIComponent(tokens.access_token)}; HttpOnly; SameSite=Lax; Path=/codec; Max-Age=${maxAge}${secure(request)}`,
        `${LOGIN_COOKIE}=; HttpOnly; SameSite=Lax; Path=/auth; Max-Age=0${secure(request)}`,
      ]);
      request.log.info({ person: verification.person.id }, 'codec session opened');
      // Checked again here: the login cookie is the browser's, and only a configured UI is a destination.
      const returnTo = allowedReturn(login.returnTo, options.returnOrigins);
      if (returnTo) return reply.redirect(returnTo, 303);
      return signedInPage(reply, verification.person.id, verification.person.roles);
    },
  );

  app.post(
    '/auth/logout',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['session'],
        summary: 'End the codec session',
        description: 'Clears the session cookie.',
        response: { 204: { description: 'The session cookie is cleared.', type: 'null' } },
      },
    },
    async (request, reply) =>
      reply
        .header(
          'set-cookie',
          `${SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/codec; Max-Age=0${secure(request)}`,
        )
        .code(204)
        .send(),
  );
  done();
};

async function fetchDiscovery(issuer: string): Promise<Discovery> {
  const response = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`discovery answered ${response.status}`);
  const document = (await response.json()) as Partial<Discovery>;
  if (!document.authorization_endpoint || !document.token_endpoint) {
    throw new Error('the discovery document has no authorization_endpoint or token_endpoint');
  }
  return document as Discovery;
}

function readLogin(
  cookieHeader: string | undefined,
): { state: string; verifier: string; returnTo?: string } | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [name, value] = part.trim().split('=');
    if (name !== LOGIN_COOKIE || !value) continue;
    try {
      const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Record<string, unknown>;
      if (typeof parsed.state === 'string' && typeof parsed.verifier === 'string') {
        return {
          state: parsed.state,
          verifier: parsed.verifier,
          ...(typeof parsed.returnTo === 'string' ? { returnTo: parsed.returnTo } : {}),
        };
      }
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Only the configured UI origins: an open redirect would hand the session to anyone's page. */
function allowedReturn(returnTo: string | undefined, origins: string[]): string | undefined {
  if (!returnTo) return undefined;
  try {
    const url = new URL(returnTo);
    return origins.includes(url.origin) ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

function signedInPage(reply: FastifyReply, person: string, roles: string[]) {
  const escape = (text: string) => text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
  return reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
    .send(
      `<!doctype html><meta charset="utf-8"><title>medrelease: signed in</title>` +
        `<p>Signed in as <b>${escape(person)}</b> (${escape(roles.join(', ') || 'no medrelease role')}) for the Temporal UI's codec endpoint.</p>` +
        `<p>Payloads decode in the Temporal UI for the roles operator and auditor. You can close this tab.</p>`,
    );
}

export default session;
