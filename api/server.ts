// The API process: configuration, the Temporal client, the app, and a graceful shutdown. It starts
// even while Temporal is down (the connection is lazy; /readyz says so until Temporal answers).
import { Client, Connection } from '@temporalio/client';
import { ConfigError, loadConfig, type Config } from '../domain/config.js';
import { AesGcmPayloadCodec } from '../security/payload-codec.js';
import { keyRingFor, verifierFor } from '../security/setup.js';
import { medreleaseDataConverter } from '../security/data-converter.js';
import type { PayloadKeyRing } from '../security/payload-keys.js';
import type { OidcVerifier } from '../security/oidc.js';
import { buildApp, createApiLogger } from './app.js';

/** Grace for in-flight requests at shutdown before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

function fail(message: string): never {
  process.stderr.write(`medrelease API: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  let verifier: OidcVerifier;
  let ring: PayloadKeyRing;
  try {
    verifier = verifierFor(config);
    ring = keyRingFor(config);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }

  const logger = createApiLogger(config.logging.redact);
  const connection = Connection.lazy({ address: config.temporal.address });
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: medreleaseDataConverter(ring),
  });
  const app = await buildApp({
    config,
    client,
    verifier,
    codec: new AesGcmPayloadCodec(ring),
    logger,
    temporalUiUrl: config.temporal.uiUrl,
    http: {
      // A request (Temporal included) is answered within requestTimeoutMs; idle sockets go after a bit more.
      requestTimeout: config.api.requestTimeoutMs,
      connectionTimeout: config.api.requestTimeoutMs + 5_000,
      keepAliveTimeout: 5_000,
    },
  });

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error(`shutdown took longer than ${SHUTDOWN_GRACE_MS} ms; exiting`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    app
      .close()
      .then(() => connection.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);

  let url: string;
  try {
    url = await app.listen({ host: config.api.host, port: config.api.port });
  } catch (error) {
    await connection.close();
    fail(
      `cannot listen on ${config.api.host}:${config.api.port} (settings api.host and api.port): ${(error as Error).message}`,
    );
  }
  logger.info({ url, docs: `${url}/docs` }, `medrelease API listening on ${url} (OpenAPI at ${url}/docs)`);
  app.releases.ready().then(
    () => logger.info({ temporal: config.temporal.address }, 'Temporal is reachable'),
    () =>
      logger.warn(
        { temporal: config.temporal.address },
        `Temporal at ${config.temporal.address} (setting temporal.address / TEMPORAL_ADDRESS) is not reachable yet; /readyz answers 503 until it is`,
      ),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `medrelease API failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
