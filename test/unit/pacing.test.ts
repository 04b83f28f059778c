// Risk-adaptive pacing: the plan follows the risk, and never goes below the policy's minimums for any
// risk, base interval or valid policy.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  PACING_DEFAULTS,
  adaptivePlan,
  fixedPlan,
  pacingPolicy,
  pacingPolicyProblems,
  stepsFrom,
  type PacingPolicy,
} from '../../domain/pacing.js';
import { canaryStepProblems } from '../../domain/rules.js';
import { parseConfig } from '../../domain/config.js';
import { seededRandom } from '../../activities/telemetry/simulated.js';

const policy = pacingPolicy();

/** Every minimum the policy sets, checked on one plan. */
function assertWithinPolicy(
  plan: ReturnType<typeof adaptivePlan>['plan'],
  base: number,
  bounds: PacingPolicy,
) {
  const label = JSON.stringify({ plan, base, bounds });
  assert.deepEqual(canaryStepProblems(plan.steps), [], label);
  assert.ok(plan.steps.length >= bounds.minSteps, `at least ${bounds.minSteps} steps: ${label}`);
  assert.ok(plan.steps.length <= bounds.maxSteps, `at most ${bounds.maxSteps} steps: ${label}`);
  assert.ok(
    plan.steps[0]! <= bounds.firstStepPercent.highest,
    `first step within the policy maximum: ${label}`,
  );
  assert.ok(plan.steps[0]! >= Math.min(bounds.firstStepPercent.lowest, 100), label);
  assert.equal(plan.steps.at(-1), 100, label);
  assert.ok(
    plan.analysisIntervalSeconds >= bounds.minIntervalSeconds,
    `interval ≥ the policy's seconds: ${label}`,
  );
  assert.ok(
    plan.analysisIntervalSeconds >= base * bounds.intervalFactor.lowest - 1e-6,
    `interval ≥ the policy's factor × base: ${label}`,
  );
  assert.ok(plan.earliestLook >= bounds.earliestLook, label);
}

describe('adaptive pacing', () => {
  test('a low-risk release gets fewer, larger steps and shorter intervals than a high-risk one', () => {
    const low = adaptivePlan(0.01, 600, policy).plan;
    const high = adaptivePlan(0.6, 600, policy).plan;
    assert.deepEqual(low.steps, [25, 100]);
    assert.equal(low.analysisIntervalSeconds, 300);
    assert.equal(high.steps.length, 7);
    assert.equal(high.steps[0], 1);
    assert.equal(high.analysisIntervalSeconds, 750);
    assert.ok(
      high.steps.length > low.steps.length && high.analysisIntervalSeconds > low.analysisIntervalSeconds,
    );
  });

  test('the plan moves monotonically with the risk', () => {
    let previous = adaptivePlan(0, 300, policy);
    for (let risk = 0.01; risk <= 1; risk += 0.01) {
      const next = adaptivePlan(risk, 300, policy);
      assert.ok(next.position >= previous.position, `position at ${risk}`);
      assert.ok(next.plan.steps.length >= previous.plan.steps.length, `steps at ${risk}`);
      assert.ok(next.plan.steps[0]! <= previous.plan.steps[0]!, `first step at ${risk}`);
      assert.ok(
        next.plan.analysisIntervalSeconds >= previous.plan.analysisIntervalSeconds,
        `interval at ${risk}`,
      );
      previous = next;
    }
  });

  test('never below the policy minimums, for any risk, base interval and valid policy (2,000 random cases)', () => {
    const random = seededRandom('pacing-property');
    const integer = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
    let checked = 0;
    while (checked < 2000) {
      const minSteps = integer(1, 8);
      const firstLow = integer(1, 60);
      const factorLow = 0.1 + random() * 2;
      const bounds: PacingPolicy = {
        ...PACING_DEFAULTS,
        lowRisk: 0.01 + random() * 0.3,
        highRisk: 0.35 + random() * 0.6,
        minSteps,
        maxSteps: integer(minSteps, 12),
        firstStepPercent: { lowest: firstLow, highest: integer(firstLow, 90) },
        intervalFactor: { lowest: factorLow, highest: factorLow * (1 + random() * 4) },
        minIntervalSeconds: random() < 0.5 ? 0 : integer(1, 900),
        looks: integer(1, 8),
        earliestLook: 0.1 + random() * 0.9,
      };
      if (pacingPolicyProblems(bounds).length > 0) continue;
      const base = random() < 0.1 ? 0 : integer(1, 3600);
      const risk = random() < 0.1 ? (random() < 0.5 ? 0 : 1) : random();
      assertWithinPolicy(adaptivePlan(risk, base, bounds).plan, base, bounds);
      checked += 1;
    }
  });

  test('a zero base interval (tests) is judged once per step', () => {
    assert.equal(adaptivePlan(0.5, 0, policy).plan.looks, 1);
    assert.equal(adaptivePlan(0.5, 300, policy).plan.looks, PACING_DEFAULTS.looks);
  });

  test('the reasons name the risk, the bounds and the plan', () => {
    const decision = adaptivePlan(0.2, 300, policy);
    assert.match(
      decision.why[0]!,
      /predicted risk 20\.0 %, between the low-risk 10\.0 % and high-risk 50\.0 % bounds/,
    );
    assert.match(decision.why[1]!, /steps \(.* → 100 %\), policy 2–7; first step \d+ %, policy at most 25 %/);
    assert.match(
      decision.why[2]!,
      /4 looks per interval, concluding early only on decisive evidence and not before 50 %/,
    );
  });

  test('bad risks and invalid policies are refused with the field named', () => {
    assert.throws(() => adaptivePlan(1.5, 300, policy), /risk: must be a probability/);
    assert.throws(
      () => adaptivePlan(0.2, 300, { ...policy, lowRisk: 0.5, highRisk: 0.4 }),
      /pacing\.lowRisk: must be below/,
    );
    assert.throws(() => adaptivePlan(0.2, 300, { ...policy, minSteps: 5, maxSteps: 3 }), /pacing\.minSteps/);
    assert.throws(
      () => parseConfig({ pacing: { firstStepPercent: { lowest: 30, highest: 10 } } }),
      /\/pacing\/firstStepPercent.lowest: must not exceed/,
    );
    assert.throws(() => parseConfig({ pacing: { looks: 0 } }), /\/pacing\/looks/);
  });

  test('fixed plans are the requested plan, judged once per interval', () => {
    const decision = fixedPlan([10, 50, 100], 120, 'pinned');
    assert.deepEqual(decision.plan, {
      steps: [10, 50, 100],
      analysisIntervalSeconds: 120,
      looks: 1,
      earliestLook: 1,
    });
    assert.equal(decision.mode, 'fixed');
  });

  test('geometric steps are strictly increasing integers ending at 100', () => {
    assert.deepEqual(stepsFrom(1, 7), [1, 2, 5, 10, 22, 46, 100]);
    assert.deepEqual(stepsFrom(25, 2), [25, 100]);
    assert.deepEqual(stepsFrom(99, 4), [97, 98, 99, 100]);
    assert.deepEqual(stepsFrom(30, 1), [100]);
  });
});
