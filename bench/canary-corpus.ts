// The corpus and the rules of bench:canary (bench/canary.ts), pure and seeded: canary releases built
// from real series in the layout of the Numenta Anomaly Benchmark (NAB), the step plan a release
// workflow runs them through, and the threshold-only judge the project's judge is compared with.
//
// A release is one NAB series (file and offset chosen by the seed) seen as the telemetry of a model
// server. Every sample series of a release comes in three parts:
//
//   history  the stable version's `historySamples` samples (288 = one day of 5-minute rows) before
//            the canary: what the anomaly model is fitted on, what the threshold judge's limits are
//            read from, and where the baseline samples come from;
//   (gap)    `gap` rows of the series that nobody sees (see "The gap" below);
//   canary   `canaryIntervals` analysis intervals of `intervalSamples` samples each (12 × 24): enough
//            for every step of the plan and all of its re-checks.
//
// The baseline. NAB has one series per file, not a stable and a canary track side by side, so the
// samples a judge compares canary interval k with stand in for a concurrent baseline (baselineOf). By
// default ('season') they are the `baselineSamples` (48) history samples at the time of day of the
// interval's samples (centred on them) from the history's last day: the stable version at that hour
// the day before. A concurrent baseline shares the time of day with the canary; the history's last
// samples ('tail') do not, and on the daily-seasonal series a canary hours later differs from them
// for no fault at all: with 'tail', 14 % of good releases were rolled back by the Mann-Whitney-only
// judge (0.6 % with 'season'), while bad releases were stopped as often (figures in bench/canary.ts).
//
// Metrics, as the release judge sees them (names of DEFAULT_JUDGE_CONFIG):
//  - latency_p99_ms: the real series, mapped onto a latency: base × (1 + (value − p5) / (p95 − p5)),
//    p5 and p95 of the history's values (of the whole series if the history is flat). It is affine,
//    so the real series' shape, noise, seasons, bursts and level shifts are what the judges see (and
//    relative shifts do not depend on the base), in a unit where the 800 ms hard limit means the same
//    for every file (some NAB series sit at 0, some are negative, some count bytes). The base is drawn
//    in [150, 300] ms and lowered where needed so that the history's highest sample maps to at most
//    600 ms (HISTORY_PEAK_MS): the operator's hard limit lies above anything the stable version did
//    (without this, a third of the bursty series' good canaries broke the limit as their history
//    did). Latencies stay above base / 20;
//  - error_rate: level × exp(0.3 · N(0, 1)), level drawn per release in [0.001, 0.006]; and
//    prediction_mean (the mean predicted probability): level + 0.02 · N(0, 1), level in [0.2, 0.6];
//    restarts: 0. Synthesised as activities/telemetry/simulated.ts does, stationary within a release
//    and with the same level in history and canary (a good release's canary is the stable version's
//    twin); their noise does not depend on the canary's traffic weight.
//
// Release kinds (counts fixed by releaseKinds: half good; a third of the bad ones nab, the rest split
// evenly among the five synthetic kinds; the order is seeded):
//  - good: history, gap and canary from normal data: no row in a labelled window or on a labelled
//    point (NAB's own labels; some NAB series have unlabelled bursts, which good canaries can hold).
//    The series is drawn uniformly among those with such a stretch, the offset uniformly among them;
//  - nab: a bad release whose canary holds a labelled NAB anomaly. Its onset (the labelled point of
//    combined_labels.json inside the window, or the window's middle when there is none) falls in the
//    canary's first interval, at an offset drawn uniformly: a bad version is bad from the moment it
//    serves. The history ends where the window starts, so no sample of the window is normal to
//    anyone; the rows from the window's start to the canary's start are the gap. A window qualifies
//    when `historySamples` rows free of every window and labelled point precede it and the series
//    runs on for the whole canary after the onset (32 of the 36 windows of the shared subset);
//  - synthetic faults over normal data chosen as for a good release, present from the canary's
//    first sample:
//      latency-step      latency_p99_ms × f, f in [1.3, 2];
//      error-spike       error_rate's level raised by d, d in [0.01, 0.05] (1 to 5 points);
//      slow-drift        latency_p99_ms × (1 + r · t / intervalSamples), t the canary sample index,
//                        r in [0.15, 0.5]: +15 to +50 % per interval, the latency step's range by the
//                        end of the second interval, and still climbing (a leak);
//      prediction-shift  prediction_mean's level × (1 ± s), s in [0.12, 0.35], either way;
//      no-data           every canary series empty (the canary serves nothing or is not scraped).
//
// The gap. A labelled window starts well before its anomaly (NAB centres windows on the label), so a
// nab release's history ends about half a window before its canary (44 to 236 rows, 113 on average,
// with seed 1). Were good releases' canaries right after their history, the mere age of the baseline
// would set bad releases apart. Every release therefore has a gap drawn from the same distribution:
// that of the nab releases (a qualifying window and offset drawn at random).
//
// Judges never see a label, a kind or a row number: only samples (and the anomaly model's scores).
import {
  DEFAULT_JUDGE_CONFIG,
  type HardStatistic,
  type JudgeConfig,
  type MetricConfig,
} from '../activities/analysis/canary-judge.js';
import { gaussian, seededRandom } from '../activities/telemetry/simulated.js';

export const METRICS = ['error_rate', 'latency_p99_ms', 'prediction_mean', 'restarts'] as const;
export type MetricName = (typeof METRICS)[number];
/** Per metric, a series of samples (oldest first). */
export type Track = Record<MetricName, number[]>;

export const FAULT_KINDS = [
  'nab',
  'latency-step',
  'error-spike',
  'slow-drift',
  'prediction-shift',
  'no-data',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type ReleaseKind = 'good' | FaultKind;

export type Decision = 'pass' | 'marginal' | 'fail';

/** A NAB series with its labels as rows (0-based): what the corpus is built from. */
export interface SourceSeries {
  /** "<category>/<file>.csv". */
  readonly name: string;
  readonly values: readonly number[];
  /** Labelled anomaly windows, inclusive row ranges. */
  readonly windows: readonly { readonly left: number; readonly right: number }[];
  /** Rows of the labelled anomaly points (combined_labels.json); may be empty. */
  readonly labels: readonly number[];
  /** Rows per day (288 for 5-minute samples); needed by the 'season' baseline. */
  readonly period?: number;
}

export interface CorpusSettings {
  /** Samples per analysis interval; at least the judge's minSamples (20). */
  intervalSamples: number;
  /** Samples of the stable version's history before the canary (the anomaly model needs ≥ 64). */
  historySamples: number;
  /** Samples that stand for the baseline track in each interval (see baselineOf). */
  baselineSamples: number;
  /** Which history samples: the last ones ('tail') or those at the interval's time of day ('season'). */
  baselineMode: 'tail' | 'season';
  /** Intervals of canary data per release: the step plan's steps × (1 + re-checks). */
  canaryIntervals: number;
  /** Share of good releases. */
  goodShare: number;
  /** Share of the bad releases that are nab releases; the rest split evenly among the synthetic kinds. */
  nabShare: number;
}

/** The release workflow's plan: one analysis interval per step, a marginal verdict re-checked. */
export interface StepPlan {
  /** Canary traffic share of each step, in percent. */
  readonly weights: readonly number[];
  /** Re-checks of a step after a marginal verdict; still marginal after the last one is a failure. */
  readonly maxRechecks: number;
}

export const STEP_PLAN: StepPlan = { weights: [5, 25, 50, 100], maxRechecks: 2 };

/** The most intervals a release can be judged on under a plan. */
export function planIntervals(plan: StepPlan = STEP_PLAN): number {
  return plan.weights.length * (1 + plan.maxRechecks);
}

export const DEFAULT_CORPUS_SETTINGS: CorpusSettings = {
  intervalSamples: 24,
  historySamples: 288,
  baselineSamples: 48,
  baselineMode: 'season',
  canaryIntervals: planIntervals(),
  goodShare: 0.5,
  nabShare: 1 / 3,
};

/** Where in its series a nab release's anomaly lies, and the window around it. */
export interface AnomalyTemplate {
  /** Index of the series in the sources. */
  readonly source: number;
  readonly left: number;
  readonly right: number;
  /** The labelled point inside the window, or the window's middle. */
  readonly onset: number;
}

export interface ReleaseParameters {
  baseLatencyMs: number;
  errorLevel: number;
  predictionLevel: number;
  /** latency-step: the factor on latency. */
  latencyFactor?: number;
  /** error-spike: the rise of the error rate's level. */
  errorRise?: number;
  /** slow-drift: the relative latency rise per interval. */
  driftPerInterval?: number;
  /** prediction-shift: the relative shift of the mean prediction, signed. */
  predictionShift?: number;
}

export interface CanaryRelease {
  id: number;
  kind: ReleaseKind;
  /** The series behind latency_p99_ms (and, for nab, the anomaly). */
  file: string;
  /** Row of the history's first sample. */
  historyStart: number;
  /** Row of the canary's first sample. */
  canaryStart: number;
  /** Rows between the history's end and the canary's start. */
  gap: number;
  /** nab: row of the anomaly's onset (in the canary's first interval). */
  onsetRow?: number;
  /** Index of the first canary interval that holds the fault; undefined for a good release. */
  faultInterval?: number;
  /** Rows per day of the series, when known. */
  period?: number;
  parameters: ReleaseParameters;
  history: Track;
  /** canaryIntervals × intervalSamples samples per metric; empty series for no-data. */
  canary: Track;
}

/** Problems of corpus settings (empty when valid). */
export function validateCorpusSettings(settings: CorpusSettings): string[] {
  const problems: string[] = [];
  const integer = (
    name: 'intervalSamples' | 'historySamples' | 'baselineSamples' | 'canaryIntervals',
    min: number,
  ) => {
    const value = settings[name];
    if (!Number.isInteger(value) || value < min) problems.push(`${name} must be an integer ≥ ${min}`);
  };
  integer('intervalSamples', 20);
  integer('historySamples', 64);
  integer('baselineSamples', 20);
  integer('canaryIntervals', 1);
  if (settings.baselineSamples > settings.historySamples) {
    problems.push('baselineSamples must not exceed historySamples');
  }
  if (settings.baselineMode !== 'tail' && settings.baselineMode !== 'season') {
    problems.push(`baselineMode must be 'tail' or 'season'`);
  }
  for (const name of ['goodShare', 'nabShare'] as const) {
    const value = settings[name];
    if (!(value >= 0 && value <= 1)) problems.push(`${name} must lie in [0, 1]`);
  }
  return problems;
}

/**
 * The kinds of `count` releases in a seeded order: round(count × goodShare) good ones, of the bad
 * ones round(bad × nabShare) nab releases and the rest split evenly among the synthetic kinds (the
 * first kinds of FAULT_KINDS take the remainder).
 */
export function releaseKinds(count: number, settings: CorpusSettings, seed: number): ReleaseKind[] {
  const good = Math.round(count * settings.goodShare);
  const bad = count - good;
  const nab = Math.round(bad * settings.nabShare);
  const synthetic = FAULT_KINDS.filter((kind) => kind !== 'nab');
  const kinds: ReleaseKind[] = [
    ...Array<ReleaseKind>(good).fill('good'),
    ...Array<ReleaseKind>(nab).fill('nab'),
  ];
  const rest = bad - nab;
  synthetic.forEach((kind, index) => {
    const share = Math.floor(rest / synthetic.length) + (index < rest % synthetic.length ? 1 : 0);
    for (let n = 0; n < share; n++) kinds.push(kind);
  });
  // Fisher-Yates with the seed's own stream.
  const random = seededRandom(`bench:canary|${seed}|kinds`);
  for (let index = kinds.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [kinds[index], kinds[other]] = [kinds[other]!, kinds[index]!];
  }
  return kinds;
}

/** Per series, 1 for every row inside a window or on a labelled point, as prefix sums. */
function forbiddenPrefix(source: SourceSeries): Int32Array {
  const forbidden = new Uint8Array(source.values.length);
  for (const window of source.windows) {
    for (let row = Math.max(0, window.left); row <= window.right && row < forbidden.length; row++) {
      forbidden[row] = 1;
    }
  }
  for (const row of source.labels) if (row >= 0 && row < forbidden.length) forbidden[row] = 1;
  const prefix = new Int32Array(forbidden.length + 1);
  for (let row = 0; row < forbidden.length; row++) prefix[row + 1] = prefix[row]! + forbidden[row]!;
  return prefix;
}

/** True when rows [from, to) lie in the series and none of them is labelled. */
function clean(prefix: Int32Array, from: number, to: number): boolean {
  return from >= 0 && to < prefix.length && prefix[to]! - prefix[from]! === 0;
}

/** The labelled windows a nab release can be built on (see the file comment), in source order. */
export function anomalyTemplates(
  sources: readonly SourceSeries[],
  settings: CorpusSettings,
): AnomalyTemplate[] {
  const canaryLength = settings.canaryIntervals * settings.intervalSamples;
  const templates: AnomalyTemplate[] = [];
  sources.forEach((source, index) => {
    const prefix = forbiddenPrefix(source);
    for (const window of source.windows) {
      const inside = source.labels.filter((row) => row >= window.left && row <= window.right);
      const onset = inside.length > 0 ? Math.min(...inside) : Math.floor((window.left + window.right) / 2);
      const historyStart = window.left - settings.historySamples;
      if (!clean(prefix, historyStart, window.left)) continue;
      if (onset + canaryLength > source.values.length) continue;
      templates.push({ source: index, left: window.left, right: window.right, onset });
    }
  });
  return templates;
}

/**
 * Builds `count` releases from the sources, reproducibly from `seed`. Throws when the sources cannot
 * give what the kinds need (no qualifying window, or no series with enough normal data).
 */
export function buildCorpus(
  sources: readonly SourceSeries[],
  count: number,
  seed: number,
  settings: CorpusSettings = DEFAULT_CORPUS_SETTINGS,
): CanaryRelease[] {
  const problems = validateCorpusSettings(settings);
  if (problems.length > 0) throw new RangeError(`buildCorpus: ${problems.join('; ')}`);
  const templates = anomalyTemplates(sources, settings);
  if (templates.length === 0) {
    throw new RangeError(
      `buildCorpus: no labelled window has ${settings.historySamples} clean rows before it and room for the canary after it`,
    );
  }
  const prefixes = sources.map(forbiddenPrefix);
  return releaseKinds(count, settings, seed).map((kind, id) =>
    buildRelease(sources, prefixes, templates, settings, kind, id, seed),
  );
}

function buildRelease(
  sources: readonly SourceSeries[],
  prefixes: readonly Int32Array[],
  templates: readonly AnomalyTemplate[],
  settings: CorpusSettings,
  kind: ReleaseKind,
  id: number,
  seed: number,
): CanaryRelease {
  const random = seededRandom(`bench:canary|${seed}|release|${id}`);
  const between = (low: number, high: number) => low + (high - low) * random();
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const I = settings.intervalSamples;
  const H = settings.historySamples;
  const canaryLength = settings.canaryIntervals * I;

  // Where in which series: a nab release at its window, any other at a clean stretch with a gap
  // drawn like a nab release's.
  const template = pick(templates);
  const offset = Math.floor(random() * Math.min(I, template.onset - template.left + 1));
  let source: number;
  let historyStart: number;
  let canaryStart: number;
  if (kind === 'nab') {
    source = template.source;
    historyStart = template.left - H;
    canaryStart = template.onset - offset;
  } else {
    const gap = template.onset - offset - template.left;
    const span = H + gap + canaryLength;
    const candidates = sources
      .map((entry, index) => ({ index, starts: entry.values.length - span + 1 }))
      .filter(({ index, starts }) => starts > 0 && hasCleanStart(prefixes[index]!, span, starts));
    if (candidates.length === 0) {
      throw new RangeError(`buildCorpus: no series has ${span} consecutive rows of normal data`);
    }
    const chosen = pick(candidates);
    source = chosen.index;
    historyStart = pickCleanStart(prefixes[source]!, span, chosen.starts, random);
    canaryStart = historyStart + H + gap;
  }
  const series = sources[source]!;

  const rawHistory = series.values.slice(historyStart, historyStart + H);
  const rawCanary = series.values.slice(canaryStart, canaryStart + canaryLength);
  const { baseMs, map: toLatency } = latencyMap(rawHistory, series.values, between(150, 300));
  const parameters: ReleaseParameters = {
    baseLatencyMs: baseMs,
    errorLevel: between(0.001, 0.006),
    predictionLevel: between(0.2, 0.6),
  };
  const normal = gaussian(random);
  const errors = (count: number, level: number) =>
    Array.from({ length: count }, () => level * Math.exp(0.3 * normal()));
  const predictions = (count: number, level: number) =>
    Array.from({ length: count }, () => level + 0.02 * normal());

  const history: Track = {
    error_rate: errors(H, parameters.errorLevel),
    latency_p99_ms: rawHistory.map(toLatency),
    prediction_mean: predictions(H, parameters.predictionLevel),
    restarts: Array<number>(H).fill(0),
  };
  let errorLevel = parameters.errorLevel;
  let predictionLevel = parameters.predictionLevel;
  let latency = rawCanary.map(toLatency);
  switch (kind) {
    case 'latency-step': {
      const factor = (parameters.latencyFactor = between(1.3, 2));
      latency = latency.map((value) => value * factor);
      break;
    }
    case 'slow-drift': {
      const rate = (parameters.driftPerInterval = between(0.15, 0.5));
      latency = latency.map((value, index) => value * (1 + (rate * index) / I));
      break;
    }
    case 'error-spike':
      errorLevel += parameters.errorRise = between(0.01, 0.05);
      break;
    case 'prediction-shift': {
      const size = between(0.12, 0.35);
      parameters.predictionShift = random() < 0.5 ? -size : size;
      predictionLevel *= 1 + parameters.predictionShift;
      break;
    }
    default:
      break;
  }
  const canary: Track =
    kind === 'no-data'
      ? { error_rate: [], latency_p99_ms: [], prediction_mean: [], restarts: [] }
      : {
          error_rate: errors(canaryLength, errorLevel),
          latency_p99_ms: latency,
          prediction_mean: predictions(canaryLength, predictionLevel),
          restarts: Array<number>(canaryLength).fill(0),
        };

  return {
    id,
    kind,
    file: series.name,
    historyStart,
    canaryStart,
    gap: canaryStart - (historyStart + H),
    ...(kind === 'nab' ? { onsetRow: template.onset } : {}),
    ...(kind === 'good' ? {} : { faultInterval: 0 }),
    ...(series.period === undefined ? {} : { period: series.period }),
    parameters,
    history,
    canary,
  };
}

function hasCleanStart(prefix: Int32Array, span: number, starts: number): boolean {
  for (let start = 0; start < starts; start++) if (clean(prefix, start, start + span)) return true;
  return false;
}

/** A start drawn uniformly among those whose span holds no labelled row. */
function pickCleanStart(prefix: Int32Array, span: number, starts: number, random: () => number): number {
  const candidates: number[] = [];
  for (let start = 0; start < starts; start++) if (clean(prefix, start, start + span)) candidates.push(start);
  return candidates[Math.floor(random() * candidates.length)]!;
}

/** The stable version's highest latency in a release's history is at most this (800 ms is the limit). */
export const HISTORY_PEAK_MS = 600;

/**
 * The affine map of a series onto a latency (file comment): base × (1 + (value − p5) / (p95 − p5)),
 * p5 and p95 of the history (a flat history takes the spread of the whole series as its unit, else
 * 1). The base is drawn from `wantedBaseMs` but lowered where needed so that the history's highest
 * value maps to at most HISTORY_PEAK_MS: the hard limit sits above what the stable version does.
 * Latencies stay above base / 20.
 */
export function latencyMap(
  history: readonly number[],
  series: readonly number[],
  wantedBaseMs: number,
): { baseMs: number; map: (value: number) => number } {
  const low = quantile(history, 0.05);
  const scale = spreadOf(history) || spreadOf(series) || 1;
  const peak = 1 + (Math.max(...history) - low) / scale;
  const baseMs = Math.min(wantedBaseMs, HISTORY_PEAK_MS / peak);
  return { baseMs, map: (value) => Math.max(baseMs / 20, baseMs * (1 + (value - low) / scale)) };
}

/** p95 − p5, else the range, else 0. */
function spreadOf(values: readonly number[]): number {
  const spread = quantile(values, 0.95) - quantile(values, 0.05);
  return spread > 0 ? spread : Math.max(...values) - Math.min(...values);
}

function quantile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))]!;
}

/**
 * The samples that stand for the baseline track in canary interval `index`: in 'tail' mode the
 * history's last baselineSamples (the same for every interval); in 'season' mode the history's
 * baselineSamples whose time of day is that of the interval's samples (centred on them), taken from
 * the history's last day — what the stable version did at that hour the day before, as near as the
 * history has it. 'season' needs the series' period and at least one period of history.
 */
export function baselineOf(release: CanaryRelease, index: number, settings: CorpusSettings): Track {
  const B = settings.baselineSamples;
  if (settings.baselineMode === 'tail') return mapTrack(release.history, (values) => values.slice(-B));
  const period = release.period;
  const H = settings.historySamples;
  if (period === undefined || period > H) {
    throw new RangeError(`baselineOf: 'season' needs a period of at most ${H} rows (got ${period})`);
  }
  // A canary sample d rows after the history's end has the time of day of history sample
  // H − period + (d mod period), in the history's last period.
  const first =
    release.gap + index * settings.intervalSamples - Math.floor((B - settings.intervalSamples) / 2);
  const rows = Array.from({ length: Math.min(B, period) }, (_, j) => H - period + modulo(first + j, period));
  return mapTrack(release.history, (values) => rows.map((row) => values[row]!));
}

function modulo(value: number, divisor: number): number {
  return ((value % divisor) + divisor) % divisor;
}

/** The canary's samples of interval `index` (0-based). */
export function intervalOf(release: CanaryRelease, index: number, settings: CorpusSettings): Track {
  const I = settings.intervalSamples;
  return mapTrack(release.canary, (values) => values.slice(index * I, (index + 1) * I));
}

function mapTrack(track: Track, map: (values: number[]) => number[]): Track {
  return {
    error_rate: map(track.error_rate),
    latency_p99_ms: map(track.latency_p99_ms),
    prediction_mean: map(track.prediction_mean),
    restarts: map(track.restarts),
  };
}

// ---- the judges' configurations ---------------------------------------------------------------------

/**
 * The project's judge as the bench runs it: DEFAULT_JUDGE_CONFIG, with latency_p99_ms judged in
 * either direction (its background is a NAB series, whose labelled anomalies go both ways).
 */
export const BENCH_JUDGE_CONFIG: JudgeConfig = {
  ...DEFAULT_JUDGE_CONFIG,
  metrics: DEFAULT_JUDGE_CONFIG.metrics.map((metric): MetricConfig =>
    metric.name === 'latency_p99_ms' ? { ...metric, direction: 'either' } : { ...metric },
  ),
};

/** The Kayenta-like judge: the same configuration without hard limits and crash loop. */
export function mannWhitneyOnlyConfig(config: JudgeConfig): JudgeConfig {
  const result: JudgeConfig = {
    ...config,
    // Kayenta fails a canary on the interval whose score is below its marginal threshold.
    confirmFailures: false,
    metrics: config.metrics.map(
      ({ hardMax: _max, hardMin: _min, hardStatistic: _statistic, ...metric }): MetricConfig => metric,
    ),
  };
  delete result.crashLoop;
  return result;
}

// ---- the threshold-only judge -----------------------------------------------------------------------

/** The fixed limits of one metric, set once per release. */
export interface ThresholdRule {
  metric: string;
  /** The canary interval's mean must not exceed this. */
  upper?: number;
  /** The canary interval's mean must not fall below this. */
  lower?: number;
  hardMax?: number;
  hardMin?: number;
  hardStatistic: HardStatistic;
  /** The interval's maximum must not exceed this (the crash loop). */
  crashLoopMax?: number;
}

/**
 * Flagger-style fixed limits, as an operator sets them from a dashboard of the stable version: per
 * metric, the highest (lowest) mean of any `intervalSamples` consecutive samples of the history, plus
 * (minus) the metric's allowed shift of that mean's magnitude, on the bad side(s) of its direction;
 * plus the configuration's hard limits and crash loop. One set of limits per release, read from the
 * history only; every interval is held against them.
 */
export function thresholdRules(
  history: Track,
  config: JudgeConfig,
  intervalSamples: number,
): ThresholdRule[] {
  return config.metrics.map((metric) => {
    const series = (history as Record<string, number[]>)[metric.name] ?? [];
    const means = rollingMeans(series, intervalSamples);
    const rule: ThresholdRule = { metric: metric.name, hardStatistic: metric.hardStatistic ?? 'mean' };
    if (means.length > 0) {
      const high = Math.max(...means);
      const low = Math.min(...means);
      if (metric.direction !== 'decrease-is-bad') rule.upper = high + metric.allowedShift * Math.abs(high);
      if (metric.direction !== 'increase-is-bad') rule.lower = low - metric.allowedShift * Math.abs(low);
    }
    if (metric.hardMax !== undefined) rule.hardMax = metric.hardMax;
    if (metric.hardMin !== undefined) rule.hardMin = metric.hardMin;
    if (config.crashLoop?.metric === metric.name) rule.crashLoopMax = config.crashLoop.max;
    return rule;
  });
}

function rollingMeans(values: readonly number[], width: number): number[] {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length < width) return finite.length > 0 ? [mean(finite)] : [];
  const means: number[] = [];
  let sum = 0;
  finite.forEach((value, index) => {
    sum += value;
    if (index >= width) sum -= finite[index - width]!;
    if (index >= width - 1) means.push(sum / width);
  });
  return means;
}

/**
 * One interval against the fixed limits: 'fail' when a metric has no data (as Flagger fails a check
 * whose query returns nothing) or breaks a limit, else 'pass'. Never marginal.
 */
export function thresholdJudge(
  canary: Record<string, readonly number[]>,
  rules: readonly ThresholdRule[],
): { decision: Decision; summary: string } {
  const breaches: string[] = [];
  for (const rule of rules) {
    const values = (canary[rule.metric] ?? []).filter((value) => Number.isFinite(value));
    if (values.length === 0) {
      breaches.push(`${rule.metric}: no data`);
      continue;
    }
    const sorted = [...values].sort((a, b) => a - b);
    const average = mean(sorted);
    const hard = statistic(sorted, rule.hardStatistic);
    const show = (value: number) => String(Number(value.toPrecision(4)));
    if (rule.upper !== undefined && average > rule.upper) {
      breaches.push(`${rule.metric}: mean ${show(average)} > limit ${show(rule.upper)}`);
    }
    if (rule.lower !== undefined && average < rule.lower) {
      breaches.push(`${rule.metric}: mean ${show(average)} < limit ${show(rule.lower)}`);
    }
    if (rule.hardMax !== undefined && hard > rule.hardMax) {
      breaches.push(`${rule.metric}: ${rule.hardStatistic} ${show(hard)} > hard limit ${show(rule.hardMax)}`);
    }
    if (rule.hardMin !== undefined && hard < rule.hardMin) {
      breaches.push(`${rule.metric}: ${rule.hardStatistic} ${show(hard)} < hard limit ${show(rule.hardMin)}`);
    }
    if (rule.crashLoopMax !== undefined && sorted.at(-1)! > rule.crashLoopMax) {
      breaches.push(
        `${rule.metric}: max ${show(sorted.at(-1)!)} > crash-loop limit ${show(rule.crashLoopMax)}`,
      );
    }
  }
  return breaches.length > 0
    ? { decision: 'fail', summary: `fail: ${breaches.join('; ')}` }
    : { decision: 'pass', summary: `pass: all ${rules.length} metrics within their limits` };
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** The statistic of sorted values; p99 is the nearest-rank p99, as in the canary judge. */
function statistic(sorted: readonly number[], kind: HardStatistic): number {
  switch (kind) {
    case 'mean':
      return mean(sorted);
    case 'p99':
      return sorted[Math.max(0, Math.ceil(0.99 * sorted.length) - 1)]!;
    case 'max':
      return sorted[sorted.length - 1]!;
  }
}

// ---- the step plan ----------------------------------------------------------------------------------

export interface PlanOutcome {
  /** Every verdict in order, one per analysis interval judged. */
  decisions: Decision[];
  rolledBack: boolean;
  /** The interval (0-based) whose verdict rolled the canary back. */
  failedInterval?: number;
  /** The traffic share of the step it was rolled back at. */
  failedWeight?: number;
  /** 'fail' for a failing verdict, 'marginal' for one still marginal after the last re-check. */
  cause?: 'fail' | 'marginal';
}

/**
 * Runs a canary through the plan as the release workflow does: at each step one interval is judged;
 * pass moves on, fail rolls back, marginal holds the weight and judges the next interval, at most
 * maxRechecks times, and a marginal verdict on the last re-check rolls back. `judge` receives the
 * interval's index (counting every verdict) and the step's weight.
 */
export function runStepPlan(
  judge: (interval: number, weight: number, recheck: number) => Decision,
  plan: StepPlan = STEP_PLAN,
): PlanOutcome {
  const decisions: Decision[] = [];
  for (const weight of plan.weights) {
    for (let recheck = 0; recheck <= plan.maxRechecks; recheck++) {
      const interval = decisions.length;
      const decision = judge(interval, weight, recheck);
      decisions.push(decision);
      if (decision === 'pass') break;
      if (decision === 'fail' || recheck === plan.maxRechecks) {
        return {
          decisions,
          rolledBack: true,
          failedInterval: interval,
          failedWeight: weight,
          cause: decision === 'fail' ? 'fail' : 'marginal',
        };
      }
    }
  }
  return { decisions, rolledBack: false };
}

// ---- scoring ----------------------------------------------------------------------------------------

/** What one judge did with one release. */
export interface ReleaseOutcome {
  rolledBack: boolean;
  /** A bad release rolled back at a step of at most `earlyWeight` % (5 or 25 %, re-checks included). */
  stoppedEarly: boolean;
  /**
   * For a rolled-back bad release: the intervals judged from the first one holding the fault up to
   * and including the failing one (1 = failed on the first faulty interval).
   */
  delayIntervals?: number;
}

/** "Stopped before the canary exceeded 25 % of traffic". */
export const EARLY_WEIGHT = 25;

export function assess(release: CanaryRelease, outcome: PlanOutcome): ReleaseOutcome {
  const bad = release.faultInterval !== undefined;
  const early = outcome.rolledBack && (outcome.failedWeight ?? Infinity) <= EARLY_WEIGHT;
  return {
    rolledBack: outcome.rolledBack,
    stoppedEarly: bad && early,
    ...(bad && outcome.failedInterval !== undefined && outcome.failedInterval >= release.faultInterval!
      ? { delayIntervals: outcome.failedInterval - release.faultInterval! + 1 }
      : {}),
  };
}

export interface KindSummary {
  releases: number;
  /** Share rolled back: wrongly for good releases, rightly for bad ones. */
  rolledBack: number;
  /** Bad releases: share stopped before exceeding 25 %. */
  stoppedEarly: number;
  /** Bad releases: mean detection delay over those rolled back; NaN if none. */
  meanDelayIntervals: number;
}

export interface JudgeSummary {
  bad: number;
  good: number;
  badStoppedBefore25: number;
  badStopped: number;
  goodRolledBack: number;
  meanDelayIntervals: number;
  byKind: Partial<Record<ReleaseKind, KindSummary>>;
}

/** Shares (0..1) and mean delays of one judge's outcomes over the corpus. */
export function summarise(
  releases: readonly CanaryRelease[],
  outcomes: readonly ReleaseOutcome[],
): JudgeSummary {
  const group = (keep: (release: CanaryRelease) => boolean): KindSummary => {
    const chosen = outcomes.filter((_, index) => keep(releases[index]!));
    const delays = chosen.flatMap((outcome) =>
      outcome.delayIntervals === undefined ? [] : [outcome.delayIntervals],
    );
    const share = (test: (outcome: ReleaseOutcome) => boolean) =>
      chosen.length === 0 ? NaN : chosen.filter(test).length / chosen.length;
    return {
      releases: chosen.length,
      rolledBack: share((outcome) => outcome.rolledBack),
      stoppedEarly: share((outcome) => outcome.stoppedEarly),
      meanDelayIntervals: delays.length === 0 ? NaN : mean(delays),
    };
  };
  const byKind: Partial<Record<ReleaseKind, KindSummary>> = {};
  for (const kind of ['good', ...FAULT_KINDS] as const) {
    if (releases.some((release) => release.kind === kind))
      byKind[kind] = group((release) => release.kind === kind);
  }
  const bad = group((release) => release.kind !== 'good');
  const good = group((release) => release.kind === 'good');
  return {
    bad: bad.releases,
    good: good.releases,
    badStoppedBefore25: bad.stoppedEarly,
    badStopped: bad.rolledBack,
    goodRolledBack: good.rolledBack,
    meanDelayIntervals: bad.meanDelayIntervals,
    byKind,
  };
}
