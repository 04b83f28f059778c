// Provisioning policies and their simulator (ml/forecast/provisioning.ts): replicasFor's rounding and
// bounds, the simulator's accounting on a hand-made series, the HPA-like reactive policy's start-up
// lag, tolerance and scale-down stabilisation, the static policy's fixed size, and the predictive
// policy's floor and bounds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mulberry32 } from '../../activities/telemetry/simulated.js';
import {
  capacityFromWarmup,
  predictivePolicy,
  reactivePolicy,
  replicasFor,
  simulateProvisioning,
  staticPolicy,
  type Decide,
  type ScalingSettings,
} from '../../ml/forecast/provisioning.js';

const BOUNDS = { capacityPerReplica: 10, targetUtilisation: 1, minReplicas: 2, maxReplicas: 8 };
const SETTINGS: ScalingSettings = {
  capacityPerReplica: 10,
  minReplicas: 1,
  maxReplicas: 20,
  stepMinutes: 5,
  startupSamples: 1,
  warmupSamples: 0,
};

/** Replicas a policy decides at every sample of `series` (not what is in force). */
async function decisions(decide: Decide, series: readonly number[]): Promise<number[]> {
  const out: number[] = [];
  for (const [t, load] of series.entries()) out.push(await decide(load, t));
  return out;
}

/** `before` for `at` samples, then `after` for `length - at`. */
function step(length: number, at: number, before: number, after: number): number[] {
  return Array.from({ length }, (_, t) => (t < at ? before : after));
}

describe('replicasFor', () => {
  test('rounds up to whole replicas at the target utilisation', () => {
    assert.equal(replicasFor(30, BOUNDS), 3, 'exactly three replicas of load');
    assert.equal(replicasFor(30.01, BOUNDS), 4);
    assert.equal(replicasFor(42, { ...BOUNDS, targetUtilisation: 0.7 }), 6, '42 / 7 = 6 exactly');
    assert.equal(replicasFor(43, { ...BOUNDS, targetUtilisation: 0.7 }), 7);
  });

  test('clamps to [minReplicas, maxReplicas]; a negative load counts as none', () => {
    assert.equal(replicasFor(0, BOUNDS), 2);
    assert.equal(replicasFor(-5, BOUNDS), 2);
    assert.equal(replicasFor(1e9, BOUNDS), 8);
    assert.equal(replicasFor(0, { ...BOUNDS, minReplicas: 0 }), 0);
  });

  test('bad bounds throw, naming the field', () => {
    assert.throws(() => replicasFor(1, { ...BOUNDS, capacityPerReplica: 0 }), /capacityPerReplica/);
    assert.throws(() => replicasFor(1, { ...BOUNDS, targetUtilisation: 1.5 }), /targetUtilisation/);
    assert.throws(() => replicasFor(1, { ...BOUNDS, minReplicas: 1.5 }), /minReplicas/);
    assert.throws(() => replicasFor(1, { ...BOUNDS, maxReplicas: 1 }), /maxReplicas/);
    assert.throws(() => replicasFor(Number.NaN, BOUNDS), /load/);
  });

  test('capacity per replica: a quarter of the warm-up median, its mean when the median is 0', () => {
    assert.equal(capacityFromWarmup([10, 40, 20, 30, 1000]), 30 / 4);
    assert.equal(capacityFromWarmup([0, 0, 0, 80]), 20 / 4);
    assert.equal(capacityFromWarmup([0, 0]), 1);
  });
});

describe('simulateProvisioning', () => {
  test('accounts exactly: decisions in force one sample later, warm-up not scored', async () => {
    const series = [10, 10, 30, 30, 10, 50];
    const plan = [2, 2, 3, 2, 4, 2];
    const score = await simulateProvisioning(series, (_load, t) => plan[t]!, {
      ...SETTINGS,
      warmupSamples: 2,
    });
    // In force: minReplicas (1) at t = 0, then the decision of the sample before.
    assert.deepEqual(score.replicas, [1, 2, 2, 3, 2, 4]);
    // Scored t = 2…5: loads 30, 30, 10, 50 against capacities 20, 30, 20, 40 → t = 2 and t = 5.
    assert.equal(score.underProvisionedMinutes, 2 * 5);
    assert.equal(score.replicaMinutes, (2 + 3 + 2 + 4) * 5);
    assert.equal(score.peakReplicas, 4);
    // Changes inside the scored part: at t = 3, 4 and 5.
    assert.equal(score.changes, 3);
  });

  test('a load of exactly the capacity in force is covered; startup 0 puts decisions in force at once', async () => {
    const score = await simulateProvisioning([20, 40], (load) => load / 10, {
      ...SETTINGS,
      startupSamples: 0,
    });
    assert.deepEqual(score.replicas, [2, 4]);
    assert.equal(score.underProvisionedMinutes, 0);
  });

  test('a decision out of bounds or fractional is an error naming the sample', async () => {
    await assert.rejects(
      simulateProvisioning([1, 2], () => 21, SETTINGS),
      /decision at sample 0/,
    );
    await assert.rejects(
      simulateProvisioning([1, 2], (_l, t) => (t === 1 ? 2.5 : 2), SETTINGS),
      /sample 1/,
    );
    await assert.rejects(
      simulateProvisioning([1], () => 2, { ...SETTINGS, startupSamples: -1 }),
      /startupSamples/,
    );
  });
});

describe('reactive policy (HPA)', () => {
  test('follows a step rise one decision plus the start-up late', async () => {
    // 10 → 40 at t = 10: ceil(10 / 7) = 2 replicas before, ceil(40 / 7) = 6 after.
    const series = step(20, 10, 10, 40);
    for (const startupSamples of [1, 2]) {
      const settings = { ...SETTINGS, startupSamples };
      const score = await simulateProvisioning(series, reactivePolicy(settings), settings);
      assert.equal(score.replicas[9], 2);
      for (let t = 10; t < 10 + startupSamples; t += 1) assert.equal(score.replicas[t], 2, `t = ${t}`);
      assert.equal(score.replicas[10 + startupSamples], 6, `startup ${startupSamples}`);
      assert.equal(score.underProvisionedMinutes, startupSamples * 5);
    }
  });

  test('holds through the scale-down stabilisation window, then scales down', async () => {
    const series = [...step(10, 5, 10, 40), ...Array<number>(10).fill(10)];
    // The load falls at t = 10. With a 5-minute window (this sample and the one before) the decision
    // at t = 10 still holds 6; with 15 minutes (four samples) it holds until t = 12.
    assert.deepEqual((await decisions(reactivePolicy(SETTINGS), series)).slice(8, 13), [6, 6, 6, 2, 2]);
    const longer = reactivePolicy(SETTINGS, { stabilisationMinutes: 15 });
    assert.deepEqual((await decisions(longer, series)).slice(8, 15), [6, 6, 6, 6, 6, 2, 2]);
  });

  test('keeps the replicas while utilisation is within the tolerance of the target', async () => {
    // 2 replicas at 70 %: a load of 14.7 is 1.05 × the target (3 replicas by ceil), within 10 %;
    // 15.6 is 1.114 ×: outside, so it scales up.
    const decide = reactivePolicy(SETTINGS);
    assert.deepEqual(await decisions(decide, [10, 14.7, 14.7, 15.6]), [2, 2, 2, 3]);
  });
});

describe('static policy', () => {
  test('never changes after the warm-up: the warm-up peak × headroom at 100 % utilisation', async () => {
    const random = mulberry32(3);
    const series = Array.from({ length: 200 }, () => 100 * random());
    const settings = { ...SETTINGS, warmupSamples: 50, maxReplicas: 64 };
    const score = await simulateProvisioning(series, staticPolicy(settings), settings);
    const expected = Math.ceil((Math.max(...series.slice(0, 50)) * 1.2) / 10);
    assert.ok(score.replicas.slice(50).every((replicas) => replicas === expected));
    assert.equal(score.changes, 0);
    assert.equal(score.peakReplicas, expected);
  });
});

describe('predictive policy', () => {
  test('never below the reactive floor for the current load, never outside the bounds', async () => {
    const random = mulberry32(11);
    const settings = { ...SETTINGS, minReplicas: 2, maxReplicas: 12 };
    const series = Array.from({ length: 500 }, () => 150 * random() ** 2);
    // A forecast that is often wildly wrong: far below, far above, or zero.
    const forecast = (load: number) => {
      const roll = random();
      return roll < 0.3 ? 0 : roll < 0.6 ? load * 0.1 : roll < 0.9 ? load * 3 : 1e12;
    };
    const decided = await decisions(predictivePolicy(settings, forecast), series);
    decided.forEach((replicas, t) => {
      const floor = replicasFor(series[t]!, { ...settings, targetUtilisation: 0.7 });
      assert.ok(replicas >= floor, `t = ${t}: ${replicas} below the floor ${floor}`);
      assert.ok(Number.isInteger(replicas) && replicas >= 2 && replicas <= 12, `t = ${t}: ${replicas}`);
    });
  });

  test('provisions the forecast peak ahead of a rise the reactive policy only follows', async () => {
    const series = step(20, 10, 10, 40);
    // A perfect forecast of the next sample.
    const decide = predictivePolicy(SETTINGS, (_load, t) => series[Math.min(t + 1, series.length - 1)]!);
    const score = await simulateProvisioning(series, decide, SETTINGS);
    assert.equal(score.underProvisionedMinutes, 0);
    assert.equal(score.replicas[10], 5, 'ceil(40 / (10 × 0.9)) in force at the rise');
  });
});
