// Pure release rules: sign-off, operator actions, waves and canary steps.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canaryStepProblems, operatorRefusal, planWaves, signoffRefusal } from '../../domain/rules.js';
import type { ReleaseStatus } from '../../domain/status.js';

const status = (overrides: Partial<Pick<ReleaseStatus, 'stage' | 'signoff'>> = {}) => ({
  stage: 'awaiting-signoff' as const,
  requestedBy: { id: 'rm-alice', name: 'Alice' },
  signoff: { quorum: 2, approvals: [], rejections: [], refused: [] },
  ...overrides,
});
const approver = { id: 'dr-bob', roles: ['clinical-approver' as const] };

describe('sign-off rules', () => {
  test('a clinical approver who is not the requester may sign off with a comment', () => {
    assert.equal(signoffRefusal(status(), approver, 'Reviewed.'), undefined);
  });
  test('each refusal has its own code', () => {
    assert.equal(signoffRefusal(status({ stage: 'canary' }), approver, 'ok!')?.code, 'NOT_AWAITING_SIGNOFF');
    assert.equal(
      signoffRefusal(status(), { id: 'op', roles: ['operator'] }, 'ok!')?.code,
      'NOT_CLINICAL_APPROVER',
    );
    assert.equal(
      signoffRefusal(status(), { id: 'rm-alice', roles: ['clinical-approver'] }, 'ok!')?.code,
      'REQUESTER_CANNOT_SIGN_OFF',
    );
    const signed = status({
      signoff: {
        quorum: 2,
        approvals: [
          {
            approver: { id: 'dr-bob', name: 'Bob' },
            decision: 'approve',
            comment: 'x',
            at: '',
            via: 'update',
          },
        ],
        rejections: [],
        refused: [],
      },
    });
    assert.equal(signoffRefusal(signed, approver, 'again')?.code, 'ALREADY_SIGNED_OFF');
    assert.equal(signoffRefusal(status(), approver, ' a ')?.code, 'COMMENT_REQUIRED');
  });
});

describe('operator rules', () => {
  const running = { stage: 'canary' as const, paused: false, cloudsTouched: true };
  const operator = { id: 'op-dave', roles: ['operator' as const] };
  test('roles: operators do everything, release managers may only abort, viewers nothing', () => {
    for (const action of ['pause', 'abort', 'rollback'] as const)
      assert.equal(operatorRefusal(running, operator, action), undefined);
    const manager = { id: 'rm', roles: ['release-manager' as const] };
    assert.equal(operatorRefusal(running, manager, 'abort'), undefined);
    assert.equal(operatorRefusal(running, manager, 'pause')?.code, 'NOT_PERMITTED');
    assert.equal(operatorRefusal(running, { id: 'v', roles: ['viewer'] }, 'abort')?.code, 'NOT_PERMITTED');
  });
  test('state: no pause twice, no resume unpaused, no rollback before a cloud changed, nothing after the end', () => {
    assert.equal(operatorRefusal({ ...running, paused: true }, operator, 'pause')?.code, 'INVALID_STATE');
    assert.equal(operatorRefusal(running, operator, 'resume')?.code, 'INVALID_STATE');
    assert.match(
      operatorRefusal({ ...running, cloudsTouched: false }, operator, 'rollback')!.message,
      /abort instead/,
    );
    assert.equal(
      operatorRefusal({ ...running, stage: 'completed' }, operator, 'abort')?.code,
      'INVALID_STATE',
    );
    assert.equal(
      operatorRefusal({ ...running, stage: 'rolling-back' }, operator, 'abort')?.code,
      'INVALID_STATE',
    );
  });
});

describe('waves and steps', () => {
  test('the pilot goes alone, then the rest in parallel', () => {
    assert.deepEqual(planWaves(['aws', 'azure', 'gcp']), [['aws'], ['azure', 'gcp']]);
    assert.deepEqual(planWaves(['aws', 'azure', 'gcp'], 'gcp'), [['gcp'], ['aws', 'azure']]);
    assert.deepEqual(planWaves(['azure']), [['azure']]);
  });
  test('steps must increase strictly and end at 100, each problem naming its index', () => {
    assert.deepEqual(canaryStepProblems([5, 25, 50, 100]), []);
    assert.deepEqual(canaryStepProblems([5, 5, 100]), [
      'canary.steps/1: weights must be strictly increasing (5 follows 5)',
    ]);
    assert.match(canaryStepProblems([5, 50])[0]!, /^canary\.steps\/1: the last step must be 100/);
  });
});
