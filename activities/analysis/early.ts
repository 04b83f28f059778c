// When a canary step may end before its analysis interval is over (sequential analysis): the rules the
// lookAtCanary activity and bench:paper share. Pure.
//
// A look concludes the step only when the evidence is decisive:
//  - a hard limit (or the crash loop) is broken: the judge fails the window — as it would at once at
//    the interval's end;
//  - the anytime-valid sequential test (ml/stats/sequential.ts) finds a regression beyond a metric's
//    allowed shift, and the judge does not pass the window: the step ends with the judge's verdict
//    (a fail, or a marginal one that holds the weight for a re-check);
//  - the sequential test finds every metric within its allowed shift and the judge passes the window
//    (hard limits, the rank test and the anomaly model included).
// Anything else — too few samples, an undecided metric, the two disagreeing — is undecided, and the
// interval runs on.
import { sequentialLook, type Look } from '../../ml/stats/sequential.js';
import type { JudgeConfig } from './canary-judge.js';

export type EarlyDecision = 'pass' | 'fail';

export interface EarlyLook {
  /** undefined: undecided, keep watching. */
  conclusion?: EarlyDecision;
  look: Look;
}

/**
 * The sequential test on one look's samples, and whether the step concludes. `judgeDecision` is the
 * canary judge's decision on the same samples; `hardLimitBroken` whether it failed on a hard limit.
 */
export function earlyLook(options: {
  baseline: Record<string, readonly number[]> | null;
  canary: Record<string, readonly number[]>;
  config: JudgeConfig;
  /** Samples per track a full interval holds. */
  plannedSamples: number;
  judgeDecision: 'pass' | 'marginal' | 'fail';
  hardLimitBroken: boolean;
}): EarlyLook {
  const minSamples = options.config.minSamples ?? 20;
  const metrics = sequentialMetrics(options.config, options.baseline, options.canary, minSamples);
  const look = sequentialLook({ baseline: options.baseline, canary: options.canary }, metrics, {
    alpha: options.config.alpha ?? 0.01,
    minSamples,
    plannedSamples: Math.max(1, options.plannedSamples),
  });
  const conclusion: EarlyDecision | undefined = options.hardLimitBroken
    ? 'fail'
    : look.decision === 'fail' && options.judgeDecision !== 'pass'
      ? 'fail'
      : look.decision === 'pass' && options.judgeDecision === 'pass'
        ? 'pass'
        : undefined;
  return { ...(conclusion ? { conclusion } : {}), look };
}

/**
 * The judged metrics the sequential test can speak to. A metric whose canary and baseline samples are
 * all one and the same value (restarts: 0 and 0), with enough of them, shows no change and has no
 * relative scale to test against: it is left to the judge, which must pass the window for an early pass.
 * At least one metric always remains (all of them if every one is constant).
 */
export function sequentialMetrics(
  config: JudgeConfig,
  baseline: Record<string, readonly number[]> | null,
  canary: Record<string, readonly number[]>,
  minSamples: number,
): JudgeConfig['metrics'] {
  const constantEqual = (name: string) => {
    const values = [...(canary[name] ?? []), ...(baseline?.[name] ?? [])].filter((value) =>
      Number.isFinite(value),
    );
    const counts = [canary[name], baseline?.[name]].map(
      (list) => (list ?? []).filter((value) => Number.isFinite(value)).length,
    );
    return counts.every((count) => count >= minSamples) && values.every((value) => value === values[0]);
  };
  const informative = config.metrics.filter((metric) => !constantEqual(metric.name));
  return informative.length > 0 ? informative : config.metrics;
}
