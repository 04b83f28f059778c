// Authentication and authorisation. Every route declares its permission in `config.permission`
// (a route without one is refused at start-up); a request is authenticated from its OpenID Connect
// access token before its body is even parsed, so a caller without the role learns so and nothing
// happens. Routes that a browser calls across origins (the Temporal UI's codec endpoint) may also
// take the token from the session cookie that /auth/login sets.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Person, Role } from '../../domain/release.js';
import { ROLES } from '../../security/oidc.js';
import { ApiError, ErrorResponse } from '../errors.js';
import { DOCS_PREFIX } from './openapi.js';

/** Who may call a route: anyone, any authenticated person, or a person with one of these roles. */
export type Permission = 'public' | 'authenticated' | { roles: readonly string[] };

/**
 * Reading releases needs a medrelease role: a valid token from the hospital's identity provider
 * is not enough, since everyone there has one.
 */
export const ANY_ROLE: readonly Role[] = ROLES;

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: Permission;
    /** Accept the access token from the session cookie too (browser routes). */
    cookieSession?: boolean;
  }
  interface FastifyRequest {
    /** The authenticated caller; set on every route that is not public. */
    person: Person | null;
    /** The verified access token the caller presented (releases verify it again before acting). */
    credential: string | null;
  }
}

const CHALLENGE = 'Bearer realm="medrelease"';
/** The browser session: an access token in an HttpOnly cookie, sent only to the cookie routes. */
export const SESSION_COOKIE = 'medrelease_session';

/** The authenticated caller of a protected route. */
export function authenticatedPerson(request: FastifyRequest): Person {
  if (!request.person) {
    throw new ApiError('UNAUTHENTICATED', 'this route needs a bearer token', {
      headers: { 'www-authenticate': CHALLENGE },
    });
  }
  return request.person;
}

/** The caller's verified access token, which a release verifies again before it acts on it. */
export function callerCredential(request: FastifyRequest): string {
  authenticatedPerson(request);
  return request.credential!;
}

export function describePermission(permission: Permission): string {
  if (permission === 'public') return 'No authentication.';
  if (permission === 'authenticated') return 'Any authenticated user.';
  return `Requires the role ${permission.roles.join(' or ')}.`;
}

export default fp(
  (app, _options, done) => {
    app.decorateRequest('person', null);
    app.decorateRequest('credential', null);

    // Every route declares who may call it, and OpenAPI says so; the docs are public.
    app.addHook('onRoute', (route) => {
      // CORS preflights (the codec endpoint's) carry no credentials by design.
      const permission =
        route.config?.permission ??
        (isDocsRoute(route.url) || route.method === 'OPTIONS' ? 'public' : undefined);
      if (!permission) {
        throw new Error(`route ${String(route.method)} ${route.url} declares no config.permission`);
      }
      route.config = { ...route.config, permission };
      if (isDocsRoute(route.url)) return;
      const schema = { ...route.schema };
      const responses = { ...(schema.response as Record<string, unknown> | undefined) };
      if (permission === 'public') {
        schema.security = [];
      } else {
        schema.security = [{ bearerAuth: [] }];
        responses[401] ??= errorResponse('No bearer token, or one that is not valid (UNAUTHENTICATED).');
        if (typeof permission === 'object') {
          responses[403] ??= errorResponse('The caller lacks the role (FORBIDDEN).');
        }
        schema.description = [schema.description, describePermission(permission)]
          .filter(Boolean)
          .join('\n\n');
      }
      // A request whose parameters, query or body break the route's schema is refused before it runs.
      if (schema.params || schema.querystring || schema.body) {
        responses[400] ??= errorResponse(
          'VALIDATION_FAILED: a parameter, the query or the body breaks the schema.',
        );
      }
      if (schema.querystring) {
        // Node's HTTP server refuses a request line and headers over 16 KiB before the API sees it.
        responses[431] ??= { description: 'Request Header Fields Too Large: the query string is too long.' };
      }
      if (!['/healthz', '/readyz', '/metrics'].includes(route.url)) {
        responses[429] ??= errorResponse(
          'RATE_LIMITED: too many requests from this caller (see Retry-After).',
        );
      }
      responses['5xx'] ??= errorResponse('TEMPORAL_UNAVAILABLE, TEMPORAL_TIMEOUT or INTERNAL_ERROR.');
      schema.response = responses;
      route.schema = schema;
    });

    // Callers that keep failing authentication are limited by address before any token is checked
    // (the per-person limit cannot see them): guessing and flooding cost them, not the verifier.
    const failures = new FailureWindow(
      app.config.api.rateLimit.failedAuthMax,
      app.config.api.rateLimit.windowSeconds,
    );
    /** Counts a failed authentication of the caller's address; returns the error to throw. */
    const failed = (request: FastifyRequest, error: ApiError): ApiError => {
      failures.add(request.ip);
      return error;
    };

    app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
      if (request.is404) return;
      const permission = request.routeOptions.config.permission;
      if (permission === 'public') return;
      if (!permission) throw new Error(`route ${request.routeOptions.url ?? request.url} has no permission`);
      const retryAfter = failures.blockedFor(request.ip);
      if (retryAfter > 0) {
        throw new ApiError(
          'RATE_LIMITED',
          `too many requests that failed authentication from this address; retry after ${retryAfter} s`,
          { headers: { 'retry-after': String(retryAfter) } },
        );
      }
      const header = request.headers.authorization;
      const token = header
        ? /^Bearer +(\S+) *$/i.exec(header)?.[1]
        : request.routeOptions.config.cookieSession
          ? sessionToken(request.headers.cookie)
          : undefined;
      if (!token) {
        const missing = new ApiError(
          'UNAUTHENTICATED',
          header
            ? 'the Authorization header must be "Bearer <token>"'
            : 'this route needs a bearer token (Authorization: Bearer <token>)',
          { headers: { 'www-authenticate': CHALLENGE } },
        );
        // A browser without a session (the Temporal UI polling the codec) is not guessing anything.
        throw request.routeOptions.config.cookieSession && !header ? missing : failed(request, missing);
      }
      const verification = await app.verifier.verify(token);
      if (!verification.valid && verification.reason.startsWith("the issuer's keys cannot be fetched")) {
        // Our outage, not the caller's fault: 503, and the detail (addresses, errors) only in the log.
        request.log.error({ detail: verification.reason }, 'the identity provider cannot be reached');
        throw new ApiError(
          'IDENTITY_PROVIDER_UNAVAILABLE',
          'the identity provider cannot be reached to check the token; try again later',
        );
      }
      if (!verification.valid) {
        throw failed(
          request,
          new ApiError('UNAUTHENTICATED', `the bearer token was refused: ${verification.reason}`, {
            headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` },
          }),
        );
      }
      const person = verification.person;
      request.person = person;
      request.credential = token;
      request.log = request.log.child({ person: person.id });
      if (typeof permission === 'object' && !person.roles.some((role) => permission.roles.includes(role))) {
        throw new ApiError(
          'FORBIDDEN',
          `this action needs the role ${permission.roles.join(' or ')}; '${person.id}' has ${person.roles.join(', ')}`,
        );
      }
    });
    done();
  },
  { name: 'medrelease-auth', fastify: '5.x', decorators: { fastify: ['verifier'] } },
);

/** Failed authentications per address in fixed windows; bounded, oldest addresses forgotten first. */
class FailureWindow {
  private readonly counts = new Map<string, { count: number; until: number }>();
  private static readonly MAX_ADDRESSES = 10_000;

  constructor(
    private readonly max: number,
    private readonly windowSeconds: number,
  ) {}

  add(address: string): void {
    const now = Date.now();
    const entry = this.counts.get(address);
    if (entry && entry.until > now) entry.count += 1;
    else {
      this.counts.delete(address);
      this.counts.set(address, { count: 1, until: now + this.windowSeconds * 1000 });
      if (this.counts.size > FailureWindow.MAX_ADDRESSES)
        this.counts.delete(this.counts.keys().next().value!);
    }
  }

  /** Seconds until `address` may try again, or 0. */
  blockedFor(address: string): number {
    const entry = this.counts.get(address);
    if (!entry || entry.until <= Date.now() || entry.count < this.max) return 0;
    return Math.ceil((entry.until - Date.now()) / 1000);
  }
}

/** The Swagger UI and the OpenAPI document, which are public (and only they: not `/docs-anything`). */
function isDocsRoute(url: string): boolean {
  return url === DOCS_PREFIX || url.startsWith(`${DOCS_PREFIX}/`);
}

/** The session cookie's token, if the Cookie header carries one. */
export function sessionToken(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== SESSION_COOKIE) continue;
    try {
      return decodeURIComponent(value.join('=')) || undefined;
    } catch {
      return undefined; // a mangled cookie is no credential: 401, not 500
    }
  }
  return undefined;
}

function errorResponse(description: string) {
  return { ...ErrorResponse, description };
}
