// Pure release rules, shared by the workflow (which enforces them) and the API (which answers early
// with the same words). No I/O and no Node built-ins: this module is bundled into workflow code.
import { SignoffRefusal } from './errors.js';
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
