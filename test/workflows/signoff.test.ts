// Clinical sign-off: the rules hold whether a sign-off arrives as an Update (the API) or as a
// signal carrying a credential (the Temporal UI or CLI).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { signoffSignal, signoffUpdate, statusQuery } from '../../workflows/messages.js';
import { eventually, TestEnvironment, type RunningWorkers } from '../helpers/environment.js';
import { recordHistory } from '../helpers/histories.js';

async function refusalCode(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => assert.fail('the update was accepted'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof WorkflowUpdateFailedError, String(error));
  assert.ok(error.cause instanceof ApplicationFailure);
  return error.cause.type ?? '';
}

describe('clinical sign-off', () => {
  let env: TestEnvironment;
  let workers: RunningWorkers;

  before(async () => {
    env = await TestEnvironment.create();
    workers = await env.startWorkers();
  });
  after(async () => {
    await workers?.stop();
    await env?.close();
  });

  const tokenOf = (id: string) => Object.values(env.users).find((user) => user.person.id === id)!.token;
  const awaitingSignoff = async (quorum = 2) => {
    const handle = await env.startRelease(env.request({ signoff: { quorum, deadlineSeconds: 120 } }));
    await eventually(async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff');
    return handle;
  };

  test('the validator refuses the requester, non-approvers, repeats and empty comments, and nothing changes', async () => {
    const handle = await awaitingSignoff();
    const before = await handle.query(statusQuery);
    const update = (approver = env.users.manager.person, comment = 'I approve my own release.') =>
      handle.executeUpdate(signoffUpdate, {
        args: [{ approver, credential: tokenOf(approver.id), decision: 'approve', comment }],
      });

    // The manager also holds the clinical-approver role: requesting still rules them out.
    assert.equal(await refusalCode(update()), 'REQUESTER_CANNOT_SIGN_OFF');
    assert.equal(await refusalCode(update(env.users.operator.person)), 'NOT_CLINICAL_APPROVER');
    assert.equal(await refusalCode(update(env.users.approverA.person, '  ')), 'COMMENT_REQUIRED');
    await update(env.users.approverA.person, 'Reviewed the validation report.');
    assert.equal(
      await refusalCode(update(env.users.approverA.person, 'Approving twice.')),
      'ALREADY_SIGNED_OFF',
    );

    const after = await handle.query(statusQuery);
    assert.equal(after.stage, 'awaiting-signoff');
    assert.deepEqual(
      after.signoff.approvals.map((approval) => approval.approver.id),
      ['dr-bob'],
      'only the one valid approval counted',
    );
    assert.deepEqual(
      after.signoff.refused,
      before.signoff.refused,
      'validator refusals leave no trace in the state',
    );
    await handle.terminate('test finished');
  });

  test('one person counts once toward the quorum, and the quorum moves the release to canary', async () => {
    const handle = await awaitingSignoff(2);
    await handle.executeUpdate(signoffUpdate, {
      args: [
        {
          credential: env.users.approverA.token,
          approver: env.users.approverA.person,
          decision: 'approve',
          comment: 'First approval.',
        },
      ],
    });
    assert.equal((await handle.query(statusQuery)).stage, 'awaiting-signoff');
    const result = await handle.executeUpdate(signoffUpdate, {
      args: [
        {
          credential: env.users.approverB.token,
          approver: env.users.approverB.person,
          decision: 'approve',
          comment: 'Second approval.',
        },
      ],
    });
    assert.deepEqual(
      { approvals: result.approvals, quorum: result.quorum, stage: result.stage },
      { approvals: 2, quorum: 2, stage: 'canary' },
    );
    assert.equal((await handle.result()).outcome, 'completed');
  });

  test('a sign-off signal with a valid credential counts; a forged one is recorded as refused and changes nothing', async () => {
    const handle = await awaitingSignoff(2);
    await handle.signal(signoffSignal, {
      credential: 'forged-token-that-nobody-issued',
      decision: 'approve',
      comment: 'Trust me.',
    });
    const refused = await eventually(async () => {
      const status = await handle.query(statusQuery);
      return status.signoff.refused.length > 0 ? status : undefined;
    });
    assert.equal(refused.signoff.refused[0]!.code, 'CREDENTIAL_INVALID');
    assert.equal(refused.signoff.refused[0]!.claimedBy, 'unverified');
    assert.equal(refused.signoff.approvals.length, 0);
    assert.equal(refused.stage, 'awaiting-signoff');

    // A valid credential of the requester is verified, then refused by the same rule as the Update.
    await handle.signal(signoffSignal, {
      credential: env.users.manager.token,
      decision: 'approve',
      comment: 'Self-approval.',
    });
    const second = await eventually(async () => {
      const status = await handle.query(statusQuery);
      return status.signoff.refused.length > 1 ? status : undefined;
    });
    assert.equal(second.signoff.refused[1]!.code, 'REQUESTER_CANNOT_SIGN_OFF');
    assert.equal(second.signoff.refused[1]!.claimedBy, 'rm-alice');

    await handle.signal(signoffSignal, {
      credential: env.users.approverA.token,
      decision: 'approve',
      comment: 'Approved from the Temporal UI.',
    });
    await handle.signal(signoffSignal, {
      credential: env.users.approverB.token,
      decision: 'approve',
      comment: 'Approved from the CLI.',
    });
    const status = await handle.result();
    assert.equal(status.outcome, 'completed');
    assert.deepEqual(
      // Each credential is verified by its own activity, so the two may finish in either order.
      status.signoff.approvals.map((approval) => [approval.approver.id, approval.via]).sort(),
      [
        ['dr-bob', 'signal'],
        ['dr-carol', 'signal'],
      ],
    );
    assert.equal(status.signoff.refused.length, 2);
    await recordHistory(env.client, 'signoff-by-signal', [handle.workflowId]);
  });

  test('a rejection by signal ends the release rejected', async () => {
    const handle = await awaitingSignoff(2);
    await handle.signal(signoffSignal, {
      credential: env.users.approverB.token,
      decision: 'reject',
      comment: 'Calibration drift in the paediatric subgroup.',
    });
    const status = await handle.result();
    assert.equal(status.outcome, 'rejected');
    assert.match(status.reason!.message, /dr-carol/);
  });

  test('a replayed sign-off (the same signal again, or the same person by the API after a signal) counts once', async () => {
    const handle = await awaitingSignoff(2);
    const signal = {
      credential: env.users.approverA.token,
      decision: 'approve' as const,
      comment: 'Reviewed the subgroup analysis.',
    };
    await handle.signal(signoffSignal, signal);
    await handle.signal(signoffSignal, signal);
    const status = await eventually(async () => {
      const current = await handle.query(statusQuery);
      return current.signoff.approvals.length + current.signoff.refused.length >= 2 ? current : undefined;
    });
    assert.equal(status.signoff.approvals.length, 1);
    assert.equal(status.signoff.refused[0]!.code, 'ALREADY_SIGNED_OFF');
    assert.equal(status.signoff.refused[0]!.claimedBy, 'dr-bob');
    assert.equal(status.stage, 'awaiting-signoff', 'one person is one approval of the quorum of two');
    assert.equal(
      await refusalCode(
        handle.executeUpdate(signoffUpdate, {
          args: [
            {
              credential: env.users.approverA.token,
              approver: env.users.approverA.person,
              decision: 'approve',
              comment: 'And again.',
            },
          ],
        }),
      ),
      'ALREADY_SIGNED_OFF',
    );
    await handle.terminate('test done');
  });

  test('an Update is verified: without a credential, or with someone else’s, it is refused and nothing changes', async () => {
    const handle = await awaitingSignoff(1);
    const approve = (credential: string | undefined) =>
      refusalCode(
        handle.executeUpdate(signoffUpdate, {
          args: [
            { approver: env.users.approverA.person, credential, decision: 'approve', comment: 'Forged.' },
          ],
        }),
      );
    // Anyone who can reach Temporal could send this Update: naming an approver proves nothing.
    assert.equal(await approve(undefined), 'CREDENTIAL_INVALID');
    assert.equal(await approve(env.users.approverB.token), 'CREDENTIAL_INVALID');
    assert.equal(await approve('not-a-token'), 'CREDENTIAL_INVALID');
    const status = await handle.query(statusQuery);
    assert.equal(status.signoff.approvals.length, 0);
    assert.equal(status.stage, 'awaiting-signoff');
    // The person's own credential counts.
    await handle.executeUpdate(signoffUpdate, {
      args: [
        {
          approver: env.users.approverA.person,
          credential: env.users.approverA.token,
          decision: 'approve',
          comment: 'Reviewed.',
        },
      ],
    });
    assert.equal((await handle.result()).outcome, 'completed');
  });
});
