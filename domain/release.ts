// The release request as the API accepts it, and the normalised input the release workflow runs on.
// TypeBox gives both the JSON Schema the API validates with (and publishes in OpenAPI) and the
// static types, so the two cannot drift apart.
import { Type, type Static } from 'typebox';
import type { JudgeConfig } from '../activities/analysis/canary-judge.js';
import type { NormalizedManifest } from './manifest.js';
import type { PacingPolicy } from './pacing.js';

export const CLOUD_NAME_PATTERN = '^[a-z][a-z0-9-]{1,30}$';
/** An OCI image reference: registry[:port]/repository[:tag][@sha256:digest], lower-case repository. */
export const IMAGE_REFERENCE_PATTERN =
  '^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$';
export const RELEASE_ID_PATTERN = '^[a-z0-9][a-z0-9-]{2,62}$';

const JudgeMetric = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      description:
        'Metric name as the telemetry source reports it (simulated and reference server: error_rate, latency_p99_ms, prediction_mean, restarts).',
    }),
    direction: Type.Union(
      [Type.Literal('increase-is-bad'), Type.Literal('decrease-is-bad'), Type.Literal('either')],
      { description: 'Which change of the canary against the baseline is a regression.' },
    ),
    weight: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: 'Share of the score. Default 1.' }),
    ),
    critical: Type.Optional(
      Type.Boolean({ description: 'A confirmed regression of this metric fails the canary. Default false.' }),
    ),
    allowedShift: Type.Number({
      minimum: 0,
      description:
        'Largest relative shift of the canary median vs the baseline that is not a regression (0.25 = 25 %).',
    }),
    hardMax: Type.Optional(
      Type.Number({ description: 'Ceiling of the canary statistic: beyond it the canary fails at once.' }),
    ),
    hardMin: Type.Optional(
      Type.Number({ description: 'Floor of the canary statistic: below it the canary fails at once.' }),
    ),
    hardStatistic: Type.Optional(
      Type.Union([Type.Literal('mean'), Type.Literal('p99'), Type.Literal('max')], {
        description: 'Statistic of the canary series held against hardMax / hardMin. Default mean.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const JudgeConfigSchema = Type.Object(
  {
    metrics: Type.Array(JudgeMetric, { minItems: 1, maxItems: 50 }),
    passThreshold: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1,
        description: 'Lowest score that passes. Default 0.95.',
      }),
    ),
    marginalThreshold: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'Lowest score that is marginal (hold and re-check) rather than a failure. Default 0.75.',
      }),
    ),
    minSamples: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'Fewest samples per track for a metric to be judged. Default 20.',
      }),
    ),
    alpha: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        exclusiveMaximum: 0.5,
        description: 'Significance level of the Mann-Whitney test. Default 0.01.',
      }),
    ),
    anomalyThreshold: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'Anomaly score that counts as a hit. Default 0.9.',
      }),
    ),
    anomalyMinHits: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Hits in one window that fail the metric. Default 3.' }),
    ),
    confirmFailures: Type.Optional(
      Type.Boolean({
        description:
          'A failure on the statistics alone on a step’s first window holds the canary (marginal) and rolls it back only when a re-check fails again; hard limits, the crash loop and a canary without data fail at once. Default true.',
      }),
    ),
    crashLoop: Type.Optional(
      Type.Object(
        {
          metric: Type.String({ minLength: 1 }),
          max: Type.Number({ minimum: 0 }),
        },
        {
          additionalProperties: false,
          description: 'The canary crash-loops when the maximum of this metric in a window exceeds max.',
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      'The canary judge (hard limits, Mann-Whitney comparison with the baseline, anomaly model, no-data policy). Default: error_rate, latency_p99_ms, prediction_mean and restarts; see docs/canary-analysis.md.',
  },
);

/** Placeholders of the telemetry's PromQL templates (activities/telemetry/prometheus.ts). */
export const TELEMETRY_PLACEHOLDERS = [
  'selector',
  'rate',
  'window',
  'model',
  'version',
  'cloud',
  'track',
] as const;

export const TelemetrySettingsSchema = Type.Object(
  {
    queries: Type.Optional(
      Type.Record(Type.String(), Type.String({ minLength: 1, maxLength: 4000 }), {
        description:
          'PromQL per judged metric, replacing or adding to the defaults for the reference model server (docs/telemetry.md). ' +
          'Placeholders: {{selector}} (the label matchers of one track of one version), {{rate}} (the rate window), ' +
          '{{window}} (the analysis window), {{model}}, {{version}}, {{cloud}}, {{track}}. One value per sample, no data as NaN or no series.',
      }),
    ),
    stepSeconds: Type.Optional(
      Type.Number({
        minimum: 0.5,
        maximum: 3600,
        description: 'Resolution of the range queries. Default: the analysis window / 30, at least 1 s.',
      }),
    ),
    historySeconds: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 14 * 86_400,
        description:
          'How much of the stable track before the window the anomaly model learns from. Default 120 samples (120 × the step).',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'How the prometheus telemetry source queries this release (ignored by simulated telemetry).',
  },
);
export type TelemetrySettings = Static<typeof TelemetrySettingsSchema>;

export const TelemetryFaultKind = Type.Union(
  [
    Type.Literal('latency-regression'),
    Type.Literal('error-spike'),
    Type.Literal('prediction-drift'),
    Type.Literal('crash-loop'),
    Type.Literal('no-data'),
    Type.Literal('latency-creep'),
  ],
  {
    description:
      'What goes wrong with the canary track of the simulated telemetry. latency-creep raises the p99 by 35–50 %, below the hard limit: the canary judge finds it marginal.',
  },
);
export type TelemetryFaultKind = Static<typeof TelemetryFaultKind>;

export const CloudOperation = Type.Union([
  Type.Literal('deployCanary'),
  Type.Literal('setCanaryWeight'),
  Type.Literal('promote'),
  Type.Literal('rollback'),
  Type.Literal('retirePrevious'),
  Type.Literal('collectTelemetry'),
  Type.Literal('scale'),
]);
export type CloudOperation = Static<typeof CloudOperation>;

/** Faults for the zero-setup demo and the tests; only accepted while the simulated drivers are active. */
export const FaultPlan = Type.Object(
  {
    telemetry: Type.Optional(
      Type.Array(
        Type.Object(
          {
            cloud: Type.String({ pattern: CLOUD_NAME_PATTERN }),
            kind: TelemetryFaultKind,
            fromStep: Type.Optional(
              Type.Integer({
                minimum: 0,
                description: 'Index of the first canary step that sees it; default 0.',
              }),
            ),
            transient: Type.Optional(
              Type.Boolean({
                description:
                  'Only in a step’s first analysis window: its re-checks after a marginal verdict see a healthy canary. Default false.',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        { maxItems: 20 },
      ),
    ),
    driver: Type.Optional(
      Type.Array(
        Type.Object(
          {
            cloud: Type.String({ pattern: CLOUD_NAME_PATTERN }),
            operation: CloudOperation,
            failures: Type.Integer({
              minimum: 1,
              maximum: 1000,
              description: 'How many attempts of this operation fail (transiently) before it succeeds.',
            }),
            latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 20 },
      ),
    ),
    stagingRegression: Type.Optional(
      Type.Boolean({ description: 'The staged model scores below its cleared baseline.' }),
    ),
  },
  { additionalProperties: false },
);
export type FaultPlan = Static<typeof FaultPlan>;

export const CreateReleaseRequest = Type.Object(
  {
    releaseId: Type.Optional(
      Type.String({
        pattern: RELEASE_ID_PATTERN,
        description:
          'Client-chosen id (lower-case letters, digits, dashes). Repeating a create with the same id and body returns the existing release.',
      }),
    ),
    model: Type.Object(
      {
        name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,62}$' }),
        // Semantic versioning: versions are compared by the change-control plan, and they are stored
        // unencrypted as a search attribute, so nothing but a version fits here.
        version: Type.String({
          pattern:
            '^(0|[1-9][0-9]{0,5})\\.(0|[1-9][0-9]{0,5})\\.(0|[1-9][0-9]{0,5})(-[0-9A-Za-z.-]{1,32})?(\\+[0-9A-Za-z.-]{1,32})?$',
          maxLength: 64,
          description: 'Semantic version, e.g. 2.5.0 or 2.5.0-rc.1.',
        }),
        image: Type.String({
          minLength: 3,
          maxLength: 512,
          // An image reference (registry/repository[:tag][@digest]), nothing else: free text has no place here.
          pattern: IMAGE_REFERENCE_PATTERN,
          description: 'Container image; the compliance gate requires it pinned by digest (@sha256:…).',
        }),
        intendedUse: Type.Optional(Type.String({ maxLength: 2000 })),
      },
      { additionalProperties: false },
    ),
    clouds: Type.Array(Type.String({ pattern: CLOUD_NAME_PATTERN }), {
      minItems: 1,
      maxItems: 10,
      uniqueItems: true,
      description: 'Target clouds, by configured name.',
    }),
    pilotCloud: Type.Optional(
      Type.String({
        pattern: CLOUD_NAME_PATTERN,
        description: 'The cloud that runs its canary first; default: the first of `clouds`.',
      }),
    ),
    dataResidency: Type.Optional(
      Type.Object(
        {
          allowedJurisdictions: Type.Array(Type.String({ pattern: '^[A-Z]{2,8}$' }), {
            minItems: 1,
            uniqueItems: true,
            description: 'Jurisdictions (e.g. EU, US) whose clouds may process this model’s data.',
          }),
        },
        { additionalProperties: false },
      ),
    ),
    canary: Type.Optional(
      Type.Object(
        {
          steps: Type.Optional(
            Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), {
              minItems: 1,
              maxItems: 20,
              description:
                'Canary traffic weights in percent, strictly increasing, ending at 100. Default 5, 25, 50, 100.',
            }),
          ),
          analysisIntervalSeconds: Type.Optional(
            Type.Number({
              minimum: 0,
              maximum: 86_400,
              description: 'Wait before each step is judged. Default 300.',
            }),
          ),
          maxErrorRate: Type.Optional(
            Type.Number({
              minimum: 0,
              maximum: 1,
              description:
                'Canary judge: hard limit of the canary’s mean error rate. Default 0.02. Not with `judge`.',
            }),
          ),
          maxLatencyP99Ms: Type.Optional(
            Type.Number({
              exclusiveMinimum: 0,
              description:
                'Canary judge: hard limit of the canary’s p99 latency, in ms. Default 800. Not with `judge`.',
            }),
          ),
          maxLatencyRegression: Type.Optional(
            Type.Number({
              minimum: 1,
              description:
                'Canary judge: the largest confirmed shift of the canary p99 relative to the baseline’s that is not a regression (1.25 = +25 %); latency_p99_ms’s allowedShift is this − 1. Default 1.25. Not with `judge`.',
            }),
          ),
          pacing: Type.Optional(
            Type.Union([Type.Literal('adaptive'), Type.Literal('fixed')], {
              description:
                'adaptive: the risk model chooses the steps and the analysis interval (from this base interval) within the deployment’s pacing policy, and a step may conclude early on decisive evidence; fixed: the plan as given. Default: fixed when `steps` is given, else the policy’s mode (adaptive unless configured otherwise).',
            }),
          ),
          judge: Type.Optional(JudgeConfigSchema),
          telemetry: Type.Optional(TelemetrySettingsSchema),
          marginalRechecks: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: 10,
              description:
                'How often a step is re-checked on a fresh window after a marginal verdict before it counts as failed. Default 2.',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    signoff: Type.Optional(
      Type.Object(
        {
          quorum: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 10, description: 'Distinct approvals needed. Default 2.' }),
          ),
          deadlineSeconds: Type.Optional(
            Type.Number({ exclusiveMinimum: 0, maximum: 30 * 86_400, description: 'Default 7 days.' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    keepWarmSeconds: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 30 * 86_400,
        description:
          'How long the previous version stays warm after promotion for instant rollback. Default 3600.',
      }),
    ),
    activityTimeoutSeconds: Type.Optional(
      Type.Number({
        minimum: 1,
        maximum: 3600,
        description: 'Start-to-close timeout of each cloud activity. Default 60.',
      }),
    ),
    cloudStepAttempts: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 50,
        description:
          'How often a forward step in a cloud (deploy, weight, telemetry, promote) is tried before the release gives up and rolls back; restoring a cloud is retried until it answers. Default 8 (about 70 s of an unreachable API).',
      }),
    ),
    faultPlan: Type.Optional(FaultPlan),
    manifest: Type.Optional(
      Type.Unknown({
        description:
          'The release manifest (medrelease.dev/v1): an object, or its JSON or YAML text. Its schema is published at ' +
          '/v1/schemas/release-manifest.v1.json; every violation is reported by JSON pointer under /manifest. ' +
          'Its model (name, version, artifact image) and deployment target clouds must match `model` and `clouds`. ' +
          'Required unless the deployment sets compliance.requireManifest to false.',
      }),
    ),
    waiverDeadlineSeconds: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 30 * 86_400,
        description:
          'How long a release whose only obstacle is failed major controls waits in the compliance stage for waivers before it ends blocked. Default 1 day; 0 ends it at once.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateReleaseRequest = Static<typeof CreateReleaseRequest>;

export interface Person {
  id: string;
  name: string;
  roles: Role[];
}
export type Role =
  'release-manager' | 'clinical-approver' | 'operator' | 'auditor' | 'viewer' | 'regulatory-qa' | 'security';

export interface CanarySettings {
  steps: number[];
  analysisIntervalSeconds: number;
  maxErrorRate: number;
  maxLatencyP99Ms: number;
  maxLatencyRegression: number;
  /**
   * The canary judge's configuration, every default applied. Absent in releases started before it
   * existed: their windows are judged with the defaults and the limits above (judgeConfigFor).
   */
  judge?: JudgeConfig;
  /** Re-checks of a step after a marginal verdict before it counts as failed; absent: the default. */
  marginalRechecks?: number;
  /** How the prometheus telemetry source queries this release; absent: its defaults. */
  telemetry?: TelemetrySettings;
  /** Looks per analysis interval (sequential analysis); absent or 1: judged once at the interval's end. */
  looks?: number;
  /** Share of an interval before which a step never concludes early. */
  earliestLook?: number;
}

/** Predictive scaling of one cloud (configuration clouds[].scaling, every default applied). */
export interface CloudScaling {
  requestsPerReplica: number;
  minReplicas: number;
  maxReplicas: number;
  targetUtilisation: number;
  horizonMinutes: number;
  stepSeconds: number;
  historySamples: number;
}

export interface CloudTarget {
  name: string;
  region: string;
  jurisdiction: string;
  driver: 'simulated' | 'kubernetes';
  /** Absent: the cloud's capacity is not managed by the release. */
  scaling?: CloudScaling;
}

/** Everything the release workflow needs, with every default applied: the workflow never reads configuration. */
export interface ReleaseInput {
  releaseId: string;
  requestedBy: Person;
  requestedAt: string;
  model: { name: string; version: string; image: string; intendedUse?: string };
  clouds: CloudTarget[];
  waves: string[][];
  dataResidency?: { allowedJurisdictions: string[] };
  /** The normalised release manifest the compliance gate judges (absent only where not required). */
  manifest?: NormalizedManifest;
  /** Wait in the compliance stage for waivers of failed majors; absent in older releases: 0. */
  waiverDeadlineSeconds?: number;
  canary: CanarySettings;
  /**
   * The pacing policy in force when the release was created, its mode resolved for this release
   * (fixed when the request pinned its steps). Absent in releases created before pacing existed.
   */
  pacing?: PacingPolicy;
  signoff: { quorum: number; deadlineSeconds: number };
  keepWarmSeconds: number;
  activityTimeoutSeconds: number;
  /** Absent in releases started before it existed: those use the default. */
  cloudStepAttempts?: number;
  faultPlan?: FaultPlan;
  /** Where the control activities and each cloud's workflows and activities run. */
  taskQueues: { control: string; clouds: Record<string, string> };
  /** Hash of the request body, so a repeated create can tell "same request" from "different request". */
  requestHash: string;
}

export const RELEASE_DEFAULTS = {
  steps: [5, 25, 50, 100],
  analysisIntervalSeconds: 300,
  maxErrorRate: 0.02,
  maxLatencyP99Ms: 800,
  maxLatencyRegression: 1.25,
  marginalRechecks: 2,
  quorum: 2,
  deadlineSeconds: 7 * 86_400,
  keepWarmSeconds: 3600,
  activityTimeoutSeconds: 60,
  cloudStepAttempts: 8,
  waiverDeadlineSeconds: 86_400,
} as const;

export const ACTIVE_STAGES = [
  'validating',
  'staging',
  'compliance',
  'awaiting-signoff',
  'canary',
  'promoting',
  'rolling-back',
] as const;
export const TERMINAL_STAGES = [
  'completed',
  'rolled-back',
  'rejected',
  'expired',
  'failed',
  'aborted',
  'blocked',
] as const;
export type ActiveStage = (typeof ACTIVE_STAGES)[number];
export type TerminalStage = (typeof TERMINAL_STAGES)[number];
export type Stage = ActiveStage | TerminalStage;

export function isTerminal(stage: Stage): stage is TerminalStage {
  return (TERMINAL_STAGES as readonly string[]).includes(stage);
}
