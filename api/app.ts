// The medrelease API as a Fastify app: plugins for the services, errors, authentication and OpenAPI,
// then one plugin per route. It holds no resources of its own: the Temporal client is the caller's,
// and so is closing it.
import { readFileSync } from 'node:fs';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import type { TokenVerifier } from '../activities/credentials.js';
import type { Config } from '../domain/config.js';
import { createLogger } from '../workers/logging.js';
import auth from './plugins/auth.js';
import errors from './plugins/errors.js';
import metrics from './plugins/metrics.js';
import openapi from './plugins/openapi.js';
import services from './plugins/services.js';
import health from './routes/health.js';
import compliance from './routes/releases/compliance.js';
import createRelease from './routes/releases/create.js';
import getRelease from './routes/releases/get.js';
import listReleases from './routes/releases/list.js';
import operate from './routes/releases/operate.js';
import signoff from './routes/releases/signoff.js';
import { schemaErrorFormatter, validatorCompiler } from './validation.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface BuildAppOptions {
  config: Config;
  /** The Temporal client; the app uses it and never closes it. */
  client: Client;
  verifier: TokenVerifier;
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
    temporalUiUrl: options.temporalUiUrl,
  });
  // auth first: its onRoute hook completes each route's schema (security, error responses) before
  // the OpenAPI plugin collects it.
  await app.register(auth);
  await app.register(openapi, { version: packageVersion() });

  await app.register(metrics);
  await app.register(health);
  await app.register(createRelease);
  await app.register(listReleases);
  await app.register(getRelease);
  await app.register(signoff);
  await app.register(operate);
  await app.register(compliance);
  return app;
}

// Typed as Fastify's logger so the app's type does not depend on pino's.
function logger(given: Logger | undefined): FastifyBaseLogger {
  return given ?? createLogger('medrelease-api');
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
