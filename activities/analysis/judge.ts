// A canary judge turns one analysis window into a verdict that names each metric, value and rule.
// The judgeCanary activity runs every configured judge; the step's decision is the worst of theirs:
// any fail fails it, else any marginal holds it for a re-check, else it passes. The release workflow
// uses the canary judge (release-judge.ts); the threshold judge judges windows collected before
// per-metric series existed, and is the threshold-only comparison of bench:canary.
import type { CanarySettings } from '../../domain/release.js';
import type { Decision, StepVerdict, TelemetryWindow, Verdict } from '../../domain/status.js';

export interface Judge {
  readonly name: string;
  judge(window: TelemetryWindow, settings: CanarySettings): Verdict | Promise<Verdict>;
}

const SEVERITY: Record<Decision, number> = { pass: 0, marginal: 1, fail: 2 };

export function decisionOf(verdict: Verdict): Decision {
  return verdict.decision ?? (verdict.passed ? 'pass' : 'fail');
}

export async function judgeStep(
  judges: readonly Judge[],
  window: TelemetryWindow,
  settings: CanarySettings,
  at: () => Date,
): Promise<StepVerdict> {
  const verdicts: Verdict[] = [];
  for (const judge of judges) verdicts.push(await judge.judge(window, settings));
  const decision = verdicts
    .map(decisionOf)
    .reduce<Decision>((worst, next) => (SEVERITY[next] > SEVERITY[worst] ? next : worst), 'pass');
  return {
    step: window.step,
    weight: window.weight,
    at: at().toISOString(),
    passed: decision === 'pass',
    decision,
    ...(window.recheck ? { recheck: window.recheck } : {}),
    verdicts,
    ...(window.telemetry ? { telemetry: window.telemetry } : {}),
  };
}
