// Shared life cycle of a worker process: connect, run until SIGINT/SIGTERM, then finish the tasks in
// hand and exit. A worker that cannot connect or start exits non-zero with the reason.
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../domain/config.js';
import { createLogger, installTemporalLogging } from './logging.js';

export async function runWorkerProcess(
  name: string,
  create: (config: Config, connection: NativeConnection, logger: Logger) => Promise<Worker>,
): Promise<void> {
  let logger = createLogger(name);
  try {
    const config = loadConfig();
    logger = createLogger(name, { redact: config.logging.redact });
    installTemporalLogging(logger);
    const connection = await NativeConnection.connect({ address: config.temporal.address });
    const worker = await create(config, connection, logger);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        logger.info({ signal }, 'shutting down: finishing the tasks in hand');
        worker.shutdown();
      });
    }
    logger.info({ taskQueue: worker.options.taskQueue, temporal: config.temporal.address }, 'worker started');
    await worker.run();
    await connection.close();
    logger.info('worker stopped');
  } catch (error) {
    logger.fatal({ err: error }, 'worker failed');
    process.exitCode = 1;
  }
}
