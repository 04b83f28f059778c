// SIMULATION. Canary and baseline metrics for the zero-setup demo and benchmarks: a deterministic
// generator per release, cloud, step, re-check and track (the same query always gives the same
// numbers, so a retried activity sees what the first attempt saw), with the faults of the release's
// fault plan applied to the canary track.
//
// Each window holds SAMPLES samples per metric and track, as a Prometheus range query at a fixed step
// would: error_rate, latency_p99_ms, prediction_mean (the mean predicted probability) and restarts,
// plus HISTORY samples of the stable track before the window for the anomaly model. Both tracks of a
// healthy canary draw from one distribution (same traffic, same conditions, the same model quality);
// the levels change from window to window, the samples scatter around them.
import type { TelemetryFaultKind } from '../../domain/release.js';
import type { MetricSeries, TelemetryWindow, TrackMetrics } from '../../domain/status.js';
import type { LoadHistory, LoadHistoryQuery, TelemetryQuery, TelemetrySource } from './source.js';

/** Requests per second a cloud serves in the simulation, split between the tracks by weight. */
const TOTAL_REQUEST_RATE = 40;
/** Short analysis windows (tests use 0 s) still get a realistic sample. */
const MIN_WINDOW_SECONDS = 60;
/** Samples per metric and track in one window. */
export const SIMULATED_SAMPLES = 30;
/** Samples of the stable track's history before the window. */
export const SIMULATED_HISTORY = 120;

interface Levels {
  errorRate: number;
  latencyP99Ms: number;
  prediction: number;
}

export class SimulatedTelemetrySource implements TelemetrySource {
  readonly kind = 'simulated' as const;

  constructor(private readonly clock: () => Date = () => new Date()) {}

  collect(query: TelemetryQuery): Promise<TelemetryWindow> {
    const to = this.clock();
    const seconds = Math.max(query.windowSeconds, MIN_WINDOW_SECONDS);
    const stepSeconds = seconds / SIMULATED_SAMPLES;
    const from = new Date(to.getTime() - query.windowSeconds * 1000);
    const recheck = query.recheck ?? 0;
    const faults = (query.faultPlan?.telemetry ?? [])
      .filter(
        (fault) =>
          fault.cloud === query.cloud &&
          query.step >= (fault.fromStep ?? 0) &&
          !(fault.transient && recheck > 0),
      )
      .map((fault) => fault.kind);
    const seed = `${query.releaseId}|${query.cloud}|${query.step}${recheck > 0 ? `|recheck-${recheck}` : ''}`;
    const levels = windowLevels(seed);
    const canaryRate = (TOTAL_REQUEST_RATE * query.weight) / 100;
    // The stable track keeps a warm share even at 100 % canary, so there is always a baseline.
    const baselineRate = Math.max(
      (TOTAL_REQUEST_RATE * (100 - query.weight)) / 100,
      TOTAL_REQUEST_RATE * 0.05,
    );
    // A look into the interval sees its first samples: every look extends the previous one.
    const looks = Math.max(1, query.looks ?? 1);
    const look = Math.min(looks, Math.max(1, query.look ?? looks));
    const count = Math.max(1, Math.round((SIMULATED_SAMPLES * look) / looks));
    const prefix = (series: Record<string, number[]>) =>
      Object.fromEntries(Object.entries(series).map(([name, values]) => [name, values.slice(0, count)]));
    const canarySeries = prefix(
      withFaults(trackSeries(`${seed}|canary`, levels, SIMULATED_SAMPLES), faults, `${seed}|fault`),
    );
    const series: MetricSeries = { stepSeconds, canary: canarySeries, baseline: {} };
    const window: TelemetryWindow = {
      cloud: query.cloud,
      step: query.step,
      weight: query.weight,
      from: from.toISOString(),
      to: to.toISOString(),
      canary: summarise(canarySeries, faults.includes('crash-loop') ? canaryRate * 0.1 : canaryRate, seconds),
      series,
      ...(recheck > 0 ? { recheck } : {}),
    };
    if (query.stableVersion) {
      series.baseline = prefix(trackSeries(`${seed}|baseline`, levels, SIMULATED_SAMPLES));
      series.history = trackSeries(`${seed}|history`, levels, SIMULATED_HISTORY);
      window.baseline = summarise(series.baseline, baselineRate, seconds);
    }
    return Promise.resolve(window);
  }

  /**
   * SIMULATION of a cloud's request rate: a daily cycle (quietest at 03:00, busiest at 15:00 UTC, ±45 %
   * around TOTAL_REQUEST_RATE) with a weekly dip, a cloud-specific phase and multiplicative noise,
   * deterministic per cloud, model and time step.
   */
  loadHistory(query: LoadHistoryQuery): Promise<LoadHistory> {
    const end = Math.floor(this.clock().getTime() / 1000 / query.stepSeconds);
    const phase = seededRandom(`${query.cloud}|phase`)() * 2;
    const samples: number[] = [];
    for (let index = query.samples - 1; index >= 0; index--) {
      const step = end - index;
      const hours = ((step * query.stepSeconds) / 3600 + phase) % 168;
      const daily = Math.sin((2 * Math.PI * ((hours % 24) - 9)) / 24);
      const weekly = hours >= 120 ? 0.8 : 1;
      const noise = Math.exp(0.08 * gaussian(seededRandom(`${query.cloud}|${query.model}|${step}`))());
      samples.push(round(TOTAL_REQUEST_RATE * (1 + 0.45 * daily) * weekly * noise));
    }
    return Promise.resolve({
      cloud: query.cloud,
      samples,
      stepSeconds: query.stepSeconds,
      source: 'simulated',
    });
  }
}

/** The levels both tracks share in one window: narrow enough that healthy canaries pass. */
function windowLevels(seed: string): Levels {
  const random = seededRandom(`${seed}|levels`);
  const between = (low: number, high: number) => low + (high - low) * random();
  return {
    errorRate: between(0.001, 0.006),
    latencyP99Ms: between(105, 120) * between(2.8, 3.1),
    prediction: between(0.88, 0.93),
  };
}

function trackSeries(seed: string, levels: Levels, count: number): Record<string, number[]> {
  const normal = gaussian(seededRandom(seed));
  const series: Record<string, number[]> = {
    error_rate: [],
    latency_p99_ms: [],
    prediction_mean: [],
    restarts: [],
  };
  for (let index = 0; index < count; index++) {
    series.error_rate!.push(round(levels.errorRate * Math.exp(0.3 * normal())));
    series.latency_p99_ms!.push(round(levels.latencyP99Ms * Math.exp(0.05 * normal())));
    series.prediction_mean!.push(round(levels.prediction + 0.01 * normal()));
    series.restarts!.push(0);
  }
  return series;
}

function withFaults(
  series: Record<string, number[]>,
  faults: TelemetryFaultKind[],
  seed: string,
): Record<string, number[]> {
  const random = seededRandom(seed);
  const between = (low: number, high: number) => low + (high - low) * random();
  const result = Object.fromEntries(Object.entries(series).map(([name, values]) => [name, [...values]]));
  const scale = (name: string, factor: (value: number) => number) => {
    result[name] = result[name]!.map((value) => round(factor(value)));
  };
  for (const fault of faults) {
    switch (fault) {
      case 'error-spike': {
        const level = between(0.08, 0.15);
        scale('error_rate', (value) => value + level * between(0.8, 1.2));
        break;
      }
      case 'latency-regression': {
        const factor = between(3, 3.5);
        scale('latency_p99_ms', (value) => value * factor);
        break;
      }
      case 'latency-creep': {
        const factor = between(1.35, 1.5);
        scale('latency_p99_ms', (value) => value * factor);
        break;
      }
      case 'prediction-drift': {
        const drop = between(0.22, 0.3);
        scale('prediction_mean', (value) => value - drop);
        break;
      }
      case 'crash-loop':
        scale('error_rate', () => between(0.6, 0.9));
        scale('restarts', () => Math.floor(between(2, 7)));
        break;
      case 'no-data':
        for (const name of Object.keys(result)) result[name] = [];
        break;
    }
  }
  return result;
}

/** The window's track metrics for the status page, from its series. */
function summarise(series: Record<string, number[]>, rate: number, seconds: number): TrackMetrics {
  const mean = (values: readonly number[] | undefined) =>
    values && values.length > 0 ? round(values.reduce((sum, value) => sum + value, 0) / values.length) : 0;
  const empty = (series.error_rate ?? []).length === 0;
  const latency = mean(series.latency_p99_ms);
  return {
    requests: empty ? 0 : Math.round(rate * seconds),
    requestRate: empty ? 0 : rate,
    errorRate: mean(series.error_rate),
    // The simulation's p50 sits at about a third of its p99.
    latencyP50Ms: round(latency / 2.95),
    latencyP99Ms: latency,
    predictionConfidence: mean(series.prediction_mean),
  };
}

/** Standard normal deviates (Box-Muller) from a uniform generator. */
export function gaussian(random: () => number): () => number {
  return () => {
    const u = Math.max(random(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
}

function round(value: number): number {
  return Number(value.toPrecision(5));
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

/** mulberry32 mapped into the open interval (0, 1): never 0, so a logarithm of it is always finite. */
export function openUniform(seed: number): () => number {
  const next = mulberry32(seed);
  return () => (next() * 4294967296 + 1) / 4294967297;
}
