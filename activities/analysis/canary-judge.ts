// The canary judge: one analysis interval's telemetry of a canary and of its baseline (the stable
// version), as per-metric sample series, turned into a verdict. It is pure (no I/O, no clock, no
// randomness), so a Temporal activity can call it and a retry sees the same verdict. Per metric, in
// this order of precedence:
//
//  1. hard limits and the crash loop: the canary's mean / p99 / max beyond an absolute limit fails the
//     canary at once, whatever else holds. They apply to any canary data, even fewer than minSamples
//     samples: a handful of samples over a safety limit is evidence enough to stop;
//  2. no data: fewer than minSamples finite samples in either track is 'nodata', never a pass (rule
//     'no-data' when a track has none at all, 'min-samples' when it has too few);
//  3. Kayenta-style comparison: Mann-Whitney U in the bad direction at level alpha AND a practically
//     relevant shift. As in Kayenta's Mann-Whitney classifier, significance alone never fails a metric
//     (with enough samples every tiny change is significant): the Hodges-Lehmann estimate of the
//     shift, relative to the baseline median, must lie beyond allowedShift, and its confidence
//     interval (at the test's level) must exclude zero on the same side, so that the shift and the
//     rank test agree. The point estimate, not the interval's bound nearest to zero, is held against
//     allowedShift: requiring the whole interval beyond it would let a clear regression through on a
//     small interval (+43 % estimated, interval from +22 %: pass), the wrong way to err for a medical
//     model. A tiny but significant change (+2 %, interval +1.5 % to +2.5 %) passes either way;
//  4. the anomaly model: anomalyMinHits or more canary samples scored >= anomalyThreshold that also lie
//     beyond the allowed shift from the baseline's median and outside the baseline's range in the
//     same window, on the metric's bad side, fail it
//     (rule 'anomaly-model'); such a failure lowers the score but does not, alone, trip the critical
//     rule: the model's evidence holds a canary (marginal, re-checked on fresh data) and stops it when
//     it persists or joins other failures, while a failure at once needs a hard limit or the rank test.
//
// The decision then combines the metrics' weights and criticality: see judgeCanary. A failure on the
// statistics alone is confirmed before it rolls a canary back (confirmFailures): on a step's first
// window it is marginal, and a re-check that fails again fails the canary.
import {
  confidenceIntervalShift,
  hodgesLehmannShift,
  mannWhitneyU,
  rankBiserial,
  type Alternative,
} from '../../ml/stats/mann-whitney.js';

/** Which way of a canary's change is a regression. 'either' catches distribution drift both ways. */
export type MetricDirection = 'increase-is-bad' | 'decrease-is-bad' | 'either';
/** The statistic of the canary's series compared with a hard limit. p99 is the nearest-rank p99. */
export type HardStatistic = 'mean' | 'p99' | 'max';

export interface MetricConfig {
  /** Key of the metric's series in JudgeInput.baseline, .canary and .anomalyScores. */
  name: string;
  direction: MetricDirection;
  /** Share of the score this metric carries (> 0). Default 1. */
  weight?: number;
  /** A failing critical metric fails the canary whatever the score. Default false. */
  critical?: boolean;
  /** allowed relative shift of the canary's median vs baseline before it counts as a regression, e.g. 0.2 = 20 % */
  allowedShift: number;
  /** hard ceiling of the canary's value (e.g. error rate 0.02), optional */
  hardMax?: number;
  /** hard floor of the canary's value, optional */
  hardMin?: number;
  /** Statistic of the canary's series compared with hardMax / hardMin. Default 'mean'. */
  hardStatistic?: HardStatistic;
}

export interface JudgeConfig {
  metrics: readonly MetricConfig[];
  /** Lowest score (weighted share of passing metrics) that passes. Default 0.95. */
  passThreshold?: number;
  /** Lowest score that is marginal rather than a failure. Default 0.75. */
  marginalThreshold?: number;
  /** Fewest finite samples per track for a metric to be judged at all. Default 20. */
  minSamples?: number;
  /** Significance level of the Mann-Whitney test and of the shift's confidence interval. Default 0.01. */
  alpha?: number;
  /** An anomaly score at or above this is a hit. Default 0.9 (scores lie in [0, 1], see ml/detector.ts). */
  anomalyThreshold?: number;
  /** This many hits or more fail the metric. Default 3. */
  anomalyMinHits?: number;
  /** The canary crash-loops when the maximum of this (configured) metric's series exceeds max. */
  crashLoop?: { metric: string; max: number };
  /**
   * A failure found by the statistics alone (the rank test, the score) on a step's first window
   * holds the canary (marginal) and fails it only when a re-check finds a failure again; hard limits,
   * the crash loop and a canary without data fail at once. Default true. Per window the rank test
   * wrongly fails a healthy metric with probability about alpha; over the dozens of windows and
   * metrics of a release that adds up, twice in a row it does not.
   */
  confirmFailures?: boolean;
}

export interface JudgeInput {
  /**
   * Per metric name, the baseline's samples over the interval. Non-finite values count as missing.
   * null when there is no baseline at all (the model's first release in the cloud: no stable version
   * serves): then only the hard limits and the canary's own sample count are judged.
   */
  baseline: Record<string, readonly number[]> | null;
  /** Per metric name, the canary's samples over the interval. Non-finite values count as missing. */
  canary: Record<string, readonly number[]>;
  /** per metric, the canary series' scores from the anomaly model */
  anomalyScores?: Record<string, readonly number[]>;
  /** 0 (or absent) for a step's first window, n for its n-th re-check after a marginal verdict. */
  recheck?: number;
}

export interface MetricJudgement {
  metric: string;
  outcome: 'pass' | 'fail' | 'nodata';
  /** The rule that decided the outcome ('mann-whitney' for a pass that ran the full comparison). */
  rule: 'hard-limit' | 'mann-whitney' | 'anomaly-model' | 'no-data' | 'min-samples' | 'no-baseline';
  /** The canary's hard-limit statistic for 'hard-limit', its median otherwise; null without data. */
  canaryValue: number | null;
  /** The baseline's value of the same statistic; null without data. */
  baselineValue: number | null;
  /** Mann-Whitney p-value in the bad direction (two-sided for 'either'). */
  pValue?: number;
  /** Hodges-Lehmann shift of the canary relative to the baseline median: 0.37 = +37 %. */
  shift?: number;
  /** Rank-biserial correlation of canary vs baseline, in [-1, 1]: +1 when every canary sample is larger. */
  effectSize?: number;
  /** One line for a clinical safety officer: the rule, the numbers and the finding. */
  summary: string;
}

export interface CanaryJudgement {
  decision: 'pass' | 'marginal' | 'fail';
  /** weighted share of passing metrics, 0..1 */
  score: number;
  summary: string;
  metrics: MetricJudgement[];
}

const SCALAR_DEFAULTS = {
  passThreshold: 0.95,
  marginalThreshold: 0.75,
  minSamples: 20,
  alpha: 0.01,
  anomalyThreshold: 0.9,
  anomalyMinHits: 3,
  confirmFailures: true,
} as const;

/**
 * Defaults for model-serving telemetry. Every metric must pass for 'pass' (one of four failing gives
 * a score of 0.75: marginal). A confirmed shift of the mean prediction beyond ±10 % either way is
 * critical: for a medical model, a drifting output distribution is a clinical risk, not a nuisance. error_rate and latency_p99_ms keep the release defaults' hard limits
 * (RELEASE_DEFAULTS.maxErrorRate 0.02, maxLatencyP99Ms 800; a unit test keeps them in step).
 * restarts allows no shift at all: a confirmed rise of restarts over the baseline is a regression,
 * and as a critical metric it fails the canary; more than 3 restarts in one sample is a crash loop.
 */
export const DEFAULT_JUDGE_CONFIG: JudgeConfig = deepFreeze({
  metrics: [
    {
      name: 'error_rate',
      direction: 'increase-is-bad',
      critical: true,
      allowedShift: 0.5,
      hardMax: 0.02,
      hardStatistic: 'mean',
    },
    {
      name: 'latency_p99_ms',
      direction: 'increase-is-bad',
      allowedShift: 0.25,
      hardMax: 800,
      hardStatistic: 'p99',
    },
    { name: 'prediction_mean', direction: 'either', critical: true, allowedShift: 0.1 },
    { name: 'restarts', direction: 'increase-is-bad', critical: true, allowedShift: 0 },
  ],
  ...SCALAR_DEFAULTS,
  crashLoop: { metric: 'restarts', max: 3 },
});

/** Beyond this many canary x baseline pairs, the shift is estimated on quantile-thinned samples. */
const MAX_PAIRS = 2 ** 22;
const THINNED_LENGTH = 2048;
/** Tolerance of score comparisons, so that e.g. 3 x (1/3) still reaches a threshold of 1. */
const SCORE_EPSILON = 1e-9;

interface Settings {
  metrics: ResolvedMetric[];
  passThreshold: number;
  marginalThreshold: number;
  minSamples: number;
  alpha: number;
  anomalyThreshold: number;
  anomalyMinHits: number;
  confirmFailures: boolean;
  crashLoop: { metric: string; max: number } | undefined;
}

interface ResolvedMetric {
  name: string;
  direction: MetricDirection;
  weight: number;
  critical: boolean;
  allowedShift: number;
  hardMax: number | undefined;
  hardMin: number | undefined;
  hardStatistic: HardStatistic;
}

/**
 * Judges one analysis interval. Per metric the rules of the file comment; then, in order:
 * - any hard limit or crash loop: 'fail' at once, whatever the score;
 * - half or more of the metrics without any data (a track with no sample): 'fail' (the canary
 *   cannot be judged);
 * - score = weighted share of passing metrics ('nodata' and 'fail' do not pass);
 * - any failing critical metric: 'fail';
 * - no metric failed but some lack data (too few samples): 'marginal', whatever the score;
 * - score >= passThreshold: 'pass', but only 'marginal' when any metric lacks data;
 * - score >= marginalThreshold: 'marginal'; otherwise 'fail';
 * - with confirmFailures (the default), a 'fail' that no hard limit, crash loop or absent data
 *   caused is 'marginal' on a step's first window (input.recheck 0): only a re-check confirms it.
 * Throws a RangeError listing the problems when validateJudgeConfig rejects the configuration.
 */
export function judgeCanary(input: JudgeInput, config: JudgeConfig = DEFAULT_JUDGE_CONFIG): CanaryJudgement {
  const problems = validateJudgeConfig(config);
  if (problems.length > 0) {
    throw new RangeError(`judgeCanary: invalid judge configuration: ${problems.join('; ')}`);
  }
  const settings = resolve(config);
  const metrics = settings.metrics.map((metric) => judgeMetric(metric, input, settings));
  return confirmed(decide(metrics, settings), settings, input.recheck ?? 0);
}

function resolve(config: JudgeConfig): Settings {
  return {
    metrics: config.metrics.map((metric) => ({
      name: metric.name,
      direction: metric.direction,
      weight: metric.weight ?? 1,
      critical: metric.critical ?? false,
      allowedShift: metric.allowedShift,
      hardMax: metric.hardMax,
      hardMin: metric.hardMin,
      hardStatistic: metric.hardStatistic ?? 'mean',
    })),
    passThreshold: config.passThreshold ?? SCALAR_DEFAULTS.passThreshold,
    marginalThreshold: config.marginalThreshold ?? SCALAR_DEFAULTS.marginalThreshold,
    minSamples: config.minSamples ?? SCALAR_DEFAULTS.minSamples,
    alpha: config.alpha ?? SCALAR_DEFAULTS.alpha,
    anomalyThreshold: config.anomalyThreshold ?? SCALAR_DEFAULTS.anomalyThreshold,
    anomalyMinHits: config.anomalyMinHits ?? SCALAR_DEFAULTS.anomalyMinHits,
    confirmFailures: config.confirmFailures ?? SCALAR_DEFAULTS.confirmFailures,
    crashLoop: config.crashLoop,
  };
}

function judgeMetric(metric: ResolvedMetric, input: JudgeInput, settings: Settings): MetricJudgement {
  const { name } = metric;
  const canary = finiteValues(input.canary[name]);
  const baseline = finiteValues(input.baseline?.[name]);

  // 1. Hard limits and the crash loop, on whatever canary data there is.
  const breach = hardLimitBreach(metric, canary, baseline, settings);
  if (breach) return breach;

  // 2. No data.
  const { minSamples } = settings;
  if (input.baseline === null) {
    // The first release of the model here: nothing to compare with, the hard limits have held.
    const enough = canary.length >= minSamples;
    return {
      metric: name,
      outcome: enough ? 'pass' : 'nodata',
      rule: enough ? 'no-baseline' : canary.length === 0 ? 'no-data' : 'min-samples',
      canaryValue: canary.length > 0 ? median(canary) : null,
      baselineValue: null,
      summary: enough
        ? `${name}: canary median ${formatNumber(median(canary))}; no baseline (no stable version serves): ` +
          'within its hard limits, nothing to compare with'
        : `${name}: ${canary.length === 0 ? 'no canary data' : `only ${samples(canary.length)} from the canary`}` +
          ` and no baseline, at least ${minSamples} needed: not judged, counts as not passing`,
    };
  }
  if (canary.length < minSamples || baseline.length < minSamples) {
    const empty = canary.length === 0 || baseline.length === 0;
    const counts =
      canary.length === 0 && baseline.length === 0
        ? 'no data in either track'
        : canary.length === 0
          ? `no canary data (baseline: ${samples(baseline.length)})`
          : baseline.length === 0
            ? `no baseline data (canary: ${samples(canary.length)})`
            : `only ${samples(canary.length)} from the canary and ${samples(baseline.length)} from the baseline`;
    return {
      metric: name,
      outcome: 'nodata',
      rule: empty ? 'no-data' : 'min-samples',
      canaryValue: canary.length > 0 ? median(canary) : null,
      baselineValue: baseline.length > 0 ? median(baseline) : null,
      summary: `${name}: ${counts}, at least ${minSamples} per track needed: not judged, counts as not passing`,
    };
  }

  // 3. Mann-Whitney U in the bad direction and the Hodges-Lehmann shift with its confidence interval.
  const { alpha } = settings;
  const alternative: Alternative =
    metric.direction === 'increase-is-bad'
      ? 'greater'
      : metric.direction === 'decrease-is-bad'
        ? 'less'
        : 'two-sided';
  const test = mannWhitneyU(canary, baseline, { alternative });
  const [x, y] = pairable(canary, baseline);
  // A one-sided test at alpha goes with the one-sided (1 - alpha) bound, i.e. one end of the two-sided
  // (1 - 2 alpha) interval; the two-sided test with the (1 - alpha) interval.
  const interval = confidenceIntervalShift(x, y, alternative === 'two-sided' ? 1 - alpha : 1 - 2 * alpha);
  const baselineMedian = median(baseline);
  const absoluteShift = hodgesLehmannShift(x, y);
  const shift = relative(absoluteShift, baselineMedian);
  const lower = relative(interval.lower, baselineMedian);
  const upper = relative(interval.upper, baselineMedian);
  // Relative to a baseline median of 0 every shift is unbounded: the summary shows absolute ones.
  const show = (relativeValue: number, absoluteValue: number) =>
    baselineMedian === 0 ? signed(absoluteValue) : percent(relativeValue);
  const allowed = metric.allowedShift;
  const significant = test.pValue < alpha;
  const upward = metric.direction !== 'decrease-is-bad' && shift > allowed && lower > 0;
  const downward = metric.direction !== 'increase-is-bad' && shift < -allowed && upper < 0;
  const beyond =
    metric.direction === 'increase-is-bad'
      ? shift > allowed
      : metric.direction === 'decrease-is-bad'
        ? shift < -allowed
        : Math.abs(shift) > allowed;
  const regression = significant && (upward || downward);
  const effectSize = rankBiserial(test.u1, test.n1, test.n2);

  const confidence = `${formatPlain((1 - alpha) * 100)} %`;
  const allowedText =
    allowed === 0
      ? 'no shift allowed'
      : `allowed ${metric.direction === 'increase-is-bad' ? '+' : metric.direction === 'decrease-is-bad' ? '-' : '±'}` +
        `${formatPlain(allowed * 100)} %`;
  const band =
    metric.direction === 'increase-is-bad'
      ? `≥ ${show(lower, interval.lower)} with ${confidence} confidence; ${allowedText}`
      : metric.direction === 'decrease-is-bad'
        ? `≤ ${show(upper, interval.upper)} with ${confidence} confidence; ${allowedText}`
        : `${confidence} CI ${show(lower, interval.lower)} to ${show(upper, interval.upper)}; ${allowedText}`;
  const shiftText =
    baselineMedian === 0
      ? `shift ${signed(absoluteShift)} (absolute, as the baseline median is 0: any shift is beyond a relative allowance; ${band})`
      : `shift ${percent(shift)} (${band})`;
  const finding = regression
    ? metric.direction === 'either'
      ? `regression (${upward ? 'upward' : 'downward'} drift)`
      : 'regression'
    : !significant
      ? 'no significant change'
      : beyond
        ? 'significant, but the confidence interval of the shift includes 0'
        : 'significant but within the allowed shift';
  // Both tracks constant at one value (restarts at 0, typically): say so rather than print a test.
  const constant =
    canary[0] === canary.at(-1) && baseline[0] === baseline.at(-1) && canary[0] === baseline[0];
  const comparison = constant
    ? `${name}: canary and baseline both constant at ${formatNumber(baselineMedian)}: no change`
    : `${name}: canary median ${formatNumber(median(canary))} vs baseline ${formatNumber(baselineMedian)}, ` +
      `${shiftText}, Mann–Whitney p = ${formatP(test.pValue)}: ${finding}`;

  // 4. The anomaly model.
  const scores = input.anomalyScores?.[name];
  let anomaly = false;
  let anomalyText = '';
  if (scores !== undefined) {
    // A hit is an anomalous sample that also lies beyond the allowed shift from the baseline's median
    // on the metric's bad side: what the operator calls no regression is no anomaly either (on real
    // telemetry a near-constant p99 of 2.47 ms made 2.48 ms "anomalous" in one window of seven).
    // It must also lie outside the range the baseline itself showed in the same window: a burst the
    // stable version shares (a slow node, a traffic spike) is not the canary's doing. On real
    // telemetry (a 1 s p99 over a dozen requests) such shared bursts were most of the hits.
    const allowance = metric.allowedShift * Math.abs(baselineMedian);
    let baselineMin = Infinity;
    let baselineMax = -Infinity;
    for (const value of baseline) {
      if (value < baselineMin) baselineMin = value;
      if (value > baselineMax) baselineMax = value;
    }
    const high = (value: number) => value > baselineMedian + allowance && value > baselineMax;
    const low = (value: number) => value < baselineMedian - allowance && value < baselineMin;
    const beyondAllowance = (value: number) =>
      metric.direction === 'increase-is-bad'
        ? high(value)
        : metric.direction === 'decrease-is-bad'
          ? low(value)
          : high(value) || low(value);
    const raw = input.canary[name] ?? [];
    let scored = 0;
    let hits = 0;
    scores.forEach((score, index) => {
      if (!Number.isFinite(score)) return;
      scored += 1;
      const value = raw[index];
      if (
        score >= settings.anomalyThreshold &&
        value !== undefined &&
        Number.isFinite(value) &&
        beyondAllowance(value)
      ) {
        hits += 1;
      }
    });
    anomaly = hits >= settings.anomalyMinHits;
    anomalyText =
      `; anomaly model: ${hits} of ${scored} canary scores ≥ ${formatPlain(settings.anomalyThreshold)} beyond the allowed shift and the baseline's range` +
      ` (${settings.anomalyMinHits} or more fail)${anomaly ? ': anomaly' : ''}`;
  }

  return {
    metric: name,
    outcome: regression || anomaly ? 'fail' : 'pass',
    rule: !regression && anomaly ? 'anomaly-model' : 'mann-whitney',
    canaryValue: median(canary),
    baselineValue: baselineMedian,
    pValue: test.pValue,
    shift,
    effectSize,
    summary: comparison + anomalyText,
  };
}

function hardLimitBreach(
  metric: ResolvedMetric,
  canary: readonly number[],
  baseline: readonly number[],
  settings: Settings,
): MetricJudgement | undefined {
  if (canary.length === 0) return undefined;
  const breaches: { value: number; baseline: number | null; text: string }[] = [];
  if (metric.hardMax !== undefined || metric.hardMin !== undefined) {
    const label = metric.hardStatistic;
    const value = statistic(canary, label);
    const baselineValue = baseline.length > 0 ? statistic(baseline, label) : null;
    const context = baselineValue === null ? '' : ` (baseline ${label} ${formatNumber(baselineValue)})`;
    if (metric.hardMax !== undefined && value > metric.hardMax) {
      breaches.push({
        value,
        baseline: baselineValue,
        text: `canary ${label} ${formatAgainst(value, metric.hardMax)} is above the hard limit ${formatNumber(metric.hardMax)}${context}`,
      });
    }
    if (metric.hardMin !== undefined && value < metric.hardMin) {
      breaches.push({
        value,
        baseline: baselineValue,
        text: `canary ${label} ${formatAgainst(value, metric.hardMin)} is below the hard limit ${formatNumber(metric.hardMin)}${context}`,
      });
    }
  }
  const crashLoop = settings.crashLoop;
  if (crashLoop !== undefined && crashLoop.metric === metric.name) {
    const value = statistic(canary, 'max');
    if (value > crashLoop.max) {
      breaches.push({
        value,
        baseline: baseline.length > 0 ? statistic(baseline, 'max') : null,
        text: `canary max ${formatAgainst(value, crashLoop.max)} is above the crash-loop limit ${formatNumber(crashLoop.max)}: crash loop`,
      });
    }
  }
  const first = breaches[0];
  if (first === undefined) return undefined;
  return {
    metric: metric.name,
    outcome: 'fail',
    rule: 'hard-limit',
    canaryValue: first.value,
    baselineValue: first.baseline,
    summary: `${metric.name}: ${breaches.map((breach) => breach.text).join('; ')}: fails at once`,
  };
}

/**
 * A failure on the statistics alone (no hard limit, no crash loop, not a canary without data) on a
 * step's first window becomes marginal: the step holds and a fresh window confirms or clears it.
 */
function confirmed(judgement: CanaryJudgement, settings: Settings, recheck: number): CanaryJudgement {
  if (judgement.decision !== 'fail' || !settings.confirmFailures || recheck > 0) return judgement;
  const immediate = judgement.metrics.some((metric) => metric.rule === 'hard-limit');
  const absent = judgement.metrics.filter((metric) => metric.rule === 'no-data').length;
  if (immediate || (absent > 0 && absent * 2 >= judgement.metrics.length)) return judgement;
  return {
    ...judgement,
    decision: 'marginal',
    summary: `marginal, to be confirmed: ${judgement.summary.replace(/^fail: /, '')}; a statistical failure on a step's first window holds the canary, a re-check that fails again rolls it back`,
  };
}

function decide(metrics: MetricJudgement[], settings: Settings): CanaryJudgement {
  let totalWeight = 0;
  let passedWeight = 0;
  settings.metrics.forEach((metric, index) => {
    totalWeight += metric.weight;
    if (metrics[index]?.outcome === 'pass') passedWeight += metric.weight;
  });
  const score = totalWeight > 0 ? passedWeight / totalWeight : 0;
  const result = (decision: CanaryJudgement['decision'], summary: string): CanaryJudgement => ({
    decision,
    score,
    summary,
    metrics,
  });

  const names = (list: MetricJudgement[]) => list.map((metric) => metric.metric).join(', ');
  const nodata = metrics.filter((metric) => metric.outcome === 'nodata');
  const hard = metrics.filter((metric) => metric.rule === 'hard-limit');
  if (hard.length > 0) {
    const others = metrics.filter((metric) => metric.outcome === 'fail' && metric.rule !== 'hard-limit');
    return result(
      'fail',
      `fail (hard limit): ${hard.map((metric) => metric.summary).join('; ')}` +
        (others.length > 0 ? `; also failed: ${names(others)}` : '') +
        (nodata.length > 0 ? `; no data: ${names(nodata)}` : ''),
    );
  }

  // Without data (no sample at all in a track) is not the same as too few samples: half or more of
  // the metrics without any data fails the canary (it reports nothing); too few samples — a window
  // cut short by a scrape gap, a canary just started — only holds it (marginal, re-checked below).
  const absent = nodata.filter((metric) => metric.rule === 'no-data');
  if (absent.length > 0 && absent.length * 2 >= metrics.length) {
    return result(
      'fail',
      `fail: no data for ${absent.length} of ${metrics.length} metrics (${names(absent)}): ` +
        'with half or more unjudged the canary cannot pass',
    );
  }

  const failed = metrics.filter((metric) => metric.outcome === 'fail');
  const passedCount = metrics.filter((metric) => metric.outcome === 'pass').length;
  const scoreText = `score ${formatScore(score)} (${passedCount} of ${metrics.length} metrics passed)`;
  const details =
    (failed.length > 0 ? `; failed: ${names(failed)}` : '') +
    (nodata.length > 0 ? `; no data: ${names(nodata)}` : '');

  // The anomaly model alone never trips the critical rule: it lowers the score (so a marginal verdict
  // holds the canary and re-checks it on fresh data), and a failure needs the rank test's or a hard
  // limit's evidence, or a score below the marginal threshold.
  const criticalFailures = failed.filter(
    (judgement) =>
      judgement.rule !== 'anomaly-model' &&
      settings.metrics.some((metric) => metric.critical && metric.name === judgement.metric),
  );
  if (criticalFailures.length > 0) {
    return result('fail', `fail: critical metric ${names(criticalFailures)} failed; ${scoreText}${details}`);
  }

  if (failed.length === 0 && nodata.length > 0 && score < settings.passThreshold - SCORE_EPSILON) {
    return result(
      'marginal',
      `marginal: nothing failed, but ${names(nodata)} could not be judged (${scoreText}): ` +
        'too few samples is not a pass; holding for a fresh window' +
        details,
    );
  }
  if (score >= settings.passThreshold - SCORE_EPSILON) {
    if (nodata.length > 0) {
      return result(
        'marginal',
        `marginal: ${scoreText} reaches the pass threshold ${formatPlain(settings.passThreshold)}, ` +
          `but a metric without data allows no better than marginal${details}`,
      );
    }
    return result('pass', `pass: ${scoreText} ≥ ${formatPlain(settings.passThreshold)}${details}`);
  }
  if (score >= settings.marginalThreshold - SCORE_EPSILON) {
    return result(
      'marginal',
      `marginal: ${scoreText} is below the pass threshold ${formatPlain(settings.passThreshold)} ` +
        `but ≥ ${formatPlain(settings.marginalThreshold)}${details}`,
    );
  }
  return result(
    'fail',
    `fail: ${scoreText} is below the marginal threshold ${formatPlain(settings.marginalThreshold)}${details}`,
  );
}

const DIRECTIONS: readonly string[] = ['increase-is-bad', 'decrease-is-bad', 'either'];
const HARD_STATISTICS: readonly string[] = ['mean', 'p99', 'max'];
const CONFIG_FIELDS: readonly string[] = [
  'metrics',
  'passThreshold',
  'marginalThreshold',
  'minSamples',
  'alpha',
  'anomalyThreshold',
  'anomalyMinHits',
  'crashLoop',
  'confirmFailures',
];
const METRIC_FIELDS: readonly string[] = [
  'name',
  'direction',
  'weight',
  'critical',
  'allowedShift',
  'hardMax',
  'hardMin',
  'hardStatistic',
];

/**
 * The problems of a judge configuration, each naming the field's JSON pointer and the rule it breaks
 * (e.g. "/metrics/1/allowedShift: must be a finite number ≥ 0"); empty when it is valid. Checks the
 * types too, so a configuration parsed from YAML or JSON can be passed as it is; unknown fields are
 * problems, so that a misspelt optional field cannot silently fall back to its default.
 */
export function validateJudgeConfig(config: JudgeConfig): string[] {
  const problems: string[] = [];
  if (!isRecord(config)) return ['/: must be an object'];
  for (const key of Object.keys(config)) {
    if (!CONFIG_FIELDS.includes(key)) problems.push(`/${key}: unknown field`);
  }

  const names = new Map<string, number>();
  const metrics: unknown = config.metrics;
  if (!Array.isArray(metrics)) {
    problems.push('/metrics: must be an array of metric configurations');
  } else {
    if (metrics.length === 0) problems.push('/metrics: must hold at least one metric');
    metrics.forEach((metric: unknown, index) => {
      const path = `/metrics/${index}`;
      if (!isRecord(metric)) {
        problems.push(`${path}: must be an object`);
        return;
      }
      for (const key of Object.keys(metric)) {
        if (!METRIC_FIELDS.includes(key)) problems.push(`${path}/${key}: unknown field`);
      }
      const { name, direction, weight, critical, allowedShift, hardMax, hardMin, hardStatistic } = metric;
      if (typeof name !== 'string' || name.trim() === '') {
        problems.push(`${path}/name: must be a non-empty string`);
      } else if (names.has(name)) {
        problems.push(`${path}/name: '${name}' is already the name of /metrics/${names.get(name)}`);
      } else {
        names.set(name, index);
      }
      if (typeof direction !== 'string' || !DIRECTIONS.includes(direction)) {
        problems.push(`${path}/direction: must be one of ${DIRECTIONS.map((d) => `'${d}'`).join(', ')}`);
      }
      if (weight !== undefined && !(isFiniteNumber(weight) && weight > 0)) {
        problems.push(`${path}/weight: must be a finite number > 0`);
      }
      if (critical !== undefined && typeof critical !== 'boolean') {
        problems.push(`${path}/critical: must be a boolean`);
      }
      if (!(isFiniteNumber(allowedShift) && allowedShift >= 0)) {
        problems.push(`${path}/allowedShift: must be a finite number ≥ 0`);
      }
      if (hardMax !== undefined && !isFiniteNumber(hardMax)) {
        problems.push(`${path}/hardMax: must be a finite number`);
      }
      if (hardMin !== undefined && !isFiniteNumber(hardMin)) {
        problems.push(`${path}/hardMin: must be a finite number`);
      }
      if (isFiniteNumber(hardMin) && isFiniteNumber(hardMax) && hardMin > hardMax) {
        problems.push(`${path}/hardMin: must be ≤ hardMax (${hardMax})`);
      }
      if (hardStatistic !== undefined) {
        if (typeof hardStatistic !== 'string' || !HARD_STATISTICS.includes(hardStatistic)) {
          problems.push(
            `${path}/hardStatistic: must be one of ${HARD_STATISTICS.map((s) => `'${s}'`).join(', ')}`,
          );
        } else if (hardMax === undefined && hardMin === undefined) {
          problems.push(`${path}/hardStatistic: has no effect without hardMax or hardMin`);
        }
      }
    });
  }

  const { passThreshold, marginalThreshold, minSamples, alpha, anomalyThreshold, anomalyMinHits } =
    config as Record<keyof JudgeConfig, unknown>;
  if (
    passThreshold !== undefined &&
    !(isFiniteNumber(passThreshold) && passThreshold > 0 && passThreshold <= 1)
  ) {
    problems.push('/passThreshold: must be a number in (0, 1]');
  }
  if (
    marginalThreshold !== undefined &&
    !(isFiniteNumber(marginalThreshold) && marginalThreshold >= 0 && marginalThreshold <= 1)
  ) {
    problems.push('/marginalThreshold: must be a number in [0, 1]');
  }
  const pass = passThreshold ?? SCALAR_DEFAULTS.passThreshold;
  const marginal = marginalThreshold ?? SCALAR_DEFAULTS.marginalThreshold;
  if (isFiniteNumber(pass) && isFiniteNumber(marginal) && marginal > pass) {
    problems.push(`/marginalThreshold: must be ≤ passThreshold (${pass})`);
  }
  if (minSamples !== undefined && !(Number.isInteger(minSamples) && (minSamples as number) >= 1)) {
    problems.push('/minSamples: must be an integer ≥ 1');
  }
  if (alpha !== undefined && !(isFiniteNumber(alpha) && alpha > 0 && alpha < 0.5)) {
    problems.push('/alpha: must be a number in (0, 0.5)');
  }
  if (
    anomalyThreshold !== undefined &&
    !(isFiniteNumber(anomalyThreshold) && anomalyThreshold >= 0 && anomalyThreshold <= 1)
  ) {
    problems.push('/anomalyThreshold: must be a number in [0, 1]');
  }
  if (
    anomalyMinHits !== undefined &&
    !(Number.isInteger(anomalyMinHits) && (anomalyMinHits as number) >= 1)
  ) {
    problems.push('/anomalyMinHits: must be an integer ≥ 1');
  }

  const confirmFailures: unknown = config.confirmFailures;
  if (confirmFailures !== undefined && typeof confirmFailures !== 'boolean') {
    problems.push('/confirmFailures: must be true or false');
  }

  const crashLoop: unknown = config.crashLoop;
  if (crashLoop !== undefined) {
    if (!isRecord(crashLoop)) {
      problems.push('/crashLoop: must be an object { metric, max }');
    } else {
      for (const key of Object.keys(crashLoop)) {
        if (key !== 'metric' && key !== 'max') problems.push(`/crashLoop/${key}: unknown field`);
      }
      if (typeof crashLoop.metric !== 'string' || !names.has(crashLoop.metric)) {
        problems.push('/crashLoop/metric: must name a configured metric');
      }
      if (!(isFiniteNumber(crashLoop.max) && crashLoop.max >= 0)) {
        problems.push('/crashLoop/max: must be a finite number ≥ 0');
      }
    }
  }
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** The finite values, sorted ascending (NaN and infinities are missing samples). */
function finiteValues(values: readonly number[] | undefined): number[] {
  if (values === undefined) return [];
  return values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
}

function median(sorted: readonly number[]): number {
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function statistic(sorted: readonly number[], kind: HardStatistic): number {
  switch (kind) {
    case 'mean': {
      let sum = 0;
      for (const value of sorted) sum += value;
      return sum / sorted.length;
    }
    case 'p99':
      return sorted[Math.max(0, Math.ceil(0.99 * sorted.length) - 1)]!;
    case 'max':
      return sorted[sorted.length - 1]!;
  }
}

/** A shift relative to the baseline median; unbounded (±Infinity) when that median is 0. */
function relative(value: number, baselineMedian: number): number {
  if (baselineMedian !== 0) return value / Math.abs(baselineMedian);
  return value > 0 ? Infinity : value < 0 ? -Infinity : 0;
}

/**
 * The samples for the O(n1 n2) shift estimates: as they are, or, beyond MAX_PAIRS pairs, each reduced
 * to THINNED_LENGTH evenly spaced order statistics (its quantiles): the distributions, and so the
 * estimate, stay as they were to within the quantiles' spacing; the interval widens as for samples of
 * that size. 2^22 pairs keep each pairwise array at 32 MiB. The rank test always sees every sample.
 */
function pairable(
  canary: readonly number[],
  baseline: readonly number[],
): [readonly number[], readonly number[]] {
  if (canary.length * baseline.length <= MAX_PAIRS) return [canary, baseline];
  return [thin(canary), thin(baseline)];
}

function thin(sorted: readonly number[]): readonly number[] {
  if (sorted.length <= THINNED_LENGTH) return sorted;
  const step = (sorted.length - 1) / (THINNED_LENGTH - 1);
  return Array.from({ length: THINNED_LENGTH }, (_, index) => sorted[Math.round(index * step)]!);
}

function samples(count: number): string {
  return count === 1 ? '1 sample' : `${count} samples`;
}

/** A measured value, to four significant digits: 412.3, 0.003512, 1200. */
function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? '∞' : value < 0 ? '-∞' : 'NaN';
  return String(Number(value.toPrecision(4)));
}

/** A value compared with a limit, with as many digits as it takes not to print the same as the limit. */
function formatAgainst(value: number, limit: number): string {
  let text = formatNumber(value);
  for (let digits = 5; text === formatNumber(limit) && value !== limit && digits <= 17; digits++) {
    text = String(Number(value.toPrecision(digits)));
  }
  return text;
}

/** A configured number (threshold, percentage) as written, up to four significant digits. */
function formatPlain(value: number): string {
  return String(Number(value.toPrecision(4)));
}

function formatP(p: number): string {
  if (p === 0) return '< 1e-300';
  if (p < 0.001) return p.toExponential(0).replace('e+', 'e');
  return String(Number(p.toPrecision(2)));
}

/** A relative change as a signed percentage: +37 %, -4.2 %, 0 %. */
function percent(fraction: number): string {
  if (fraction === Infinity) return '+∞ %';
  if (fraction === -Infinity) return '-∞ %';
  const value = fraction * 100;
  const magnitude =
    Math.abs(value) >= 10 ? Math.round(Math.abs(value)) : Number(Math.abs(value).toPrecision(2));
  if (magnitude === 0) return '0 %';
  return `${value > 0 ? '+' : '-'}${magnitude} %`;
}

/** An absolute shift with its sign: +1, -0.25, 0. */
function signed(value: number): string {
  const text = formatNumber(value);
  return value > 0 ? `+${text}` : text;
}

function formatScore(score: number): string {
  return String(Number(score.toFixed(3)));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
