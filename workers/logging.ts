// One pino logger per process, and Temporal's runtime logs routed into it, so every process of the
// product writes the same JSON lines. MEDRELEASE_LOG_LEVEL sets the level (default info);
// MEDRELEASE_LOG_PRETTY=1 prints them for people (npm start sets it on a terminal).
import { DefaultLogger, Runtime, makeTelemetryFilterString, type LogLevel } from '@temporalio/worker';
import pino, { type Logger } from 'pino';

let installed = false;

export function createLogger(name: string, level = process.env.MEDRELEASE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name,
    level,
    ...(process.env.MEDRELEASE_LOG_PRETTY === '1'
      ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } }
      : {}),
  });
}

/** Sends the Temporal SDK's and core's logs to `logger`; once per process. */
export function installTemporalLogging(logger: Logger, level: LogLevel = 'WARN'): void {
  if (installed) return;
  installed = true;
  const methods = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      logger[methods[entry.level]]({ ...entry.meta, component: 'temporal' }, entry.message);
    }),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: level }), forward: {} } },
  });
}
