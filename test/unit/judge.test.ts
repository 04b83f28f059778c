// The canary judge as the release workflow uses it, over the simulated telemetry: healthy canaries pass
// for every seed, each injected fault fails for the reason it should, no data is never a pass, the
// first release of a model is judged on its hard limits, and the release's limits reach the judge.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_JUDGE_CONFIG } from '../../activities/analysis/canary-judge.js';
import { judgeConfigFor } from '../../activities/analysis/judge-config.js';
import { judgeStep } from '../../activities/analysis/judge.js';
import { createCanaryJudge } from '../../activities/analysis/release-judge.js';
import { thresholdJudge } from '../../activities/analysis/threshold-judge.js';
import { SimulatedTelemetrySource } from '../../activities/telemetry/simulated.js';
import { RELEASE_DEFAULTS, type CanarySettings, type TelemetryFaultKind } from '../../domain/release.js';
import type { TelemetryWindow } from '../../domain/status.js';

const settings: CanarySettings = {
  steps: [5, 25, 50, 100],
  analysisIntervalSeconds: 60,
  maxErrorRate: RELEASE_DEFAULTS.maxErrorRate,
  maxLatencyP99Ms: RELEASE_DEFAULTS.maxLatencyP99Ms,
  maxLatencyRegression: RELEASE_DEFAULTS.maxLatencyRegression,
};
const telemetry = new SimulatedTelemetrySource(() => new Date('2026-11-27T12:00:00Z'));
const window = (
  releaseId: string,
  step: number,
  kind?: TelemetryFaultKind,
  stableVersion: string | null = '1',
) =>
  telemetry.collect({
    releaseId,
    cloud: 'aws',
    model: { name: 'm', version: '2' },
    ...(stableVersion ? { stableVersion } : {}),
    step,
    weight: settings.steps[step]!,
    windowSeconds: 60,
    ...(kind ? { faultPlan: { telemetry: [{ cloud: 'aws', kind }] } } : {}),
  });
const withModel = createCanaryJudge();
const statisticsOnly = createCanaryJudge({ anomalyModel: false });

describe('canary judge in the release', () => {
  test('healthy canaries pass every step of 500 releases (hard limits and Mann-Whitney)', async () => {
    for (let index = 0; index < 500; index++) {
      for (let step = 0; step < settings.steps.length; step++) {
        const verdict = await statisticsOnly.judge(await window(`release-${index}`, step), settings);
        assert.equal(verdict.decision, 'pass', `release-${index} step ${step}: ${verdict.summary}`);
      }
    }
  });

  test('with the anomaly model too, healthy canaries pass every step of 25 releases', async () => {
    let scored = 0;
    for (let index = 0; index < 25; index++) {
      for (let step = 0; step < settings.steps.length; step++) {
        const verdict = await withModel.judge(await window(`release-${index}`, step), settings);
        assert.equal(verdict.decision, 'pass', `release-${index} step ${step}: ${verdict.summary}`);
        scored += verdict.reasons.filter((reason) => reason.anomalies).length;
      }
    }
    // Every metric with data was scored (restarts is constant at 0 and is scored as well).
    assert.equal(scored, 25 * 4 * 4);
  });

  const failsOn: Record<
    Exclude<TelemetryFaultKind, 'latency-creep'>,
    { metric: string; rule: string; summary: RegExp }
  > = {
    'error-spike': {
      metric: 'error_rate',
      rule: 'hard-limit',
      summary: /error_rate: canary mean 0\.\d+ is above the hard limit 0\.02/,
    },
    'latency-regression': {
      metric: 'latency_p99_ms',
      rule: 'hard-limit',
      summary: /latency_p99_ms: canary p99 \d+ is above the hard limit 800/,
    },
    'prediction-drift': {
      metric: 'prediction_mean',
      rule: 'mann-whitney',
      summary: /critical metric prediction_mean failed/,
    },
    'crash-loop': { metric: 'restarts', rule: 'hard-limit', summary: /crash loop/ },
    'no-data': { metric: 'error_rate', rule: 'no-data', summary: /no data for 4 of 4 metrics/ },
  };
  for (const [kind, expected] of Object.entries(failsOn)) {
    test(`${kind} fails on ${expected.metric} (${expected.rule}), and the verdict names the metric and values`, async () => {
      const first = await withModel.judge(await window('faulty', 1, kind as TelemetryFaultKind), settings);
      // A failure on the rank test alone is confirmed on a re-check before it fails the canary.
      const recheck = { ...(await window('faulty', 1, kind as TelemetryFaultKind)), recheck: 1 };
      const verdict = expected.rule === 'mann-whitney' ? await withModel.judge(recheck, settings) : first;
      if (expected.rule === 'mann-whitney') {
        assert.equal(first.decision, 'marginal', first.summary);
        assert.match(first.summary, /^marginal, to be confirmed/);
      }
      assert.equal(verdict.decision, 'fail', verdict.summary);
      assert.equal(verdict.passed, false);
      const reason = verdict.reasons.find((entry) => entry.metric === expected.metric);
      assert.ok(reason, `no reason for ${expected.metric}`);
      assert.equal(reason.rule, expected.rule);
      assert.equal(reason.passed, false);
      if (expected.rule === 'hard-limit') {
        assert.equal(reason.limit, { error_rate: 0.02, latency_p99_ms: 800, restarts: 3 }[expected.metric]);
        assert.ok(reason.observed! > (reason.limit ?? Infinity), `${reason.observed} above ${reason.limit}`);
      }
      assert.match(verdict.summary, expected.summary);
    });
  }

  test('a latency creep below the hard limit is marginal (a confirmed +35 % or more on a non-critical metric)', async () => {
    const verdict = await withModel.judge(await window('creep', 1, 'latency-creep'), settings);
    assert.equal(verdict.decision, 'marginal', verdict.summary);
    const latency = verdict.reasons.find((entry) => entry.metric === 'latency_p99_ms')!;
    assert.equal(latency.rule, 'mann-whitney');
    assert.ok(
      latency.shift! > 0.3 && latency.observed! < 800,
      `shift ${latency.shift}, p99 ${latency.observed}`,
    );
    assert.match(verdict.summary, /^marginal: score 0\.75 \(3 of 4 metrics passed\)/);
  });

  test('prediction drift is also caught by the anomaly model, not only by the rank test', async () => {
    const verdict = await withModel.judge(await window('drift', 0, 'prediction-drift'), settings);
    const reason = verdict.reasons.find((entry) => entry.metric === 'prediction_mean')!;
    assert.ok(reason.anomalies, 'the canary series was scored');
    assert.equal(reason.anomalies.hits, reason.anomalies.scored, 'every drifted sample is anomalous');
    assert.ok(reason.shift! < -0.2, `shift ${reason.shift}`);
  });

  test('the first release of a model (no baseline) passes on its hard limits and fails beyond them', async () => {
    const healthy = await withModel.judge(await window('first', 0, undefined, null), settings);
    assert.equal(healthy.decision, 'pass', healthy.summary);
    assert.ok(healthy.reasons.every((reason) => reason.rule === 'no-baseline'));
    const spiking = await withModel.judge(await window('first', 0, 'error-spike', null), settings);
    assert.equal(spiking.decision, 'fail');
  });

  test('the release limits reach the judge: a tighter error-rate limit fails a healthy canary', async () => {
    const healthy = await window('tight', 0);
    const tight = { ...settings, maxErrorRate: 0.0005 };
    const verdict = await statisticsOnly.judge(healthy, tight);
    assert.equal(verdict.decision, 'fail');
    assert.match(verdict.summary, /above the hard limit 0\.0005/);
    const config = judgeConfigFor(tight);
    assert.equal(config.metrics.find((metric) => metric.name === 'error_rate')!.hardMax, 0.0005);
    // The release defaults and the judge's defaults agree.
    assert.deepEqual(judgeConfigFor(settings), {
      ...DEFAULT_JUDGE_CONFIG,
      metrics: [...DEFAULT_JUDGE_CONFIG.metrics],
    });
  });

  test('a marginal verdict makes the step marginal; a failing judge fails it whatever the others say', async () => {
    const healthy = await window('healthy', 0);
    const marginal = {
      name: 'holding',
      judge: () => ({
        judge: 'holding',
        passed: false,
        decision: 'marginal' as const,
        summary: 'hm',
        reasons: [],
      }),
    };
    const failing = {
      name: 'always-fails',
      judge: () => ({ judge: 'always-fails', passed: false, summary: 'no', reasons: [] }),
    };
    const now = () => new Date();
    assert.equal((await judgeStep([statisticsOnly], healthy, settings, now)).decision, 'pass');
    const held = await judgeStep([statisticsOnly, marginal], { ...healthy, recheck: 1 }, settings, now);
    assert.equal(held.decision, 'marginal');
    assert.equal(held.passed, false);
    assert.equal(held.recheck, 1);
    const step = await judgeStep([marginal, statisticsOnly, failing], healthy, settings, now);
    assert.equal(step.decision, 'fail');
    assert.deepEqual(
      step.verdicts.map((verdict) => verdict.judge),
      ['holding', 'canary', 'always-fails'],
    );
  });

  test('telemetry that could not be read holds the step: never a pass, but a failure it saw still fails', async () => {
    const unavailable = (base: TelemetryWindow, metrics: string[]): TelemetryWindow => {
      const series = structuredClone(base.series!);
      for (const metric of metrics) {
        series.canary[metric] = [];
        series.baseline[metric] = [];
      }
      return {
        ...base,
        series,
        telemetry: {
          source: 'prometheus',
          unavailable: metrics,
          queries: metrics.map((metric) => ({
            metric,
            track: 'canary' as const,
            kind: 'range' as const,
            query: 'q',
            outcome: 'error' as const,
            samples: 0,
            nonFinite: 0,
            attempts: 3,
            durationMs: 12,
            error: 'Prometheus unreachable',
          })),
        },
      };
    };
    // A healthy canary with one metric unknown: marginal, naming what was not seen and why.
    const partly = await statisticsOnly.judge(
      unavailable(await window('seen', 1), ['prediction_mean']),
      settings,
    );
    assert.equal(partly.decision, 'marginal');
    assert.equal(partly.passed, false);
    assert.match(partly.summary, /telemetry unavailable for prediction_mean/);
    const reason = partly.reasons.find((entry) => entry.metric === 'prediction_mean');
    assert.equal(reason?.rule, 'telemetry-unavailable');
    assert.match(reason?.summary ?? '', /Prometheus unreachable/);
    // Everything unknown (Prometheus down): marginal, not the no-data failure.
    const all = DEFAULT_JUDGE_CONFIG.metrics.map((metric) => metric.name);
    const blind = await withModel.judge(unavailable(await window('blind', 1), all), settings);
    assert.equal(blind.decision, 'marginal');
    assert.equal(blind.reasons.length, all.length);
    // The same windows without the telemetry record fail on the no-data policy: the difference is
    // unknown (the source could not be read) versus absent (the canary reported nothing).
    const absent = unavailable(await window('blind', 1), all);
    delete absent.telemetry;
    assert.equal((await withModel.judge(absent, settings)).decision, 'fail');
    // An error spike on a metric that was read still fails, whatever could not be read.
    const spike = await statisticsOnly.judge(
      unavailable(await window('spike', 1, 'error-spike'), ['latency_p99_ms', 'restarts']),
      settings,
    );
    assert.equal(spike.decision, 'fail');
    assert.equal(spike.reasons.find((entry) => entry.metric === 'error_rate')?.outcome, 'fail');
    // The step's verdict carries the telemetry record, so the failed analysis can be explained.
    const step = await judgeStep(
      [statisticsOnly],
      unavailable(await window('seen', 1), ['prediction_mean']),
      settings,
      () => new Date(),
    );
    assert.deepEqual(step.telemetry?.unavailable, ['prediction_mean']);
    assert.equal(step.telemetry?.queries[0]?.error, 'Prometheus unreachable');
  });

  test('a window collected before series existed is judged by the threshold judge', async () => {
    const old: TelemetryWindow = await window('old', 1, 'error-spike');
    delete old.series;
    const verdict = await withModel.judge(old, settings);
    assert.equal(verdict.judge, 'threshold');
    assert.equal(verdict.passed, false);
    assert.deepEqual(verdict, thresholdJudge.judge(old, settings));
  });

  test('the same query gives the same numbers, so a retried activity sees what the first attempt saw', async () => {
    assert.deepEqual(await window('same', 2), await window('same', 2));
    assert.notDeepEqual((await window('same', 2)).canary, (await window('other', 2)).canary);
    const recheck = await telemetry.collect({
      releaseId: 'same',
      cloud: 'aws',
      model: { name: 'm', version: '2' },
      stableVersion: '1',
      step: 2,
      weight: 50,
      windowSeconds: 60,
      recheck: 1,
    });
    assert.notDeepEqual(recheck.series, (await window('same', 2)).series, 'a re-check sees a fresh window');
  });
});
