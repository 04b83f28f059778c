// The threshold judge over the simulated telemetry: healthy canaries pass for every seed, each
// injected fault fails for the reason it should, and no data is never a pass.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { judgeStep } from '../../activities/analysis/judge.js';
import { thresholdJudge } from '../../activities/analysis/threshold-judge.js';
import { SimulatedTelemetrySource } from '../../activities/telemetry/simulated.js';
import { RELEASE_DEFAULTS, type CanarySettings, type TelemetryFaultKind } from '../../domain/release.js';

const settings: CanarySettings = {
  steps: [5, 25, 50, 100],
  analysisIntervalSeconds: 60,
  maxErrorRate: RELEASE_DEFAULTS.maxErrorRate,
  maxLatencyP99Ms: RELEASE_DEFAULTS.maxLatencyP99Ms,
  maxLatencyRegression: RELEASE_DEFAULTS.maxLatencyRegression,
};
const telemetry = new SimulatedTelemetrySource(() => new Date('2026-11-27T12:00:00Z'));
const window = (releaseId: string, step: number, kind?: TelemetryFaultKind) =>
  telemetry.collect({
    releaseId,
    cloud: 'aws',
    model: { name: 'm', version: '2' },
    stableVersion: '1',
    step,
    weight: settings.steps[step]!,
    windowSeconds: 60,
    ...(kind ? { faultPlan: { telemetry: [{ cloud: 'aws', kind }] } } : {}),
  });

describe('threshold judge', () => {
  test('healthy canaries pass at every step for 500 different releases', async () => {
    for (let index = 0; index < 500; index++) {
      for (let step = 0; step < settings.steps.length; step++) {
        const verdict = thresholdJudge.judge(await window(`release-${index}`, step), settings);
        assert.equal(verdict.passed, true, `release-${index} step ${step}: ${verdict.summary}`);
      }
    }
  });

  const failsOn: Record<TelemetryFaultKind, string> = {
    'error-spike': 'errorRate',
    'latency-regression': 'latencyP99Ms',
    'prediction-drift': 'predictionConfidence/baseline',
    'crash-loop': 'errorRate',
    'no-data': 'requests',
  };
  for (const [kind, metric] of Object.entries(failsOn)) {
    test(`${kind} fails on ${metric}, and the verdict names the metric, value and rule`, async () => {
      const verdict = thresholdJudge.judge(await window('faulty', 1, kind as TelemetryFaultKind), settings);
      assert.equal(verdict.passed, false);
      const failed = verdict.reasons.filter((reason) => !reason.passed).map((reason) => reason.metric);
      assert.ok(failed.includes(metric), `${kind} failed on ${failed.join(', ')}`);
      assert.match(verdict.summary, new RegExp(metric.replace('/', '\\/')));
    });
  }

  test('a step passes only if every judge passes', async () => {
    const failing = {
      name: 'always-fails',
      judge: () => ({ judge: 'always-fails', passed: false, summary: 'no', reasons: [] }),
    };
    const healthy = await window('healthy', 0);
    assert.equal(judgeStep([thresholdJudge], healthy, settings, new Date()).passed, true);
    const step = judgeStep([thresholdJudge, failing], healthy, settings, new Date());
    assert.equal(step.passed, false);
    assert.deepEqual(
      step.verdicts.map((verdict) => verdict.judge),
      ['threshold', 'always-fails'],
    );
  });

  test('the same query gives the same numbers, so a retried activity sees what the first attempt saw', async () => {
    assert.deepEqual(await window('same', 2), await window('same', 2));
    assert.notDeepEqual((await window('same', 2)).canary, (await window('other', 2)).canary);
  });
});
