// The canary judge on deterministic synthetic telemetry (a seeded PRNG, no Math.random): every rule —
// hard limits, crash loop, no data, minimum samples, the Mann-Whitney / Hodges-Lehmann comparison in
// each direction, the anomaly model, criticality, weights and thresholds — and the config validation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_JUDGE_CONFIG,
  judgeCanary as judgeWindow,
  validateJudgeConfig,
  type CanaryJudgement,
  type JudgeConfig,
  type JudgeInput,
  type MetricConfig,
  type MetricJudgement,
} from '../../activities/analysis/canary-judge.js';
import { gaussian, openUniform } from '../../activities/telemetry/simulated.js';
import { RELEASE_DEFAULTS } from '../../domain/release.js';

/**
 * Most tests judge a re-check window (recheck 1), where each window's rules decide alone; how a
 * statistical failure on a step's first window is held for confirmation has tests of its own.
 */
function judgeCanary(input: JudgeInput, config: JudgeConfig = DEFAULT_JUDGE_CONFIG): CanaryJudgement {
  return judgeWindow({ recheck: 1, ...input }, config);
}

/** Seeded sample series: each call of a factory draws from its own stream. */
function series(seed: number) {
  const uniform = openUniform(seed);
  const normal = gaussian(uniform);
  return {
    uniform: (n: number, low: number, high: number): number[] =>
      Array.from({ length: n }, () => low + (high - low) * uniform()),
    normal: (n: number, mean: number, sd: number): number[] =>
      Array.from({ length: n }, () => mean + sd * normal()),
    /** Counts that are 1 with probability p, else 0 (restarts of a healthy pod). */
    rare: (n: number, p: number): number[] => Array.from({ length: n }, () => (uniform() < p ? 1 : 0)),
  };
}

type Track = Record<string, number[]>;

/** A healthy track of the four default metrics: the baseline and a healthy canary look alike. */
function healthyTrack(seed: number, n = 60): Track {
  const draw = series(seed);
  return {
    error_rate: draw.uniform(n, 0.001, 0.006),
    latency_p99_ms: draw.normal(n, 300, 20),
    prediction_mean: draw.normal(n, 0.9, 0.01),
    restarts: draw.rare(n, 0.05),
  };
}

function healthyInput(seed: number, n = 60): { baseline: Track; canary: Track } {
  return { baseline: healthyTrack(seed * 2 + 1, n), canary: healthyTrack(seed * 2 + 2, n) };
}

/** A healthy input whose canary series are replaced (or removed, with undefined). */
function withCanary(seed: number, canary: Record<string, number[] | undefined>): JudgeInput {
  const input = healthyInput(seed);
  return { baseline: input.baseline, canary: replace(input.canary, canary) };
}

function replace(track: Track, changes: Record<string, number[] | undefined>): Track {
  const result: Track = { ...track };
  for (const [name, values] of Object.entries(changes)) {
    if (values === undefined) delete result[name];
    else result[name] = values;
  }
  return result;
}

/** The default config with some metrics changed. */
function configWith(
  changes: Record<string, Partial<MetricConfig>>,
  rest: Partial<JudgeConfig> = {},
): JudgeConfig {
  return {
    ...DEFAULT_JUDGE_CONFIG,
    metrics: DEFAULT_JUDGE_CONFIG.metrics.map((metric) => ({ ...metric, ...changes[metric.name] })),
    ...rest,
  };
}

function metricOf(judgement: CanaryJudgement, name: string): MetricJudgement {
  const metric = judgement.metrics.find((candidate) => candidate.metric === name);
  assert.ok(metric, `no judgement for ${name}`);
  return metric;
}

function assertOneLine(judgement: CanaryJudgement): void {
  for (const line of [judgement.summary, ...judgement.metrics.map((metric) => metric.summary)]) {
    assert.ok(line.length > 0 && !line.includes('\n'), `not one line: ${JSON.stringify(line)}`);
  }
}

const otherMetrics = (judgement: CanaryJudgement, name: string) =>
  judgement.metrics.filter((metric) => metric.metric !== name);

describe('canary judge: defaults', () => {
  test('the default configuration is valid, frozen and keeps the release hard limits', () => {
    assert.deepEqual(validateJudgeConfig(DEFAULT_JUDGE_CONFIG), []);
    assert.deepEqual(
      DEFAULT_JUDGE_CONFIG.metrics.map((metric) => metric.name),
      ['error_rate', 'latency_p99_ms', 'prediction_mean', 'restarts'],
    );
    const byName = new Map(DEFAULT_JUDGE_CONFIG.metrics.map((metric) => [metric.name, metric]));
    assert.equal(byName.get('error_rate')?.hardMax, RELEASE_DEFAULTS.maxErrorRate);
    assert.equal(byName.get('latency_p99_ms')?.hardMax, RELEASE_DEFAULTS.maxLatencyP99Ms);
    assert.deepEqual(DEFAULT_JUDGE_CONFIG.crashLoop, { metric: 'restarts', max: 3 });
    assert.ok(Object.isFrozen(DEFAULT_JUDGE_CONFIG.metrics[0]));
  });

  test('a healthy canary passes for 100 different seeds, with every metric judged by Mann–Whitney', () => {
    for (let seed = 0; seed < 100; seed++) {
      const judgement = judgeCanary(healthyInput(seed));
      assert.equal(judgement.decision, 'pass', `seed ${seed}: ${judgement.summary}`);
      assert.equal(judgement.score, 1);
      for (const metric of judgement.metrics) {
        assert.equal(metric.outcome, 'pass', metric.summary);
        assert.equal(metric.rule, 'mann-whitney');
        assert.equal(typeof metric.pValue, 'number');
      }
      assertOneLine(judgement);
    }
    const judgement = judgeCanary(healthyInput(1));
    assert.match(judgement.summary, /^pass: score 1 \(4 of 4 metrics passed\) ≥ 0\.95$/);
    assert.match(
      metricOf(judgement, 'latency_p99_ms').summary,
      /^latency_p99_ms: canary median [\d.]+ vs baseline [\d.]+, shift [+-]?[\d.]+ % \(≥ .* with 99 % confidence; allowed \+25 %\), Mann–Whitney p = [\d.e-]+: no significant change$/,
    );
  });

  test('the judge is deterministic: the same input gives the same judgement', () => {
    const input = withCanary(7, { latency_p99_ms: series(70).normal(60, 420, 20) });
    assert.deepEqual(judgeCanary(input), judgeCanary(input));
  });
});

describe('canary judge: hard limits and crash loop fail at once', () => {
  test('error rate mean above 0.02 fails at once, whatever the score and criticality', () => {
    const input = withCanary(3, { error_rate: series(30).uniform(60, 0.025, 0.035) });
    // With error_rate almost weightless and not critical, the score alone would pass.
    const config = configWith({ error_rate: { weight: 0.001, critical: false } });
    const judgement = judgeCanary(input, config);
    assert.equal(judgement.decision, 'fail');
    assert.ok(judgement.score > 0.99, `score ${judgement.score}`);
    const metric = metricOf(judgement, 'error_rate');
    assert.equal(metric.outcome, 'fail');
    assert.equal(metric.rule, 'hard-limit');
    assert.ok(metric.canaryValue !== null && metric.canaryValue > 0.025 && metric.canaryValue < 0.035);
    assert.ok(metric.baselineValue !== null && metric.baselineValue < 0.006);
    assert.match(
      metric.summary,
      /^error_rate: canary mean 0\.0\d+ is above the hard limit 0\.02 \(baseline mean 0\.00\d+\): fails at once$/,
    );
    assert.match(judgement.summary, /^fail \(hard limit\): error_rate: canary mean/);
    for (const other of otherMetrics(judgement, 'error_rate')) assert.equal(other.outcome, 'pass');
    assertOneLine(judgement);
  });

  test('latency p99 above 800 ms fails at once even though the median is unchanged', () => {
    const latency = series(31).normal(60, 300, 20);
    latency[10] = 1200;
    latency[40] = 1150;
    const judgement = judgeCanary(withCanary(4, { latency_p99_ms: latency }));
    assert.equal(judgement.decision, 'fail');
    const metric = metricOf(judgement, 'latency_p99_ms');
    assert.equal(metric.rule, 'hard-limit');
    assert.equal(metric.canaryValue, 1200);
    assert.match(metric.summary, /canary p99 1200 is above the hard limit 800 \(baseline p99 [\d.]+\)/);
    // Without the hard limit the same data passes the statistical comparison.
    const relaxed = judgeCanary(
      withCanary(4, { latency_p99_ms: latency }),
      configWith({ latency_p99_ms: { hardMax: 2000 } }),
    );
    assert.equal(metricOf(relaxed, 'latency_p99_ms').outcome, 'pass');
    assert.equal(relaxed.decision, 'pass');
  });

  test('a value exactly at the limit holds; just above it fails', () => {
    const config = configWith({ latency_p99_ms: { hardMax: 800, hardStatistic: 'max' } });
    const latency = series(32).normal(60, 300, 20);
    latency[5] = 800;
    assert.equal(judgeCanary(withCanary(5, { latency_p99_ms: latency }), config).decision, 'pass');
    latency[5] = 800.5;
    const judgement = judgeCanary(withCanary(5, { latency_p99_ms: latency }), config);
    assert.equal(judgement.decision, 'fail');
    assert.match(
      metricOf(judgement, 'latency_p99_ms').summary,
      /canary max 800\.5 is above the hard limit 800/,
    );
  });

  test('hardMin: a prediction mean below its floor fails at once', () => {
    const config = configWith({ prediction_mean: { hardMin: 0.5 } });
    const judgement = judgeCanary(
      withCanary(6, { prediction_mean: series(33).normal(60, 0.3, 0.01) }),
      config,
    );
    assert.equal(judgement.decision, 'fail');
    const metric = metricOf(judgement, 'prediction_mean');
    assert.equal(metric.rule, 'hard-limit');
    assert.match(
      metric.summary,
      /canary mean 0\.3\d* is below the hard limit 0\.5 \(baseline mean 0\.9\d*\)/,
    );
  });

  test('hard limits apply to fewer than minSamples canary samples (no "no data" escape)', () => {
    const judgement = judgeCanary(withCanary(8, { error_rate: [0.1, 0.08, 0.12, 0.09, 0.11] }));
    assert.equal(judgement.decision, 'fail');
    const metric = metricOf(judgement, 'error_rate');
    assert.equal(metric.rule, 'hard-limit');
    assert.equal(metric.outcome, 'fail');
    assert.ok(Math.abs(metric.canaryValue! - 0.1) < 1e-12);
  });

  test('crash loop: restarts above 3 in a sample fail at once; exactly 3 does not', () => {
    const restarts = new Array<number>(60).fill(0);
    restarts[30] = 5;
    const judgement = judgeCanary(withCanary(9, { restarts }));
    assert.equal(judgement.decision, 'fail');
    const metric = metricOf(judgement, 'restarts');
    assert.equal(metric.rule, 'hard-limit');
    assert.equal(metric.canaryValue, 5);
    assert.match(
      metric.summary,
      /^restarts: canary max 5 is above the crash-loop limit 3: crash loop: fails at once$/,
    );
    assert.match(judgement.summary, /crash loop/);

    restarts[30] = 3;
    const below = judgeCanary(withCanary(9, { restarts }));
    assert.equal(metricOf(below, 'restarts').rule, 'mann-whitney');
    assert.equal(below.decision, 'pass', below.summary);
  });
});

describe('canary judge: statistical failures are confirmed before a rollback', () => {
  const drifted = () => {
    const input = healthyInput(21);
    return {
      baseline: input.baseline,
      canary: { ...input.canary, prediction_mean: input.canary.prediction_mean!.map((value) => value * 1.4) },
    };
  };

  test("a critical rank-test failure on a step's first window holds the canary; the re-check fails it", () => {
    const first = judgeWindow(drifted());
    assert.equal(first.decision, 'marginal');
    assert.match(first.summary, /^marginal, to be confirmed: critical metric prediction_mean failed/);
    assert.equal(metricOf(first, 'prediction_mean').outcome, 'fail');
    const again = judgeWindow({ ...drifted(), recheck: 1 });
    assert.equal(again.decision, 'fail');
    assert.match(again.summary, /^fail: critical metric prediction_mean failed/);
    // The same window passes when it is healthy: nothing to confirm.
    assert.equal(judgeWindow({ ...healthyInput(21), recheck: 1 }).decision, 'pass');
  });

  test('a score below the marginal threshold is held for confirmation too', () => {
    const input = healthyInput(22);
    const slow = {
      baseline: input.baseline,
      canary: {
        ...input.canary,
        latency_p99_ms: input.canary.latency_p99_ms!.map((value) => value * 1.6),
        prediction_mean: input.canary.prediction_mean!.map((value) => value * 1.4),
      },
    };
    const config = configWith({ prediction_mean: { critical: false } });
    assert.equal(judgeWindow(slow, config).decision, 'marginal');
    assert.equal(judgeWindow({ ...slow, recheck: 2 }, config).decision, 'fail');
  });

  test('hard limits, the crash loop and a canary without data fail at once, first window or not', () => {
    const spike = judgeWindow(withCanary(23, { error_rate: Array.from({ length: 60 }, () => 0.05) }));
    assert.equal(spike.decision, 'fail');
    assert.match(spike.summary, /^fail \(hard limit\)/);
    const crash = judgeWindow(withCanary(23, { restarts: [0, 0, 5, 6] }));
    assert.equal(crash.decision, 'fail');
    const silent = judgeWindow({ baseline: healthyInput(23).baseline, canary: {} });
    assert.equal(silent.decision, 'fail');
    assert.match(silent.summary, /no data for 4 of 4 metrics/);
  });

  test('confirmFailures: false fails on the first window, as a per-interval judge does', () => {
    const judgement = judgeWindow(drifted(), { ...DEFAULT_JUDGE_CONFIG, confirmFailures: false });
    assert.equal(judgement.decision, 'fail');
    assert.deepEqual(
      validateJudgeConfig({ ...DEFAULT_JUDGE_CONFIG, confirmFailures: 'yes' } as unknown as JudgeConfig),
      ['/confirmFailures: must be true or false'],
    );
  });
});

describe('canary judge: no data and minimum samples', () => {
  test('one metric of four without data: that metric is nodata and the canary marginal at best', () => {
    const judgement = judgeCanary(withCanary(10, { prediction_mean: undefined }));
    const metric = metricOf(judgement, 'prediction_mean');
    assert.equal(metric.outcome, 'nodata');
    assert.equal(metric.rule, 'no-data');
    assert.equal(metric.canaryValue, null);
    assert.notEqual(metric.baselineValue, null);
    assert.match(
      metric.summary,
      /^prediction_mean: no canary data \(baseline: 60 samples\), at least 20 per track needed/,
    );
    assert.equal(judgement.score, 0.75);
    assert.equal(judgement.decision, 'marginal');
    assert.match(judgement.summary, /no data: prediction_mean/);

    // Even when the score reaches the pass threshold, missing data allows no better than marginal.
    const light = judgeCanary(
      withCanary(10, { prediction_mean: undefined }),
      configWith({ prediction_mean: { weight: 0.01 } }),
    );
    assert.ok(light.score >= 0.95, `score ${light.score}`);
    assert.equal(light.decision, 'marginal');
    assert.match(light.summary, /no better than marginal/);
  });

  test('a missing baseline series is no data too', () => {
    const input = healthyInput(11);
    const judgement = judgeCanary({
      baseline: replace(input.baseline, { latency_p99_ms: undefined }),
      canary: input.canary,
    });
    const metric = metricOf(judgement, 'latency_p99_ms');
    assert.equal(metric.outcome, 'nodata');
    assert.match(metric.summary, /no baseline data \(canary: 60 samples\)/);
    assert.equal(judgement.decision, 'marginal');
  });

  test('half or more of the metrics without data: fail, saying so', () => {
    const two = judgeCanary(withCanary(12, { prediction_mean: undefined, restarts: undefined }));
    assert.equal(two.decision, 'fail');
    assert.equal(two.score, 0.5);
    assert.match(two.summary, /^fail: no data for 2 of 4 metrics \(prediction_mean, restarts\)/);

    const none = judgeCanary({ baseline: {}, canary: {} });
    assert.equal(none.decision, 'fail');
    assert.equal(none.score, 0);
    assert.ok(none.metrics.every((metric) => metric.outcome === 'nodata' && metric.rule === 'no-data'));
    assert.match(none.summary, /no data for 4 of 4 metrics/);
    assert.match(metricOf(none, 'error_rate').summary, /no data in either track/);
  });

  test('too few samples in every metric (a window cut short) holds the canary; none at all fails it', () => {
    const input = healthyInput(14);
    const cut = (tracks: Record<string, readonly number[]>) =>
      Object.fromEntries(Object.entries(tracks).map(([name, values]) => [name, values.slice(0, 12)]));
    const short = judgeCanary({ baseline: input.baseline, canary: cut(input.canary) });
    assert.ok(short.metrics.every((metric) => metric.rule === 'min-samples'));
    assert.equal(short.score, 0);
    assert.equal(short.decision, 'marginal');
    assert.match(
      short.summary,
      /^marginal: nothing failed, but .* could not be judged .*too few samples is not a pass/,
    );
    // A failure on the metrics that could be judged still fails (critical error_rate here).
    const failing = judgeCanary({
      baseline: input.baseline,
      canary: { ...cut(input.canary), error_rate: input.canary.error_rate!.map((value) => value * 3) },
    });
    assert.equal(failing.decision, 'fail');
  });

  test('min-samples: 19 canary samples are not judged, 20 are; NaN is a missing sample', () => {
    const latency = series(34).normal(60, 300, 20);
    const short = judgeCanary(withCanary(13, { latency_p99_ms: latency.slice(0, 19) }));
    const metric = metricOf(short, 'latency_p99_ms');
    assert.equal(metric.outcome, 'nodata');
    assert.equal(metric.rule, 'min-samples');
    assert.notEqual(metric.canaryValue, null);
    assert.match(
      metric.summary,
      /only 19 samples from the canary and 60 samples from the baseline, at least 20 per track/,
    );
    assert.equal(short.decision, 'marginal');

    const padded = judgeCanary(
      withCanary(13, { latency_p99_ms: [...latency.slice(0, 19), NaN, NaN, Infinity] }),
    );
    assert.equal(metricOf(padded, 'latency_p99_ms').rule, 'min-samples');

    const enough = judgeCanary(withCanary(13, { latency_p99_ms: latency.slice(0, 20) }));
    assert.equal(metricOf(enough, 'latency_p99_ms').rule, 'mann-whitney');
    assert.equal(enough.decision, 'pass', enough.summary);

    const lowered = judgeCanary(withCanary(13, { latency_p99_ms: latency.slice(0, 19) }), {
      ...DEFAULT_JUDGE_CONFIG,
      minSamples: 10,
    });
    assert.equal(metricOf(lowered, 'latency_p99_ms').outcome, 'pass');
  });
});

describe('canary judge: Mann–Whitney and Hodges–Lehmann shift', () => {
  test('a significant and large latency increase fails with the numbers; the same decrease passes', () => {
    const slower = judgeCanary(withCanary(14, { latency_p99_ms: series(35).normal(60, 420, 20) }));
    const metric = metricOf(slower, 'latency_p99_ms');
    assert.equal(metric.outcome, 'fail');
    assert.equal(metric.rule, 'mann-whitney');
    assert.ok(metric.shift! > 0.33 && metric.shift! < 0.47, `shift ${metric.shift}`);
    assert.ok(metric.pValue! < 1e-9, `p ${metric.pValue}`);
    assert.ok(metric.effectSize! > 0.9, `effect size ${metric.effectSize}`);
    assert.ok(metric.canaryValue! > 400 && metric.baselineValue! < 320);
    assert.match(
      metric.summary,
      /^latency_p99_ms: canary median 4\d\d(\.\d)? vs baseline [23]\d\d(\.\d)?, shift \+\d\d % \(≥ \+\d\d % with 99 % confidence; allowed \+25 %\), Mann–Whitney p = \de-\d+: regression$/,
    );
    // Latency is not critical: one failure of four equal weights is marginal.
    assert.equal(slower.decision, 'marginal');
    assert.equal(slower.score, 0.75);
    assert.match(slower.summary, /failed: latency_p99_ms/);

    const faster = judgeCanary(withCanary(14, { latency_p99_ms: series(35).normal(60, 180, 20) }));
    const good = metricOf(faster, 'latency_p99_ms');
    assert.equal(good.outcome, 'pass');
    assert.ok(good.shift! < -0.33, `shift ${good.shift}`);
    assert.ok(good.pValue! > 0.5, `one-sided p in the bad direction ${good.pValue}`);
    assert.equal(faster.decision, 'pass');
  });

  test('decrease-is-bad: a drop beyond the allowed shift fails, a rise passes', () => {
    const config: JudgeConfig = {
      metrics: [{ name: 'throughput_rps', direction: 'decrease-is-bad', allowedShift: 0.2 }],
    };
    const baseline = { throughput_rps: series(36).normal(60, 100, 5) };
    const drop = judgeCanary({ baseline, canary: { throughput_rps: series(37).normal(60, 60, 5) } }, config);
    const metric = metricOf(drop, 'throughput_rps');
    assert.equal(metric.outcome, 'fail');
    assert.match(
      metric.summary,
      /shift -\d\d % \(≤ -\d\d % with 99 % confidence; allowed -20 %\).*: regression$/,
    );
    assert.equal(drop.decision, 'fail');

    const rise = judgeCanary({ baseline, canary: { throughput_rps: series(37).normal(60, 140, 5) } }, config);
    assert.equal(metricOf(rise, 'throughput_rps').outcome, 'pass');
    assert.equal(rise.decision, 'pass');
  });

  test('a significant but tiny shift passes (+2 % latency on 500 samples per track)', () => {
    const input: JudgeInput = {
      baseline: { latency_p99_ms: series(38).normal(500, 300, 15) },
      canary: { latency_p99_ms: series(39).normal(500, 306, 15) },
    };
    const config: JudgeConfig = {
      metrics: [{ name: 'latency_p99_ms', direction: 'increase-is-bad', allowedShift: 0.25 }],
    };
    const judgement = judgeCanary(input, config);
    const metric = metricOf(judgement, 'latency_p99_ms');
    assert.ok(metric.pValue! < 1e-6, `significant: p ${metric.pValue}`);
    assert.ok(metric.shift! > 0.01 && metric.shift! < 0.03, `shift ${metric.shift}`);
    assert.equal(metric.outcome, 'pass');
    assert.match(metric.summary, /: significant but within the allowed shift$/);
    assert.equal(judgement.decision, 'pass');
    // With no shift allowed at all, the same confirmed increase is a regression.
    const strict = judgeCanary(input, { metrics: [{ ...config.metrics[0]!, allowedShift: 0 }] });
    assert.equal(metricOf(strict, 'latency_p99_ms').outcome, 'fail');
  });

  test('a clear but uncertain regression on a small interval fails: the estimate, not the bound, decides', () => {
    // 20 noisy samples per track: the estimate (+43 %) is beyond +25 %, its 99 % bound (+22 %) is not.
    // Requiring the whole interval beyond the allowed shift would pass this canary; the judge does not.
    const input: JudgeInput = {
      baseline: { latency_p99_ms: series(42).normal(20, 300, 60) },
      canary: { latency_p99_ms: series(43).normal(20, 390, 60) },
    };
    const config: JudgeConfig = {
      metrics: [{ name: 'latency_p99_ms', direction: 'increase-is-bad', allowedShift: 0.25 }],
    };
    const metric = metricOf(judgeCanary(input, config), 'latency_p99_ms');
    assert.ok(metric.shift! > 0.4, `shift ${metric.shift}`);
    assert.ok(metric.pValue! < 0.01, `p ${metric.pValue}`);
    const bound = Number(/≥ \+(\d+) % with 99 % confidence/.exec(metric.summary)?.[1]);
    assert.ok(bound > 0 && bound < 25, `bound ${bound}: ${metric.summary}`);
    assert.equal(metric.outcome, 'fail');
    assert.match(metric.summary, /: regression$/);
    // The same data with +50 % allowed: the estimate is within, so the significant change passes.
    const wide = judgeCanary(input, { metrics: [{ ...config.metrics[0]!, allowedShift: 0.5 }] });
    assert.equal(metricOf(wide, 'latency_p99_ms').outcome, 'pass');
    assert.match(metricOf(wide, 'latency_p99_ms').summary, /significant but within the allowed shift$/);
  });

  test("'either' catches a prediction distribution shift both ways and lets a small one pass", () => {
    for (const [mean, drift] of [
      [1.05, 'upward'],
      [0.75, 'downward'],
    ] as const) {
      const judgement = judgeCanary(withCanary(15, { prediction_mean: series(42).normal(60, mean, 0.01) }));
      const metric = metricOf(judgement, 'prediction_mean');
      assert.equal(metric.outcome, 'fail', metric.summary);
      assert.equal(metric.rule, 'mann-whitney');
      assert.ok(drift === 'upward' ? metric.shift! > 0.1 : metric.shift! < -0.1, `shift ${metric.shift}`);
      assert.match(
        metric.summary,
        new RegExp(`99 % CI .* to .*; allowed ±10 %\\).*: regression \\(${drift} drift\\)$`),
      );
      // prediction_mean is critical by default: a confirmed drift fails the canary.
      assert.equal(judgement.decision, 'fail');
      assert.match(judgement.summary, /critical metric prediction_mean failed/);
    }
    const small = judgeCanary(withCanary(15, { prediction_mean: series(42).normal(60, 0.905, 0.01) }));
    assert.equal(metricOf(small, 'prediction_mean').outcome, 'pass');
    assert.equal(small.decision, 'pass');
  });

  test('large intervals are judged on thinned quantiles and still see the shift', () => {
    const input: JudgeInput = {
      baseline: { latency_p99_ms: series(43).normal(3000, 300, 20) },
      canary: { latency_p99_ms: series(44).normal(3000, 420, 20) },
    };
    const config: JudgeConfig = {
      metrics: [{ name: 'latency_p99_ms', direction: 'increase-is-bad', allowedShift: 0.25 }],
    };
    const metric = metricOf(judgeCanary(input, config), 'latency_p99_ms');
    assert.equal(metric.outcome, 'fail');
    assert.ok(Math.abs(metric.shift! - 0.4) < 0.02, `shift ${metric.shift}`);
    const healthy = judgeCanary(
      { ...input, canary: { latency_p99_ms: series(45).normal(3000, 300, 20) } },
      config,
    );
    assert.equal(healthy.decision, 'pass');
  });
});

describe('canary judge: anomaly model', () => {
  const scores = (hits: readonly number[]) => {
    const values = series(46).uniform(60, 0, 0.5);
    hits.forEach((score, index) => (values[index * 7] = score));
    return values;
  };

  /** The canary's samples where the scores put hits (every 7th) set to `factor` × the baseline's median. */
  const spiked = (
    input: { baseline: Track; canary: Track },
    metric: string,
    count: number,
    factor: number,
  ) => {
    const values = [...input.canary[metric]!];
    const sorted = [...input.baseline[metric]!].sort((a, b) => a - b);
    const middle =
      (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
    for (let index = 0; index < count; index++) values[index * 7] = middle * factor;
    return { baseline: input.baseline, canary: { ...input.canary, [metric]: values } };
  };

  test('three canary scores ≥ 0.9 fail the metric; two do not; the threshold itself counts', () => {
    const input = (hits: readonly number[]): JudgeInput => ({
      ...spiked(healthyInput(16), 'latency_p99_ms', 3, 1.6),
      anomalyScores: { latency_p99_ms: scores(hits) },
    });
    const three = judgeCanary(input([0.95, 0.9, 0.99]));
    const metric = metricOf(three, 'latency_p99_ms');
    assert.equal(metric.outcome, 'fail');
    assert.equal(metric.rule, 'anomaly-model');
    assert.match(
      metric.summary,
      /no significant change; anomaly model: 3 of 60 canary scores ≥ 0\.9 beyond the allowed shift and the baseline's range \(3 or more fail\): anomaly$/,
    );
    assert.equal(three.decision, 'marginal');

    const two = judgeCanary(input([0.95, 0.89, 0.99]));
    assert.equal(metricOf(two, 'latency_p99_ms').outcome, 'pass');
    assert.match(
      metricOf(two, 'latency_p99_ms').summary,
      /2 of 60 canary scores ≥ 0\.9 beyond the allowed shift and the baseline's range \(3 or more fail\)$/,
    );
    assert.equal(two.decision, 'pass');

    const tolerant = judgeCanary(input([0.95, 0.9, 0.99]), { ...DEFAULT_JUDGE_CONFIG, anomalyMinHits: 4 });
    assert.equal(metricOf(tolerant, 'latency_p99_ms').outcome, 'pass');
    const sensitive = judgeCanary(input([0.85, 0.86, 0.87]), {
      ...DEFAULT_JUDGE_CONFIG,
      anomalyThreshold: 0.8,
    });
    assert.equal(metricOf(sensitive, 'latency_p99_ms').rule, 'anomaly-model');

    // Anomalous but within the allowed shift (+25 % for latency_p99_ms), or on the good side: no hit.
    for (const factor of [1.1, 0.5]) {
      const within = judgeCanary({
        ...spiked(healthyInput(16), 'latency_p99_ms', 3, factor),
        anomalyScores: { latency_p99_ms: scores([0.95, 0.9, 0.99]) },
      });
      assert.equal(metricOf(within, 'latency_p99_ms').outcome, 'pass', `factor ${factor}`);
      assert.match(metricOf(within, 'latency_p99_ms').summary, /0 of 60 canary scores/);
    }
  });

  test('anomalies alone on a critical metric hold the canary (marginal); with a second failing metric it fails', () => {
    const judgement = judgeCanary({
      ...spiked(healthyInput(17), 'error_rate', 4, 3),
      anomalyScores: { error_rate: scores([1, 1, 1, 1]) },
    });
    assert.equal(metricOf(judgement, 'error_rate').rule, 'anomaly-model');
    assert.equal(judgement.decision, 'marginal');
    assert.doesNotMatch(judgement.summary, /critical/);
    assert.match(judgement.summary, /failed: error_rate/);

    const spikes = spiked(spiked(healthyInput(17), 'error_rate', 4, 3), 'latency_p99_ms', 3, 1.6);
    const two = judgeCanary({
      ...spikes,
      anomalyScores: { error_rate: scores([1, 1, 1, 1]), latency_p99_ms: scores([1, 1, 1]) },
    });
    assert.equal(two.decision, 'fail');
    assert.match(two.summary, /below the marginal threshold/);
  });
});

describe('canary judge: constant tracks', () => {
  test('both tracks constant at the same value pass and say so', () => {
    const zeros = Array.from({ length: 30 }, () => 0);
    const judgement = judgeCanary(
      { baseline: { restarts: zeros }, canary: { restarts: zeros } },
      { metrics: [{ name: 'restarts', direction: 'increase-is-bad', critical: true, allowedShift: 0 }] },
    );
    assert.equal(judgement.decision, 'pass');
    assert.equal(
      metricOf(judgement, 'restarts').summary,
      'restarts: canary and baseline both constant at 0: no change',
    );
  });
});

describe('canary judge: criticality, weights and thresholds', () => {
  const higherErrors = (seed: number) =>
    withCanary(seed, { error_rate: series(47).uniform(60, 0.008, 0.012) });

  test('a failing critical metric fails the canary even with a score above the pass threshold', () => {
    // Mean 0.01 stays below the hard limit 0.02, but it is about three times the baseline's.
    const config = configWith({ error_rate: { weight: 0.01 } });
    const judgement = judgeCanary(higherErrors(18), config);
    const metric = metricOf(judgement, 'error_rate');
    assert.equal(metric.rule, 'mann-whitney');
    assert.equal(metric.outcome, 'fail');
    assert.ok(judgement.score > 0.99, `score ${judgement.score}`);
    assert.equal(judgement.decision, 'fail');
    assert.match(
      judgement.summary,
      /^fail: critical metric error_rate failed; score 0\.997 \(3 of 4 metrics passed\)/,
    );

    const notCritical = judgeCanary(
      higherErrors(18),
      configWith({ error_rate: { weight: 0.01, critical: false } }),
    );
    assert.equal(notCritical.decision, 'pass');
    assert.match(notCritical.summary, /failed: error_rate/);
  });

  const slower = (seed: number) => withCanary(seed, { latency_p99_ms: series(48).normal(60, 420, 20) });

  test('weights change the score and with it the decision', () => {
    assert.equal(judgeCanary(slower(19)).score, 0.75);
    const heavy = judgeCanary(slower(19), configWith({ latency_p99_ms: { weight: 3 } }));
    assert.equal(heavy.score, 0.5);
    assert.equal(heavy.decision, 'fail');
    assert.match(heavy.summary, /below the marginal threshold 0\.75/);
    const light = judgeCanary(slower(19), configWith({ prediction_mean: { weight: 3 } }));
    assert.ok(Math.abs(light.score - 5 / 6) < 1e-12, `score ${light.score}`);
    assert.equal(light.decision, 'marginal');
  });

  test('thresholds decide between pass, marginal and fail', () => {
    const marginal = judgeCanary(slower(20));
    assert.equal(marginal.decision, 'marginal');
    assert.match(
      marginal.summary,
      /^marginal: score 0\.75 \(3 of 4 metrics passed\) is below the pass threshold 0\.95 but ≥ 0\.75/,
    );
    assert.equal(
      judgeCanary(slower(20), { ...DEFAULT_JUDGE_CONFIG, marginalThreshold: 0.8 }).decision,
      'fail',
    );
    assert.equal(
      judgeCanary(slower(20), { ...DEFAULT_JUDGE_CONFIG, passThreshold: 0.7, marginalThreshold: 0.5 })
        .decision,
      'pass',
    );
    // A pass threshold of 1 is reached by a canary whose every metric passes, whatever the weights.
    const thirds = judgeCanary(healthyInput(20), {
      ...configWith({}, { passThreshold: 1 }),
      metrics: DEFAULT_JUDGE_CONFIG.metrics.map((metric) => ({ ...metric, weight: 0.1 })),
    });
    assert.equal(thirds.decision, 'pass');
  });
});

describe('canary judge: zero baselines and combined failures', () => {
  test('restarts rising from a baseline median of 0 fail the critical metric, in absolute terms', () => {
    const restarts = series(49).rare(60, 0.7);
    assert.ok(Math.max(...restarts) <= 3, 'no crash loop: the statistical rule must catch it');
    const judgement = judgeCanary(withCanary(22, { restarts }));
    const metric = metricOf(judgement, 'restarts');
    assert.equal(metric.rule, 'mann-whitney');
    assert.equal(metric.outcome, 'fail');
    assert.equal(metric.baselineValue, 0);
    assert.equal(metric.shift, Infinity);
    assert.match(
      metric.summary,
      /shift \+1 \(absolute, as the baseline median is 0.*no shift allowed\).*: regression$/,
    );
    assert.equal(judgement.decision, 'fail');
    assert.match(judgement.summary, /critical metric restarts failed/);
  });

  test('a hard-limit failure still reports the other failures and the metrics without data', () => {
    const judgement = judgeCanary(
      withCanary(23, {
        error_rate: series(50).uniform(60, 0.03, 0.04),
        latency_p99_ms: series(51).normal(60, 420, 20),
        prediction_mean: undefined,
      }),
    );
    assert.equal(judgement.decision, 'fail');
    assert.match(
      judgement.summary,
      /^fail \(hard limit\): error_rate: .*: fails at once; also failed: latency_p99_ms; no data: prediction_mean$/,
    );
    assertOneLine(judgement);
  });
});

describe('canary judge: configuration validation', () => {
  test('every problem names its field path and rule', () => {
    const config = {
      metrics: [
        { name: 'a', direction: 'up', allowedShift: -1, weight: 0, critical: 'yes', threshold: 3 },
        { name: 'a', direction: 'either', allowedShift: 0.1, hardMin: 5, hardMax: 1, hardStatistic: 'p50' },
        { name: '', direction: 'either', allowedShift: Number.NaN, hardMax: Infinity },
        { name: 'b', direction: 'either', allowedShift: 0.1, hardStatistic: 'max' },
        'c',
      ],
      passThreshold: 1.5,
      marginalThreshold: -0.1,
      minSamples: 2.5,
      alpha: 0.7,
      anomalyThreshold: 2,
      anomalyMinHits: 0,
      crashLoop: { metric: 'restarts', max: -1 },
      passTreshold: 0.9,
    } as unknown as JudgeConfig;
    assert.deepEqual(validateJudgeConfig(config), [
      '/passTreshold: unknown field',
      '/metrics/0/threshold: unknown field',
      "/metrics/0/direction: must be one of 'increase-is-bad', 'decrease-is-bad', 'either'",
      '/metrics/0/weight: must be a finite number > 0',
      '/metrics/0/critical: must be a boolean',
      '/metrics/0/allowedShift: must be a finite number ≥ 0',
      "/metrics/1/name: 'a' is already the name of /metrics/0",
      '/metrics/1/hardMin: must be ≤ hardMax (1)',
      "/metrics/1/hardStatistic: must be one of 'mean', 'p99', 'max'",
      '/metrics/2/name: must be a non-empty string',
      '/metrics/2/allowedShift: must be a finite number ≥ 0',
      '/metrics/2/hardMax: must be a finite number',
      '/metrics/3/hardStatistic: has no effect without hardMax or hardMin',
      '/metrics/4: must be an object',
      '/passThreshold: must be a number in (0, 1]',
      '/marginalThreshold: must be a number in [0, 1]',
      '/minSamples: must be an integer ≥ 1',
      '/alpha: must be a number in (0, 0.5)',
      '/anomalyThreshold: must be a number in [0, 1]',
      '/anomalyMinHits: must be an integer ≥ 1',
      '/crashLoop/metric: must name a configured metric',
      '/crashLoop/max: must be a finite number ≥ 0',
    ]);
  });

  test('structural problems: no metrics, marginal above pass, not an object', () => {
    assert.deepEqual(validateJudgeConfig({ metrics: [] }), ['/metrics: must hold at least one metric']);
    assert.deepEqual(validateJudgeConfig({ metrics: 'x' } as unknown as JudgeConfig), [
      '/metrics: must be an array of metric configurations',
    ]);
    assert.deepEqual(validateJudgeConfig({ ...DEFAULT_JUDGE_CONFIG, passThreshold: 0.6 }), [
      '/marginalThreshold: must be ≤ passThreshold (0.6)',
    ]);
    assert.deepEqual(validateJudgeConfig(null as unknown as JudgeConfig), ['/: must be an object']);
    assert.deepEqual(
      validateJudgeConfig({
        metrics: [{ name: 'x', direction: 'either', allowedShift: 0 }],
        crashLoop: 'x',
      } as unknown as JudgeConfig),
      ['/crashLoop: must be an object { metric, max }'],
    );
  });

  test('judgeCanary refuses an invalid configuration with the problems', () => {
    const config = configWith({ latency_p99_ms: { allowedShift: -0.1 } });
    assert.throws(
      () => judgeCanary(healthyInput(21), config),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message.includes('/metrics/1/allowedShift: must be a finite number ≥ 0'),
    );
  });
});
