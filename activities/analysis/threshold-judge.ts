// The threshold judge: hard limits on the canary's error rate and latency, its latency and
// prediction confidence relative to the baseline, and "no data is a failure" (a canary that
// serves nothing must never pass by default).
import type { CanarySettings } from '../../domain/release.js';
import type { TelemetryWindow, Verdict, VerdictReason } from '../../domain/status.js';
import type { Judge } from './judge.js';

/** The lowest number of canary requests a window must hold to be judged at all. */
export const MIN_CANARY_REQUESTS = 20;
/** Largest drop of mean prediction confidence against the baseline before the canary fails. */
export const MAX_CONFIDENCE_DROP = 0.1;

export const thresholdJudge: Judge = {
  name: 'threshold',
  judge(window: TelemetryWindow, settings: CanarySettings): Verdict {
    const { canary, baseline } = window;
    const reasons: VerdictReason[] = [
      {
        metric: 'requests',
        rule: `canary served at least ${MIN_CANARY_REQUESTS} requests in the window`,
        observed: canary.requests,
        limit: MIN_CANARY_REQUESTS,
        passed: canary.requests >= MIN_CANARY_REQUESTS,
      },
    ];
    if (canary.requests >= MIN_CANARY_REQUESTS) {
      reasons.push(
        {
          metric: 'errorRate',
          rule: `canary error rate ≤ ${settings.maxErrorRate}`,
          observed: round(canary.errorRate),
          limit: settings.maxErrorRate,
          passed: canary.errorRate <= settings.maxErrorRate,
        },
        {
          metric: 'latencyP99Ms',
          rule: `canary p99 latency ≤ ${settings.maxLatencyP99Ms} ms`,
          observed: round(canary.latencyP99Ms),
          limit: settings.maxLatencyP99Ms,
          passed: canary.latencyP99Ms <= settings.maxLatencyP99Ms,
        },
      );
      if (baseline && baseline.requests > 0) {
        const latencyLimit = baseline.latencyP99Ms * settings.maxLatencyRegression;
        const confidenceLimit = baseline.predictionConfidence - MAX_CONFIDENCE_DROP;
        reasons.push(
          {
            metric: 'latencyP99Ms/baseline',
            rule: `canary p99 ≤ ${settings.maxLatencyRegression} × baseline p99`,
            observed: round(canary.latencyP99Ms),
            limit: round(latencyLimit),
            passed: canary.latencyP99Ms <= latencyLimit,
          },
          {
            metric: 'predictionConfidence/baseline',
            rule: `canary mean confidence ≥ baseline − ${MAX_CONFIDENCE_DROP}`,
            observed: round(canary.predictionConfidence),
            limit: round(confidenceLimit),
            passed: canary.predictionConfidence >= confidenceLimit,
          },
        );
      }
    }
    const failed = reasons.filter((reason) => !reason.passed);
    return {
      judge: 'threshold',
      passed: failed.length === 0,
      summary:
        failed.length === 0
          ? `all ${reasons.length} limits held at ${window.weight}%`
          : failed.map((reason) => `${reason.metric} ${reason.observed} breaks '${reason.rule}'`).join('; '),
      reasons,
    };
  },
};

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
