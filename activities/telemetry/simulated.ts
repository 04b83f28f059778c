// SIMULATION. Canary and baseline metrics for the zero-setup demo and benchmarks: a deterministic
// generator per release, cloud, step and track (the same query always gives the same numbers, so a
// retried activity sees what the first attempt saw), with the faults of the release's fault plan
// applied to the canary track.
import type { TelemetryFaultKind } from '../../domain/release.js';
import type { TelemetryWindow, TrackMetrics } from '../../domain/status.js';
import type { TelemetryQuery, TelemetrySource } from './source.js';

/** Requests per second a cloud serves in the simulation, split between the tracks by weight. */
const TOTAL_REQUEST_RATE = 40;
/** Short analysis windows (tests use 0 s) still get a realistic sample. */
const MIN_WINDOW_SECONDS = 60;

export class SimulatedTelemetrySource implements TelemetrySource {
  readonly kind = 'simulated' as const;

  constructor(private readonly clock: () => Date = () => new Date()) {}

  collect(query: TelemetryQuery): Promise<TelemetryWindow> {
    const to = this.clock();
    const seconds = Math.max(query.windowSeconds, MIN_WINDOW_SECONDS);
    const from = new Date(to.getTime() - query.windowSeconds * 1000);
    const faults = (query.faultPlan?.telemetry ?? [])
      .filter((fault) => fault.cloud === query.cloud && query.step >= (fault.fromStep ?? 0))
      .map((fault) => fault.kind);
    const seed = `${query.releaseId}|${query.cloud}|${query.step}`;
    const canaryRate = (TOTAL_REQUEST_RATE * query.weight) / 100;
    // The stable track keeps a warm share even at 100 % canary, so there is always a baseline.
    const baselineRate = Math.max(
      (TOTAL_REQUEST_RATE * (100 - query.weight)) / 100,
      TOTAL_REQUEST_RATE * 0.05,
    );
    const window: TelemetryWindow = {
      cloud: query.cloud,
      step: query.step,
      weight: query.weight,
      from: from.toISOString(),
      to: to.toISOString(),
      canary: withFaults(healthyTrack(`${seed}|canary`, canaryRate, seconds), faults, `${seed}|fault`),
    };
    if (query.stableVersion) window.baseline = healthyTrack(`${seed}|baseline`, baselineRate, seconds);
    return Promise.resolve(window);
  }
}

function healthyTrack(seed: string, rate: number, seconds: number): TrackMetrics {
  const random = seededRandom(seed);
  const between = (low: number, high: number) => low + (high - low) * random();
  // Healthy tracks share one distribution, narrow enough that a healthy canary never breaks the
  // judge's relative limits by chance (p99 ratio ≤ 1.27, confidence gap ≤ 0.05).
  const latencyP50Ms = between(105, 120);
  return {
    requests: Math.round(rate * seconds),
    requestRate: rate,
    errorRate: between(0.001, 0.006),
    latencyP50Ms,
    latencyP99Ms: latencyP50Ms * between(2.8, 3.1),
    predictionConfidence: between(0.88, 0.93),
  };
}

function withFaults(track: TrackMetrics, faults: TelemetryFaultKind[], seed: string): TrackMetrics {
  const random = seededRandom(seed);
  const between = (low: number, high: number) => low + (high - low) * random();
  const result = { ...track };
  for (const fault of faults) {
    switch (fault) {
      case 'error-spike':
        result.errorRate = between(0.08, 0.15);
        break;
      case 'latency-regression':
        result.latencyP50Ms *= between(1.8, 2.2);
        result.latencyP99Ms *= between(3, 3.5);
        break;
      case 'prediction-drift':
        result.predictionConfidence -= between(0.22, 0.3);
        break;
      case 'crash-loop':
        result.requests = Math.round(result.requests * 0.1);
        result.requestRate *= 0.1;
        result.errorRate = between(0.6, 0.9);
        break;
      case 'no-data':
        Object.assign(result, {
          requests: 0,
          requestRate: 0,
          errorRate: 0,
          latencyP50Ms: 0,
          latencyP99Ms: 0,
          predictionConfidence: 0,
        });
        break;
    }
  }
  return result;
}

/** mulberry32 over a 32-bit FNV-1a hash of the seed text: small, fast and reproducible. */
export function seededRandom(seed: string): () => number {
  let state = 0x811c9dc5;
  for (let index = 0; index < seed.length; index++) {
    state ^= seed.charCodeAt(index);
    state = Math.imul(state, 0x01000193) >>> 0;
  }
  return mulberry32(state);
}

/** mulberry32: a small, fast PRNG with uniforms in [0, 1), the same numbers on every machine. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}
