// The reference model server: the sepsis-risk classifier behind Fastify, with Prometheus metrics and
// switchable faults. startModelServer() runs one in-process; `node dist/examples/model-server/server.js`
// runs one configured by environment variables (config.ts, README.md).
//
//   POST /predict      { features: {…} } or { instances: [{…}, …] } → the probability of sepsis
//   GET  /healthz      200 while the process runs
//   GET  /readyz       503 until the model is loaded (or trained, when MODEL_DIR holds none), then 200
//   GET  /metrics      Prometheus text format (telemetry.ts)
//   GET  /             the model's identity and its training report
//   GET|PUT /admin/faults   the faults, only with ADMIN_FAULTS=1
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv, type ErrorObject } from 'ajv';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
} from 'fastify';
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Type, type Static } from 'typebox';
import { seededRandom } from '../../activities/telemetry/simulated.js';
import { tensorflow } from '../../ml/tf.js';
import { isMain } from './cli.js';
import {
  checkFault,
  ConfigError,
  DEFAULT_CLOUD,
  DEFAULT_DRIFT_WINDOW,
  DEFAULT_HOST,
  DEFAULT_MODEL_NAME,
  DEFAULT_SEED,
  DEFAULT_VERSION,
  defaultModelDir,
  FAULT_RULES,
  loadServerConfig,
  name,
  NO_FAULTS,
  TRACKS,
  type Faults,
  type ServerConfig,
  type Track,
} from './config.js';
import { FEATURE_SPECS, FEATURES, sigmoid, type FeatureName, type Features } from './data.js';
import { DECISION_THRESHOLD, ensureModel, hasModel, type SepsisModel, type TrainingReport } from './model.js';
import { ServerMetrics, type PredictedClass } from './telemetry.js';

/** Instances one batch request may hold. */
export const MAX_BATCH = 100;
const BODY_LIMIT_BYTES = 256 * 1024;
const SHUTDOWN_GRACE_MS = 10_000;

export interface ModelServerOptions {
  modelName?: string;
  version?: string;
  cloud?: string;
  track?: Track;
  /** 0 (the default here; the CLI's is 8080) picks a free port. */
  port?: number;
  host?: string;
  /** Default: .data/model-server/<version>/ under the working directory. */
  modelDir?: string;
  seed?: number;
  faults?: Partial<Faults>;
  adminFaults?: boolean;
  driftWindow?: number;
  /** A pino logger, or false for none; default: a pino logger at LOG_LEVEL (info) on stdout. */
  logger?: Logger | false;
  /**
   * Called once the crash-after fault's count is reached, after that response went out. Default:
   * the process exits with code 1, as a real crash would end it.
   */
  onCrash?: () => void;
}

export interface ModelServer {
  url: string;
  port: number;
  app: FastifyInstance;
  /** The server's Prometheus registry; `metrics.metrics()` is the /metrics text. */
  metrics: Registry;
  telemetry: ServerMetrics;
  config: ServerConfig;
  /** Resolves once the model is loaded (and /readyz is 200); rejects when it cannot be. */
  ready: Promise<void>;
  /** The faults now in force. */
  faults(): Faults;
  /** Replaces the faults (unset fields are off); the crash-after count starts again. */
  setFaults(faults: Partial<Faults>): Faults;
  close(): Promise<void>;
}

interface State {
  model: SepsisModel | undefined;
  report: TrainingReport | undefined;
  loadError: Error | undefined;
  faults: Faults;
  /** /predict requests answered since the faults were last set. */
  answered: number;
  crashed: boolean;
}

/** Starts a model server; it listens at once and loads (or trains) its model in the background. */
export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  const config = resolveConfig(options);
  const logger =
    options.logger === false ? undefined : (options.logger ?? createLogger(config.logLevel, config));
  const telemetry = new ServerMetrics(
    { model: config.modelName, version: config.version, cloud: config.cloud, track: config.track },
    config.driftWindow,
  );
  const state: State = {
    model: undefined,
    report: undefined,
    loadError: undefined,
    faults: config.faults,
    answered: 0,
    crashed: false,
  };
  const onCrash =
    options.onCrash ??
    (() => {
      process.exit(1);
    });
  const app = buildApp({ config, state, telemetry, logger, onCrash });
  await app.listen({ port: config.port, host: config.host });
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger?.info(
    { url, modelDir: config.modelDir },
    `model server for ${config.modelName} ${config.version} (${config.track}, ${config.cloud}) listening on ${url}`,
  );
  if (Object.values(config.faults).some((value) => value !== 0)) {
    logger?.warn({ faults: config.faults }, 'faults are switched on');
  }

  const ready = loadModel(config, state, telemetry, logger);
  // The caller may not await ready; the failure is in state.loadError and /readyz either way.
  ready.catch(() => {});

  return {
    url,
    port,
    app,
    metrics: telemetry.registry,
    telemetry,
    config,
    ready,
    faults: () => ({ ...state.faults }),
    setFaults: (faults) => {
      state.faults = checkFaults(faults, 'faults');
      state.answered = 0;
      logger?.warn({ faults: state.faults }, 'faults set');
      return { ...state.faults };
    },
    close: async () => {
      await app.close();
      await ready.catch(() => {});
      state.model?.dispose();
      state.model = undefined;
    },
  };
}

async function loadModel(
  config: ServerConfig,
  state: State,
  telemetry: ServerMetrics,
  logger: Logger | undefined,
): Promise<void> {
  try {
    await tensorflow({ log: (line) => logger?.info(line) });
    const started = performance.now();
    if (!(await hasModel(config.modelDir))) {
      logger?.info(
        `${config.modelDir} holds no model: training one with seed ${config.seed} on synthetic data (a few seconds; /readyz is 503 until it is loaded)`,
      );
    }
    const { model, report, trained } = await ensureModel(config.modelDir, {
      seed: config.seed,
      version: config.version,
      model: config.modelName,
      log: (line) => logger?.info(line),
    });
    state.model = model;
    state.report = report;
    telemetry.modelLoaded.set(1);
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    logger?.info(
      {
        modelDir: config.modelDir,
        trained,
        weightsSha256: model.weightsSha256,
        heldOut: report?.heldOut,
      },
      trained
        ? `${config.modelDir} held no model: trained one (seed ${config.seed}) and saved it there in ${seconds} s; ready`
        : `loaded the model from ${config.modelDir} in ${seconds} s; ready`,
    );
    if (report && report.version !== config.version) {
      logger?.warn(
        `the model in ${config.modelDir} was trained as version ${report.version}, but MODEL_VERSION is ${config.version}: the metrics say ${config.version}`,
      );
    }
  } catch (error) {
    state.loadError = error as Error;
    logger?.error({ err: error, modelDir: config.modelDir }, 'the model cannot be loaded');
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// The HTTP app.

const FeaturesSchema = Type.Object(
  {
    heart_rate: feature('heart_rate'),
    respiratory_rate: feature('respiratory_rate'),
    temperature: feature('temperature'),
    systolic_bp: feature('systolic_bp'),
    wbc: feature('wbc'),
    lactate: feature('lactate'),
  },
  { additionalProperties: false },
);

const PredictBody = Type.Object(
  {
    features: Type.Optional(FeaturesSchema),
    instances: Type.Optional(Type.Array(FeaturesSchema, { minItems: 1, maxItems: MAX_BATCH })),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1 },
);
type PredictBody = Static<typeof PredictBody>;

const FaultsBody = Type.Object(
  Object.fromEntries(
    (Object.keys(FAULT_RULES) as (keyof Faults)[]).map((key) => {
      const rule = FAULT_RULES[key];
      const options = {
        minimum: rule.min,
        maximum: rule.max,
        description: `${rule.variable}: ${rule.description}`,
      };
      return [key, Type.Optional(rule.integer ? Type.Integer(options) : Type.Number(options))];
    }),
  ),
  { additionalProperties: false },
);

function feature(featureName: FeatureName) {
  const spec = FEATURE_SPECS[featureName];
  return Type.Number({
    minimum: spec.min,
    maximum: spec.max,
    description: `${spec.description} in ${spec.unit} (${spec.min} to ${spec.max})`,
  });
}

// Bodies are validated exactly as sent: no type coercion ("92" is not a number), no defaults.
const ajv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: false, strict: true });

interface Problem {
  /** JSON pointer of the field, e.g. /features/heart_rate. */
  field: string;
  /** The JSON-schema keyword that failed: required, type, minimum, maximum, … */
  rule: string;
  message: string;
}

interface AppContext {
  config: ServerConfig;
  state: State;
  telemetry: ServerMetrics;
  logger: Logger | undefined;
  onCrash: () => void;
}

function buildApp(context: AppContext): FastifyInstance {
  const { config, state, telemetry, logger } = context;
  // Typed as Fastify's logger, so the app's type does not depend on pino's.
  const loggerInstance: FastifyBaseLogger | undefined = logger;
  const app = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    // One log line per request would drown everything else at load-test rates.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: true,
  });
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema as object));
  app.removeContentTypeParser('text/plain');
  const random = seededRandom(`model-server-faults|${config.seed}`);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      const problems = error.validation.map((entry) => problem(entry as ErrorObject));
      return reply.code(400).send({
        code: 'VALIDATION_FAILED',
        message: `the request body is invalid: ${problems.map((entry) => `${entry.field || '(body)'} ${entry.message}`).join('; ')}`,
        problems,
      });
    }
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply
        .code(500)
        .send({ code: 'INTERNAL_ERROR', message: 'the request failed; see the server log' });
    }
    const code =
      status === 415
        ? 'UNSUPPORTED_MEDIA_TYPE'
        : status === 413
          ? 'BODY_TOO_LARGE'
          : status === 400
            ? 'INVALID_BODY'
            : 'BAD_REQUEST';
    return reply.code(status).send({ code, message: error.message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send({ code: 'ROUTE_NOT_FOUND', message: `there is no route ${request.method} ${request.url}` });
  });

  app.get('/healthz', (_request, reply) => {
    void reply.send({ status: 'ok' });
  });

  app.get('/readyz', (_request, reply) => {
    if (state.model) {
      void reply.send({
        status: 'ready',
        model: config.modelName,
        version: config.version,
        weightsSha256: state.model.weightsSha256,
      });
    } else if (state.loadError) {
      void reply.code(503).send({ status: 'failed', message: state.loadError.message });
    } else {
      void reply.code(503).send({ status: 'loading', message: 'the model is not loaded yet' });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    void reply.type(telemetry.registry.contentType);
    return telemetry.registry.metrics();
  });

  app.get('/', (_request, reply) => {
    void reply.send({
      model: config.modelName,
      version: config.version,
      cloud: config.cloud,
      track: config.track,
      ready: state.model !== undefined,
      features: Object.fromEntries(
        FEATURES.map((featureName) => {
          const spec = FEATURE_SPECS[featureName];
          return [featureName, { unit: spec.unit, min: spec.min, max: spec.max }];
        }),
      ),
      training: state.report ?? null,
    });
  });

  app.post<{ Body: PredictBody }>(
    '/predict',
    {
      schema: { body: PredictBody },
      onResponse: (request, reply, done) => {
        telemetry.requests.inc({ status: String(reply.statusCode) });
        telemetry.duration.observe(reply.elapsedTime / 1000);
        state.answered += 1;
        const crashAfter = state.faults.crashAfter;
        if (crashAfter > 0 && state.answered >= crashAfter && !state.crashed) {
          state.crashed = true;
          request.log.fatal(
            `FAULT_CRASH_AFTER: ${state.answered} /predict requests answered (limit ${crashAfter}); crashing`,
          );
          context.onCrash();
        }
        done();
      },
    },
    async (request, reply) => {
      const model = state.model;
      if (!model) {
        return reply.code(503).send({
          code: 'MODEL_NOT_READY',
          message: state.loadError
            ? `the model failed to load: ${state.loadError.message}`
            : 'the model is loading',
        });
      }
      const body = request.body;
      const rows: Features[] = body.features ? [body.features] : (body.instances ?? []);
      const input: number[] = [];
      for (const row of rows) {
        const standardised = model.standardise(row);
        telemetry.observeInput(standardised);
        input.push(...standardised);
      }
      const faults = state.faults;
      const latency = faults.latencyMs + faults.latencyJitterMs * random();
      if (latency > 0) await sleep(latency);
      if (faults.errorRate > 0 && random() < faults.errorRate) {
        return reply.code(500).send({
          code: 'INJECTED_FAULT',
          message: `injected error (FAULT_ERROR_RATE=${faults.errorRate})`,
        });
      }
      const predictions = model.predictStandardised(input, rows.length).map((raw) => {
        const probability = faults.drift === 0 ? raw : shiftLogit(raw, faults.drift);
        const label: PredictedClass = probability >= DECISION_THRESHOLD ? 'sepsis' : 'no-sepsis';
        telemetry.confidence.observe(probability);
        telemetry.predictions.inc({ class: label });
        return {
          label,
          probability: round(probability),
          confidence: round(label === 'sepsis' ? probability : 1 - probability),
        };
      });
      const identity = { model: config.modelName, version: config.version, track: config.track };
      return body.features ? { ...identity, prediction: predictions[0] } : { ...identity, predictions };
    },
  );

  if (config.adminFaults) {
    app.get('/admin/faults', (_request, reply) => {
      void reply.send(state.faults);
    });
    app.put<{ Body: Partial<Faults> }>(
      '/admin/faults',
      { schema: { body: FaultsBody } },
      (request, reply) => {
        state.faults = { ...NO_FAULTS, ...request.body };
        state.answered = 0;
        request.log.warn({ faults: state.faults }, 'faults set through PUT /admin/faults');
        void reply.send(state.faults);
      },
    );
  }
  return app;
}

/** The probability with `offset` added to its logit. */
function shiftLogit(probability: number, offset: number): number {
  const clamped = Math.min(1 - 1e-7, Math.max(1e-7, probability));
  return sigmoid(Math.log(clamped / (1 - clamped)) + offset);
}

function round(value: number): number {
  return Number(value.toFixed(6));
}

/** One Ajv error as a field, the rule it broke and a sentence a client can show. */
function problem(error: ErrorObject): Problem {
  const params = error.params as Record<string, unknown>;
  const featureName = error.instancePath.split('/').pop() as FeatureName;
  const spec = FEATURE_SPECS[featureName] as (typeof FEATURE_SPECS)[FeatureName] | undefined;
  const range = spec ? ` (plausible range ${spec.min} to ${spec.max} ${spec.unit})` : '';
  switch (error.keyword) {
    case 'required':
      return {
        field: `${error.instancePath}/${String(params.missingProperty)}`,
        rule: 'required',
        message: 'is required',
      };
    case 'additionalProperties':
      return {
        field: `${error.instancePath}/${String(params.additionalProperty)}`,
        rule: 'additionalProperties',
        message: 'is not a known field',
      };
    case 'type':
      return { field: error.instancePath, rule: 'type', message: `must be a ${String(params.type)}${range}` };
    case 'minimum':
      return {
        field: error.instancePath,
        rule: 'minimum',
        message: `must be at least ${String(params.limit)}${range}`,
      };
    case 'maximum':
      return {
        field: error.instancePath,
        rule: 'maximum',
        message: `must be at most ${String(params.limit)}${range}`,
      };
    case 'minProperties':
    case 'maxProperties':
      return {
        field: error.instancePath,
        rule: error.keyword,
        message: 'must hold exactly one of "features" (one patient) or "instances" (a batch)',
      };
    case 'maxItems':
      return {
        field: error.instancePath,
        rule: 'maxItems',
        message: `may hold at most ${MAX_BATCH} instances`,
      };
    default:
      return { field: error.instancePath, rule: error.keyword, message: error.message ?? 'is invalid' };
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration of the in-process server and the CLI.

function resolveConfig(options: ModelServerOptions): ServerConfig {
  const version = name('version (MODEL_VERSION)', options.version ?? DEFAULT_VERSION);
  const track = options.track ?? 'stable';
  if (!(TRACKS as readonly string[]).includes(track)) {
    throw new ConfigError(
      `track (MODEL_TRACK) must be one of ${TRACKS.join(', ')}, not ${JSON.stringify(track)}`,
    );
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError(`port (PORT) must be an integer from 0 to 65535, not ${port}`);
  }
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1) {
    throw new ConfigError(`seed (MODEL_SEED) must be an integer from 0 to ${2 ** 31 - 1}, not ${seed}`);
  }
  const driftWindow = options.driftWindow ?? DEFAULT_DRIFT_WINDOW;
  if (!Number.isInteger(driftWindow) || driftWindow < 10 || driftWindow > 100_000) {
    throw new ConfigError(
      `driftWindow (DRIFT_WINDOW) must be an integer from 10 to 100000, not ${driftWindow}`,
    );
  }
  return {
    modelName: name('modelName (MODEL_NAME)', options.modelName ?? DEFAULT_MODEL_NAME),
    version,
    cloud: name('cloud (MODEL_CLOUD)', options.cloud ?? DEFAULT_CLOUD),
    track,
    port,
    host: options.host ?? DEFAULT_HOST,
    modelDir: options.modelDir ?? defaultModelDir(version),
    seed,
    faults: checkFaults(options.faults ?? {}, 'faults'),
    adminFaults: options.adminFaults ?? false,
    driftWindow,
    logLevel: process.env.LOG_LEVEL ?? 'info',
  };
}

function checkFaults(faults: Partial<Faults>, source: string): Faults {
  const result = { ...NO_FAULTS };
  for (const key of Object.keys(NO_FAULTS) as (keyof Faults)[]) {
    const value = faults[key];
    if (value !== undefined) {
      result[key] = checkFault(key, value, `${source}.${key} (${FAULT_RULES[key].variable})`);
    }
  }
  return result;
}

function createLogger(
  level: string,
  config: Pick<ServerConfig, 'modelName' | 'version' | 'track' | 'cloud'>,
): Logger {
  return pino({
    name: 'model-server',
    level,
    base: { model: config.modelName, version: config.version, track: config.track, cloud: config.cloud },
  });
}

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = loadServerConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`model server: invalid configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel, config);
  let server: ModelServer;
  try {
    server = await startModelServer({ ...config, logger });
  } catch (error) {
    logger.fatal({ err: error }, `cannot start on ${config.host}:${config.port} (HOST, PORT)`);
    process.exit(1);
  }
  server.ready.catch(() => {
    logger.fatal(`no model to serve from ${config.modelDir} (MODEL_DIR); exiting`);
    process.exit(1);
  });

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `model server failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
