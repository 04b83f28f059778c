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
}

export interface TelemetrySource {
  readonly kind: 'simulated' | 'prometheus';
  collect(query: TelemetryQuery): Promise<TelemetryWindow>;
}
