// The canary judge's configuration of a release, from its canary settings. Pure and light (no
// TensorFlow.js): the API materialises it into the workflow input, so the history shows exactly which
// configuration judged the release, and the judge activity uses it for releases that predate that.
import type { CanarySettings } from '../../domain/release.js';
import { DEFAULT_JUDGE_CONFIG, type JudgeConfig } from './canary-judge.js';

/**
 * The judge configuration of a release: its own (`canary.judge`), or the defaults with the release's
 * canary limits applied — error_rate's hard limit is maxErrorRate, latency_p99_ms's is maxLatencyP99Ms
 * and its allowed shift maxLatencyRegression − 1.
 */
export function judgeConfigFor(settings: CanarySettings): JudgeConfig {
  if (settings.judge) return settings.judge;
  return {
    ...DEFAULT_JUDGE_CONFIG,
    metrics: DEFAULT_JUDGE_CONFIG.metrics.map((metric) => {
      switch (metric.name) {
        case 'error_rate':
          return { ...metric, hardMax: settings.maxErrorRate };
        case 'latency_p99_ms':
          return {
            ...metric,
            hardMax: settings.maxLatencyP99Ms,
            allowedShift: Math.max(0, settings.maxLatencyRegression - 1),
          };
        default:
          return { ...metric };
      }
    }),
  };
}
