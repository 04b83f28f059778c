// A canary judge turns one analysis window into a verdict that names each metric, value and rule.
// Judges are pure; the judgeCanary activity runs every configured judge, and the step passes only
// if all of them pass. The statistical and ML judges of a later issue implement the same interface.
import type { CanarySettings } from '../../domain/release.js';
import type { StepVerdict, TelemetryWindow, Verdict } from '../../domain/status.js';

export interface Judge {
  readonly name: string;
  judge(window: TelemetryWindow, settings: CanarySettings): Verdict;
}

export function judgeStep(
  judges: readonly Judge[],
  window: TelemetryWindow,
  settings: CanarySettings,
  at: Date,
): StepVerdict {
  const verdicts = judges.map((judge) => judge.judge(window, settings));
  return {
    step: window.step,
    weight: window.weight,
    at: at.toISOString(),
    passed: verdicts.every((verdict) => verdict.passed),
    verdicts,
  };
}
