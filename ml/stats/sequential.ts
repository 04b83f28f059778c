// Sequential canary analysis: looks at the canary's and the baseline's telemetry several times during
// one analysis interval and concludes the step early, but only when the evidence is already decisive
// either way; on undecided evidence the interval runs to its end and the canary judge
// (activities/analysis/canary-judge.ts) decides as usual. Re-checking a fixed-sample test at every look
// inflates its error rate (a 99 % interval re-checked at 12 looks missed in 9 % of simulated runs), so
// every look reads an anytime-valid confidence sequence instead: a sequence of intervals that covers the
// true value at ALL looks at once with probability ≥ 1 - alpha, however many looks there are and
// whenever they happen.
//
// The confidence sequence: the asymptotic confidence sequence with Robbins' normal-mixture boundary
// (Waudby-Smith, Arnold, Wu, Wang & Ramdas, "Time-uniform central limit theory and asymptotic
// confidence sequences", Annals of Statistics 2024 / arXiv 2103.06476). For i.i.d. X_1, X_2, ... with
// mean mu and finite variance, with the sample mean m_t and the sample variance s_t^2 plugged in,
//
//   mu ∈ m_t ± s_t * sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) * log( sqrt(t rho^2 + 1) / alpha ) )   for all t
//
// with probability → 1 - alpha. It is Ville's inequality applied to the Gaussian-mixture martingale
// (1 + t rho^2)^(-1/2) exp(rho^2 S_t^2 / (2 (1 + t rho^2))), mixing exp(lambda S_t - lambda^2 t / 2)
// over lambda ~ N(0, rho^2), both signs at once (two-sided at total level alpha); the strong Gaussian
// approximation of the standardised partial sums makes it hold for non-Gaussian data asymptotically.
// rho sets the time at which the boundary is tightest: rho^2 = (-2 log alpha + log(1 - 2 log alpha)) / n*
// (the paper's choice for an intended sample size n*; here `plannedSamples`, the samples per track of
// a full interval). Around n* the half-width is about 1.4 times the fixed-sample one at alpha = 0.01,
// the price of looking as often as one likes.
//
// Two tracks: the canary's and the baseline's samples arrive side by side, the canary's traffic weight
// fixed within a step, so their counts grow in a roughly fixed ratio. With n_b = k n_c the difference of
// the means is the mean of i.i.d. blocks (one canary sample minus 1/k times k baseline samples), a
// one-sample problem in time t = n_c whose per-step variance, estimated by plug-in, is
// t * (s_c^2 / n_c + s_b^2 / n_b). Using t = min(n_c, n_b) keeps the two tracks symmetric (the sparser
// track sets the clock) and makes `plannedSamples` the planned samples of the sparser track. So
//
//   half-width_t = sqrt(s_c^2 / n_c + s_b^2 / n_b) * sqrt( 2 (1 + 1/(t rho^2)) * log( sqrt(t rho^2 + 1) / alpha ) ).
//
// Assumptions: within one look the samples of a track are i.i.d.-ish (no strong autocorrelation or
// trend inside the interval); the ratio of the tracks' counts is about constant; the plug-in variance
// is consistent. The guarantee is asymptotic: at the 20 or so samples of a look it is an approximation,
// which the unit tests measure (time-uniform coverage on simulated streams, and early decisions at a
// true shift of exactly the allowed one).
//
// Robustness to bursts: each look winsorises both tracks at the same two fences: the union of the
// tracks' robust ranges, each track's median ± 5 scaled MADs (1.4826 MAD, the standard deviation for
// Gaussian data). So the bulk of each track lies inside the fences whatever the other track does (fences
// from the pooled samples would cut into the bulk of a noisy baseline next to a tight canary), Gaussian-
// like telemetry is essentially never clipped (5 sigma), and a latency spike of ten times the usual value
// counts as a value at the fence instead of blowing up the mean and the plug-in variance. When a track's
// MAD is 0 (more than half of its samples equal, e.g. restarts) there is no robust scale and nothing is
// clipped. What this does to validity: the fences do not depend on which track is called which, so when
// the tracks share one distribution (and equal counts) their winsorised means still agree in
// expectation: no false alarm is created. The fences converge to fixed limits as samples accrue, so
// asymptotically the sequence is the one above for the means of the data winsorised at those limits.
// That estimand differs from the raw mean difference only by the mass beyond the fences, i.e. by the
// spikes, which count at the fence rather than at their height: a canary whose regression is only rarer,
// higher spikes would look better than it is. Hence a guard: a metric whose canary has samples beyond a
// fence on its bad side never passes early (it stays undecided; the full interval, with the judge's hard
// limits and anomaly model, decides).
//
// Relative shifts: the allowed shifts are relative to the baseline's mean. Dividing the interval's
// bounds by the estimated baseline mean would ignore that estimate's own uncertainty, so the relative
// sequence is the time-uniform form of Fieller's interval for the ratio R = mu_c / mu_b: the set of r
// for which the confidence sequence of the linear contrast mu_c - r mu_b (same boundary, plug-in
// variance s_c^2 / n_c + r^2 s_b^2 / n_b) contains 0. At the true R that contrast has mean 0, so this set
// covers R whenever the contrast's sequence covers 0: with the same time-uniform probability. It reduces
// to the divided bounds when the baseline's mean is known exactly, and it is a bounded interval exactly
// when the baseline's mean is distinguishable from 0 at the same level; otherwise (a baseline mean of
// about 0, as for restarts) there is no relative scale and the metric is undecided. The relative shift
// is then sign(mu_b) (R - 1) = (mu_c - mu_b) / |mu_b|.
//
// Several metrics: alpha is split evenly over the metrics (Bonferroni), each metric's sequence being
// two-sided at alpha / m. An early wrong conclusion needs some metric's sequence to miss its true shift
// at some look ('regressed' with the true shift inside the allowed band, or 'within' with it outside),
// so the family-wise probability of any early wrong conclusion in an interval is at most alpha.
import type { MetricConfig } from '../../activities/analysis/canary-judge.js';

/** Settings of one sequential look. */
export interface SequentialOptions {
  /** Family-wise error of an early conclusion over all looks of an interval and all metrics, in (0, 0.5). */
  alpha: number;
  /** Fewest finite samples per track before a metric can be concluded at all (an integer ≥ 2). */
  minSamples: number;
  /** Samples per track of a full interval: where the confidence sequence is tightest (≥ 1). */
  plannedSamples: number;
}

/** alpha 0.01 as the judge's; 20 samples as its minSamples; 30 samples per full simulated interval. */
export const SEQUENTIAL_DEFAULTS: SequentialOptions = Object.freeze({
  alpha: 0.01,
  minSamples: 20,
  plannedSamples: 30,
});

export type LookOutcome = 'regressed' | 'within' | 'undecided';

export interface MetricLook {
  metric: string;
  outcome: LookOutcome;
  /** Relative shift of the (winsorised) means, (mean c - mean b) / |mean b|; null when not computed. */
  estimate: number | null;
  /** Lower bound of the relative shift's anytime confidence interval at level 1 - alpha / metrics. */
  lower: number | null;
  /** Upper bound of the same interval. */
  upper: number | null;
  allowedShift: number;
  /** Finite samples per track at this look. */
  samples: { canary: number; baseline: number };
  /** One line for a clinical safety officer: the shift, its interval, the allowance and the finding. */
  summary: string;
}

export interface Look {
  /** 'fail': some metric regressed; 'pass': every metric within; otherwise 'continue' the interval. */
  decision: 'fail' | 'pass' | 'continue';
  metrics: MetricLook[];
  summary: string;
}

export type SequentialMetric = Pick<MetricConfig, 'name' | 'direction' | 'allowedShift' | 'critical'>;

/** Each track's robust range: its median ± this many scaled MADs. */
const FENCE_MADS = 5;
/** MAD times this estimates a Gaussian standard deviation. */
const MAD_TO_SIGMA = 1.4826;

/**
 * Anytime-valid confidence sequence for mean(canary) - mean(baseline) at one look, from every sample
 * of each track so far (non-finite values ignored), winsorised as the file comment explains.
 * `estimate` is the difference of the (winsorised) means, [lower, upper] the two-sided interval at
 * level 1 - alpha that, recomputed at every look, covers the true difference at all looks at once with
 * probability ≥ 1 - alpha (asymptotically); n = min(n_canary, n_baseline), the sequence's time. null
 * when either track has fewer than 2 finite samples. Throws a RangeError naming alpha or plannedSamples
 * when it is out of range.
 */
export function meanDifferenceSequence(
  canary: readonly number[],
  baseline: readonly number[],
  options: { alpha: number; plannedSamples: number },
): { estimate: number; lower: number; upper: number; n: number } | null {
  checkAlpha(options.alpha, 'meanDifferenceSequence');
  checkPlannedSamples(options.plannedSamples, 'meanDifferenceSequence');
  const tracks = winsorisedTracks(finite(canary), finite(baseline));
  if (tracks === null) return null;
  const { canary: c, baseline: b, time } = tracks;
  const estimate = c.mean - b.mean;
  const halfWidth =
    Math.sqrt(c.variance / c.count + b.variance / b.count) *
    boundaryFactor(time, options.alpha, options.plannedSamples);
  return { estimate, lower: estimate - halfWidth, upper: estimate + halfWidth, n: time };
}

/**
 * One look during an analysis interval: per metric, the anytime confidence interval of the canary's
 * relative shift (at level 1 - alpha / metrics.length, Bonferroni) held against the metric's allowed
 * shift on its bad side(s):
 * - 'regressed' when the whole interval lies beyond it (increase-is-bad: lower > allowedShift;
 *   decrease-is-bad: upper < -allowedShift; either: one of the two);
 * - 'within' when the whole interval lies inside the allowed band (increase-is-bad: upper < allowedShift;
 *   decrease-is-bad: lower > -allowedShift; either: both), unless the canary has samples beyond the
 *   outlier fence on the bad side;
 * - 'undecided' otherwise, and always without a baseline, with fewer than minSamples finite samples in
 *   either track, or with a baseline mean not distinguishable from 0.
 * The decision: 'fail' when any metric regressed, 'pass' only when every metric is within, otherwise
 * 'continue' (wait for more data; at the interval's end the canary judge decides). The probability
 * that any look of an interval concludes wrongly is at most alpha (see the file comment). Throws a
 * RangeError naming the option or metric field when it is out of range, or when metrics is empty.
 */
export function sequentialLook(
  input: { baseline: Record<string, readonly number[]> | null; canary: Record<string, readonly number[]> },
  metrics: readonly SequentialMetric[],
  options: Partial<SequentialOptions> = {},
): Look {
  const settings = resolveOptions(options);
  checkMetrics(metrics);
  const alphaEach = settings.alpha / metrics.length;
  const looks = metrics.map((metric) => lookAtMetric(metric, input, settings, alphaEach));

  const regressed = looks.filter((look) => look.outcome === 'regressed');
  const undecided = looks.filter((look) => look.outcome === 'undecided');
  const guarantee =
    `early conclusions err with probability ≤ ${formatLevel(settings.alpha)} % over all looks` +
    (metrics.length > 1 ? ` (alpha split over ${metrics.length} metrics)` : '');
  if (regressed.length > 0) {
    const critical = regressed.filter((look) => isCritical(metrics, look.metric)).length;
    return {
      decision: 'fail',
      metrics: looks,
      summary:
        `fail early: ${regressed.length} of ${looks.length} metrics regressed` +
        (critical > 0 ? ` (${critical} critical)` : '') +
        ` — ${regressed.map((look) => look.summary).join('; ')}; ${guarantee}`,
    };
  }
  if (undecided.length === 0) {
    return {
      decision: 'pass',
      metrics: looks,
      summary:
        `pass early: all ${looks.length} metrics within their allowed shifts — ` +
        `${looks.map((look) => look.summary).join('; ')}; ${guarantee}`,
    };
  }
  return {
    decision: 'continue',
    metrics: looks,
    summary:
      `continue: ${undecided.length} of ${looks.length} metrics undecided ` +
      `(${undecided.map((look) => look.metric).join(', ')}), the full interval decides — ` +
      looks.map((look) => look.summary).join('; '),
  };
}

function lookAtMetric(
  metric: SequentialMetric,
  input: { baseline: Record<string, readonly number[]> | null; canary: Record<string, readonly number[]> },
  settings: SequentialOptions,
  alpha: number,
): MetricLook {
  const { name, allowedShift, direction } = metric;
  const canary = finite(input.canary[name]);
  const baseline = finite(input.baseline?.[name]);
  const samples = { canary: canary.length, baseline: baseline.length };
  const undecided = (reason: string): MetricLook => ({
    metric: name,
    outcome: 'undecided',
    estimate: null,
    lower: null,
    upper: null,
    allowedShift,
    samples,
    summary: `${name}: ${reason}: undecided`,
  });

  if (input.baseline === null) return undecided('no baseline (no stable version serves)');
  if (canary.length < settings.minSamples || baseline.length < settings.minSamples) {
    return undecided(
      `${canary.length} canary and ${baseline.length} baseline samples, ` +
        `at least ${settings.minSamples} per track needed`,
    );
  }
  // minSamples ≥ 2, so both tracks have the two samples a variance needs.
  const tracks = winsorisedTracks(canary, baseline)!;
  const shift = relativeShift(tracks, alpha, settings.plannedSamples);
  if (shift === null) {
    return undecided(
      `baseline mean ${formatPlain(tracks.baseline.mean)} not distinguishable from 0, so no relative scale`,
    );
  }

  const { estimate, lower, upper } = shift;
  const up = direction !== 'decrease-is-bad';
  const down = direction !== 'increase-is-bad';
  const regressed = (up && lower > allowedShift) || (down && upper < -allowedShift);
  const inside = (!up || upper < allowedShift) && (!down || lower > -allowedShift);
  const badSpikes = (up ? tracks.clippedHigh : 0) + (down ? tracks.clippedLow : 0);
  const outcome: LookOutcome = regressed ? 'regressed' : inside && badSpikes === 0 ? 'within' : 'undecided';

  const sign = up && down ? '±' : up ? '+' : '-';
  const allowed = `${sign}${formatPlain(allowedShift * 100)} %`;
  const interval =
    `${percent(estimate)} (${formatLevel(1 - alpha)} % anytime CI ${percent(lower)} … ${percent(upper)}, ` +
    `${canary.length} canary / ${baseline.length} baseline samples)`;
  const finding = regressed
    ? `beyond the allowed ${allowed}: regressed`
    : inside && badSpikes > 0
      ? `inside the allowed ${allowed}, but ${badSpikes} canary sample${badSpikes === 1 ? '' : 's'} ` +
        `beyond the outlier fence on the bad side: undecided`
      : inside
        ? `inside the allowed ${allowed}: within`
        : `straddles the allowed ${allowed}: undecided`;
  return {
    metric: name,
    outcome,
    estimate,
    lower,
    upper,
    allowedShift,
    samples,
    summary: `${name}: ${interval} ${finding}`,
  };
}

interface Moments {
  count: number;
  mean: number;
  /** Unbiased sample variance. */
  variance: number;
}

interface Tracks {
  canary: Moments;
  baseline: Moments;
  /** The sequence's time: min(n_canary, n_baseline). */
  time: number;
  /** Canary samples clipped at the upper fence. */
  clippedHigh: number;
  /** Canary samples clipped at the lower fence. */
  clippedLow: number;
}

/**
 * Both tracks winsorised at the union of their robust ranges (median ± FENCE_MADS scaled MADs), or as
 * they are when a track's MAD is 0; null when a track has fewer than 2 samples.
 */
function winsorisedTracks(canary: readonly number[], baseline: readonly number[]): Tracks | null {
  if (canary.length < 2 || baseline.length < 2) return null;
  const ranges = [robustRange(canary), robustRange(baseline)];
  const scaled = ranges.every((range) => range.high > range.low);
  const low = scaled ? Math.min(...ranges.map((range) => range.low)) : -Infinity;
  const high = scaled ? Math.max(...ranges.map((range) => range.high)) : Infinity;
  const clip = (value: number) => Math.min(high, Math.max(low, value));
  return {
    canary: moments(canary.map(clip)),
    baseline: moments(baseline.map(clip)),
    time: Math.min(canary.length, baseline.length),
    clippedHigh: canary.filter((value) => value > high).length,
    clippedLow: canary.filter((value) => value < low).length,
  };
}

/** median ∓ FENCE_MADS * 1.4826 MAD of one track (an empty range, low = high, when the MAD is 0). */
function robustRange(values: readonly number[]): { low: number; high: number } {
  const centre = median([...values].sort((a, b) => a - b));
  const deviations = values.map((value) => Math.abs(value - centre)).sort((a, b) => a - b);
  const reach = FENCE_MADS * MAD_TO_SIGMA * median(deviations);
  return { low: centre - reach, high: centre + reach };
}

/**
 * The relative shift's estimate and anytime interval at level 1 - alpha: Fieller's set
 * { r : (m_c - r m_b)^2 ≤ G (v_c + r^2 v_b) } for R = mu_c / mu_b, with v = s^2 / n and G the squared
 * boundary factor, mapped to sign(m_b) (r - 1). A quadratic A r^2 - 2 B r + C ≤ 0 with A = m_b^2 - G v_b,
 * B = m_c m_b, C = m_c^2 - G v_c; bounded (and then never empty: it holds m_c / m_b) when A > 0, i.e.
 * when the baseline mean's own anytime interval excludes 0. null otherwise.
 */
function relativeShift(
  tracks: Tracks,
  alpha: number,
  plannedSamples: number,
): { estimate: number; lower: number; upper: number } | null {
  const { canary: c, baseline: b } = tracks;
  const g = boundaryFactor(tracks.time, alpha, plannedSamples) ** 2;
  const vc = c.variance / c.count;
  const vb = b.variance / b.count;
  const a = b.mean * b.mean - g * vb;
  if (!(a > 0)) return null;
  const bCoefficient = c.mean * b.mean;
  // B^2 - A C = G (v_b m_c^2 + v_c A) ≥ 0, written so that it cannot go negative by cancellation.
  const root = Math.sqrt(g * (vb * c.mean * c.mean + vc * a));
  const low = (bCoefficient - root) / a;
  const high = (bCoefficient + root) / a;
  const sign = Math.sign(b.mean);
  const bounds = [sign * (low - 1), sign * (high - 1)];
  return {
    estimate: (c.mean - b.mean) / Math.abs(b.mean),
    lower: Math.min(...bounds),
    upper: Math.max(...bounds),
  };
}

/**
 * sqrt(2 (1 + 1/(t rho^2)) log(sqrt(t rho^2 + 1) / alpha)): the normal-mixture boundary divided by the
 * standard error, with rho^2 = (-2 log alpha + log(1 - 2 log alpha)) / plannedSamples.
 */
function boundaryFactor(time: number, alpha: number, plannedSamples: number): number {
  const logAlpha = Math.log(alpha);
  const rhoSquared = (-2 * logAlpha + Math.log(1 - 2 * logAlpha)) / plannedSamples;
  const scaled = time * rhoSquared;
  return Math.sqrt(2 * (1 + 1 / scaled) * (0.5 * Math.log(scaled + 1) - logAlpha));
}

function moments(values: readonly number[]): Moments {
  let sum = 0;
  for (const value of values) sum += value;
  const mean = sum / values.length;
  let squares = 0;
  for (const value of values) squares += (value - mean) ** 2;
  return { count: values.length, mean, variance: squares / (values.length - 1) };
}

function median(sorted: readonly number[]): number {
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The finite values (NaN and infinities are missing samples). */
function finite(values: readonly number[] | undefined): number[] {
  return values === undefined ? [] : values.filter((value) => Number.isFinite(value));
}

function resolveOptions(options: Partial<SequentialOptions>): SequentialOptions {
  const settings = { ...SEQUENTIAL_DEFAULTS, ...definedOnly(options) };
  checkAlpha(settings.alpha, 'sequentialLook');
  const { minSamples } = settings;
  if (!(Number.isInteger(minSamples) && minSamples >= 2)) {
    throw new RangeError(`sequentialLook: minSamples must be an integer ≥ 2, got ${String(minSamples)}`);
  }
  checkPlannedSamples(settings.plannedSamples, 'sequentialLook');
  return settings;
}

/** The options that are set: an explicit undefined takes the default, as an absent one does. */
function definedOnly(options: Partial<SequentialOptions>): Partial<SequentialOptions> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

function checkAlpha(alpha: number, caller: string): void {
  if (!(typeof alpha === 'number' && alpha > 0 && alpha < 0.5)) {
    throw new RangeError(`${caller}: alpha must be a number in (0, 0.5), got ${String(alpha)}`);
  }
}

function checkPlannedSamples(plannedSamples: number, caller: string): void {
  if (!(typeof plannedSamples === 'number' && Number.isFinite(plannedSamples) && plannedSamples >= 1)) {
    throw new RangeError(
      `${caller}: plannedSamples must be a finite number ≥ 1, got ${String(plannedSamples)}`,
    );
  }
}

const DIRECTIONS: readonly string[] = ['increase-is-bad', 'decrease-is-bad', 'either'];

function checkMetrics(metrics: readonly SequentialMetric[]): void {
  if (metrics.length === 0) throw new RangeError('sequentialLook: metrics must hold at least one metric');
  metrics.forEach((metric, index) => {
    if (!DIRECTIONS.includes(metric.direction)) {
      throw new RangeError(
        `sequentialLook: metrics[${index}].direction must be one of ${DIRECTIONS.join(', ')}, ` +
          `got ${String(metric.direction)}`,
      );
    }
    const { allowedShift } = metric;
    if (!(typeof allowedShift === 'number' && Number.isFinite(allowedShift) && allowedShift >= 0)) {
      throw new RangeError(
        `sequentialLook: metrics[${index}].allowedShift must be a finite number ≥ 0, got ${String(allowedShift)}`,
      );
    }
  });
}

function isCritical(metrics: readonly SequentialMetric[], name: string): boolean {
  return metrics.some((metric) => metric.name === name && metric.critical === true);
}

/** A relative shift as a signed percentage with one decimal: +42.0 %, -3.5 %, 0.0 %. */
function percent(fraction: number): string {
  const text = Math.abs(fraction * 100).toFixed(1);
  if (text === '0.0') return '0.0 %';
  return `${fraction > 0 ? '+' : '-'}${text} %`;
}

/** A confidence or error level in percent, to four significant digits: 99.75, 1. */
function formatLevel(level: number): string {
  return formatPlain(level * 100);
}

/** A number to four significant digits: 99.75, 412.3, 0.003512. */
function formatPlain(value: number): string {
  return String(Number(value.toPrecision(4)));
}
