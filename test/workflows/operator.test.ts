// Operator actions on a running release: pause and resume, abort, and a forced rollback, each
// leaving every cloud in a recorded, consistent state.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { ReleaseStatus } from '../../domain/status.js';
import { operateSignal, operateUpdate, signoffUpdate, statusQuery } from '../../workflows/messages.js';
import { cloudRolloutWorkflowId } from '../../workflows/cloud-rollout.js';
import { eventually, TestEnvironment, type RunningWorkers } from '../helpers/environment.js';
import { recordHistory } from '../helpers/histories.js';

describe('operator actions', () => {
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

  /** A release signed off and running its canary with 1 s analysis intervals. */
  const inCanary = async (steps = [10, 25, 50, 100]) => {
    const request = env.request({
      canary: { steps, analysisIntervalSeconds: 1 },
      signoff: { quorum: 1, deadlineSeconds: 60 },
    });
    await env.seedStable(request.model.name, '1.0.0');
    const handle = await env.startRelease(request);
    await eventually(async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff');
    await handle.executeUpdate(signoffUpdate, {
      args: [
        {
          credential: env.users.approverA.token,
          approver: env.users.approverA.person,
          decision: 'approve',
          comment: 'Approved.',
        },
      ],
    });
    return { handle, model: request.model.name };
  };
  const cloudWeight = (status: ReleaseStatus, cloud: string) => status.clouds[cloud]!.weight;

  test('pause holds the canary at its step; resume lets it finish', async () => {
    const { handle, model } = await inCanary();
    await eventually(async () => cloudWeight(await handle.query(statusQuery), 'aws') >= 10);
    const paused = await handle.executeUpdate(operateUpdate, {
      args: [
        {
          action: 'pause',
          credential: env.users.operator.token,
          by: env.users.operator.person,
          reason: 'Investigating an alert.',
        },
      ],
    });
    assert.equal(paused.paused, true);
    // Let the step in flight finish, then prove nothing moves for a while.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const heldOps = (await env.cloud('aws').operations(model)).length;
    const heldStatus = await handle.query(statusQuery);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.equal((await env.cloud('aws').operations(model)).length, heldOps, 'a cloud changed while paused');
    assert.equal((await handle.query(statusQuery)).clouds.aws!.weight, heldStatus.clouds.aws!.weight);
    assert.equal(heldStatus.paused, true);
    assert.ok(heldStatus.clouds.aws!.weight < 100);

    await assert.rejects(
      handle.executeUpdate(operateUpdate, {
        args: [
          {
            action: 'pause',
            credential: env.users.operator.token,
            by: env.users.operator.person,
            reason: 'Pause again.',
          },
        ],
      }),
      (error: unknown) =>
        error instanceof WorkflowUpdateFailedError && /already paused/.test(String(error.cause?.message)),
    );
    await handle.executeUpdate(operateUpdate, {
      args: [
        {
          action: 'resume',
          credential: env.users.operator.token,
          by: env.users.operator.person,
          reason: 'Alert was unrelated.',
        },
      ],
    });
    const status = await handle.result();
    assert.equal(status.outcome, 'completed', JSON.stringify(status.reason));
    assert.deepEqual(
      status.operatorActions.map((action) => [action.action, action.by]),
      [
        ['pause', 'op-dave'],
        ['resume', 'op-dave'],
      ],
    );
    await recordHistory(env.client, 'paused-and-resumed', [
      handle.workflowId,
      cloudRolloutWorkflowId(handle.workflowId, 'aws'),
    ]);
  });

  test('abort mid-canary restores every cloud touched and records who aborted', async () => {
    const { handle, model } = await inCanary();
    await eventually(async () => cloudWeight(await handle.query(statusQuery), 'aws') >= 25);
    await handle.executeUpdate(operateUpdate, {
      args: [
        {
          action: 'abort',
          credential: env.users.manager.token,
          by: env.users.manager.person,
          reason: 'Vendor recalled the scanner firmware.',
        },
      ],
    });
    const status = await handle.result();
    assert.equal(status.outcome, 'rolled-back');
    assert.equal(status.reason?.code, 'ABORTED');
    assert.match(status.reason.message, /rm-alice: Vendor recalled/);
    const aws = await env.cloud('aws').describe(model);
    assert.deepEqual([aws?.stable?.version, aws?.canary, aws?.canaryWeight], ['1.0.0', null, 0]);
    for (const cloud of ['azure', 'gcp']) {
      const deployment = await env.cloud(cloud).describe(model);
      assert.equal(deployment?.stable?.version, '1.0.0', cloud);
      assert.equal(deployment?.canary ?? null, null, cloud);
    }
    // The child was cancelled and made no change after the rollback.
    const operations = await env.cloud('aws').operations(model);
    assert.equal(operations.at(-1)!.kind, 'rollback');
    await recordHistory(env.client, 'aborted-mid-canary', [
      handle.workflowId,
      cloudRolloutWorkflowId(handle.workflowId, 'aws'),
    ]);
  });

  test('a forced rollback in the second wave restores all three clouds', async () => {
    const { handle, model } = await inCanary([10, 50, 100]);
    await eventually(
      async () => cloudWeight(await handle.query(statusQuery), 'gcp') >= 10,
      30_000,
      'gcp in canary',
    );
    await handle.executeUpdate(operateUpdate, {
      args: [
        {
          action: 'rollback',
          credential: env.users.operator.token,
          by: env.users.operator.person,
          reason: 'Sepsis alerts doubled on the ward.',
        },
      ],
    });
    const status = await handle.result();
    assert.equal(status.outcome, 'rolled-back');
    assert.equal(status.reason?.code, 'MANUAL_ROLLBACK');
    for (const cloud of ['aws', 'azure', 'gcp']) {
      const deployment = await env.cloud(cloud).describe(model);
      assert.deepEqual(
        [deployment?.stable?.version, deployment?.canary ?? null, deployment?.canaryWeight],
        ['1.0.0', null, 0],
        cloud,
      );
      assert.equal(status.clouds[cloud]!.state, 'rolled-back');
    }
  });

  test('rollback during the warm window restores the previous version after promotion', async () => {
    const request = env.request({
      keepWarmSeconds: 60,
      signoff: { quorum: 1, deadlineSeconds: 60 },
      clouds: ['aws', 'gcp'],
    });
    await env.seedStable(request.model.name, '1.0.0');
    const handle = await env.startRelease(request);
    await eventually(async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff');
    await handle.executeUpdate(signoffUpdate, {
      args: [
        {
          credential: env.users.approverA.token,
          approver: env.users.approverA.person,
          decision: 'approve',
          comment: 'Approved.',
        },
      ],
    });
    const warm = await eventually(async () => {
      const status = await handle.query(statusQuery);
      return status.warmUntil ? status : undefined;
    });
    assert.equal(warm.stage, 'promoting');
    assert.equal((await env.cloud('gcp').describe(request.model.name))?.stable?.version, '2.0.0');
    await handle.executeUpdate(operateUpdate, {
      args: [
        {
          action: 'rollback',
          credential: env.users.operator.token,
          by: env.users.operator.person,
          reason: 'Late-found label mismatch.',
        },
      ],
    });
    const status = await handle.result();
    assert.equal(status.outcome, 'rolled-back');
    for (const cloud of ['aws', 'gcp']) {
      const deployment = await env.cloud(cloud).describe(request.model.name);
      assert.equal(deployment?.stable?.version, '1.0.0', cloud);
      assert.equal(deployment?.previous, null, cloud);
    }
  });

  test('abort before any cloud is touched ends the release aborted; rollback then is refused', async () => {
    const handle = await env.startRelease(env.request());
    await eventually(async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff');
    await assert.rejects(
      handle.executeUpdate(operateUpdate, {
        args: [
          {
            action: 'rollback',
            credential: env.users.operator.token,
            by: env.users.operator.person,
            reason: 'Nothing to roll back.',
          },
        ],
      }),
      (error: unknown) =>
        error instanceof WorkflowUpdateFailedError && /abort instead/.test(String(error.cause?.message)),
    );
    await assert.rejects(
      handle.executeUpdate(operateUpdate, {
        args: [
          {
            action: 'abort',
            credential: env.users.viewer.token,
            by: env.users.viewer.person,
            reason: 'A viewer cannot abort.',
          },
        ],
      }),
      (error: unknown) =>
        error instanceof WorkflowUpdateFailedError &&
        /needs one of the roles/.test(String(error.cause?.message)),
    );
    // The same action by signal, with a credential the workflow verifies.
    await handle.signal(operateSignal, {
      action: 'abort',
      credential: env.users.operator.token,
      reason: 'Superseded by 2.0.1.',
    });
    const status = await handle.result();
    assert.equal(status.outcome, 'aborted');
    assert.equal(status.reason?.code, 'ABORTED');
    assert.equal(status.operatorActions[0]!.via, 'signal');
    await recordHistory(env.client, 'aborted-by-signal', [handle.workflowId]);
  });
});
