// The sequential canary test on deterministic simulated streams (seeded PRNG): time-uniform coverage of
// the confidence sequence (and the fixed-sample interval re-checked at every look failing it), early
// decisions on decisive evidence, no early decision on undecided evidence (a true shift of exactly the
// allowed one, high variance, too few samples, no data, mixed metrics), the directions, bursts, and the
// validation of the options.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  meanDifferenceSequence,
  SEQUENTIAL_DEFAULTS,
  sequentialLook,
  type Look,
  type SequentialMetric,
  type SequentialOptions,
} from '../../ml/stats/sequential.js';
import { normalIsf } from '../../ml/stats/mann-whitney.js';
import { gaussian, openUniform } from '../../activities/telemetry/simulated.js';

/** One seeded stream of standard normal deviates. */
function normals(seed: number): () => number {
  return gaussian(openUniform(seed));
}

function draw(count: number, sample: () => number): number[] {
  return Array.from({ length: count }, sample);
}

const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

function variance(values: readonly number[]): number {
  const m = mean(values);
  return values.reduce((sum, value) => sum + (value - m) ** 2, 0) / (values.length - 1);
}

const LATENCY: SequentialMetric = {
  name: 'latency_p99_ms',
  direction: 'increase-is-bad',
  allowedShift: 0.25,
};
const PREDICTION: SequentialMetric = {
  name: 'prediction_mean',
  direction: 'either',
  critical: true,
  allowedShift: 0.1,
};

/**
 * Looks after every `every` samples per track, from `first` up to `last`, of streams drawn one sample
 * per track at a time (what a release sees as the interval runs), until one concludes. Returns that
 * look and the samples per track it saw, or the last look when none concluded.
 */
function runLooks(
  next: () => { canary: Record<string, number>; baseline: Record<string, number> },
  metrics: readonly SequentialMetric[],
  options: Partial<SequentialOptions> = {},
  { first = 20, every = 5, last = 30 } = {},
): { look: Look; samples: number } {
  const canary: Record<string, number[]> = {};
  const baseline: Record<string, number[]> = {};
  let look: Look | undefined;
  for (let count = 1; count <= last; count++) {
    const sample = next();
    for (const [name, value] of Object.entries(sample.canary)) (canary[name] ??= []).push(value);
    for (const [name, value] of Object.entries(sample.baseline)) (baseline[name] ??= []).push(value);
    if (count >= first && (count - first) % every === 0) {
      look = sequentialLook({ canary, baseline }, metrics, options);
      if (look.decision !== 'continue') return { look, samples: count };
    }
  }
  return { look: look!, samples: last };
}

/** Latency samples with a relative noise of `noise` around 300 ms, the canary's scaled by `factor`. */
function latencyStream(seed: number, factor: number, noise: number) {
  const normal = normals(seed);
  return () => ({
    canary: { latency_p99_ms: 300 * factor * (1 + noise * normal()) },
    baseline: { latency_p99_ms: 300 * (1 + noise * normal()) },
  });
}

describe('meanDifferenceSequence', () => {
  test('the difference of the means with the normal-mixture half-width, at n = min of the counts', () => {
    const normal = normals(1);
    const canary = draw(30, () => 12 + 2 * normal());
    const baseline = draw(45, () => 10 + normal());
    const alpha = 0.01;
    const sequence = meanDifferenceSequence(canary, baseline, { alpha, plannedSamples: 30 })!;
    assert.equal(sequence.n, 30);
    assert.ok(Math.abs(sequence.estimate - (mean(canary) - mean(baseline))) < 1e-12);
    // The paper's form: sigma_t * sqrt(2 (t rho^2 + 1) / (t^2 rho^2) * log(sqrt(t rho^2 + 1) / alpha)),
    // with sigma_t^2 = t (s_c^2 / n_c + s_b^2 / n_b) and rho tuned for t* = 30.
    const t = 30;
    const rho2 = (-2 * Math.log(alpha) + Math.log(-2 * Math.log(alpha) + 1)) / 30;
    const sigma = Math.sqrt(t * (variance(canary) / 30 + variance(baseline) / 45));
    const half =
      sigma * Math.sqrt(((2 * (t * rho2 + 1)) / (t * t * rho2)) * Math.log(Math.sqrt(t * rho2 + 1) / alpha));
    assert.ok(Math.abs(sequence.upper - sequence.estimate - half) < 1e-9);
    assert.ok(Math.abs(sequence.estimate - sequence.lower - half) < 1e-9);
    // At the planned size the price of anytime validity: about 1.39 times the fixed-sample half-width.
    const fixed = normalIsf(alpha / 2) * Math.sqrt(variance(canary) / 30 + variance(baseline) / 45);
    assert.ok(Math.abs(half / fixed - 1.387) < 0.005, `ratio ${half / fixed}`);
  });

  test('non-finite values are ignored; fewer than 2 finite samples in a track gives null', () => {
    const options = { alpha: 0.05, plannedSamples: 20 };
    const clean = meanDifferenceSequence([1, 2, 3, 4], [0, 1, 2], options);
    const noisy = meanDifferenceSequence([1, NaN, 2, 3, Infinity, 4], [0, -Infinity, 1, 2, NaN], options);
    assert.deepEqual(noisy, clean);
    assert.equal(meanDifferenceSequence([1], [1, 2, 3], options), null);
    assert.equal(meanDifferenceSequence([1, 2, 3], [NaN, 2], options), null);
    assert.equal(meanDifferenceSequence([], [], options), null);
  });

  test('time-uniform coverage: the sequence holds at all looks, a re-checked fixed 99 % interval does not', () => {
    // 500 streams of N(3, 2^2) canary and N(1, 1) baseline samples (true difference 2), looks after every
    // 5 samples per track up to 60 (12 looks). A run is a miss when any look's interval excludes 2.
    const alpha = 0.01;
    const runs = 500;
    const z = normalIsf(alpha / 2);
    let sequenceMisses = 0;
    let fixedMisses = 0;
    for (let run = 0; run < runs; run++) {
      const normal = normals(1000 + run);
      const canary: number[] = [];
      const baseline: number[] = [];
      let sequenceMissed = false;
      let fixedMissed = false;
      for (let count = 1; count <= 60; count++) {
        canary.push(3 + 2 * normal());
        baseline.push(1 + normal());
        if (count % 5 !== 0) continue;
        const sequence = meanDifferenceSequence(canary, baseline, { alpha, plannedSamples: 30 })!;
        if (!(sequence.lower <= 2 && 2 <= sequence.upper)) sequenceMissed = true;
        const standardError = Math.sqrt(variance(canary) / count + variance(baseline) / count);
        if (Math.abs(mean(canary) - mean(baseline) - 2) > z * standardError) fixedMissed = true;
      }
      if (sequenceMissed) sequenceMisses++;
      if (fixedMissed) fixedMisses++;
    }
    const sequenceRate = sequenceMisses / runs;
    const fixedRate = fixedMisses / runs;
    assert.ok(sequenceRate <= alpha + 0.01, `confidence sequence missed in ${sequenceRate} of runs`);
    assert.ok(fixedRate >= 3 * alpha, `re-checked fixed interval missed in only ${fixedRate} of runs`);
    assert.ok(fixedRate > 3 * sequenceRate, `fixed ${fixedRate} vs sequence ${sequenceRate}`);
  });

  test('time-uniform coverage with skewed data and a baseline sampled twice as often', () => {
    // Log-normal latencies (skewed right), the baseline track twice the canary's rate; alpha 0.05.
    const alpha = 0.05;
    const runs = 500;
    const truth = 1.2 * Math.exp(0.18) - Math.exp(0.18); // E exp(0.6 Z) = exp(0.18)
    let misses = 0;
    for (let run = 0; run < runs; run++) {
      const normal = normals(7000 + run);
      const canary: number[] = [];
      const baseline: number[] = [];
      let missed = false;
      for (let count = 1; count <= 60; count++) {
        canary.push(1.2 * Math.exp(0.6 * normal()));
        baseline.push(Math.exp(0.6 * normal()), Math.exp(0.6 * normal()));
        if (count % 5 !== 0) continue;
        const sequence = meanDifferenceSequence(canary, baseline, { alpha, plannedSamples: 30 })!;
        if (!(sequence.lower <= truth && truth <= sequence.upper)) missed = true;
      }
      if (missed) misses++;
    }
    assert.ok(misses / runs <= alpha + 0.02, `missed in ${misses / runs} of runs`);
  });
});

describe('sequentialLook: early conclusions on decisive evidence', () => {
  test('a decisive regression (+80 % latency, 5 % noise) fails at the first look', () => {
    const { look, samples } = runLooks(latencyStream(11, 1.8, 0.05), [LATENCY]);
    assert.equal(look.decision, 'fail');
    assert.equal(samples, 20);
    const [metric] = look.metrics;
    assert.equal(metric!.outcome, 'regressed');
    assert.ok(metric!.lower! > 0.25 && metric!.estimate! > 0.7 && metric!.estimate! < 0.9);
    assert.match(
      metric!.summary,
      /^latency_p99_ms: \+[78]\d\.\d % \(99 % anytime CI \+\d+\.\d % … \+\d+\.\d %, 20 canary \/ 20 baseline samples\) beyond the allowed \+25 %: regressed$/,
    );
    assert.match(look.summary, /^fail early: 1 of 1 metrics regressed — latency_p99_ms: \+/);
    assert.match(look.summary, /err with probability ≤ 1 % over all looks/);
  });

  test('a clear no-change with low noise passes at the first look, every metric within', () => {
    const normal = normals(12);
    const next = () => ({
      canary: { latency_p99_ms: 300 * (1 + 0.03 * normal()), prediction_mean: 0.9 + 0.005 * normal() },
      baseline: { latency_p99_ms: 300 * (1 + 0.03 * normal()), prediction_mean: 0.9 + 0.005 * normal() },
    });
    const tight = [{ ...LATENCY, allowedShift: 0.1 }, PREDICTION];
    const { look, samples } = runLooks(next, tight);
    assert.equal(look.decision, 'pass');
    assert.equal(samples, 20);
    assert.deepEqual(
      look.metrics.map((metric) => metric.outcome),
      ['within', 'within'],
    );
    // Two metrics: each interval is at 1 - 0.01 / 2.
    assert.match(
      look.metrics[0]!.summary,
      /^latency_p99_ms: [+-]?\d\.\d % \(99\.5 % anytime CI -\d\.\d % … \+\d\.\d %, 20 canary \/ 20 baseline samples\) inside the allowed \+10 %: within$/,
    );
    assert.match(look.metrics[1]!.summary, /inside the allowed ±10 %: within$/);
    assert.match(look.summary, /^pass early: all 2 metrics within their allowed shifts — latency_p99_ms: /);
    assert.match(look.summary, /\(alpha split over 2 metrics\)$/);
  });

  test('one regressed metric fails the look even while another is undecided', () => {
    const normal = normals(13);
    const next = () => ({
      canary: { latency_p99_ms: 330 * (1 + 0.4 * normal()), prediction_mean: 0.6 + 0.01 * normal() },
      baseline: { latency_p99_ms: 300 * (1 + 0.4 * normal()), prediction_mean: 0.9 + 0.01 * normal() },
    });
    const { look } = runLooks(next, [LATENCY, PREDICTION]);
    assert.equal(look.decision, 'fail');
    assert.deepEqual(
      look.metrics.map((metric) => metric.outcome),
      ['undecided', 'regressed'],
    );
    assert.match(
      look.summary,
      /^fail early: 1 of 2 metrics regressed \(1 critical\) — prediction_mean: -3\d\.\d %/,
    );
  });

  test('the relative interval is the difference interval over the baseline mean when that is exact', () => {
    const normal = normals(14);
    const canary = draw(25, () => 130 + 4 * normal());
    const baseline = Array.from({ length: 25 }, () => 100);
    const look = sequentialLook(
      { canary: { latency_p99_ms: canary }, baseline: { latency_p99_ms: baseline } },
      [LATENCY],
    );
    const difference = meanDifferenceSequence(canary, baseline, { alpha: 0.01, plannedSamples: 30 })!;
    const [metric] = look.metrics;
    assert.ok(Math.abs(metric!.estimate! - difference.estimate / 100) < 1e-12);
    assert.ok(Math.abs(metric!.lower! - difference.lower / 100) < 1e-12);
    assert.ok(Math.abs(metric!.upper! - difference.upper / 100) < 1e-12);
  });

  test('a burst in the baseline does not hide a decisive regression', () => {
    const normal = normals(15);
    const canary = draw(20, () => 540 * (1 + 0.05 * normal()));
    const baseline = draw(20, () => 300 * (1 + 0.05 * normal()));
    baseline[7] = 6000; // one request that hit a cold cache
    const look = sequentialLook(
      { canary: { latency_p99_ms: canary }, baseline: { latency_p99_ms: baseline } },
      [LATENCY],
    );
    assert.equal(look.decision, 'fail');
    assert.ok(look.metrics[0]!.estimate! > 0.6, look.metrics[0]!.summary);
  });
});

describe('sequentialLook: never concludes early on undecided evidence', () => {
  for (const direction of ['increase-is-bad', 'decrease-is-bad', 'either'] as const) {
    test(`a true shift of exactly the allowed one (${direction}): early decisions at most about alpha`, () => {
      // 400 runs, looks at 20, 25, ..., 60 samples per track; the canary's mean sits exactly on the
      // allowed shift, so both 'pass' and 'fail' would be wrong. alpha 0.05 to see a rate at all.
      const alpha = 0.05;
      const runs = 400;
      const factor = direction === 'decrease-is-bad' ? 0.75 : 1.25;
      const metric: SequentialMetric = { name: 'latency_p99_ms', direction, allowedShift: 0.25 };
      let early = 0;
      for (let run = 0; run < runs; run++) {
        const { look } = runLooks(
          latencyStream(20_000 + run, factor, 0.1),
          [metric],
          { alpha },
          { last: 60 },
        );
        if (look.decision !== 'continue') early++;
      }
      assert.ok(early / runs <= alpha, `${early} of ${runs} runs concluded early`);
    });
  }

  test('at the default alpha, a boundary shift concludes early in about 1 % of runs at most', () => {
    let early = 0;
    for (let run = 0; run < 400; run++) {
      if (runLooks(latencyStream(30_000 + run, 1.25, 0.05), [LATENCY]).look.decision !== 'continue') early++;
    }
    assert.ok(early <= 6, `${early} of 400 runs concluded early`);
  });

  test('high variance: a modest shift under 60 % noise stays undecided at every look', () => {
    for (let seed = 0; seed < 20; seed++) {
      const { look } = runLooks(latencyStream(40_000 + seed, 1.1, 0.6), [LATENCY]);
      assert.equal(look.decision, 'continue', look.summary);
      assert.match(look.metrics[0]!.summary, /straddles the allowed \+25 %: undecided$/);
    }
  });

  test('fewer than minSamples finite samples: continue, however decisive the numbers', () => {
    const input = {
      canary: { latency_p99_ms: Array.from({ length: 19 }, (_, i) => 1200 + i) },
      baseline: { latency_p99_ms: Array.from({ length: 30 }, (_, i) => 300 + i) },
    };
    const look = sequentialLook(input, [LATENCY]);
    assert.equal(look.decision, 'continue');
    assert.deepEqual(look.metrics[0], {
      metric: 'latency_p99_ms',
      outcome: 'undecided',
      estimate: null,
      lower: null,
      upper: null,
      allowedShift: 0.25,
      samples: { canary: 19, baseline: 30 },
      summary: 'latency_p99_ms: 19 canary and 30 baseline samples, at least 20 per track needed: undecided',
    });
    assert.equal(sequentialLook(input, [LATENCY], { minSamples: 19 }).decision, 'fail');
  });

  test('no baseline, empty tracks, NaN-only tracks or a missing series: continue', () => {
    const canary = { latency_p99_ms: Array.from({ length: 30 }, (_, i) => 300 + i) };
    const noBaseline = sequentialLook({ canary, baseline: null }, [LATENCY]);
    assert.equal(noBaseline.decision, 'continue');
    assert.equal(
      noBaseline.metrics[0]!.summary,
      'latency_p99_ms: no baseline (no stable version serves): undecided',
    );
    const nan = Array.from({ length: 30 }, () => NaN);
    const inputs: { canary: Record<string, number[]>; baseline: Record<string, number[]> }[] = [
      { canary, baseline: { latency_p99_ms: [] } },
      { canary: { latency_p99_ms: [] }, baseline: canary },
      { canary, baseline: { latency_p99_ms: nan } },
      { canary: { latency_p99_ms: nan }, baseline: { latency_p99_ms: nan } },
      { canary, baseline: {} },
      { canary: {}, baseline: {} },
    ];
    for (const input of inputs) {
      const look = sequentialLook(input, [LATENCY]);
      assert.equal(look.decision, 'continue');
      assert.equal(look.metrics[0]!.outcome, 'undecided');
      assert.match(
        look.summary,
        /^continue: 1 of 1 metrics undecided \(latency_p99_ms\), the full interval decides/,
      );
    }
  });

  test('one metric within and one undecided: continue, never pass', () => {
    const normal = normals(50);
    const next = () => ({
      canary: { latency_p99_ms: 300 * (1 + 0.03 * normal()), prediction_mean: 0.9 * (1 + 0.3 * normal()) },
      baseline: { latency_p99_ms: 300 * (1 + 0.03 * normal()), prediction_mean: 0.9 * (1 + 0.3 * normal()) },
    });
    const { look } = runLooks(next, [LATENCY, PREDICTION], {}, { last: 60 });
    assert.equal(look.decision, 'continue');
    assert.deepEqual(
      look.metrics.map((metric) => metric.outcome),
      ['within', 'undecided'],
    );
    assert.match(look.summary, /^continue: 1 of 2 metrics undecided \(prediction_mean\)/);
  });

  test('a baseline mean of about 0 gives no relative scale: undecided (restarts)', () => {
    const restarts: SequentialMetric = { name: 'restarts', direction: 'increase-is-bad', allowedShift: 0 };
    const zeros = Array.from({ length: 30 }, () => 0);
    const someRestarts = zeros.map((_, i) => (i % 3 === 0 ? 1 : 0));
    for (const canary of [zeros, someRestarts]) {
      const look = sequentialLook({ canary: { restarts: canary }, baseline: { restarts: zeros } }, [
        restarts,
      ]);
      assert.equal(look.decision, 'continue');
      assert.match(
        look.metrics[0]!.summary,
        /baseline mean 0 not distinguishable from 0, so no relative scale/,
      );
    }
    // A baseline straddling 0 (a signed metric around 0) is not a scale either.
    const normal = normals(51);
    const look = sequentialLook(
      {
        canary: { drift: draw(30, () => 0.5 + normal()) },
        baseline: { drift: draw(30, () => 0.05 + normal()) },
      },
      [{ name: 'drift', direction: 'either', allowedShift: 0.1 }],
    );
    assert.equal(look.metrics[0]!.outcome, 'undecided');
  });

  test('canary spikes beyond the outlier fence on the bad side block an early pass', () => {
    const normal = normals(52);
    const canary = draw(30, () => 300 * (1 + 0.03 * normal()));
    const baseline = draw(30, () => 300 * (1 + 0.03 * normal()));
    const input = (values: number[]) => ({
      canary: { latency_p99_ms: values },
      baseline: { latency_p99_ms: baseline },
    });
    assert.equal(sequentialLook(input(canary), [LATENCY]).decision, 'pass');
    const spiky = [...canary];
    spiky[4] = 3000;
    spiky[17] = 2500;
    const look = sequentialLook(input(spiky), [LATENCY]);
    assert.equal(look.decision, 'continue');
    assert.match(
      look.metrics[0]!.summary,
      /inside the allowed \+25 %, but 2 canary samples beyond the outlier fence on the bad side: undecided$/,
    );
    // A dip is on the good side of an increase-is-bad metric: no obstacle.
    const dip = [...canary];
    dip[4] = 30;
    assert.equal(sequentialLook(input(dip), [LATENCY]).decision, 'pass');
  });
});

describe('sequentialLook: directions', () => {
  function lookAt(direction: SequentialMetric['direction'], factor: number): Look {
    const normal = normals(60);
    const canary = draw(25, () => 0.9 * factor * (1 + 0.02 * normal()));
    const baseline = draw(25, () => 0.9 * (1 + 0.02 * normal()));
    return sequentialLook({ canary: { score: canary }, baseline: { score: baseline } }, [
      { name: 'score', direction, allowedShift: 0.1 },
    ]);
  }

  test("'decrease-is-bad': a drop fails, a rise passes", () => {
    const drop = lookAt('decrease-is-bad', 0.7);
    assert.equal(drop.decision, 'fail');
    assert.ok(drop.metrics[0]!.upper! < -0.1);
    assert.match(drop.metrics[0]!.summary, /^score: -[23]\d\.\d % .* beyond the allowed -10 %: regressed$/);
    const rise = lookAt('decrease-is-bad', 1.3);
    assert.equal(rise.decision, 'pass');
    assert.match(rise.metrics[0]!.summary, /^score: \+[23]\d\.\d % .* inside the allowed -10 %: within$/);
  });

  test("'increase-is-bad': a rise fails, a drop passes", () => {
    assert.equal(lookAt('increase-is-bad', 1.3).decision, 'fail');
    assert.equal(lookAt('increase-is-bad', 0.7).decision, 'pass');
  });

  test("'either': a rise and a drop both fail, no change passes", () => {
    assert.equal(lookAt('either', 1.3).decision, 'fail');
    assert.equal(lookAt('either', 0.7).decision, 'fail');
    const same = lookAt('either', 1);
    assert.equal(same.decision, 'pass');
    assert.match(same.metrics[0]!.summary, /inside the allowed ±10 %: within$/);
    // A drop just inside the band on one side only: the whole interval must fit the band.
    assert.equal(lookAt('either', 0.905).decision, 'continue');
  });
});

describe('options', () => {
  test('defaults', () => {
    assert.deepEqual(SEQUENTIAL_DEFAULTS, { alpha: 0.01, minSamples: 20, plannedSamples: 30 });
    assert.ok(Object.isFrozen(SEQUENTIAL_DEFAULTS));
  });

  test('invalid options throw errors naming the option and the rule', () => {
    const input = { canary: {}, baseline: {} };
    const cases: [Partial<SequentialOptions>, RegExp][] = [
      [{ alpha: 0 }, /alpha must be a number in \(0, 0\.5\), got 0/],
      [{ alpha: 0.5 }, /alpha must be a number in \(0, 0\.5\)/],
      [{ alpha: NaN }, /alpha must be a number in \(0, 0\.5\), got NaN/],
      [{ minSamples: 1 }, /minSamples must be an integer ≥ 2, got 1/],
      [{ minSamples: 20.5 }, /minSamples must be an integer ≥ 2/],
      [{ plannedSamples: 0.5 }, /plannedSamples must be a finite number ≥ 1, got 0\.5/],
      [{ plannedSamples: Infinity }, /plannedSamples must be a finite number ≥ 1/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => sequentialLook(input, [LATENCY], options), { name: 'RangeError', message });
    }
    assert.throws(() => sequentialLook(input, []), /metrics must hold at least one metric/);
    assert.throws(
      () => sequentialLook(input, [{ ...LATENCY, allowedShift: -0.1 }]),
      /metrics\[0\]\.allowedShift must be a finite number ≥ 0, got -0\.1/,
    );
    assert.throws(
      () => meanDifferenceSequence([1, 2], [1, 2], { alpha: 0.7, plannedSamples: 30 }),
      /meanDifferenceSequence: alpha must be a number in \(0, 0\.5\)/,
    );
    assert.throws(
      () => meanDifferenceSequence([1, 2], [1, 2], { alpha: 0.05, plannedSamples: 0 }),
      /meanDifferenceSequence: plannedSamples must be a finite number ≥ 1/,
    );
  });

  test('an option given as undefined takes its default', () => {
    const input = { canary: { latency_p99_ms: [1, 2, 3] }, baseline: { latency_p99_ms: [1, 2, 3] } };
    const look = sequentialLook(input, [LATENCY], { alpha: undefined, minSamples: undefined });
    assert.match(look.metrics[0]!.summary, /at least 20 per track needed/);
  });
});
