// Configuration: one schema, validated at start-up, every default stated here. A missing or wrong
// setting stops the process with a message that names it. Read from the YAML or JSON file named by
// MEDRELEASE_CONFIG; without one, the embedded default (three simulated clouds) applies.
// Environment variables override a few deployment settings (TEMPORAL_ADDRESS, MEDRELEASE_API_PORT …).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { parse as parseYaml } from 'yaml';
import { CLOUD_NAME_PATTERN } from './release.js';

export const CloudConfig = Type.Object(
  {
    name: Type.String({ pattern: CLOUD_NAME_PATTERN }),
    driver: Type.Union([Type.Literal('simulated'), Type.Literal('kubernetes')]),
    region: Type.String({ minLength: 1 }),
    jurisdiction: Type.String({ pattern: '^[A-Z]{2,8}$' }),
    /** kubernetes driver: the kubeconfig file (default $KUBECONFIG, then ~/.kube/config) and its context. */
    kubeconfig: Type.Optional(Type.String({ minLength: 1 })),
    kubeContext: Type.Optional(Type.String({ minLength: 1 })),
    /** kubernetes driver: the namespace the models run in; it must exist. Default medrelease. */
    namespace: Type.Optional(Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 })),
    /**
     * kubernetes driver: how traffic is split. gateway-api sets weights on an HTTPRoute; replica-ratio
     * scales the canary against the stable version behind one Service; auto (the default) uses the
     * Gateway API when the cluster has the HTTPRoute CRD.
     */
    traffic: Type.Optional(
      Type.Union([Type.Literal('auto'), Type.Literal('gateway-api'), Type.Literal('replica-ratio')]),
    ),
    /** kubernetes driver: the Gateway the HTTPRoutes attach to. */
    gateway: Type.Optional(
      Type.Object(
        { name: Type.String({ minLength: 1 }), namespace: Type.Optional(Type.String({ minLength: 1 })) },
        { additionalProperties: false },
      ),
    ),
    /** kubernetes driver: pods serving a model at full traffic (replica-ratio steps are 100/replicas %). Default 4. */
    replicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
    /** kubernetes driver: a rollout that makes no progress this long fails its step. Default 120. */
    progressDeadlineSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 3600 })),
    /**
     * Where canary telemetry comes from: simulated (the default; a SIMULATION for the demo) or the
     * cloud's Prometheus (section `prometheus`), queried with the release's PromQL templates.
     */
    telemetry: Type.Optional(Type.Union([Type.Literal('simulated'), Type.Literal('prometheus')])),
    prometheus: Type.Optional(
      Type.Object(
        {
          /** Prometheus's HTTP API, e.g. http://prometheus.monitoring:9090 (no path). */
          url: Type.String({ pattern: '^https?://[^\\s]+$' }),
          /** File holding a bearer token sent with every query (read at each query, so it can rotate). */
          bearerTokenFile: Type.Optional(Type.String({ minLength: 1 })),
          /** How often Prometheus scrapes the model servers; rate windows are at least 3 of these. Default 15. */
          scrapeIntervalSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 600 })),
          /** Timeout of one query. Default 5000. */
          timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
          /** Retries of a query that failed for a reason that may pass (unreachable, timeout, 5xx). Default 2. */
          retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
          /**
           * The label matchers that select one track of one model version, with {{model}}, {{version}},
           * {{cloud}} and {{track}}. Default model="{{model}}",version="{{version}}",cloud="{{cloud}}",track="{{track}}".
           */
          selector: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type CloudConfig = Static<typeof CloudConfig>;

/** The embedded default: three simulated clouds. */
export const DEFAULT_CLOUDS: CloudConfig[] = [
  { name: 'aws', driver: 'simulated', region: 'eu-central-1', jurisdiction: 'EU' },
  { name: 'azure', driver: 'simulated', region: 'westeurope', jurisdiction: 'EU' },
  { name: 'gcp', driver: 'simulated', region: 'us-central1', jurisdiction: 'US' },
];

/** Region and jurisdiction of the default cloud of that name (tests and benchmarks); others get an EU region. */
export function defaultPlacement(name: string): { region: string; jurisdiction: string } {
  const cloud = DEFAULT_CLOUDS.find((entry) => entry.name === name);
  return cloud
    ? { region: cloud.region, jurisdiction: cloud.jurisdiction }
    : { region: 'eu-central-1', jurisdiction: 'EU' };
}

export const Config = Type.Object(
  {
    temporal: Type.Object(
      {
        address: Type.String({ default: '127.0.0.1:7233' }),
        namespace: Type.String({ default: 'default' }),
        taskQueuePrefix: Type.String({ default: '', pattern: '^[a-z0-9-]*$' }),
        /** The Temporal Web UI, for links in API responses; unset when there is none. */
        uiUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
      },
      { additionalProperties: false, default: {} },
    ),
    api: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
        /** Longest a request may take, including waiting for Temporal. */
        requestTimeoutMs: Type.Integer({ minimum: 1000, default: 30_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** State of the embedded default: Temporal's database file, simulated clouds, audit trail. */
    dataDir: Type.String({ default: '.data' }),
    users: Type.Object(
      {
        /** Users and their API tokens (until OpenID Connect arrives); `npm start` creates demo users here. */
        file: Type.String({ default: '.data/users.json' }),
      },
      { additionalProperties: false, default: {} },
    ),
    clouds: Type.Array(CloudConfig, {
      minItems: 1,
      default: DEFAULT_CLOUDS,
    }),
    compliance: Type.Object(
      {
        /** The policy packs (`*.yaml`) and their data (`data/*.yaml`). Default: the shipped `policies/`. */
        policyDir: Type.Optional(Type.String({ minLength: 1 })),
        /** More policy data files, loaded after the directory's (your registries, thresholds). */
        policyData: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        /**
         * Whether a release must carry a manifest. When false, a release without one gets only the
         * built-in request checks (digest pin, residency, staging smoke test), and its report says so.
         */
        requireManifest: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    simulated: Type.Object(
      {
        /** Latency added to each simulated cloud call. */
        latencyMs: Type.Integer({ minimum: 0, default: 150 }),
        /** Probability of a transient failure of a simulated cloud call. */
        failureRate: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type Config = Static<typeof Config>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const compiledConfig = Compile(Config);

/** Validates raw configuration, fills in defaults, and fails with every problem named by its path. */
export function parseConfig(raw: unknown, source = 'configuration'): Config {
  const value = compiledConfig.Default(structuredClone(raw ?? {}));
  const errors = [...compiledConfig.Errors(value)];
  if (errors.length > 0) {
    const lines = errors.map((error) => `  ${error.instancePath || '/'}: ${error.message}`);
    throw new ConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  const config = value as Config;
  const names = config.clouds.map((cloud) => cloud.name);
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate)
    throw new ConfigError(`${source} is invalid:\n  /clouds: cloud '${duplicate}' is configured twice`);
  for (const [index, cloud] of config.clouds.entries()) {
    if (cloud.driver === 'kubernetes' && !cloud.kubeContext) {
      throw new ConfigError(
        `${source} is invalid:\n  /clouds/${index}/kubeContext: required for the kubernetes driver`,
      );
    }
    if (cloud.telemetry === 'prometheus' && !cloud.prometheus) {
      throw new ConfigError(
        `${source} is invalid:\n  /clouds/${index}/prometheus: required with telemetry: prometheus (at least its url)`,
      );
    }
  }
  return config;
}

/** Loads the configuration of this process: the file named by MEDRELEASE_CONFIG, then environment overrides. */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const file = environment.MEDRELEASE_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(
        `MEDRELEASE_CONFIG names ${file}, which cannot be read: ${(error as Error).message}`,
      );
    }
    raw = (path.extname(file) === '.json' ? JSON.parse(text) : parseYaml(text)) as Record<string, unknown>;
  }
  const overrides: [string, string, string, (value: string) => unknown][] = [
    ['TEMPORAL_ADDRESS', 'temporal', 'address', String],
    ['TEMPORAL_NAMESPACE', 'temporal', 'namespace', String],
    ['MEDRELEASE_TEMPORAL_UI_URL', 'temporal', 'uiUrl', String],
    ['MEDRELEASE_TASK_QUEUE_PREFIX', 'temporal', 'taskQueuePrefix', String],
    ['MEDRELEASE_API_PORT', 'api', 'port', Number],
    ['MEDRELEASE_API_HOST', 'api', 'host', String],
  ];
  for (const [variable, section, key, convert] of overrides) {
    const value = environment[variable];
    if (value !== undefined && value !== '') {
      raw[section] = { ...(raw[section] ?? {}), [key]: convert(value) };
    }
  }
  if (environment.MEDRELEASE_DATA_DIR) raw.dataDir = environment.MEDRELEASE_DATA_DIR;
  if (environment.MEDRELEASE_USERS_FILE) raw.users = { file: environment.MEDRELEASE_USERS_FILE };
  return parseConfig(raw, file ? `configuration file ${file}` : 'configuration');
}

export function telemetrySourceOf(cloud: CloudConfig): 'simulated' | 'prometheus' {
  return cloud.telemetry ?? 'simulated';
}
