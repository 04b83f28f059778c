// From an accepted API request (or a test's) to the workflow's input: every default applied here,
// and every semantic rule the JSON schema cannot express checked here, each problem naming its field.
import { createHash } from 'node:crypto';
import { canonicalize } from './canonical-json.js';
import { DEFAULT_JUDGE_CONFIG, validateJudgeConfig } from '../activities/analysis/canary-judge.js';
import { judgeConfigFor } from '../activities/analysis/judge-config.js';
import {
  DEFAULT_QUERIES,
  DEFAULT_SCRAPE_INTERVAL_SECONDS,
  PrometheusTelemetrySource,
  telemetrySettingsProblems,
} from '../activities/telemetry/prometheus.js';
import type { Config } from './config.js';
import { telemetrySourceOf } from './config.js';
import {
  RELEASE_DEFAULTS,
  type CanarySettings,
  type CreateReleaseRequest,
  type Person,
  type ReleaseInput,
} from './release.js';
import { pacingPolicy } from './pacing.js';
import { canaryStepProblems, planWaves } from './rules.js';
import { prefixProblems, readManifest } from '../activities/compliance/manifest.js';
import type { NormalizedManifest } from './manifest.js';
import { cloudTaskQueue, controlTaskQueue } from './task-queues.js';

export interface FieldProblem {
  /** JSON pointer into the request body. */
  field: string;
  message: string;
}

export function releaseRequestProblems(request: CreateReleaseRequest, config: Config): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const configured = new Set(config.clouds.map((cloud) => cloud.name));
  request.clouds.forEach((cloud, index) => {
    if (!configured.has(cloud)) {
      problems.push({
        field: `/clouds/${index}`,
        message: `cloud '${cloud}' is not configured (configured: ${[...configured].join(', ')})`,
      });
    }
  });
  if (request.pilotCloud && !request.clouds.includes(request.pilotCloud)) {
    problems.push({
      field: '/pilotCloud',
      message: `the pilot cloud '${request.pilotCloud}' must be one of the release's clouds`,
    });
  }
  if (request.canary?.steps) {
    for (const problem of canaryStepProblems(request.canary.steps)) {
      const [field, ...rest] = problem.split(': ');
      problems.push({ field: `/${field!.replace('.', '/')}`, message: rest.join(': ') });
    }
  }
  if (request.canary?.judge) {
    for (const problem of validateJudgeConfig(request.canary.judge)) {
      const [pointer, ...rest] = problem.split(': ');
      problems.push({ field: `/canary/judge${pointer === '/' ? '' : pointer!}`, message: rest.join(': ') });
    }
    for (const field of ['maxErrorRate', 'maxLatencyP99Ms', 'maxLatencyRegression'] as const) {
      if (request.canary[field] !== undefined) {
        problems.push({
          field: `/canary/${field}`,
          message:
            'cannot be combined with canary.judge: set the limits of the metrics in canary.judge instead',
        });
      }
    }
  }
  if (request.canary?.pacing === 'adaptive' && request.canary.steps) {
    problems.push({
      field: '/canary/steps',
      message:
        "cannot be combined with canary.pacing 'adaptive', which chooses the steps: give one or the other",
    });
  }
  if (request.canary?.telemetry) problems.push(...telemetrySettingsProblems(request.canary.telemetry));
  // Clouds that read Prometheus need a query for every metric the judge reads.
  const prometheusClouds = request.clouds.filter((name) => {
    const cloud = config.clouds.find((candidate) => candidate.name === name);
    return cloud !== undefined && telemetrySourceOf(cloud) === 'prometheus';
  });
  if (prometheusClouds.length > 0 && request.canary?.judge) {
    const queries = { ...DEFAULT_QUERIES, ...(request.canary.telemetry?.queries ?? {}) };
    request.canary.judge.metrics.forEach((metric, index) => {
      if (queries[metric.name] === undefined) {
        problems.push({
          field: `/canary/judge/metrics/${index}/name`,
          message: `no PromQL query for '${metric.name}', which ${prometheusClouds.join(', ')} read from Prometheus: add it to canary.telemetry.queries (defaults: ${Object.keys(DEFAULT_QUERIES).join(', ')})`,
        });
      }
    });
  }
  // A window must hold enough independent samples for the judge: Prometheus's step is at least two
  // scrape intervals, so a short window on a slow scrape can never be judged.
  for (const name of prometheusClouds) {
    const cloud = config.clouds.find((candidate) => candidate.name === name)!;
    const scrape = cloud.prometheus?.scrapeIntervalSeconds ?? DEFAULT_SCRAPE_INTERVAL_SECONDS;
    const requested = request.canary?.analysisIntervalSeconds ?? RELEASE_DEFAULTS.analysisIntervalSeconds;
    // An adaptive plan may shorten the interval down to the policy's minimum.
    const policy = pacingPolicy(config.pacing);
    const adaptive =
      (request.canary?.pacing ?? (request.canary?.steps ? 'fixed' : policy.mode)) === 'adaptive';
    const interval = adaptive
      ? Math.max(policy.minIntervalSeconds, Math.ceil(requested * policy.intervalFactor.lowest - 1e-9))
      : requested;
    const plan = new PrometheusTelemetrySource({
      cloud: name,
      url: 'http://unused',
      scrapeIntervalSeconds: scrape,
    }).windowPlan({
      windowSeconds: interval,
      ...(request.canary?.telemetry ? { settings: request.canary.telemetry } : {}),
    });
    const samples = Math.floor(plan.windowSeconds / plan.stepSeconds + 1e-9);
    const needed = request.canary?.judge?.minSamples ?? DEFAULT_JUDGE_CONFIG.minSamples ?? 20;
    if (samples < needed) {
      problems.push({
        field: '/canary/analysisIntervalSeconds',
        message:
          `${name} reads Prometheus, which scrapes every ${scrape} s: a ${plan.windowSeconds} s window holds ${samples} independent samples ` +
          `(one per ${plan.stepSeconds} s step) and the judge needs ${needed}; use an analysis interval of at least ` +
          (adaptive
            ? `${Math.ceil((needed * plan.stepSeconds) / policy.intervalFactor.lowest)} s (adaptive pacing may shorten it to ${policy.intervalFactor.lowest} × as a ${requested} s interval goes to ${interval} s), pin the plan with canary.pacing 'fixed'`
            : `${Math.ceil(needed * plan.stepSeconds)} s`) +
          `, or set canary.telemetry.stepSeconds or canary.judge.minSamples`,
      });
      break;
    }
  }
  problems.push(...manifestProblems(request, config));
  if (request.faultPlan) {
    // Faults are injected by the simulations: a telemetry fault needs the cloud's telemetry source to be
    // simulated, a driver fault its cloud driver.
    const entries = [
      ...(request.faultPlan.telemetry ?? []).map(
        (fault, index) => ['telemetry', index, fault.cloud] as const,
      ),
      ...(request.faultPlan.driver ?? []).map((fault, index) => ['driver', index, fault.cloud] as const),
    ];
    for (const [kind, index, cloud] of entries) {
      const configured = config.clouds.find((candidate) => candidate.name === cloud);
      if (!request.clouds.includes(cloud)) {
        problems.push({
          field: `/faultPlan/${kind}/${index}/cloud`,
          message: `cloud '${cloud}' is not one of the release's clouds`,
        });
      } else if (kind === 'driver' && configured?.driver !== 'simulated') {
        problems.push({
          field: `/faultPlan/driver/${index}/cloud`,
          message: `cloud '${cloud}' uses the ${configured?.driver} driver: driver faults are only injected into simulated clouds`,
        });
      } else if (kind === 'telemetry' && configured && telemetrySourceOf(configured) !== 'simulated') {
        problems.push({
          field: `/faultPlan/telemetry/${index}/cloud`,
          message: `cloud '${cloud}' reads real telemetry: telemetry faults are only injected into the simulated source`,
        });
      }
    }
  }
  return problems;
}

/** The manifest's own problems (by pointer under /manifest) and its agreement with the request. */
function manifestProblems(request: CreateReleaseRequest, config: Config): FieldProblem[] {
  if (request.manifest === undefined) {
    return config.compliance.requireManifest
      ? [
          {
            field: '/manifest',
            message:
              'is required: the compliance gate judges every release by its manifest (medrelease.dev/v1; see examples/manifests/)',
          },
        ]
      : [];
  }
  const result = readManifest(request.manifest);
  if (result.problems) return prefixProblems(result.problems, '/manifest');
  const manifest = result.manifest;
  const problems: FieldProblem[] = [];
  const agree = (field: string, requested: string, manifestField: string, declared: string) => {
    if (requested !== declared)
      problems.push({
        field,
        message: `'${requested}' does not match the manifest's ${manifestField} '${declared}'`,
      });
  };
  agree('/model/name', request.model.name, 'model.name', manifest.model.name);
  agree('/model/version', request.model.version, 'model.version', manifest.model.version);
  agree('/model/image', request.model.image, 'model.artifact.image', manifest.model.artifact.image);
  const targets = [...new Set(manifest.deployment.targets.map((target) => target.cloud))].sort();
  const clouds = [...request.clouds].sort();
  if (targets.join(',') !== clouds.join(','))
    problems.push({
      field: '/clouds',
      message: `[${request.clouds.join(', ')}] must be the manifest's deployment targets [${targets.join(', ')}]`,
    });
  // The gate judges residency by the manifest's regions: they must be where the clouds really are.
  manifest.deployment.targets.forEach((target, index) => {
    const cloud = config.clouds.find((candidate) => candidate.name === target.cloud);
    if (cloud && cloud.region !== target.region)
      problems.push({
        field: `/manifest/deployment/targets/${index}/region`,
        message: `'${target.region}' is not the region of the configured cloud '${cloud.name}' (${cloud.region})`,
      });
  });
  return problems;
}

/** The normalised manifest of a request that passed releaseRequestProblems. */
export function manifestOf(request: CreateReleaseRequest): NormalizedManifest | undefined {
  if (request.manifest === undefined) return undefined;
  const result = readManifest(request.manifest);
  if (result.problems) throw new Error(`the manifest is invalid: ${JSON.stringify(result.problems)}`);
  return result.manifest;
}

/** Canonical hash of a create request: same body, same hash, whatever the key order. */
export function requestHash(request: CreateReleaseRequest): string {
  return createHash('sha256').update(canonicalize(request)).digest('hex');
}

export function buildReleaseInput(options: {
  request: CreateReleaseRequest;
  releaseId: string;
  requestedBy: Person;
  config: Config;
  now?: Date;
}): ReleaseInput {
  const { request, config } = options;
  const prefix = config.temporal.taskQueuePrefix;
  const byName = new Map(config.clouds.map((cloud) => [cloud.name, cloud]));
  const canary = request.canary ?? {};
  return {
    releaseId: options.releaseId,
    requestedBy: options.requestedBy,
    requestedAt: (options.now ?? new Date()).toISOString(),
    model: { ...request.model },
    clouds: request.clouds.map((name) => {
      const cloud = byName.get(name)!;
      return {
        name,
        region: cloud.region,
        jurisdiction: cloud.jurisdiction,
        driver: cloud.driver,
        ...(cloud.scaling ? { scaling: { ...cloud.scaling } } : {}),
      };
    }),
    waves: planWaves(request.clouds, request.pilotCloud),
    ...(request.dataResidency ? { dataResidency: request.dataResidency } : {}),
    canary: canarySettings(canary),
    pacing: {
      ...pacingPolicy(config.pacing),
      // Pinned steps are run as given; otherwise the request or the policy decides.
      mode: canary.pacing ?? (canary.steps ? 'fixed' : (config.pacing.mode ?? 'adaptive')),
    },
    signoff: {
      quorum: request.signoff?.quorum ?? RELEASE_DEFAULTS.quorum,
      deadlineSeconds: request.signoff?.deadlineSeconds ?? RELEASE_DEFAULTS.deadlineSeconds,
    },
    keepWarmSeconds: request.keepWarmSeconds ?? RELEASE_DEFAULTS.keepWarmSeconds,
    activityTimeoutSeconds: request.activityTimeoutSeconds ?? RELEASE_DEFAULTS.activityTimeoutSeconds,
    cloudStepAttempts: request.cloudStepAttempts ?? RELEASE_DEFAULTS.cloudStepAttempts,
    ...(request.faultPlan ? { faultPlan: request.faultPlan } : {}),
    ...(request.manifest !== undefined ? { manifest: manifestOf(request)! } : {}),
    waiverDeadlineSeconds: request.waiverDeadlineSeconds ?? RELEASE_DEFAULTS.waiverDeadlineSeconds,
    taskQueues: {
      control: controlTaskQueue(prefix),
      clouds: Object.fromEntries(request.clouds.map((name) => [name, cloudTaskQueue(name, prefix)])),
    },
    requestHash: requestHash(request),
  };
}

function canarySettings(canary: NonNullable<CreateReleaseRequest['canary']>): CanarySettings {
  const settings: CanarySettings = {
    steps: canary.steps ?? [...RELEASE_DEFAULTS.steps],
    analysisIntervalSeconds: canary.analysisIntervalSeconds ?? RELEASE_DEFAULTS.analysisIntervalSeconds,
    maxErrorRate: canary.maxErrorRate ?? RELEASE_DEFAULTS.maxErrorRate,
    maxLatencyP99Ms: canary.maxLatencyP99Ms ?? RELEASE_DEFAULTS.maxLatencyP99Ms,
    maxLatencyRegression: canary.maxLatencyRegression ?? RELEASE_DEFAULTS.maxLatencyRegression,
    marginalRechecks: canary.marginalRechecks ?? RELEASE_DEFAULTS.marginalRechecks,
  };
  // The configuration that will judge the canary, with every default in place, goes into the input.
  settings.judge = structuredClone(canary.judge ?? judgeConfigFor(settings));
  if (canary.telemetry) settings.telemetry = structuredClone(canary.telemetry);
  return settings;
}
