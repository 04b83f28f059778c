// What a release reports about itself (the status query), and the records it is built from.
import type { ComplianceReport, Waiver } from './compliance.js';
import type { RiskFeatures, RiskModelInfo, RiskReason } from '../ml/risk/model.js';
import type { CanaryPlan } from './pacing.js';
import type { Person, Stage, TerminalStage } from './release.js';

/** Aggregated telemetry of one track (stable or canary) over one analysis window. */
export interface TrackMetrics {
  /** Requests observed in the window; 0 means no data. */
  requests: number;
  requestRate: number;
  errorRate: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  predictionConfidence: number;
}

/**
 * Per-metric sample series of one analysis window (metric names as in the judge's configuration,
 * e.g. error_rate, latency_p99_ms, prediction_mean, restarts). A missing metric, an empty series or
 * NaN samples mean no data; they are never zero.
 */
export interface MetricSeries {
  /** Seconds between consecutive samples. */
  stepSeconds: number;
  canary: Record<string, number[]>;
  /** The stable track over the same window; absent (or empty) on a model's first release in a cloud. */
  baseline: Record<string, number[]>;
  /** The stable track before the window, oldest first: what the anomaly model learns as normal. */
  history?: Record<string, number[]>;
}

export interface TelemetryWindow {
  cloud: string;
  step: number;
  weight: number;
  from: string;
  to: string;
  canary: TrackMetrics;
  /** Absent on the first release of a model in a cloud: nothing to compare against. */
  baseline?: TrackMetrics;
  /** The samples the canary judge compares; absent in windows collected before it existed. */
  series?: MetricSeries;
  /** 0 for a step's first analysis, n for its n-th re-check after a marginal verdict. */
  recheck?: number;
  /** Where the samples came from and how: every query with a summary of its result (prometheus). */
  telemetry?: TelemetryRecord;
}

/** One query a telemetry source ran for a window, and what came back. */
export interface TelemetryQueryRecord {
  /** The judge's metric name, or the status field (e.g. status.errorRate). */
  metric: string;
  track: 'canary' | 'baseline' | 'history';
  kind: 'range' | 'instant';
  query: string;
  outcome: 'ok' | 'empty' | 'error';
  /** Finite samples returned (range queries: of every series, summed). */
  samples: number;
  /** NaN or infinite samples returned: no data, never zero. */
  nonFinite: number;
  attempts: number;
  durationMs: number;
  error?: string;
}

export interface TelemetryRecord {
  source: 'simulated' | 'prometheus';
  /** The source's address (no credentials). */
  url?: string;
  /** Metrics whose query failed after its retries: unknown, not absent; the judge holds rather than passes. */
  unavailable?: string[];
  queries: TelemetryQueryRecord[];
}

export type Decision = 'pass' | 'marginal' | 'fail';

export interface VerdictReason {
  metric: string;
  rule: string;
  observed: number | null;
  limit: number | null;
  passed: boolean;
  /** The canary judge's finding for the metric ('nodata': not judged, counts as not passing). */
  outcome?: 'pass' | 'fail' | 'nodata';
  /** The baseline's value of the compared statistic. */
  baseline?: number | null;
  /** Mann-Whitney p-value in the metric's bad direction. */
  pValue?: number;
  /** Hodges-Lehmann shift of the canary relative to the baseline median (0.3 = +30 %). */
  shift?: number;
  /** Rank-biserial effect size in [-1, 1]. */
  effectSize?: number;
  /** Canary samples the anomaly model scored at or above its threshold, of those scored. */
  anomalies?: { hits: number; scored: number; maxScore: number };
  /** The metric's finding in one line, with the numbers. */
  summary?: string;
}

export interface Verdict {
  judge: string;
  passed: boolean;
  /** pass, marginal (hold the weight and re-check) or fail; absent in verdicts of older releases. */
  decision?: Decision;
  /** The canary judge's weighted share of passing metrics, 0..1. */
  score?: number;
  /** One line a clinician can read: which rule decided, with the numbers. */
  summary: string;
  reasons: VerdictReason[];
}

export interface StepVerdict {
  step: number;
  weight: number;
  at: string;
  passed: boolean;
  /** The worst decision of the step's verdicts; absent in verdicts of older releases (pass or fail by `passed`). */
  decision?: Decision;
  /** 0 for a step's first analysis, n for its n-th re-check. */
  recheck?: number;
  verdicts: Verdict[];
  /** The telemetry's queries and their outcome, so that a verdict can be explained (prometheus). */
  telemetry?: TelemetryRecord;
  /** The step concluded before its interval was over: at which look, and the sequential test's finding. */
  early?: { look: number; looks: number; reason: string };
}

/** The risk model's assessment of a release and the canary plan chosen from it. */
export interface PacingStatus {
  mode: 'adaptive' | 'fixed';
  risk: {
    probability: number;
    features: RiskFeatures;
    /** Largest contributions first. */
    reasons: RiskReason[];
    model: Pick<RiskModelInfo, 'source' | 'trainedOn' | 'bad' | 'digest'>;
  };
  /** Where the plan sits between the fastest (0) and the most careful (1) plan of the policy; null for a fixed plan. */
  position: number | null;
  /** The pilot wave's plan (every wave's when there is one wave, or the plan is fixed). */
  plan: CanaryPlan;
  /** Why this plan, in sentences. */
  why: string[];
  /** Adaptive plans of releases with more than one wave: the later waves', for the risk once the pilot has passed. */
  laterWaves?: { risk: number; plan: CanaryPlan; why: string[] };
  /** The traffic history each cloud supplied (for trafficLoad). */
  traffic: Record<string, { samples: number; source: string; error?: string }>;
  assessedAt: string;
}

/** The capacity the release set in a cloud ahead of a step (predictive scaling). */
export interface CapacityDecision {
  step: number;
  replicas: number;
  /** Forecast peak request rate over the horizon (requests/s), and the reactive figure for the current load. */
  forecastPeak: number;
  reactiveReplicas: number;
  /** true when the history was too short to forecast and the recent peak stood in. */
  fallback: boolean;
  at: string;
}

/** `restore-failed`: the cloud refused its restore (e.g. 403): it needs a person; the reason says why. */
export type CloudState =
  'pending' | 'deploying' | 'canary' | 'passed' | 'promoted' | 'failed' | 'rolled-back' | 'restore-failed';

export interface CloudStatus {
  cloud: string;
  wave: number;
  state: CloudState;
  step: number | null;
  weight: number;
  lastVerdict?: StepVerdict;
  /** The latest capacity predictive scaling set in this cloud. */
  capacity?: CapacityDecision;
  updatedAt: string;
}

export interface SignoffRecord {
  approver: Pick<Person, 'id' | 'name'>;
  decision: 'approve' | 'reject';
  comment: string;
  at: string;
  via: 'update' | 'signal';
}

export interface RefusedSignoff {
  claimedBy: string;
  at: string;
  via: 'update' | 'signal';
  code: string;
  reason: string;
}

export interface OperatorAction {
  action: 'pause' | 'resume' | 'abort' | 'rollback';
  by: string;
  reason: string;
  at: string;
  via: 'update' | 'signal';
}

export type { ComplianceReport } from './compliance.js';

export interface StagingReport {
  deployedAt: string;
  smokeTestPassed: boolean;
  metrics: Record<string, number>;
  baseline: Record<string, number>;
}

export interface TimelineEvent {
  at: string;
  stage: Stage;
  event: string;
  cloud?: string;
}

export interface ReleaseStatus {
  releaseId: string;
  model: { name: string; version: string; image: string };
  requestedBy: Pick<Person, 'id' | 'name'>;
  requestedAt: string;
  stage: Stage;
  outcome?: TerminalStage;
  /** Why the release ended as it did (a stable code and a sentence), when it is not `completed`. */
  reason?: { code: string; message: string };
  paused: boolean;
  waves: string[][];
  clouds: Record<string, CloudStatus>;
  staging?: StagingReport;
  compliance?: ComplianceReport;
  /** The predicted risk and the canary plan it chose (releases created before pacing existed: absent). */
  pacing?: PacingStatus;
  /** Waivers of failed major controls submitted in the compliance stage (re-checked at each evaluation). */
  waivers?: Waiver[];
  signoff: {
    quorum: number;
    deadline?: string;
    approvals: SignoffRecord[];
    rejections: SignoffRecord[];
    refused: RefusedSignoff[];
  };
  operatorActions: OperatorAction[];
  warmUntil?: string;
  timeline: TimelineEvent[];
  updatedAt: string;
}
