// Risk-adaptive pacing: the canary plan a release runs, chosen from its predicted risk within bounds
// set by policy. A release that looks safe takes few, large steps with short analysis intervals; one
// that looks risky takes more, smaller, longer ones. Whatever the risk, the plan never goes below the
// policy's minimums: at least `minSteps` steps, a first step of at most `firstStepPercent.highest` %,
// analysis intervals of at least `intervalFactor.lowest` × the release's base interval and at least
// `minIntervalSeconds`, and no early conclusion before `earliestLook` of an interval has elapsed.
//
// Risk maps to a position u in [0, 1] on the logit scale between `lowRisk` (u = 0, the fastest plan
// the policy allows) and `highRisk` (u = 1, the most careful); every dimension of the plan moves with
// u: the number of steps linearly, the first step's share and the interval factor geometrically, and
// the steps between the first and 100 % are geometric too (each step multiplies the exposure by the
// same factor). Pure: the control activity computes it, the workflow shows it.
import { Type, type Static } from 'typebox';

const PACING_PROPERTIES = {
  mode: Type.Optional(
    Type.Union([Type.Literal('adaptive'), Type.Literal('fixed')], {
      description:
        'adaptive: the risk model chooses the canary plan within these bounds; fixed: every release runs its requested (or default) plan. Default adaptive.',
    }),
  ),
  lowRisk: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      description: 'Predicted risk at or below which a release gets the fastest plan. Default 0.1.',
    }),
  ),
  highRisk: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      description: 'Predicted risk at or above which a release gets the most careful plan. Default 0.5.',
    }),
  ),
  minSteps: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 20,
      description: 'Fewest canary steps (including 100 %). Default 2.',
    }),
  ),
  maxSteps: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 20, description: 'Most canary steps (including 100 %). Default 7.' }),
  ),
  firstStepPercent: Type.Optional(
    Type.Object(
      {
        lowest: Type.Integer({ minimum: 1, maximum: 100 }),
        highest: Type.Integer({ minimum: 1, maximum: 100 }),
      },
      {
        additionalProperties: false,
        description:
          'Traffic share of the first step: `lowest` for the riskiest releases, `highest` (the policy maximum) for the safest. Default 1 and 25.',
      },
    ),
  ),
  intervalFactor: Type.Optional(
    Type.Object(
      {
        lowest: Type.Number({ exclusiveMinimum: 0, maximum: 100 }),
        highest: Type.Number({ exclusiveMinimum: 0, maximum: 100 }),
      },
      {
        additionalProperties: false,
        description:
          'Analysis interval as a multiple of the release’s base interval: `lowest` (the policy minimum) for the safest, `highest` for the riskiest. Default 0.5 and 1.25.',
      },
    ),
  ),
  minIntervalSeconds: Type.Optional(
    Type.Number({
      minimum: 0,
      maximum: 86_400,
      description: 'No adaptive analysis interval is shorter than this. Default 0 (the factor alone).',
    }),
  ),
  looks: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 12,
      description:
        'How often the evidence is examined during an interval; from `earliestLook` on, a step may conclude early when a sequential test finds the evidence decisive. 1 disables early conclusion. Default 4.',
    }),
  ),
  pilotDetection: Type.Optional(
    Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      description:
        'Share of bad releases the pilot cloud’s canary is assumed to stop: after the pilot passes, the risk of the later waves is updated by Bayes’ rule with it (0 keeps the pilot’s plan for every wave). Default 0.8.',
    }),
  ),
  earliestLook: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      description: 'Share of an interval that must elapse before a step may conclude early. Default 0.5.',
    }),
  ),
};

const PACING_DESCRIPTION =
  'Risk-adaptive canary pacing: bounds within which the risk model chooses each release’s plan (docs/pacing.md).';
export const PacingPolicySchema = Type.Object(PACING_PROPERTIES, {
  additionalProperties: false,
  description: PACING_DESCRIPTION,
});
/** The configuration section: the same schema, absent meaning every default. */
export const PacingConfigSchema = Type.Object(PACING_PROPERTIES, {
  additionalProperties: false,
  default: {},
  description: PACING_DESCRIPTION,
});
export type PacingPolicyInput = Static<typeof PacingPolicySchema>;

export interface PacingPolicy {
  mode: 'adaptive' | 'fixed';
  lowRisk: number;
  highRisk: number;
  minSteps: number;
  maxSteps: number;
  firstStepPercent: { lowest: number; highest: number };
  intervalFactor: { lowest: number; highest: number };
  minIntervalSeconds: number;
  looks: number;
  earliestLook: number;
  pilotDetection: number;
}

export const PACING_DEFAULTS: Readonly<PacingPolicy> = Object.freeze<PacingPolicy>({
  mode: 'adaptive',
  lowRisk: 0.1,
  highRisk: 0.5,
  minSteps: 2,
  maxSteps: 7,
  firstStepPercent: Object.freeze({ lowest: 1, highest: 25 }),
  intervalFactor: Object.freeze({ lowest: 0.5, highest: 1.25 }),
  minIntervalSeconds: 0,
  looks: 4,
  earliestLook: 0.5,
  pilotDetection: 0.8,
});

/** The policy with every default applied. */
export function pacingPolicy(input: PacingPolicyInput = {}): PacingPolicy {
  return {
    mode: input.mode ?? PACING_DEFAULTS.mode,
    lowRisk: input.lowRisk ?? PACING_DEFAULTS.lowRisk,
    highRisk: input.highRisk ?? PACING_DEFAULTS.highRisk,
    minSteps: input.minSteps ?? PACING_DEFAULTS.minSteps,
    maxSteps: input.maxSteps ?? PACING_DEFAULTS.maxSteps,
    firstStepPercent: { ...(input.firstStepPercent ?? PACING_DEFAULTS.firstStepPercent) },
    intervalFactor: { ...(input.intervalFactor ?? PACING_DEFAULTS.intervalFactor) },
    minIntervalSeconds: input.minIntervalSeconds ?? PACING_DEFAULTS.minIntervalSeconds,
    looks: input.looks ?? PACING_DEFAULTS.looks,
    earliestLook: input.earliestLook ?? PACING_DEFAULTS.earliestLook,
    pilotDetection: input.pilotDetection ?? PACING_DEFAULTS.pilotDetection,
  };
}

/** Problems of a policy (empty when valid), each naming the field and the rule. */
export function pacingPolicyProblems(policy: PacingPolicy): string[] {
  const problems: string[] = [];
  if (!(policy.lowRisk < policy.highRisk)) problems.push('pacing.lowRisk: must be below pacing.highRisk');
  if (policy.minSteps > policy.maxSteps) problems.push('pacing.minSteps: must not exceed pacing.maxSteps');
  if (policy.firstStepPercent.lowest > policy.firstStepPercent.highest)
    problems.push('pacing.firstStepPercent.lowest: must not exceed pacing.firstStepPercent.highest');
  if (policy.intervalFactor.lowest > policy.intervalFactor.highest)
    problems.push('pacing.intervalFactor.lowest: must not exceed pacing.intervalFactor.highest');
  if (policy.maxSteps > 1 && policy.firstStepPercent.lowest >= 100)
    problems.push(
      'pacing.firstStepPercent.lowest: must be below 100 when a plan may have more than one step',
    );
  if (policy.firstStepPercent.highest < 100 && policy.minSteps < 2)
    problems.push(
      'pacing.minSteps: must be at least 2 while pacing.firstStepPercent.highest is below 100 (a single step sends all traffic at once)',
    );
  if (policy.firstStepPercent.highest >= 100 && policy.minSteps > 1)
    problems.push(
      'pacing.firstStepPercent.highest: must be below 100 when every plan has at least two steps',
    );
  return problems;
}

export interface CanaryPlan {
  /** Traffic share of each step, strictly increasing, ending at 100. */
  steps: number[];
  analysisIntervalSeconds: number;
  /** Looks per interval (1: the step is judged once, at the interval's end). */
  looks: number;
  /** Share of the interval before which no step concludes early. */
  earliestLook: number;
}

export interface PacingDecision {
  mode: 'adaptive' | 'fixed';
  /** Where the plan sits between the fastest (0) and the most careful (1) the policy allows. */
  position: number;
  plan: CanaryPlan;
  /** Why: the risk and the bounds, in sentences. */
  why: string[];
}

const logit = (p: number) => Math.log(p / (1 - p));
const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));
const geometric = (from: number, to: number, u: number) =>
  Math.exp(Math.log(from) + (Math.log(to) - Math.log(from)) * u);

/**
 * The plan for a release of predicted risk `risk` whose requested (or default) base interval is
 * `baseIntervalSeconds`. Never below the policy's minimums (see the file comment).
 */
export function adaptivePlan(
  risk: number,
  baseIntervalSeconds: number,
  policy: PacingPolicy,
): PacingDecision {
  if (!(risk >= 0 && risk <= 1)) throw new RangeError(`risk: must be a probability in [0, 1] (got ${risk})`);
  if (!(baseIntervalSeconds >= 0))
    throw new RangeError(`baseIntervalSeconds: must be ≥ 0 (got ${baseIntervalSeconds})`);
  const problems = pacingPolicyProblems(policy);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const bounded = clamp(risk, 1e-6, 1 - 1e-6);
  const u = clamp(
    (logit(bounded) - logit(policy.lowRisk)) / (logit(policy.highRisk) - logit(policy.lowRisk)),
    0,
    1,
  );
  const count = clamp(
    Math.round(policy.minSteps + u * (policy.maxSteps - policy.minSteps)),
    policy.minSteps,
    policy.maxSteps,
  );
  const first = clamp(
    Math.round(geometric(policy.firstStepPercent.highest, policy.firstStepPercent.lowest, u)),
    policy.firstStepPercent.lowest,
    policy.firstStepPercent.highest,
  );
  const steps = stepsFrom(first, count);
  const factor = geometric(policy.intervalFactor.lowest, policy.intervalFactor.highest, u);
  const interval = Math.max(
    policy.minIntervalSeconds,
    // Rounded up: never below the policy's factor.
    Math.ceil(
      baseIntervalSeconds * clamp(factor, policy.intervalFactor.lowest, policy.intervalFactor.highest) - 1e-9,
    ),
  );
  const looks = interval > 0 ? policy.looks : 1;
  const percent = (value: number) => `${(value * 100).toFixed(1)} %`;
  const band =
    bounded <= policy.lowRisk
      ? `at or below the low-risk bound ${percent(policy.lowRisk)}: the fastest plan the policy allows`
      : bounded >= policy.highRisk
        ? `at or above the high-risk bound ${percent(policy.highRisk)}: the most careful plan the policy allows`
        : `between the low-risk ${percent(policy.lowRisk)} and high-risk ${percent(policy.highRisk)} bounds (position ${u.toFixed(2)})`;
  return {
    mode: 'adaptive',
    position: Math.round(u * 1000) / 1000,
    plan: { steps, analysisIntervalSeconds: interval, looks, earliestLook: policy.earliestLook },
    why: [
      `predicted risk ${percent(risk)}, ${band}`,
      `${steps.length} steps (${steps.join(' → ')} %), policy ${policy.minSteps}–${policy.maxSteps}; first step ${steps[0]} %, policy at most ${policy.firstStepPercent.highest} %`,
      `analysis interval ${interval} s (${(interval / Math.max(baseIntervalSeconds, 1e-9)).toFixed(2)} × the base ${baseIntervalSeconds} s; policy at least ${policy.intervalFactor.lowest} × and ${policy.minIntervalSeconds} s)` +
        (looks > 1
          ? `; ${looks} looks per interval, concluding early only on decisive evidence and not before ${Math.round(policy.earliestLook * 100)} % of it`
          : '; judged once per interval'),
    ],
  };
}

/** Share of good releases a canary rolls back by mistake, assumed by the update after the pilot. */
export const PILOT_FALSE_ROLLBACK = 0.03;

/**
 * The risk of a release whose pilot canary passed every step (Bayes' rule): a bad release passes the
 * pilot with probability 1 − pilotDetection, a good one with 1 − PILOT_FALSE_ROLLBACK.
 */
export function riskAfterPilot(risk: number, pilotDetection: number): number {
  const bad = risk * (1 - pilotDetection);
  const good = (1 - risk) * (1 - PILOT_FALSE_ROLLBACK);
  return bad + good === 0 ? risk : bad / (bad + good);
}

/**
 * The plans of a release's waves: the pilot's for the release's risk, the later waves' for its risk
 * once the pilot has passed (riskAfterPilot), each within the policy.
 */
export function wavePlans(
  risk: number,
  baseIntervalSeconds: number,
  policy: PacingPolicy,
): { pilot: PacingDecision; later: PacingDecision & { risk: number } } {
  const pilot = adaptivePlan(risk, baseIntervalSeconds, policy);
  const updated = Math.round(riskAfterPilot(risk, policy.pilotDetection) * 1e6) / 1e6;
  const later = adaptivePlan(updated, baseIntervalSeconds, policy);
  return {
    pilot,
    later: {
      ...later,
      risk: updated,
      why: [
        `after the pilot passes every step, the risk is ${(updated * 100).toFixed(1)} % (Bayes’ rule: the pilot stops ${Math.round(policy.pilotDetection * 100)} % of bad releases and ${PILOT_FALSE_ROLLBACK * 100} % of good ones)`,
        ...later.why.slice(1),
      ],
    },
  };
}

/** The plan as requested: pinned steps or the defaults, one look per interval. */
export function fixedPlan(
  steps: readonly number[],
  analysisIntervalSeconds: number,
  why: string,
): PacingDecision {
  return {
    mode: 'fixed',
    position: Number.NaN,
    plan: { steps: [...steps], analysisIntervalSeconds, looks: 1, earliestLook: 1 },
    why: [why],
  };
}

/** `count` strictly increasing integer weights from `first`, geometric, ending at 100. */
export function stepsFrom(first: number, count: number): number[] {
  if (count <= 1 || first >= 100) return [100];
  const steps: number[] = [];
  for (let index = 0; index < count; index++) {
    const ideal = first * Math.pow(100 / first, index / (count - 1));
    // Room for the steps still to come keeps the sequence strictly increasing.
    const ceiling = 100 - (count - 1 - index);
    const floor = index === 0 ? first : steps[index - 1]! + 1;
    steps.push(clamp(Math.round(ideal), floor, ceiling));
  }
  steps[steps.length - 1] = 100;
  return steps;
}
