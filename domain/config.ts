// Configuration: one schema, validated at start-up, every default stated here. A missing or wrong
// setting stops the process with a message that names it. Read from the YAML or JSON file named by
// MEDRELEASE_CONFIG; without one, the embedded default (three simulated clouds) applies.
// Environment variables override a few deployment settings (TEMPORAL_ADDRESS, MEDRELEASE_API_PORT …).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { parse as parseYaml } from 'yaml';
import { PacingConfigSchema, pacingPolicy, pacingPolicyProblems } from './pacing.js';
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
    /**
     * Predictive scaling: before each canary step the release forecasts this cloud's load (the
     * model's request rate) and sets the model's capacity — the replicas serving it at full traffic,
     * or its HorizontalPodAutoscaler's minimum — within these bounds. Absent: capacity stays as
     * configured (replicas).
     */
    scaling: Type.Optional(
      Type.Object(
        {
          /** Requests per second one replica serves at 100 % utilisation. */
          requestsPerReplica: Type.Number({ exclusiveMinimum: 0 }),
          minReplicas: Type.Integer({ minimum: 1, maximum: 1000, default: 2 }),
          maxReplicas: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
          /** Utilisation the forecast peak is planned at. Default 0.8. */
          targetUtilisation: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.8 }),
          /** How far ahead the forecast looks, in minutes. Default 30. */
          horizonMinutes: Type.Integer({ minimum: 5, maximum: 1440, default: 30 }),
          /** Resolution of the request-rate history, in seconds. Default 300. */
          stepSeconds: Type.Integer({ minimum: 15, maximum: 3600, default: 300 }),
          /** Samples of history the forecaster learns from. Default 576 (two days of 5-minute steps). */
          historySamples: Type.Integer({ minimum: 24, maximum: 10_000, default: 576 }),
        },
        { additionalProperties: false },
      ),
    ),
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

/** The forecaster looks at most this many history steps ahead (a day of 5-minute steps). */
export const MAX_FORECAST_HORIZON = 288;

/** Predictive scaling of the demo's simulated clouds (their load is about 40 requests/s). */
const DEMO_SCALING = {
  requestsPerReplica: 8,
  minReplicas: 2,
  maxReplicas: 12,
  targetUtilisation: 0.8,
  horizonMinutes: 30,
  stepSeconds: 300,
  historySamples: 576,
};

/** The embedded default: three simulated clouds, with predictive scaling. */
export const DEFAULT_CLOUDS: CloudConfig[] = [
  {
    name: 'aws',
    driver: 'simulated',
    region: 'eu-central-1',
    jurisdiction: 'EU',
    scaling: { ...DEMO_SCALING },
  },
  {
    name: 'azure',
    driver: 'simulated',
    region: 'westeurope',
    jurisdiction: 'EU',
    scaling: { ...DEMO_SCALING },
  },
  {
    name: 'gcp',
    driver: 'simulated',
    region: 'us-central1',
    jurisdiction: 'US',
    scaling: { ...DEMO_SCALING },
  },
];

/** Region and jurisdiction of the default cloud of that name (tests and benchmarks); others get an EU region. */
export function defaultPlacement(name: string): { region: string; jurisdiction: string } {
  const cloud = DEFAULT_CLOUDS.find((entry) => entry.name === name);
  return cloud
    ? { region: cloud.region, jurisdiction: cloud.jurisdiction }
    : { region: 'eu-central-1', jurisdiction: 'EU' };
}

const RoleSchema = Type.Union([
  Type.Literal('release-manager'),
  Type.Literal('clinical-approver'),
  Type.Literal('operator'),
  Type.Literal('auditor'),
  Type.Literal('viewer'),
  Type.Literal('regulatory-qa'),
  Type.Literal('security'),
]);
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

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
        /** Requests per caller (the authenticated person, else the address) per window. */
        rateLimit: Type.Object(
          {
            max: Type.Integer({ minimum: 1, default: 600 }),
            windowSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 60 }),
            /** Requests that fail authentication, per address per window, before the address is refused. */
            failedAuthMax: Type.Integer({ minimum: 1, default: 120 }),
          },
          { additionalProperties: false, default: {} },
        ),
        /**
         * The TLS-terminating proxies in front of the API (addresses or CIDRs), whose X-Forwarded-For and
         * -Proto are believed: the rate limit then sees the client, and the session cookie is Secure.
         */
        trustProxy: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        /** Origins allowed to call the codec endpoint from a browser; default: the Temporal UI's (temporal.uiUrl). */
        codecOrigins: Type.Optional(Type.Array(Type.String({ pattern: '^https?://[^/\\s]+$' }))),
      },
      { additionalProperties: false, default: {} },
    ),
    /** State of the embedded default: Temporal's database file, simulated clouds, audit trail. */
    dataDir: Type.String({ default: '.data' }),
    /**
     * Who is calling: OpenID Connect access tokens (JWTs) from this issuer. `npm start` runs a
     * development issuer and sets these; a deployment points them at its identity provider
     * (docs/identity-and-keys.md).
     */
    auth: Type.Object(
      {
        /** The issuer (`iss`) whose tokens are accepted, e.g. https://login.example.org/realms/hospital. */
        issuer: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
        /** The audience (`aud`) every token must carry. */
        audience: Type.String({ minLength: 1, default: 'medrelease-api' }),
        /** The issuer's JWKS; default: the `jwks_uri` of its discovery document. */
        jwksUri: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
        /** Where the roles are in the token: a claim name or a dot path (realm_access.roles). */
        rolesClaim: Type.String({ minLength: 1, default: 'roles' }),
        /** Identity-provider group or role names → medrelease roles; a medrelease role name maps to itself. */
        roleMap: Type.Record(Type.String({ minLength: 1 }), Type.Array(RoleSchema), { default: {} }),
        /** The claim that names the person (their id in releases and the audit trail); falls back to `sub`. */
        userClaim: Type.String({ minLength: 1, default: 'preferred_username' }),
        nameClaim: Type.String({ minLength: 1, default: 'name' }),
        /** Allowed clock difference for exp, nbf and iat. */
        clockToleranceSeconds: Type.Integer({ minimum: 0, maximum: 300, default: 30 }),
        /** Accepted signature algorithms (asymmetric only: `none` and HMAC are never accepted). */
        algorithms: Type.Array(Type.String({ enum: [...ASYMMETRIC_ALGORITHMS] }), {
          minItems: 1,
          default: ['RS256', 'PS256', 'ES256', 'EdDSA'],
        }),
        /** The client id of the browser sign-in (`/auth/login`) that opens a codec session for the Temporal UI. */
        browserClientId: Type.String({ minLength: 1, default: 'medrelease-ui' }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Encryption of every workflow and activity payload (AES-256-GCM). */
    encryption: Type.Object(
      {
        /** The key ring file (mode 0600); default <dataDir>/keys/payload-keys.json. MEDRELEASE_PAYLOAD_KEYS overrides it. */
        keyFile: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false, default: {} },
    ),
    /** The audit trail: hash-chained, Ed25519-signed records in SQLite. */
    audit: Type.Object(
      {
        /** Default <dataDir>/audit/audit.sqlite. */
        database: Type.Optional(Type.String({ minLength: 1 })),
        /** The Ed25519 signing key (PKCS#8 PEM, mode 0600); default <dataDir>/keys/audit-ed25519.pem. */
        signingKeyFile: Type.Optional(Type.String({ minLength: 1 })),
        /** Public keys of earlier signing keys (rotation), for verification; the current one is always used. */
        publicKeyFiles: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        /** How long release records are kept: six years (45 CFR 164.316(b)(2)). */
        retentionDays: Type.Integer({ minimum: 1, maximum: 36_500, default: 2192 }),
      },
      { additionalProperties: false, default: {} },
    ),
    logging: Type.Object(
      {
        /** More pino redaction paths (beyond the built-in ones: credentials, cookies, bodies). */
        redact: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
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
    pacing: PacingConfigSchema,
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
  const pacing = pacingPolicyProblems(pacingPolicy(config.pacing));
  if (pacing.length > 0)
    throw new ConfigError(
      `${source} is invalid:\n${pacing.map((line) => `  /${line.replace('.', '/').replace(': ', ': ')}`).join('\n')}`,
    );
  for (const [index, cloud] of config.clouds.entries()) {
    if (
      cloud.scaling &&
      (cloud.scaling.horizonMinutes * 60) / cloud.scaling.stepSeconds > MAX_FORECAST_HORIZON
    )
      throw new ConfigError(
        `${source} is invalid:\n  /clouds/${index}/scaling/horizonMinutes: at most ${MAX_FORECAST_HORIZON} steps of stepSeconds ahead (${cloud.scaling.horizonMinutes} min is ${Math.round((cloud.scaling.horizonMinutes * 60) / cloud.scaling.stepSeconds)})`,
      );
    if (cloud.scaling && cloud.scaling.minReplicas > cloud.scaling.maxReplicas)
      throw new ConfigError(
        `${source} is invalid:\n  /clouds/${index}/scaling/minReplicas: must not exceed maxReplicas`,
      );
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
  const authOverrides: [string, string][] = [
    ['MEDRELEASE_OIDC_ISSUER', 'issuer'],
    ['MEDRELEASE_OIDC_AUDIENCE', 'audience'],
    ['MEDRELEASE_OIDC_JWKS_URI', 'jwksUri'],
  ];
  for (const [variable, key] of authOverrides) {
    const value = environment[variable];
    if (value) raw.auth = { ...(raw.auth as object | undefined), [key]: value };
  }
  if (environment.MEDRELEASE_PAYLOAD_KEY_FILE) {
    raw.encryption = {
      ...(raw.encryption as object | undefined),
      keyFile: environment.MEDRELEASE_PAYLOAD_KEY_FILE,
    };
  }
  return parseConfig(raw, file ? `configuration file ${file}` : 'configuration');
}

export function telemetrySourceOf(cloud: CloudConfig): 'simulated' | 'prometheus' {
  return cloud.telemetry ?? 'simulated';
}

/** The payload key ring file of this configuration. */
export function payloadKeyFile(config: Config): string {
  return path.resolve(config.encryption.keyFile ?? path.join(config.dataDir, 'keys', 'payload-keys.json'));
}

/** The audit trail's database, signing key and (rotated) public keys. */
export function auditPaths(config: Config): {
  database: string;
  signingKeyFile: string;
  publicKeyFiles: string[];
} {
  const signingKeyFile = path.resolve(
    config.audit.signingKeyFile ?? path.join(config.dataDir, 'keys', 'audit-ed25519.pem'),
  );
  return {
    database: path.resolve(config.audit.database ?? path.join(config.dataDir, 'audit', 'audit.sqlite')),
    signingKeyFile,
    publicKeyFiles: [
      signingKeyFile.replace(/\.pem$/, '') + '.pub.pem',
      ...config.audit.publicKeyFiles.map((file) => path.resolve(file)),
    ],
  };
}

/** The browser origins allowed to use the codec endpoint. */
export function codecOrigins(config: Config): string[] {
  if (config.api.codecOrigins) return config.api.codecOrigins;
  return config.temporal.uiUrl ? [new URL(config.temporal.uiUrl).origin] : [];
}
