// Pure release rules, shared by the workflow (which enforces them) and the API (which answers early
// with the same words). No I/O and no Node built-ins: this module is bundled into workflow code.
import { SignoffRefusal, WaiverRefusal } from './errors.js';
import { isTerminal, type Person, type Stage } from './release.js';
import type { OperatorAction, ReleaseStatus } from './status.js';

export interface Refusal {
  code: string;
  message: string;
}

/** Why `actor` may not sign off this release now, or undefined when the sign-off counts. */
export function signoffRefusal(
  status: Pick<ReleaseStatus, 'stage' | 'requestedBy' | 'signoff'>,
  actor: Pick<Person, 'id' | 'roles'>,
  comment: string,
): Refusal | undefined {
  if (status.stage !== 'awaiting-signoff') {
    return {
      code: SignoffRefusal.NotAwaitingSignoff,
      message: `the release is in stage '${status.stage}', not 'awaiting-signoff'`,
    };
  }
  if (!actor.roles.includes('clinical-approver')) {
    return {
      code: SignoffRefusal.NotClinicalApprover,
      message: `'${actor.id}' does not have the clinical-approver role`,
    };
  }
  if (actor.id === status.requestedBy.id) {
    return {
      code: SignoffRefusal.RequesterCannotApprove,
      message: `'${actor.id}' requested this release and so may not sign it off`,
    };
  }
  const decided = [...status.signoff.approvals, ...status.signoff.rejections];
  if (decided.some((record) => record.approver.id === actor.id)) {
    return {
      code: SignoffRefusal.AlreadySignedOff,
      message: `'${actor.id}' has already signed off this release`,
    };
  }
  if (comment.trim().length < 3) {
    return {
      code: SignoffRefusal.CommentRequired,
      message: 'comment: a sign-off needs a comment of at least 3 characters',
    };
  }
  return undefined;
}

/**
 * Why `actor` may not submit or approve a waiver of `control` now, or undefined when it counts:
 * only in the compliance stage, only for a failed major the gate says a waiver would release, only
 * by a role the policy names, never by the release's requester, once per person.
 */
export function waiverRefusal(
  status: Pick<ReleaseStatus, 'stage' | 'requestedBy' | 'compliance' | 'waivers'>,
  actor: Pick<Person, 'id' | 'roles'>,
  request: { control: string; justification: string; expiresAt: string },
  now: number,
): Refusal | undefined {
  const report = status.compliance;
  if (status.stage !== 'compliance' || !report || (report.awaitingWaivers ?? []).length === 0) {
    return {
      code: WaiverRefusal.NotAwaitingWaivers,
      message: `the release is in stage '${status.stage}' and is not waiting for waivers`,
    };
  }
  if (!report.awaitingWaivers.includes(request.control)) {
    return {
      code: WaiverRefusal.NotWaivable,
      message: `control: '${request.control}' is not a failed major awaiting a waiver (awaiting: ${report.awaitingWaivers.join(', ')})`,
    };
  }
  const roles = report.waiverPolicy?.approverRoles ?? [];
  const role = roles.find((candidate) => (actor.roles as string[]).includes(candidate));
  if (!role) {
    return {
      code: WaiverRefusal.RoleMissing,
      message: `'${actor.id}' has none of the roles that approve waivers (${roles.join(', ')})`,
    };
  }
  if (actor.id === status.requestedBy.id) {
    return {
      code: WaiverRefusal.RequesterCannotWaive,
      message: `'${actor.id}' requested this release and so may not waive its controls`,
    };
  }
  const existing = (status.waivers ?? []).find((waiver) => waiver.control === request.control);
  if (existing?.approvals.some((approval) => approval.by.id === actor.id)) {
    return {
      code: WaiverRefusal.AlreadyApproved,
      message: `'${actor.id}' has already approved the waiver of ${request.control}`,
    };
  }
  if (request.justification.trim().length < 10) {
    return {
      code: WaiverRefusal.Invalid,
      message: 'justification: a waiver needs a justification of at least 10 characters',
    };
  }
  const expires = Date.parse(request.expiresAt);
  if (!Number.isFinite(expires) || expires <= now) {
    return { code: WaiverRefusal.Invalid, message: 'expiresAt: must be a date-time in the future' };
  }
  const maxDays = report.waiverPolicy?.maxDays;
  if (maxDays !== undefined && expires - now > maxDays * 86_400_000) {
    return { code: WaiverRefusal.Invalid, message: `expiresAt: a waiver may run at most ${maxDays} days` };
  }
  return undefined;
}

const ACTION_ROLES: Record<OperatorAction['action'], Person['roles'][number][]> = {
  pause: ['operator'],
  resume: ['operator'],
  abort: ['operator', 'release-manager'],
  rollback: ['operator'],
};

export function rolesFor(action: OperatorAction['action']): readonly string[] {
  return ACTION_ROLES[action];
}

/** Why `actor` may not take `action` on a release in this state, or undefined when it may. */
export function operatorRefusal(
  state: { stage: Stage; paused: boolean; cloudsTouched: boolean },
  actor: Pick<Person, 'id' | 'roles'>,
  action: OperatorAction['action'],
): Refusal | undefined {
  const allowed = ACTION_ROLES[action];
  if (!actor.roles.some((role) => allowed.includes(role))) {
    return {
      code: 'NOT_PERMITTED',
      message: `'${actor.id}' needs one of the roles ${allowed.join(', ')} to ${action}`,
    };
  }
  if (isTerminal(state.stage)) {
    return { code: 'INVALID_STATE', message: `the release has already ended ('${state.stage}')` };
  }
  if (state.stage === 'rolling-back') {
    return { code: 'INVALID_STATE', message: 'the release is already rolling back' };
  }
  switch (action) {
    case 'pause':
      return state.paused ? { code: 'INVALID_STATE', message: 'the release is already paused' } : undefined;
    case 'resume':
      return state.paused ? undefined : { code: 'INVALID_STATE', message: 'the release is not paused' };
    case 'rollback':
      return state.cloudsTouched
        ? undefined
        : {
            code: 'INVALID_STATE',
            message: 'no cloud has been changed yet, so there is nothing to roll back: abort instead',
          };
    case 'abort':
      return undefined;
  }
}

/** The canary waves: the pilot cloud alone, then every other cloud in parallel. */
export function planWaves(clouds: string[], pilotCloud?: string): string[][] {
  const pilot = pilotCloud ?? clouds[0]!;
  const rest = clouds.filter((cloud) => cloud !== pilot);
  return rest.length > 0 ? [[pilot], rest] : [[pilot]];
}

/** Semantic checks the JSON schema cannot express; each message names the field and the rule. */
export function canaryStepProblems(steps: number[]): string[] {
  const problems: string[] = [];
  steps.forEach((weight, index) => {
    if (index > 0 && weight <= steps[index - 1]!) {
      problems.push(
        `canary.steps/${index}: weights must be strictly increasing (${weight} follows ${steps[index - 1]})`,
      );
    }
  });
  if (steps[steps.length - 1] !== 100) {
    problems.push(
      `canary.steps/${steps.length - 1}: the last step must be 100 (the canary takes all traffic before promotion)`,
    );
  }
  return problems;
}
