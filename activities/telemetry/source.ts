// The TelemetrySource: canary and baseline metrics of one cloud over one analysis window, behind
// one interface with a real implementation (prometheus.ts) and a simulated one (simulated.ts).
import type { FaultPlan, TelemetrySettings } from '../../domain/release.js';
import type { TelemetryWindow } from '../../domain/status.js';

export interface TelemetryQuery {
  releaseId: string;
  cloud: string;
  model: { name: string; version: string };
  /** The stable version serving the rest of the traffic; absent on a model's first release. */
  stableVersion?: string;
  step: number;
  weight: number;
  windowSeconds: number;
  /** 0 (or absent) for a step's first analysis, n for its n-th re-check: a fresh window. */
  recheck?: number;
  faultPlan?: FaultPlan;
  /** The metrics the release's judge reads; absent: those of the default judge configuration. */
  metrics?: string[];
  /** The release's query settings (prometheus). */
  settings?: TelemetrySettings;
  /** Cancels the collection (the activity's cancellation). */
  signal?: AbortSignal;
  /**
   * Look `look` of `looks` into the interval (sequential analysis): the window so far. The simulated
   * source returns the first look/looks of the interval's samples, so later looks extend earlier ones.
   */
  look?: number;
  looks?: number;
}

/** The request rate a cloud served a model, for the load forecaster (predictive scaling, risk). */
export interface LoadHistoryQuery {
  cloud: string;
  model: string;
  /** Samples wanted, oldest first, ending now. */
  samples: number;
  stepSeconds: number;
  signal?: AbortSignal;
}

export interface LoadHistory {
  cloud: string;
  /** Requests per second, one per step, oldest first; NaN where nothing was measured. */
  samples: number[];
  stepSeconds: number;
  /** Where it came from; 'unavailable' with the reason when the source could not answer. */
  source: 'simulated' | 'prometheus' | 'unavailable';
  error?: string;
}

export interface TelemetrySource {
  readonly kind: 'simulated' | 'prometheus';
  collect(query: TelemetryQuery): Promise<TelemetryWindow>;
  /** The model's total request rate in this cloud over the recent past (both tracks together). */
  loadHistory(query: LoadHistoryQuery): Promise<LoadHistory>;
}
