// A release driven end to end through the API, with the control and cloud workers running:
// create, sign-off (refused and accepted), completion, listing; operator actions; unknown releases.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { CreatedRelease, ReleaseList } from '../../api/schemas.js';
import type { ReleaseStatus } from '../../domain/status.js';
import type { OperateResult, SignoffResult } from '../../workflows/messages.js';
import { eventually } from '../helpers/environment.js';
import { assertError, liveApi } from './helper.js';

describe('a release through the API', () => {
  const live = liveApi();
  const { user, status } = live;
  const reachStage = (releaseId: string, stage: ReleaseStatus['stage']) =>
    eventually(
      async () => (await status(releaseId)).stage === stage,
      20_000,
      `${releaseId} in stage ${stage}`,
    );

  test('create, sign-off refused then given, completed; the list finds it by stage, model and cloud', async () => {
    const releaseId = `rel-flow-${randomUUID().slice(0, 8)}`;
    // One canary step per cloud keeps the file fast: each step costs a timer even at interval 0.
    const request = live.env.request({ releaseId, canary: { steps: [100], analysisIntervalSeconds: 0 } });
    await live.env.seedStable(request.model.name, '1.0.0');
    const created = await user('manager').post('/v1/releases', request);
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json<CreatedRelease>().releaseId, releaseId);

    await reachStage(releaseId, 'awaiting-signoff');
    const waiting = await status(releaseId);
    assert.equal(waiting.requestedBy.id, live.env.users.manager.person.id);
    assert.equal(waiting.compliance !== undefined, true, 'the compliance report is part of the status');

    // The requester holds the clinical-approver role too, and still may not approve their own release.
    const own = await user('manager').post(`/v1/releases/${releaseId}/signoff`, {
      decision: 'approve',
      comment: 'Looks good to me.',
    });
    assert.match(assertError(own, 403, 'REQUESTER_CANNOT_SIGN_OFF').message, /requested this release/);
    const afterRefusal = await status(releaseId);
    assert.equal(afterRefusal.stage, 'awaiting-signoff');
    assert.equal(afterRefusal.signoff.approvals.length, 0);

    assertError(
      await user('viewer').post(`/v1/releases/${releaseId}/signoff`, {
        decision: 'approve',
        comment: 'Sure thing.',
      }),
      403,
      'FORBIDDEN',
    );
    assertError(
      await user('approverA').post(`/v1/releases/${releaseId}/signoff`, { decision: 'approve' }),
      400,
      'VALIDATION_FAILED',
      '/comment',
    );
    assertError(
      await user('approverA').post(`/v1/releases/${releaseId}/signoff`, {
        decision: 'approve',
        comment: '    ',
      }),
      400,
      'COMMENT_REQUIRED',
    );

    const first = await user('approverA').post(`/v1/releases/${releaseId}/signoff`, {
      decision: 'approve',
      comment: 'Validation evidence reviewed.',
    });
    assert.equal(first.statusCode, 200, first.body);
    assert.deepEqual(first.json<SignoffResult>(), {
      accepted: true,
      decision: 'approve',
      approvals: 1,
      quorum: 2,
      stage: 'awaiting-signoff',
    });
    assertError(
      await user('approverA').post(`/v1/releases/${releaseId}/signoff`, {
        decision: 'approve',
        comment: 'Approving again.',
      }),
      409,
      'ALREADY_SIGNED_OFF',
    );
    const second = await user('approverB').post(`/v1/releases/${releaseId}/signoff`, {
      decision: 'approve',
      comment: 'Within the PCCP.',
    });
    assert.equal(second.statusCode, 200, second.body);
    assert.equal(second.json<SignoffResult>().stage, 'canary');

    // Closed: the final status comes from the workflow's result.
    await eventually(
      async () =>
        (await live.env.client.workflow.getHandle(releaseId).describe()).status.name === 'COMPLETED',
      30_000,
      'completed',
    );
    const final = await status(releaseId);
    assert.equal(final.stage, 'completed');
    assert.equal(final.outcome, 'completed');
    assert.deepEqual(
      final.signoff.approvals.map((approval) => approval.approver.id),
      ['dr-bob', 'dr-carol'],
    );
    for (const cloud of ['aws', 'azure', 'gcp']) {
      assert.equal(final.clouds[cloud]?.state, 'promoted', cloud);
      assert.equal(final.clouds[cloud]?.lastVerdict !== undefined, true, `${cloud} keeps its last verdict`);
    }
    assert.ok(final.timeline.length > 0);

    assertError(
      await user('approverC').post(`/v1/releases/${releaseId}/signoff`, {
        decision: 'approve',
        comment: 'Late to the party.',
      }),
      409,
      'RELEASE_CLOSED',
    );

    // Visibility is eventually consistent: the list catches up with the final stage.
    const model = request.model.name;
    const found = await eventually(
      async () => {
        const response = await user('viewer').get(`/v1/releases?stage=completed&model=${model}&cloud=gcp`);
        assert.equal(response.statusCode, 200, response.body);
        return response.json<ReleaseList>().releases.find((release) => release.releaseId === releaseId);
      },
      20_000,
      'the release in the list',
    );
    assert.equal(found.stage, 'completed');
    assert.equal(found.model, model);
    assert.equal(found.version, '2.0.0');
    assert.deepEqual([...found.clouds].sort(), ['aws', 'azure', 'gcp']);
    assert.equal(found.status, 'COMPLETED');
    assert.ok(found.closedAt);

    for (const query of [
      `stage=canary&model=${model}`,
      `model=other-${model}`,
      `model=${model}&cloud=mars`,
    ]) {
      const response = await user('viewer').get(`/v1/releases?${query}`);
      assert.equal(response.statusCode, 200, response.body);
      const ids = response.json<ReleaseList>().releases.map((release) => release.releaseId);
      assert.equal(ids.includes(releaseId), false, `${query} should not match`);
    }
  });

  test('operators pause and resume; abort ends the release; actions that do not apply are 409', async () => {
    const releaseId = `rel-ops-${randomUUID().slice(0, 8)}`;
    const created = await user('manager').post(
      '/v1/releases',
      live.env.request({ releaseId, signoff: { quorum: 2, deadlineSeconds: 120 } }),
    );
    assert.equal(created.statusCode, 201, created.body);
    await reachStage(releaseId, 'awaiting-signoff');

    const pause = await user('operator').post(`/v1/releases/${releaseId}/pause`, {
      reason: 'Change freeze over the weekend.',
    });
    assert.equal(pause.statusCode, 200, pause.body);
    assert.deepEqual(pause.json<OperateResult>(), {
      accepted: true,
      action: 'pause',
      stage: 'awaiting-signoff',
      paused: true,
    });
    assert.equal((await status(releaseId)).paused, true);
    assertError(
      await user('operator').post(`/v1/releases/${releaseId}/pause`, { reason: 'Pausing twice.' }),
      409,
      'INVALID_STATE',
    );
    assertError(
      await user('viewer').post(`/v1/releases/${releaseId}/resume`, { reason: 'Let it go on.' }),
      403,
      'FORBIDDEN',
    );
    assertError(
      await user('operator').post(`/v1/releases/${releaseId}/resume`, { reason: 'no' }),
      400,
      'VALIDATION_FAILED',
      '/reason',
    );

    const resume = await user('operator').post(`/v1/releases/${releaseId}/resume`, {
      reason: 'Freeze lifted.',
    });
    assert.equal(resume.statusCode, 200, resume.body);
    assert.equal(resume.json<OperateResult>().paused, false);

    // Nothing has reached a cloud yet: there is nothing to roll back.
    const rollback = await user('operator').post(`/v1/releases/${releaseId}/rollback`, {
      reason: 'Just in case.',
    });
    assert.match(assertError(rollback, 409, 'INVALID_STATE').message, /abort instead/);

    const abort = await user('manager').post(`/v1/releases/${releaseId}/abort`, {
      reason: 'Superseded by 2.0.1.',
    });
    assert.equal(abort.statusCode, 200, abort.body);
    assert.equal(abort.json<OperateResult>().action, 'abort');

    await eventually(
      async () =>
        (await live.env.client.workflow.getHandle(releaseId).describe()).status.name === 'COMPLETED',
      20_000,
      'closed',
    );
    const final = await status(releaseId);
    assert.equal(final.outcome, 'aborted');
    assert.equal(final.reason?.code, 'ABORTED');
    assert.deepEqual(
      final.operatorActions.map((action) => action.action),
      ['pause', 'resume', 'abort'],
    );
    assertError(
      await user('operator').post(`/v1/releases/${releaseId}/resume`, { reason: 'Too late now.' }),
      409,
      'RELEASE_CLOSED',
    );
  });

  test('an unknown release is a 404 naming /releaseId for every route', async () => {
    const releaseId = 'rel-never-created';
    assertError(
      await user('viewer').get(`/v1/releases/${releaseId}`),
      404,
      'RELEASE_NOT_FOUND',
      '/releaseId',
    );
    assertError(
      await user('approverA').post(`/v1/releases/${releaseId}/signoff`, {
        decision: 'reject',
        comment: 'No such thing.',
      }),
      404,
      'RELEASE_NOT_FOUND',
      '/releaseId',
    );
    assertError(
      await user('operator').post(`/v1/releases/${releaseId}/pause`, { reason: 'No such thing.' }),
      404,
      'RELEASE_NOT_FOUND',
    );
    // A malformed id never reaches Temporal.
    assertError(await user('viewer').get('/v1/releases/NOT_AN_ID'), 400, 'VALIDATION_FAILED', '/releaseId');
  });
});
