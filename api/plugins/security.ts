// Transport hardening for every response: security headers (helmet), a rate limit per caller, and
// the body-size limit set on the app. The limit is keyed by the authenticated person where there is
// one (so a shared proxy address does not throttle a hospital), else by the client's address; the
// probes and metrics are exempt so monitoring never trips it.
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../errors.js';

const EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

export default fp(
  async (app, options: { max: number; windowSeconds: number }) => {
    await app.register(helmet, {
      // The API answers JSON; only the Swagger UI at /docs renders HTML, and it sets its own policy.
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'none'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
        },
      },
      crossOriginResourcePolicy: { policy: 'same-site' },
      referrerPolicy: { policy: 'no-referrer' },
      // HSTS only means something over TLS, which a deployment terminates in front of the API.
      hsts: { maxAge: 31_536_000, includeSubDomains: true },
    });
    await app.register(rateLimit, {
      global: true,
      // After authentication, so the key is the person rather than an address.
      hook: 'preHandler',
      max: options.max,
      timeWindow: options.windowSeconds * 1000,
      keyGenerator: (request: FastifyRequest) =>
        request.person ? `person:${request.person.id}` : `ip:${request.ip}`,
      allowList: (request: FastifyRequest) => EXEMPT.has(request.routeOptions.url ?? ''),
      errorResponseBuilder: (_request, context) =>
        new ApiError(
          'RATE_LIMITED',
          `more than ${context.max} requests in ${Math.round(context.ttl / 1000)} s from this caller; retry after ${context.after}`,
          { headers: { 'retry-after': String(Math.ceil(context.ttl / 1000)) } },
        ),
    });
  },
  { name: 'medrelease-security', fastify: '5.x' },
);
