// The corpus and rules of bench:canary (bench/canary-corpus.ts): the split of kinds, reproducibility
// from the seed, where nab and normal releases lie in their series (no label in a history or a good
// canary, the onset in the first interval), the latency map, the time-of-day baseline, the step plan
// with its re-checks, the threshold-only judge and the judges' configurations.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateJudgeConfig } from '../../activities/analysis/canary-judge.js';
import { mulberry32 } from '../../activities/telemetry/simulated.js';
import {
  BENCH_JUDGE_CONFIG,
  DEFAULT_CORPUS_SETTINGS,
  HISTORY_PEAK_MS,
  METRICS,
  anomalyTemplates,
  assess,
  baselineOf,
  buildCorpus,
  intervalOf,
  latencyMap,
  mannWhitneyOnlyConfig,
  planIntervals,
  releaseKinds,
  runStepPlan,
  summarise,
  thresholdJudge,
  thresholdRules,
  validateCorpusSettings,
  type CanaryRelease,
  type CorpusSettings,
  type Decision,
  type SourceSeries,
  type Track,
} from '../../bench/canary-corpus.js';

const SETTINGS: CorpusSettings = DEFAULT_CORPUS_SETTINGS;
const I = SETTINGS.intervalSamples;
const H = SETTINGS.historySamples;
const CANARY = SETTINGS.canaryIntervals * I;

/** Daily-seasonal noisy series of 5-minute samples; the first one carries two labelled windows. */
function sources(): SourceSeries[] {
  const random = mulberry32(7);
  const series = (length: number, level: number) =>
    Array.from({ length }, (_, row) => level + 10 * Math.sin((2 * Math.PI * row) / 288) + random());
  return [
    {
      name: 'real/a.csv',
      values: series(4000, 50),
      windows: [
        { left: 1000, right: 1200 },
        { left: 2500, right: 2700 },
      ],
      labels: [1100, 2600],
      period: 288,
    },
    { name: 'real/b.csv', values: series(3000, 20), windows: [], labels: [], period: 288 },
    // Too short for any release: never chosen.
    { name: 'real/short.csv', values: series(200, 5), windows: [], labels: [], period: 288 },
  ];
}

function labelledRows(source: SourceSeries): Set<number> {
  const rows = new Set(source.labels);
  for (const window of source.windows) for (let row = window.left; row <= window.right; row++) rows.add(row);
  return rows;
}

describe('bench:canary corpus', () => {
  test('the split of kinds is fixed and the order is seeded', () => {
    const kinds = releaseKinds(1000, SETTINGS, 1);
    const count = (kind: string) => kinds.filter((entry) => entry === kind).length;
    assert.equal(count('good'), 500);
    assert.equal(count('nab'), 167);
    assert.deepEqual(
      ['latency-step', 'error-spike', 'slow-drift', 'prediction-shift', 'no-data'].map(count),
      [67, 67, 67, 66, 66],
    );
    assert.deepEqual(releaseKinds(1000, SETTINGS, 1), kinds);
    assert.notDeepEqual(releaseKinds(1000, SETTINGS, 2), kinds);
  });

  test('settings are checked', () => {
    assert.deepEqual(validateCorpusSettings(SETTINGS), []);
    assert.equal(planIntervals(), 12);
    const problems = validateCorpusSettings({ ...SETTINGS, intervalSamples: 10, baselineSamples: 400 });
    assert.ok(problems.some((problem) => problem.startsWith('intervalSamples')));
    assert.ok(problems.some((problem) => problem.startsWith('baselineSamples must not exceed')));
  });

  test('a labelled window qualifies only with a clean history before it', () => {
    const templates = anomalyTemplates(sources(), SETTINGS);
    // 1000 - 288 >= 0 and rows 712..999 are clean; 2500 - 288 = 2212 lies after the first window.
    assert.deepEqual(
      templates.map((template) => [template.source, template.left, template.onset]),
      [
        [0, 1000, 1100],
        [0, 2500, 2600],
      ],
    );
    const crowded = sources();
    crowded[0] = {
      ...crowded[0]!,
      windows: [
        { left: 1000, right: 1200 },
        { left: 1300, right: 1400 },
      ],
      labels: [],
    };
    // The second window has only 99 clean rows before it; without labels the onset is the middle.
    assert.deepEqual(
      anomalyTemplates(crowded, SETTINGS).map((template) => template.onset),
      [1100],
    );
  });

  test('releases are reproducible from the seed and lie where the design says', () => {
    const input = sources();
    const releases = buildCorpus(input, 120, 3, SETTINGS);
    assert.deepEqual(buildCorpus(input, 120, 3, SETTINGS), releases);
    assert.notDeepEqual(buildCorpus(input, 120, 4, SETTINGS), releases);
    const gaps = anomalyTemplates(input, SETTINGS).map((template) => template.onset - template.left);
    const minGap = Math.min(...gaps) - (I - 1);
    const maxGap = Math.max(...gaps);
    for (const release of releases) {
      const source = input.find((entry) => entry.name === release.file)!;
      const forbidden = labelledRows(source);
      assert.notEqual(release.file, 'real/short.csv');
      assert.equal(release.gap, release.canaryStart - release.historyStart - H);
      assert.ok(release.gap >= minGap && release.gap <= maxGap, `gap ${release.gap} like a nab release's`);
      for (const metric of METRICS) {
        assert.equal(release.history[metric].length, H);
        assert.equal(release.canary[metric].length, release.kind === 'no-data' ? 0 : CANARY);
      }
      // No history sample is labelled or inside a window.
      for (let row = release.historyStart; row < release.historyStart + H; row++) {
        assert.ok(!forbidden.has(row), `history row ${row} of release ${release.id} is labelled`);
      }
      if (release.kind === 'nab') {
        const window = source.windows.find((entry) => entry.left === release.historyStart + H)!;
        assert.ok(window, 'the history ends where the window starts');
        assert.ok(release.onsetRow! >= release.canaryStart && release.onsetRow! < release.canaryStart + I);
        assert.equal(release.faultInterval, 0);
      } else {
        for (let row = release.historyStart; row < release.canaryStart + CANARY; row++) {
          assert.ok(!forbidden.has(row), `row ${row} of ${release.kind} release ${release.id} is labelled`);
        }
        assert.equal(release.faultInterval, release.kind === 'good' ? undefined : 0);
      }
    }
    assert.ok(releases.some((release) => release.kind === 'nab'));
  });

  test('faults are applied to the canary from its first sample', () => {
    const releases = buildCorpus(sources(), 120, 5, SETTINGS);
    const step = releases.find((release) => release.kind === 'latency-step')!;
    assert.ok(step.parameters.latencyFactor! >= 1.3 && step.parameters.latencyFactor! <= 2);
    const drift = releases.find((release) => release.kind === 'slow-drift')!;
    assert.ok(drift.parameters.driftPerInterval! >= 0.15 && drift.parameters.driftPerInterval! <= 0.5);
    const spike = releases.find((release) => release.kind === 'error-spike')!;
    const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    assert.ok(mean(intervalOf(spike, 0, SETTINGS).error_rate) > 0.01);
    const shift = releases.find((release) => release.kind === 'prediction-shift')!;
    const ratio = mean(intervalOf(shift, 0, SETTINGS).prediction_mean) / shift.parameters.predictionLevel;
    assert.ok(Math.abs(ratio - 1 - shift.parameters.predictionShift!) < 0.1);
    const good = releases.find((release) => release.kind === 'good')!;
    assert.ok(Math.abs(mean(good.canary.error_rate) / good.parameters.errorLevel - 1) < 0.2);
  });

  test('the latency map keeps the history under the peak and is affine', () => {
    const history = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 1000];
    const { baseMs, map } = latencyMap(history, history, 300);
    assert.ok(Math.max(...history.map(map)) <= HISTORY_PEAK_MS + 1e-9);
    assert.ok(baseMs < 300);
    assert.ok(Math.abs(map(4) - map(2) - (map(2) - map(0))) < 1e-9);
    assert.ok(map(-1e9) >= baseMs / 20);
    // A flat history takes the whole series' spread as its unit.
    const flat = latencyMap([5, 5, 5, 5], [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50], 200);
    assert.equal(flat.map(5), 200);
    assert.ok(flat.map(45) > 200 && Number.isFinite(flat.map(45)));
  });

  test("the 'season' baseline holds the history's samples at the interval's time of day", () => {
    const period = 288;
    const historyStart = 1000;
    const gap = 100;
    const rowsTrack = (from: number, length: number): Track =>
      Object.fromEntries(
        METRICS.map((metric) => [metric, Array.from({ length }, (_, index) => from + index)]),
      ) as Track;
    const release: CanaryRelease = {
      id: 0,
      kind: 'good',
      file: 'x.csv',
      historyStart,
      canaryStart: historyStart + H + gap,
      gap,
      period,
      parameters: { baseLatencyMs: 200, errorLevel: 0.002, predictionLevel: 0.4 },
      history: rowsTrack(historyStart, H),
      canary: rowsTrack(historyStart + H + gap, CANARY),
    };
    for (const index of [0, 3, 11]) {
      const canaryRows = intervalOf(release, index, SETTINGS).latency_p99_ms;
      const baselineRows = baselineOf(release, index, SETTINGS).latency_p99_ms;
      assert.equal(baselineRows.length, SETTINGS.baselineSamples);
      const offset = (SETTINGS.baselineSamples - I) / 2;
      // Same time of day: the baseline's middle I samples are the canary's rows, whole days earlier.
      baselineRows.slice(offset, offset + I).forEach((row, j) => {
        assert.equal((canaryRows[j]! - row) % period, 0);
        assert.ok(row >= historyStart && row < historyStart + H);
      });
    }
    const tail = baselineOf(release, 5, { ...SETTINGS, baselineMode: 'tail' }).latency_p99_ms;
    assert.deepEqual(tail, release.history.latency_p99_ms.slice(-SETTINGS.baselineSamples));
  });
});

describe('bench:canary rules', () => {
  const plan = (decisions: Decision[]) => {
    const weights: number[] = [];
    const outcome = runStepPlan((interval, weight) => {
      weights.push(weight);
      return decisions[interval] ?? 'pass';
    });
    return { outcome, weights };
  };

  test('the step plan: pass moves on, fail rolls back, marginal re-checks at most twice', () => {
    const clean = plan([]);
    assert.equal(clean.outcome.rolledBack, false);
    assert.deepEqual(clean.weights, [5, 25, 50, 100]);

    const first = plan(['fail']).outcome;
    assert.deepEqual(
      [first.rolledBack, first.failedInterval, first.failedWeight, first.cause],
      [true, 0, 5, 'fail'],
    );

    const held = plan(['marginal', 'marginal', 'marginal']);
    assert.deepEqual(held.weights, [5, 5, 5]);
    assert.deepEqual(
      [held.outcome.failedInterval, held.outcome.failedWeight, held.outcome.cause],
      [2, 5, 'marginal'],
    );

    const recovered = plan(['pass', 'marginal', 'marginal', 'pass']);
    assert.deepEqual(recovered.weights, [5, 25, 25, 25, 50, 100]);
    assert.equal(recovered.outcome.rolledBack, false);

    const late = plan(['pass', 'pass', 'marginal', 'fail']);
    assert.deepEqual([late.outcome.failedInterval, late.outcome.failedWeight], [3, 50]);
  });

  test('assess: stopped before 25 %, delay counted from the faulty interval, good releases', () => {
    const bad = { faultInterval: 0 } as CanaryRelease;
    const good = {} as CanaryRelease;
    const early = runStepPlan((interval) =>
      interval < 3 ? (['pass', 'marginal', 'marginal'] as const)[interval]! : 'fail',
    );
    assert.deepEqual(assess(bad, early), { rolledBack: true, stoppedEarly: true, delayIntervals: 4 });
    const late = runStepPlan((interval) => (interval === 2 ? 'fail' : 'pass'));
    assert.deepEqual(assess(bad, late), { rolledBack: true, stoppedEarly: false, delayIntervals: 3 });
    const missed = runStepPlan(() => 'pass');
    assert.deepEqual(assess(bad, missed), { rolledBack: false, stoppedEarly: false });
    assert.deepEqual(assess(good, early), { rolledBack: true, stoppedEarly: false });

    const summary = summarise(
      [bad, bad, good, good].map((release, id) => ({ ...release, id, kind: id < 2 ? 'nab' : 'good' })),
      [assess(bad, early), assess(bad, missed), assess(good, early), assess(good, missed)],
    );
    assert.deepEqual(
      [
        summary.bad,
        summary.good,
        summary.badStoppedBefore25,
        summary.goodRolledBack,
        summary.meanDelayIntervals,
      ],
      [2, 2, 0.5, 0.5, 4],
    );
    assert.equal(summary.byKind.nab?.releases, 2);
  });

  test('the threshold judge: limits from the history, no data fails, never marginal', () => {
    const history = {
      error_rate: Array<number>(96).fill(0.004),
      latency_p99_ms: Array.from({ length: 96 }, (_, index) => (index < 48 ? 200 : 300)),
      prediction_mean: Array<number>(96).fill(0.5),
      restarts: Array<number>(96).fill(0),
    };
    const rules = thresholdRules(history, BENCH_JUDGE_CONFIG, 24);
    const latency = rules.find((rule) => rule.metric === 'latency_p99_ms')!;
    // Either direction: 300 + 25 %, 200 − 25 %; and the hard limit on the p99.
    assert.deepEqual(
      [latency.upper, latency.lower, latency.hardMax, latency.hardStatistic],
      [375, 150, 800, 'p99'],
    );
    const errors = rules.find((rule) => rule.metric === 'error_rate')!;
    assert.ok(Math.abs(errors.upper! - 0.006) < 1e-12);
    assert.deepEqual([errors.lower, errors.hardMax], [undefined, 0.02]);
    assert.equal(rules.find((rule) => rule.metric === 'restarts')!.crashLoopMax, 3);

    const canary = (latencyMs: number, errorRate = 0.004) => ({
      error_rate: Array<number>(24).fill(errorRate),
      latency_p99_ms: Array<number>(24).fill(latencyMs),
      prediction_mean: Array<number>(24).fill(0.5),
      restarts: Array<number>(24).fill(0),
    });
    assert.equal(thresholdJudge(canary(250), rules).decision, 'pass');
    assert.equal(thresholdJudge(canary(380), rules).decision, 'fail');
    assert.equal(thresholdJudge(canary(140), rules).decision, 'fail');
    assert.match(
      thresholdJudge(canary(250, 0.03), rules).summary,
      /error_rate: mean 0.03 > limit 0.006.*hard limit 0.02/,
    );
    assert.match(
      thresholdJudge({ ...canary(250), latency_p99_ms: [] }, rules).summary,
      /latency_p99_ms: no data/,
    );
  });

  test('the judges’ configurations are valid; the Mann-Whitney-only one has no hard limits', () => {
    assert.deepEqual(validateJudgeConfig(BENCH_JUDGE_CONFIG), []);
    assert.equal(
      BENCH_JUDGE_CONFIG.metrics.find((metric) => metric.name === 'latency_p99_ms')!.direction,
      'either',
    );
    const mannWhitney = mannWhitneyOnlyConfig(BENCH_JUDGE_CONFIG);
    assert.deepEqual(validateJudgeConfig(mannWhitney), []);
    assert.equal(mannWhitney.crashLoop, undefined);
    for (const metric of mannWhitney.metrics) {
      assert.deepEqual(
        [metric.hardMax, metric.hardMin, metric.hardStatistic],
        [undefined, undefined, undefined],
      );
    }
    assert.deepEqual(
      mannWhitney.metrics.map((metric) => [
        metric.name,
        metric.direction,
        metric.allowedShift,
        metric.critical,
      ]),
      BENCH_JUDGE_CONFIG.metrics.map((metric) => [
        metric.name,
        metric.direction,
        metric.allowedShift,
        metric.critical,
      ]),
    );
  });

  test('what a judge is given holds samples of the four metrics only', () => {
    const [release] = buildCorpus(sources(), 1, 1, SETTINGS);
    assert.deepEqual(Object.keys(intervalOf(release!, 0, SETTINGS)).sort(), [...METRICS].sort());
    assert.deepEqual(Object.keys(baselineOf(release!, 0, SETTINGS)).sort(), [...METRICS].sort());
  });
});
