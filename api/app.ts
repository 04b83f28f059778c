// The medrelease API as a Fastify app: plugins for the services, errors, authentication and OpenAPI,
// then one plugin per route. It holds no resources of its own: the Temporal client is the caller's,
// and so is closing it.
import { readFileSync } from 'node:fs';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { Logger } from 'pino';
import type { PayloadCodec } from '@temporalio/common';
import { auditPaths, codecOrigins, type Config } from '../domain/config.js';
import type { CredentialVerifier } from '../security/oidc.js';
import { createLogger } from '../workers/logging.js';
import auth from './plugins/auth.js';
import errors from './plugins/errors.js';
import metrics from './plugins/metrics.js';
import openapi from './plugins/openapi.js';
import security from './plugins/security.js';
import services from './plugins/services.js';
import auditRoutes from './routes/audit.js';
import codecRoutes from './routes/codec.js';
import session from './routes/session.js';
import { AuditService } from './services/audit.js';
import health from './routes/health.js';
import compliance from './routes/releases/compliance.js';
import createRelease from './routes/releases/create.js';
import getRelease from './routes/releases/get.js';
import listReleases from './routes/releases/list.js';
import operate from './routes/releases/operate.js';
import signoff from './routes/releases/signoff.js';
import { schemaErrorFormatter, validatorCompiler } from './validation.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;
/** Every product route is under this prefix (health, metrics, docs and the codec endpoint are not). */
export const API_PREFIX = '/v1';

export interface BuildAppOptions {
  config: Config;
  /** The Temporal client; the app uses it and never closes it. */
  client: Client;
  verifier: CredentialVerifier;
  /** The payload codec; with it the app serves the Temporal UI's codec endpoint (/codec). */
  codec?: PayloadCodec;
  /** The audit trail's reader; default: the configuration's database, opened read-only. */
  audit?: AuditService;
  /** A pino logger, or false for none; default: the product's logger named 'medrelease-api'. */
  logger?: Logger | false;
  /** Base URL of the Temporal Web UI; when set, created releases link to their workflow there. */
  temporalUiUrl?: string | undefined;
  /** HTTP server timeouts (server.ts sets them explicitly; app.inject ignores them). */
  http?: Pick<FastifyServerOptions, 'connectionTimeout' | 'requestTimeout' | 'keepAliveTimeout'>;
}

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger === false ? { logger: false } : { loggerInstance: logger(options.logger) }),
    bodyLimit: BODY_LIMIT_BYTES,
    ...(options.config.api.trustProxy.length > 0 ? { trustProxy: options.config.api.trustProxy } : {}),
    schemaErrorFormatter,
    return503OnClosing: true,
    ...options.http,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  // Bodies are JSON (or YAML where a route adds it); Fastify's default text/plain parser would let
  // a text body reach a route's schema instead of being refused as the wrong media type.
  app.removeContentTypeParser('text/plain');

  await app.register(errors);
  await app.register(services, {
    config: options.config,
    client: options.client,
    verifier: options.verifier,
    audit: options.audit ?? new AuditService(auditPaths(options.config)),
    temporalUiUrl: options.temporalUiUrl,
  });
  // Security headers first, so that even a refusal by the auth hook carries them.
  await app.register(security, options.config.api.rateLimit);
  // auth first: its onRoute hook completes each route's schema (security, error responses) before
  // the OpenAPI plugin collects it.
  await app.register(auth);
  await app.register(openapi, { version: packageVersion() });

  await app.register(metrics);
  await app.register(health);
  // The product's API is versioned; probes, metrics and the docs are not.
  await app.register(
    async (v1) => {
      await v1.register(createRelease);
      await v1.register(listReleases);
      await v1.register(getRelease);
      await v1.register(signoff);
      await v1.register(operate);
      await v1.register(compliance);
      await v1.register(auditRoutes);
    },
    { prefix: API_PREFIX },
  );
  if (options.codec) {
    await app.register(codecRoutes, { codec: options.codec, uiOrigins: codecOrigins(options.config) });
  }
  if (options.config.auth.issuer) {
    await app.register(session, {
      issuer: options.config.auth.issuer,
      clientId: options.config.auth.browserClientId,
      returnOrigins: codecOrigins(options.config),
    });
  }
  return app;
}

// Typed as Fastify's logger so the app's type does not depend on pino's.
function logger(given: Logger | undefined): FastifyBaseLogger {
  return given ?? createApiLogger();
}

/**
 * The API's logger: requests are logged by their route template (`/v1/releases/:releaseId`), never
 * by their URL, whose path and query may carry anything a caller typed.
 */
export function createApiLogger(redact: string[] = []): Logger {
  return createLogger('medrelease-api', {
    redact,
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        route: request.routeOptions?.url ?? '(no route)',
        remoteAddress: request.ip,
      }),
    },
  });
}

/** The product's version, for OpenAPI: from package.json next to dist/ (source and image alike). */
function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
