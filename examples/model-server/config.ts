// The model server's configuration: environment variables for the CLI (README.md lists them), the
// same settings as options for startModelServer(). Every value is checked at start; a bad one is a
// ConfigError naming the variable and the rule, and the CLI exits 2 with it.
import path from 'node:path';

export const DEFAULT_MODEL_NAME = 'sepsis-risk';
export const DEFAULT_VERSION = '1.0.0';
export const DEFAULT_CLOUD = 'local';
export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_SEED = 42;
/** Inputs in the rolling window the input-drift gauges are computed over. */
export const DEFAULT_DRIFT_WINDOW = 200;

/** Names and versions become label values and a directory name: no slashes, no spaces. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$/;

/** Every environment variable the server reads (README.md documents each). */
export const ENVIRONMENT_VARIABLES = [
  'MODEL_NAME',
  'MODEL_VERSION',
  'MODEL_CLOUD',
  'MODEL_TRACK',
  'PORT',
  'HOST',
  'MODEL_DIR',
  'MODEL_SEED',
  'FAULT_LATENCY_MS',
  'FAULT_LATENCY_JITTER_MS',
  'FAULT_ERROR_RATE',
  'FAULT_DRIFT',
  'FAULT_CRASH_AFTER',
  'ADMIN_FAULTS',
  'DRIFT_WINDOW',
  'LOG_LEVEL',
  // Read by ml/tf.ts: forces a TensorFlow.js backend (tensorflow, wasm or cpu).
  'MEDRELEASE_TF_BACKEND',
] as const;

export const TRACKS = ['stable', 'canary'] as const;
export type Track = (typeof TRACKS)[number];

/** Faults injected into /predict, for tests and demos. All zero means none. */
export interface Faults {
  /** Added to every /predict request before it is answered. */
  latencyMs: number;
  /** A uniformly drawn extra 0 … latencyJitterMs on top of latencyMs. */
  latencyJitterMs: number;
  /** Share of valid /predict requests answered 500 instead (0 … 1). */
  errorRate: number;
  /** Added to the logit of every prediction: > 0 pushes probabilities towards sepsis, < 0 away. */
  drift: number;
  /** The process exits (code 1) once it has answered this many /predict requests; 0 = never. */
  crashAfter: number;
}

export const NO_FAULTS: Faults = { latencyMs: 0, latencyJitterMs: 0, errorRate: 0, drift: 0, crashAfter: 0 };

/** The rule and environment variable of each fault setting. */
export const FAULT_RULES: Record<
  keyof Faults,
  { variable: string; min: number; max: number; integer: boolean; description: string }
> = {
  latencyMs: {
    variable: 'FAULT_LATENCY_MS',
    min: 0,
    max: 60_000,
    integer: false,
    description: 'milliseconds',
  },
  latencyJitterMs: {
    variable: 'FAULT_LATENCY_JITTER_MS',
    min: 0,
    max: 60_000,
    integer: false,
    description: 'milliseconds',
  },
  errorRate: { variable: 'FAULT_ERROR_RATE', min: 0, max: 1, integer: false, description: 'a share' },
  drift: { variable: 'FAULT_DRIFT', min: -10, max: 10, integer: false, description: 'a logit offset' },
  crashAfter: {
    variable: 'FAULT_CRASH_AFTER',
    min: 0,
    max: 1_000_000_000,
    integer: true,
    description: 'a request count (0 = off)',
  },
};

export interface ServerConfig {
  modelName: string;
  version: string;
  cloud: string;
  track: Track;
  port: number;
  host: string;
  /** Where the model is loaded from (and trained into when it holds none). */
  modelDir: string;
  /** The training seed, when the server has to train its model. */
  seed: number;
  faults: Faults;
  /** Whether PUT /admin/faults may change the faults at run time. */
  adminFaults: boolean;
  driftWindow: number;
  logLevel: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** The configuration from environment variables (default: the process's). */
export function loadServerConfig(env: Env = process.env): ServerConfig {
  const text = (variable: string): string | undefined => {
    const value = env[variable];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const version = name('MODEL_VERSION', text('MODEL_VERSION') ?? DEFAULT_VERSION);
  const faults = { ...NO_FAULTS };
  for (const key of Object.keys(FAULT_RULES) as (keyof Faults)[]) {
    const rule = FAULT_RULES[key];
    const raw = text(rule.variable);
    if (raw !== undefined) faults[key] = number(rule.variable, raw, rule);
  }
  const track = text('MODEL_TRACK') ?? 'stable';
  if (!(TRACKS as readonly string[]).includes(track)) {
    throw new ConfigError(`MODEL_TRACK must be one of ${TRACKS.join(', ')}, not ${JSON.stringify(track)}`);
  }
  const admin = text('ADMIN_FAULTS') ?? '0';
  if (admin !== '0' && admin !== '1') {
    throw new ConfigError(
      `ADMIN_FAULTS must be 0 (off, the default) or 1 (on), not ${JSON.stringify(admin)}`,
    );
  }
  const logLevel = text('LOG_LEVEL') ?? 'info';
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${levels.join(', ')}, not ${JSON.stringify(logLevel)}`);
  }
  const host = text('HOST') ?? DEFAULT_HOST;
  return {
    modelName: name('MODEL_NAME', text('MODEL_NAME') ?? DEFAULT_MODEL_NAME),
    version,
    cloud: name('MODEL_CLOUD', text('MODEL_CLOUD') ?? DEFAULT_CLOUD),
    track: track as Track,
    port: number('PORT', text('PORT') ?? String(DEFAULT_PORT), {
      min: 0,
      max: 65_535,
      integer: true,
      description: 'a TCP port',
    }),
    host,
    modelDir: path.resolve(text('MODEL_DIR') ?? defaultModelDir(version)),
    seed: number('MODEL_SEED', text('MODEL_SEED') ?? String(DEFAULT_SEED), {
      min: 0,
      max: 2 ** 31 - 1,
      integer: true,
      description: 'a training seed',
    }),
    faults,
    adminFaults: admin === '1',
    driftWindow: number('DRIFT_WINDOW', text('DRIFT_WINDOW') ?? String(DEFAULT_DRIFT_WINDOW), {
      min: 10,
      max: 100_000,
      integer: true,
      description: 'a number of inputs',
    }),
    logLevel,
  };
}

/** .data/model-server/<version>/ under the working directory. */
export function defaultModelDir(version: string): string {
  return path.resolve('.data', 'model-server', version);
}

/** Checks a fault setting given as a number (options, PUT /admin/faults). */
export function checkFault(key: keyof Faults, value: number, source: string): number {
  const rule = FAULT_RULES[key];
  if (
    !Number.isFinite(value) ||
    value < rule.min ||
    value > rule.max ||
    (rule.integer && !Number.isInteger(value))
  ) {
    throw new ConfigError(`${source} ${ruleText(rule)}, not ${JSON.stringify(value)}`);
  }
  return value;
}

/** Checks a name-like setting (model name, version, cloud). */
export function name(variable: string, value: string): string {
  if (!NAME_PATTERN.test(value)) {
    throw new ConfigError(
      `${variable} must be 1 to 63 letters, digits, '.', '_', '+' or '-' starting with a letter or digit, not ${JSON.stringify(value)}`,
    );
  }
  return value;
}

interface NumberRule {
  min: number;
  max: number;
  integer: boolean;
  description: string;
}

function ruleText(rule: NumberRule): string {
  return `must be ${rule.integer ? 'an integer' : 'a number'} from ${rule.min} to ${rule.max} (${rule.description})`;
}

function number(variable: string, raw: string, rule: NumberRule): number {
  const value = Number(raw);
  const syntax = rule.integer ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  if (!syntax.test(raw) || !Number.isFinite(value) || value < rule.min || value > rule.max) {
    throw new ConfigError(`${variable} ${ruleText(rule)}, not ${JSON.stringify(raw)}`);
  }
  return value;
}
