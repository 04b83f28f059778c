// One pino logger per process, and Temporal's runtime logs routed into it, so every process of the
// product writes the same JSON lines. MEDRELEASE_LOG_LEVEL sets the level (default info);
// MEDRELEASE_LOG_PRETTY=1 prints them for people (npm start sets it on a terminal).
// Logs are for operators, never for patient data: request bodies, workflow payloads and model
// inputs are not logged anywhere, and these paths are redacted wherever they appear (plus the
// configuration's `logging.redact`).
import { DefaultLogger, Runtime, makeTelemetryFilterString, type LogLevel } from '@temporalio/worker';
import pino, { type Logger } from 'pino';

let installed = false;

/** Always redacted: credentials, cookies, bodies and the free text people write. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'cookie',
  'token',
  '*.token',
  'access_token',
  '*.access_token',
  'credential',
  '*.credential',
  'body',
  '*.body',
  'payload',
  '*.payload',
  'payloads',
  '*.payloads',
  'input',
  '*.input',
  'comment',
  '*.comment',
  'justification',
  '*.justification',
  'reason',
  '*.reason',
];

export function createLogger(
  name: string,
  options: { level?: string; redact?: string[]; serializers?: pino.LoggerOptions['serializers'] } = {},
): Logger {
  return pino({
    name,
    ...(options.serializers ? { serializers: options.serializers } : {}),
    level: options.level ?? process.env.MEDRELEASE_LOG_LEVEL ?? 'info',
    redact: { paths: [...REDACTED_PATHS, ...(options.redact ?? [])], censor: '[redacted]' },
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
