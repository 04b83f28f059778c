// How many replicas a model needs in a cloud, three policies that decide it sample by sample, and a
// simulator that scores them on a request-rate series. Pure: no TensorFlow.js here (the predictive
// policy is handed its forecast by the caller; ml/forecast/forecaster.ts makes one).
//
// The simulated world: one load value per sample (a fixed period, `stepMinutes`), a Deployment whose
// replicas each serve `capacityPerReplica` of load at 100 % utilisation. At each sample t a policy
// sees that sample's load (and, through its own state, the ones before it: it is fed one sample at a
// time and never sees a later one) and decides the replicas it wants; the decision is in force from
// sample t + `startupSamples` (the decision lag plus pod start-up), and until then the one before it.
// Scored from sample `warmupSamples` on (the prefix trains the forecaster and sizes the static policy,
// and is excluded for every policy alike):
//  - a sample is under-provisioned when its load exceeds the replicas in force × capacityPerReplica;
//    underProvisionedMinutes = their count × stepMinutes;
//  - replicaMinutes = Σ replicas in force × stepMinutes (what the capacity costs);
//  - peakReplicas, and changes = samples whose replicas in force differ from the sample before.
//
// Policies:
//  - static: replicasFor(max of the warm-up prefix × headroom) at 100 % utilisation, fixed from the
//    end of the warm-up: what a team provisions for the peak it has seen;
//  - reactive: the Kubernetes HorizontalPodAutoscaler's algorithm on a utilisation metric. The
//    recommendation is ceil(load / (capacity × target)), unless the utilisation ratio
//    (load / (replicas × capacity)) / target is within `tolerance` of 1 (then the replicas stay);
//    scaling up takes the recommendation at once, scaling down takes the highest recommendation of
//    the stabilisation window (the samples t − ⌊window / step⌋ … t), as the HPA's default behaviour.
//    It only sees load that has happened, so it follows a rise one decision plus the start-up late;
//  - predictive: replicasFor(forecast peak over the next horizon) at its own, hotter, target
//    utilisation (it sees a rise coming, so it needs less headroom), never below what the reactive
//    recommendation is for the current load (a floor at the reactive target, so a missed forecast is
//    never worse than reacting), within [min, max].
//
// Units: capacityFromWarmup makes a replica's capacity a quarter of the warm-up prefix's median load
// (a typical load needs about 4–6 replicas at the usual targets), so any series, in any unit, gets
// realistic replica counts.

/** What one replica serves and the bounds on the replica count. */
export interface ReplicaBounds {
  /** Load one replica serves at 100 % utilisation, in the series' unit (> 0). */
  capacityPerReplica: number;
  /** Share of a replica's capacity a policy aims to use, in (0, 1]. */
  targetUtilisation: number;
  /** Integer ≥ 0. */
  minReplicas: number;
  /** Integer ≥ minReplicas and ≥ 1. */
  maxReplicas: number;
}

/** The simulated world shared by every policy of one series. */
export interface ScalingSettings {
  capacityPerReplica: number;
  minReplicas: number;
  maxReplicas: number;
  /** Minutes between samples (5 for NAB). */
  stepMinutes: number;
  /** Samples from a decision to the replicas being in force (integer ≥ 0; 1: the next sample). */
  startupSamples: number;
  /** Samples at the start that train the policies and are not scored (integer ≥ 0). */
  warmupSamples: number;
}

export const SCALING_DEFAULTS: Omit<ScalingSettings, 'capacityPerReplica' | 'warmupSamples'> = {
  minReplicas: 2,
  maxReplicas: 64,
  stepMinutes: 5,
  startupSamples: 1,
};

/**
 * A policy fed one sample at a time, in order: the load observed at sample t, and t. It returns the
 * replicas it wants (an integer within the settings' bounds), in force from t + startupSamples.
 */
export type Decide = (load: number, t: number) => number | Promise<number>;

/** What a policy cost and missed over the scored samples. */
export interface ProvisioningScore {
  underProvisionedMinutes: number;
  replicaMinutes: number;
  peakReplicas: number;
  changes: number;
  /** Replicas in force at every sample of the series, the warm-up included. */
  replicas: number[];
}

function check(condition: boolean, field: string, rule: string, value: unknown): void {
  if (!condition) throw new RangeError(`${field} must be ${rule} (got ${String(value)})`);
}

function checkBounds(bounds: Omit<ReplicaBounds, 'targetUtilisation'>): void {
  check(
    Number.isFinite(bounds.capacityPerReplica) && bounds.capacityPerReplica > 0,
    'capacityPerReplica',
    'a number > 0',
    bounds.capacityPerReplica,
  );
  check(
    Number.isInteger(bounds.minReplicas) && bounds.minReplicas >= 0,
    'minReplicas',
    'an integer ≥ 0',
    bounds.minReplicas,
  );
  check(
    Number.isInteger(bounds.maxReplicas) && bounds.maxReplicas >= Math.max(1, bounds.minReplicas),
    'maxReplicas',
    'an integer ≥ minReplicas and ≥ 1',
    bounds.maxReplicas,
  );
}

function checkUtilisation(field: string, value: number): void {
  check(Number.isFinite(value) && value > 0 && value <= 1, field, 'in (0, 1]', value);
}

/** Throws a RangeError naming the first field of `settings` that is out of its range. */
export function validateScalingSettings(settings: ScalingSettings): void {
  checkBounds(settings);
  check(
    Number.isFinite(settings.stepMinutes) && settings.stepMinutes > 0,
    'stepMinutes',
    'a number > 0',
    settings.stepMinutes,
  );
  check(
    Number.isInteger(settings.startupSamples) && settings.startupSamples >= 0,
    'startupSamples',
    'an integer ≥ 0',
    settings.startupSamples,
  );
  check(
    Number.isInteger(settings.warmupSamples) && settings.warmupSamples >= 0,
    'warmupSamples',
    'an integer ≥ 0',
    settings.warmupSamples,
  );
}

/**
 * Replicas that serve `load` at the target utilisation: clamp(ceil(load / (capacityPerReplica ×
 * targetUtilisation)), minReplicas, maxReplicas). A negative load counts as 0; throws a RangeError
 * naming the field for a non-finite load or bounds out of range.
 */
export function replicasFor(load: number, bounds: ReplicaBounds): number {
  check(Number.isFinite(load), 'load', 'a finite number', load);
  checkBounds(bounds);
  checkUtilisation('targetUtilisation', bounds.targetUtilisation);
  // The small tolerance keeps a load of exactly k replicas' worth at k despite floating-point error.
  const needed = Math.ceil(Math.max(0, load) / (bounds.capacityPerReplica * bounds.targetUtilisation) - 1e-9);
  return Math.min(bounds.maxReplicas, Math.max(bounds.minReplicas, needed));
}

/**
 * A replica's capacity for a series: the `quantile` (default the median) of its warm-up prefix divided
 * by `typicalReplicas` (default 4), so a typical load needs about that many replicas at 100 %
 * utilisation (4–6 at the policies' targets). When that quantile is 0 (a mostly idle series) the
 * prefix's mean stands in, and 1 when the prefix is all zeros.
 */
export function capacityFromWarmup(warmup: readonly number[], quantile = 0.5, typicalReplicas = 4): number {
  check(warmup.length > 0, 'warmup', 'non-empty', warmup.length);
  check(quantile >= 0 && quantile <= 1, 'quantile', 'in [0, 1]', quantile);
  check(typicalReplicas > 0, 'typicalReplicas', '> 0', typicalReplicas);
  const sorted = [...warmup].sort((a, b) => a - b);
  const typical = sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))]!;
  const mean = warmup.reduce((sum, value) => sum + value, 0) / warmup.length;
  const load = typical > 0 ? typical : mean > 0 ? mean : typicalReplicas;
  return load / typicalReplicas;
}

/**
 * Runs `decide` over `series` (fed one sample at a time, so it cannot look ahead) and scores the
 * replicas in force from sample warmupSamples on (see the file comment). Before the first decision
 * is in force, minReplicas are. Throws a RangeError when a decision is not an integer within
 * [minReplicas, maxReplicas].
 */
export async function simulateProvisioning(
  series: readonly number[],
  decide: Decide,
  settings: ScalingSettings,
): Promise<ProvisioningScore> {
  validateScalingSettings(settings);
  const { capacityPerReplica, stepMinutes, startupSamples, warmupSamples } = settings;
  const decisions: number[] = [];
  const replicas: number[] = [];
  let underProvisioned = 0;
  let replicaSamples = 0;
  let peakReplicas = 0;
  let changes = 0;
  for (let t = 0; t < series.length; t += 1) {
    const load = series[t]!;
    const decision = await decide(load, t);
    check(
      Number.isInteger(decision) && decision >= settings.minReplicas && decision <= settings.maxReplicas,
      `the decision at sample ${t}`,
      `an integer in [${settings.minReplicas}, ${settings.maxReplicas}]`,
      decision,
    );
    decisions.push(decision);
    const inForce = t >= startupSamples ? decisions[t - startupSamples]! : settings.minReplicas;
    replicas.push(inForce);
    if (t < warmupSamples) continue;
    if (load > inForce * capacityPerReplica) underProvisioned += 1;
    replicaSamples += inForce;
    peakReplicas = Math.max(peakReplicas, inForce);
    if (t > warmupSamples && inForce !== replicas[t - 1]) changes += 1;
  }
  return {
    underProvisionedMinutes: underProvisioned * stepMinutes,
    replicaMinutes: replicaSamples * stepMinutes,
    peakReplicas,
    changes,
    replicas,
  };
}

// ---- policies --------------------------------------------------------------------------------------

export interface StaticOptions {
  /** Factor on the highest load of the warm-up prefix (≥ 1), sized at 100 % utilisation. */
  headroom: number;
}

export const STATIC_DEFAULTS: StaticOptions = { headroom: 1.2 };

/**
 * The static policy: during the warm-up, replicas for the highest load so far × headroom; from the
 * last warm-up sample on, fixed at replicas for the warm-up's highest load × headroom.
 */
export function staticPolicy(settings: ScalingSettings, options: Partial<StaticOptions> = {}): Decide {
  validateScalingSettings(settings);
  const { headroom } = { ...STATIC_DEFAULTS, ...options };
  check(Number.isFinite(headroom) && headroom >= 1, 'headroom', 'a number ≥ 1', headroom);
  let highest = 0;
  return (load, t) => {
    if (t < settings.warmupSamples) highest = Math.max(highest, load);
    return replicasFor(highest * headroom, { ...settings, targetUtilisation: 1 });
  };
}

export interface ReactiveOptions {
  /** The HPA's target utilisation, in (0, 1]. */
  targetUtilisation: number;
  /** No change while |utilisation / target − 1| is at most this (the HPA's default 0.1). */
  tolerance: number;
  /** Scale-down stabilisation window in minutes (300 s in the HPA's default behaviour). */
  stabilisationMinutes: number;
}

export const REACTIVE_DEFAULTS: ReactiveOptions = {
  targetUtilisation: 0.7,
  tolerance: 0.1,
  stabilisationMinutes: 5,
};

/** The reactive policy: the Kubernetes HPA's algorithm on the load just observed (file comment). */
export function reactivePolicy(settings: ScalingSettings, options: Partial<ReactiveOptions> = {}): Decide {
  validateScalingSettings(settings);
  const o = { ...REACTIVE_DEFAULTS, ...options };
  checkUtilisation('targetUtilisation', o.targetUtilisation);
  check(o.tolerance >= 0 && o.tolerance < 1, 'tolerance', 'in [0, 1)', o.tolerance);
  check(o.stabilisationMinutes >= 0, 'stabilisationMinutes', '≥ 0', o.stabilisationMinutes);
  const window = Math.floor(o.stabilisationMinutes / settings.stepMinutes) + 1;
  const bounds: ReplicaBounds = { ...settings, targetUtilisation: o.targetUtilisation };
  const recommendations: number[] = [];
  let current = settings.minReplicas;
  return (load) => {
    const ratio =
      Math.max(0, load) / (Math.max(current, 1) * settings.capacityPerReplica * o.targetUtilisation);
    const recommendation = Math.abs(ratio - 1) <= o.tolerance ? current : replicasFor(load, bounds);
    recommendations.push(recommendation);
    if (recommendations.length > window) recommendations.shift();
    if (recommendation > current) current = recommendation;
    else current = Math.min(current, Math.max(...recommendations));
    return current;
  };
}

export interface PredictiveOptions {
  /** Target utilisation of the forecast peak, in (0, 1]; hotter than the reactive one. */
  targetUtilisation: number;
  /** Target utilisation of the floor on the current load: the reactive policy's. */
  floorUtilisation: number;
}

export const PREDICTIVE_DEFAULTS: PredictiveOptions = { targetUtilisation: 0.9, floorUtilisation: 0.7 };

/**
 * The predictive policy: `forecast(load, t)` is told each sample in turn and returns the forecast
 * peak load over the next horizon (which should reach at least startupSamples ahead); the replicas
 * serve it at targetUtilisation, and never fewer than the current load needs at floorUtilisation.
 */
export function predictivePolicy(
  settings: ScalingSettings,
  forecast: (load: number, t: number) => number | Promise<number>,
  options: Partial<PredictiveOptions> = {},
): Decide {
  validateScalingSettings(settings);
  const o = { ...PREDICTIVE_DEFAULTS, ...options };
  checkUtilisation('targetUtilisation', o.targetUtilisation);
  checkUtilisation('floorUtilisation', o.floorUtilisation);
  return async (load, t) => {
    const peak = await forecast(load, t);
    return predictiveReplicas(peak, load, settings, o);
  };
}

/**
 * max(replicas for `forecastPeak` at targetUtilisation, replicas for `currentLoad` at
 * floorUtilisation), within [minReplicas, maxReplicas]: the predictive policy's decision.
 */
export function predictiveReplicas(
  forecastPeak: number,
  currentLoad: number,
  bounds: Omit<ReplicaBounds, 'targetUtilisation'>,
  options: PredictiveOptions = PREDICTIVE_DEFAULTS,
): number {
  return Math.max(
    replicasFor(forecastPeak, { ...bounds, targetUtilisation: options.targetUtilisation }),
    replicasFor(currentLoad, { ...bounds, targetUtilisation: options.floorUtilisation }),
  );
}
