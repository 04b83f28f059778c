// When a canary step may end early (activities/analysis/early.ts): only on decisive evidence that the
// sequential test and the judge agree on, or a broken hard limit; never on undecided evidence.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_JUDGE_CONFIG, judgeCanary } from '../../activities/analysis/canary-judge.js';
import { earlyLook, sequentialMetrics } from '../../activities/analysis/early.js';
import { gaussian, seededRandom } from '../../activities/telemetry/simulated.js';

/** A window's four default metrics: latency scaled by `latencyFactor` on the canary. */
function window(seed: string, samples: number, latencyFactor = 1, noise = 0.05) {
  const normal = gaussian(seededRandom(seed));
  const track = (factor: number) => ({
    error_rate: Array.from({ length: samples }, () => 0.004 * Math.exp(0.1 * normal())),
    latency_p99_ms: Array.from({ length: samples }, () => 300 * factor * Math.exp(noise * normal())),
    prediction_mean: Array.from({ length: samples }, () => 0.6 + 0.005 * normal()),
    restarts: Array.from({ length: samples }, () => 0),
  });
  return { canary: track(latencyFactor), baseline: track(1) };
}

function look(data: ReturnType<typeof window>, plannedSamples = 30) {
  const judgement = judgeCanary({ canary: data.canary, baseline: data.baseline }, DEFAULT_JUDGE_CONFIG);
  return {
    judgement,
    early: earlyLook({
      ...data,
      config: DEFAULT_JUDGE_CONFIG,
      plannedSamples,
      judgeDecision: judgement.decision,
      hardLimitBroken: judgement.metrics.some(
        (metric) => metric.outcome === 'fail' && metric.rule === 'hard-limit',
      ),
    }),
  };
}

describe('early conclusion of a canary step', () => {
  test('a healthy canary with enough samples passes early; restarts (0 and 0) are left to the judge', () => {
    const { judgement, early } = look(window('healthy', 25));
    assert.equal(judgement.decision, 'pass');
    assert.equal(early.conclusion, 'pass', early.look.summary);
    assert.deepEqual(
      early.look.metrics.map((metric) => metric.metric),
      ['error_rate', 'latency_p99_ms', 'prediction_mean'],
    );
  });

  test('a clear regression fails early only when the judge does not pass the samples', () => {
    const { judgement, early } = look(window('regressed', 25, 1.8));
    assert.notEqual(judgement.decision, 'pass');
    assert.equal(early.conclusion, 'fail');
    assert.match(early.look.summary, /latency_p99_ms/);
  });

  test('a broken hard limit fails at once, even on too few samples for any test', () => {
    const { judgement, early } = look(window('hard', 5, 3.5));
    assert.equal(judgement.decision, 'fail');
    assert.equal(early.look.decision, 'continue');
    assert.equal(early.conclusion, 'fail');
  });

  test('undecided evidence never concludes: too few samples, a shift at the boundary, or disagreement', () => {
    // Too few samples: the judge has no data and the test cannot decide.
    assert.equal(look(window('few', 10)).early.conclusion, undefined);
    // A shift right at the allowed +25 % with noisy samples: undecided, over many seeds.
    let concluded = 0;
    for (let seed = 0; seed < 200; seed++) {
      if (look(window(`boundary-${seed}`, 22, 1.25, 0.2)).early.conclusion !== undefined) concluded += 1;
    }
    assert.ok(concluded <= 4, `${concluded} of 200 boundary windows concluded early`);
    // The judge passing what the test finds regressed (or the reverse) is not decisive.
    const data = window('disagree', 25, 1.8);
    const disagreement = earlyLook({
      ...data,
      config: DEFAULT_JUDGE_CONFIG,
      plannedSamples: 30,
      judgeDecision: 'pass',
      hardLimitBroken: false,
    });
    assert.equal(disagreement.look.decision, 'fail');
    assert.equal(disagreement.conclusion, undefined);
    const healthy = window('healthy', 25);
    const judgeHolds = earlyLook({
      ...healthy,
      config: DEFAULT_JUDGE_CONFIG,
      plannedSamples: 30,
      judgeDecision: 'marginal',
      hardLimitBroken: false,
    });
    assert.equal(judgeHolds.look.decision, 'pass');
    assert.equal(judgeHolds.conclusion, undefined);
  });

  test('constant metrics are left out only with enough samples in both tracks, and never all of them', () => {
    const zeros = (count: number) => Array.from({ length: count }, () => 0);
    const metrics = sequentialMetrics(
      DEFAULT_JUDGE_CONFIG,
      { restarts: zeros(25), error_rate: [1, 2] },
      { restarts: zeros(10), error_rate: [1, 2] },
      20,
    );
    assert.ok(
      metrics.some((metric) => metric.name === 'restarts'),
      'too few canary samples to call it unchanged',
    );
    const onlyRestarts = {
      ...DEFAULT_JUDGE_CONFIG,
      metrics: DEFAULT_JUDGE_CONFIG.metrics.filter((m) => m.name === 'restarts'),
    };
    assert.equal(
      sequentialMetrics(onlyRestarts, { restarts: zeros(25) }, { restarts: zeros(25) }, 20).length,
      1,
    );
  });
});
