// The TelemetrySource: canary and baseline metrics of one cloud over one analysis window, behind
// one interface with a real implementation (prometheus, a later issue) and a simulated one.
import type { FaultPlan } from '../../domain/release.js';
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
}

export interface TelemetrySource {
  readonly kind: 'simulated' | 'prometheus';
  collect(query: TelemetryQuery): Promise<TelemetryWindow>;
}
