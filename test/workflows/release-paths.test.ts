// The release workflow's main paths on the real Temporal server, with simulated clouds.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { operateUpdate, signoffUpdate, statusQuery } from '../../workflows/messages.js';
import { cloudRolloutWorkflowId } from '../../workflows/cloud-rollout.js';
import { eventually, TestEnvironment, type RunningWorkers } from '../helpers/environment.js';
import { recordHistory } from '../helpers/histories.js';

describe('release workflow paths', () => {
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

  const approveTwice = async (handle: Awaited<ReturnType<TestEnvironment['startRelease']>>) => {
    await eventually(
      async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff',
      20_000,
      'awaiting-signoff',
    );
    const first = await handle.executeUpdate(signoffUpdate, {
      args: [
        {
          credential: env.users.approverA.token,
          approver: env.users.approverA.person,
          decision: 'approve',
          comment: 'Validation evidence reviewed.',
        },
      ],
    });
    assert.equal(first.approvals, 1);
    assert.equal(first.stage, 'awaiting-signoff');
    const second = await handle.executeUpdate(signoffUpdate, {
      args: [
        {
          credential: env.users.approverB.token,
          approver: env.users.approverB.person,
          decision: 'approve',
          comment: 'Agree: within the PCCP.',
        },
      ],
    });
    assert.equal(second.approvals, 2);
    assert.equal(second.stage, 'canary');
  };

  test('happy path over three clouds: pilot first, then the rest; every cloud ends on the new version', async () => {
    const request = env.request();
    await env.seedStable(request.model.name, '1.0.0');
    const handle = await env.startRelease(request);
    await approveTwice(handle);
    const status = await handle.result();

    assert.equal(status.outcome, 'completed');
    assert.equal(status.stage, 'completed');
    assert.deepEqual(status.waves, [['aws'], ['azure', 'gcp']]);
    assert.equal(status.compliance?.passed, true);
    assert.equal(status.signoff.approvals.length, 2);
    for (const cloud of ['aws', 'azure', 'gcp']) {
      assert.equal(status.clouds[cloud]!.state, 'promoted', cloud);
      assert.equal(status.clouds[cloud]!.lastVerdict?.passed, true, cloud);
      const deployment = await env.cloud(cloud).describe(request.model.name);
      assert.equal(deployment?.stable?.version, '2.0.0', cloud);
      assert.equal(deployment?.canary, null, cloud);
      assert.equal(deployment?.previous, null, `${cloud}: previous retired after the warm window`);
      const weights = (await env.cloud(cloud).operations(request.model.name))
        .filter((operation) => operation.kind === 'setCanaryWeight')
        .map((operation) => operation.weight);
      assert.deepEqual(weights, [10, 50, 100], cloud);
    }
    // Waves: the pilot's last step happened before any later cloud was touched.
    const pilotOps = await env.cloud('aws').operations(request.model.name);
    const pilotDone = pilotOps.find(
      (operation) => operation.kind === 'setCanaryWeight' && operation.weight === 100,
    )!.at;
    for (const cloud of ['azure', 'gcp']) {
      const firstOp = (await env.cloud(cloud).operations(request.model.name)).find(
        (operation) => operation.releaseId !== 'seed',
      )!;
      assert.ok(firstOp.at >= pilotDone, `${cloud} started before the pilot finished`);
    }
    await recordHistory(env.client, 'happy-path', [
      handle.workflowId,
      ...['aws', 'azure', 'gcp'].map((cloud) => cloudRolloutWorkflowId(handle.workflowId, cloud)),
    ]);
  });

  test('a fault in the pilot cloud rolls it back, and the other clouds are never touched', async () => {
    const request = env.request({
      faultPlan: { telemetry: [{ cloud: 'aws', kind: 'error-spike', fromStep: 1 }] },
    });
    await env.seedStable(request.model.name, '1.0.0');
    const handle = await env.startRelease(request);
    await approveTwice(handle);
    const status = await handle.result();

    assert.equal(status.outcome, 'rolled-back');
    assert.equal(status.reason?.code, 'CANARY_VERDICT_FAILED');
    assert.match(status.reason.message, /error_rate: canary mean 0\.\d+ is above the hard limit 0\.02/);
    const verdict = status.clouds.aws!.lastVerdict!;
    assert.equal(verdict.passed, false);
    assert.equal(verdict.weight, 50);
    assert.equal(verdict.decision, 'fail');
    const errorRate = verdict.verdicts[0]!.reasons.find((reason) => reason.metric === 'error_rate');
    assert.equal(errorRate?.rule, 'hard-limit');
    assert.equal(errorRate.passed, false);
    assert.ok(errorRate.observed! > 0.02, `observed ${errorRate.observed}`);
    const aws = await env.cloud('aws').describe(request.model.name);
    assert.equal(aws?.stable?.version, '1.0.0');
    assert.equal(aws?.canary, null);
    for (const cloud of ['azure', 'gcp']) {
      const touched = (await env.cloud(cloud).operations(request.model.name)).filter(
        (operation) => operation.releaseId !== 'seed',
      );
      assert.deepEqual(touched, [], `${cloud} was touched`);
      assert.equal(status.clouds[cloud]!.state, 'pending');
    }
    await recordHistory(env.client, 'pilot-fault', [
      handle.workflowId,
      cloudRolloutWorkflowId(handle.workflowId, 'aws'),
    ]);
  });

  test('a fault in a later wave restores every cloud, all at once', async () => {
    const request = env.request({
      faultPlan: { telemetry: [{ cloud: 'azure', kind: 'latency-regression' }] },
    });
    await env.seedStable(request.model.name, '1.0.0');
    const handle = await env.startRelease(request);
    await approveTwice(handle);
    const status = await handle.result();

    assert.equal(status.outcome, 'rolled-back');
    assert.equal(status.reason?.code, 'CANARY_VERDICT_FAILED');
    assert.match(status.reason.message, /azure/);
    for (const cloud of ['aws', 'azure', 'gcp']) {
      const deployment = await env.cloud(cloud).describe(request.model.name);
      assert.equal(deployment?.stable?.version, '1.0.0', cloud);
      assert.equal(deployment?.canary, null, cloud);
      assert.equal(deployment?.canaryWeight, 0, cloud);
      assert.equal(status.clouds[cloud]!.state, 'rolled-back', cloud);
    }
    // Compensations run at once: the three rollbacks are scheduled by the same workflow task, so one
    // slow or unreachable cloud cannot hold the others on the new version.
    const history = await env.client.workflow.getHandle(handle.workflowId).fetchHistory();
    const rollbacks = (history.events ?? []).filter(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'rollback',
    );
    assert.equal(rollbacks.length, 3);
    const tasks = new Set(
      rollbacks.map((event) =>
        String(event.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId),
      ),
    );
    assert.equal(tasks.size, 1, 'all three rollbacks scheduled together');
    const events = status.timeline.map((event) => event.event);
    assert.ok(events.some((event) => event.startsWith('rolling back 3 cloud(s)')));
    await recordHistory(env.client, 'later-wave-fault', [
      handle.workflowId,
      ...['aws', 'azure', 'gcp'].map((cloud) => cloudRolloutWorkflowId(handle.workflowId, cloud)),
    ]);
  });

  test('a transient driver failure is retried and the release still completes', async () => {
    const request = env.request({
      faultPlan: { driver: [{ cloud: 'gcp', operation: 'setCanaryWeight', failures: 2 }] },
    });
    await env.seedStable(request.model.name, '1.0.0');
    const handle = await env.startRelease(request);
    await approveTwice(handle);
    const status = await handle.result();
    assert.equal(status.outcome, 'completed');
    const weights = (await env.cloud('gcp').operations(request.model.name))
      .filter((operation) => operation.kind === 'setCanaryWeight')
      .map((operation) => operation.weight);
    assert.deepEqual(weights, [10, 50, 100]);
  });

  test('a marginal step holds its weight and is re-checked: a passing re-check goes on, a persistent one fails', async () => {
    // A transient creep is marginal in step 2's first window only: the re-check sees a healthy canary.
    const transient = env.request({
      clouds: ['aws'],
      faultPlan: { telemetry: [{ cloud: 'aws', kind: 'latency-creep', fromStep: 1, transient: true }] },
    });
    await env.seedStable(transient.model.name, '1.0.0');
    const recovering = await env.startRelease(transient);
    await approveTwice(recovering);
    const recovered = await recovering.result();
    assert.equal(recovered.outcome, 'completed');
    const held = recovered.timeline.filter((event) =>
      /marginal at 50%, holding for re-check 1 of 2/.test(event.event),
    );
    assert.equal(held.length, 1, 'one hold at 50 %');
    const weights = (await env.cloud('aws').operations(transient.model.name))
      .filter((operation) => operation.kind === 'setCanaryWeight')
      .map((operation) => operation.weight);
    assert.deepEqual(weights, [10, 50, 100], 'the weight stayed at 50 % while held');

    // A persistent creep stays marginal through both re-checks: the step fails and the cloud is restored.
    const persistent = env.request({
      clouds: ['aws'],
      faultPlan: { telemetry: [{ cloud: 'aws', kind: 'latency-creep' }] },
    });
    await env.seedStable(persistent.model.name, '1.0.0');
    const handle = await env.startRelease(persistent);
    await approveTwice(handle);
    const status = await handle.result();
    assert.equal(status.outcome, 'rolled-back');
    assert.equal(status.reason?.code, 'CANARY_VERDICT_FAILED');
    assert.match(
      status.reason.message,
      /failed at 10%: still marginal after 2 re-checks: marginal: score 0\.75/,
    );
    assert.match(status.reason.message, /latency_p99_ms/);
    const holds = status.timeline.filter((event) => /holding for re-check/.test(event.event));
    assert.equal(holds.length, 2);
    assert.equal(status.clouds.aws!.lastVerdict!.decision, 'marginal');
    assert.equal(status.clouds.aws!.lastVerdict!.recheck, 2);
    assert.equal((await env.cloud('aws').describe(persistent.model.name))?.stable?.version, '1.0.0');
    await recordHistory(env.client, 'marginal-rechecks', [
      recovering.workflowId,
      cloudRolloutWorkflowId(recovering.workflowId, 'aws'),
      handle.workflowId,
      cloudRolloutWorkflowId(handle.workflowId, 'aws'),
    ]);
  });

  test('the first release of a model (no stable version anywhere) completes on absolute limits', async () => {
    const request = env.request({ clouds: ['gcp'] });
    const handle = await env.startRelease(request);
    await approveTwice(handle);
    const status = await handle.result();
    assert.equal(status.outcome, 'completed');
    const reasons = status.clouds.gcp!.lastVerdict!.verdicts[0]!.reasons;
    assert.deepEqual(
      reasons.map((reason) => reason.rule),
      ['no-baseline', 'no-baseline', 'no-baseline', 'no-baseline'],
      'only the hard limits and the sample count are judged without a baseline',
    );
    assert.equal((await env.cloud('gcp').describe(request.model.name))?.stable?.version, '2.0.0');
  });

  test('a second release of a model whose canary is running is refused by the cloud, and the first is unharmed', async () => {
    const first = env.request({
      clouds: ['aws'],
      canary: { steps: [10, 100], analysisIntervalSeconds: 5 },
      signoff: { quorum: 1, deadlineSeconds: 60 },
    });
    await env.seedStable(first.model.name, '1.0.0');
    const firstHandle = await env.startRelease(first);
    await eventually(async () => (await firstHandle.query(statusQuery)).stage === 'awaiting-signoff');
    await firstHandle.executeUpdate(signoffUpdate, {
      args: [
        {
          credential: env.users.approverA.token,
          approver: env.users.approverA.person,
          decision: 'approve',
          comment: 'First.',
        },
      ],
    });
    await eventually(
      async () => (await env.cloud('aws').describe(first.model.name))?.canaryWeight === 10,
      20_000,
      'first canary at 10%',
    );
    // Held at 10 % until the second release has been refused: however slow the machine, the first
    // canary is still running when the second one tries to deploy.
    await firstHandle.executeUpdate(operateUpdate, {
      args: [
        {
          action: 'pause',
          credential: env.users.operator.token,
          by: env.users.operator.person,
          reason: 'Hold while a second release tries.',
        },
      ],
    });

    const second = env.request({
      clouds: ['aws'],
      model: { ...first.model, version: '2.0.1' },
      signoff: { quorum: 1, deadlineSeconds: 60 },
    });
    const secondHandle = await env.startRelease(second);
    await eventually(async () => (await secondHandle.query(statusQuery)).stage === 'awaiting-signoff');
    await secondHandle.executeUpdate(signoffUpdate, {
      args: [
        {
          credential: env.users.approverA.token,
          approver: env.users.approverA.person,
          decision: 'approve',
          comment: 'Second.',
        },
      ],
    });
    const refused = await secondHandle.result();
    assert.equal(refused.outcome, 'rolled-back');
    assert.equal(refused.reason?.code, 'CLOUD_CONFLICT');
    assert.match(refused.reason.message, /already runs a canary of .* for release/);
    assert.equal(
      (await env.cloud('aws').describe(first.model.name))?.canaryWeight,
      10,
      'the first canary is untouched',
    );

    await firstHandle.executeUpdate(operateUpdate, {
      args: [
        {
          action: 'resume',
          credential: env.users.operator.token,
          by: env.users.operator.person,
          reason: 'The second release was refused.',
        },
      ],
    });
    const status = await firstHandle.result();
    assert.equal(status.outcome, 'completed', JSON.stringify(status.reason));
    assert.equal((await env.cloud('aws').describe(first.model.name))?.stable?.version, '2.0.0');
  });

  test('a rejection ends the release rejected, with no cloud touched', async () => {
    const request = env.request();
    const handle = await env.startRelease(request);
    await eventually(async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff');
    const result = await handle.executeUpdate(signoffUpdate, {
      args: [
        {
          credential: env.users.approverA.token,
          approver: env.users.approverA.person,
          decision: 'reject',
          comment: 'Subgroup sensitivity too low.',
        },
      ],
    });
    assert.equal(result.stage, 'rejected');
    const status = await handle.result();
    assert.equal(status.outcome, 'rejected');
    assert.equal(status.reason?.code, 'SIGNOFF_REJECTED');
    assert.match(status.reason.message, /dr-bob: Subgroup sensitivity too low/);
    for (const cloud of ['aws', 'azure', 'gcp']) {
      assert.equal(await env.cloud(cloud).describe(request.model.name), null, cloud);
    }
    await recordHistory(env.client, 'rejected', [handle.workflowId]);
  });

  test('no quorum by the deadline ends the release expired', async () => {
    const handle = await env.startRelease(env.request({ signoff: { quorum: 2, deadlineSeconds: 2 } }));
    await eventually(async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff');
    await handle.executeUpdate(signoffUpdate, {
      args: [
        {
          credential: env.users.approverA.token,
          approver: env.users.approverA.person,
          decision: 'approve',
          comment: 'Looks good to me.',
        },
      ],
    });
    const status = await handle.result();
    assert.equal(status.outcome, 'expired');
    assert.equal(status.reason?.code, 'SIGNOFF_EXPIRED');
    assert.match(status.reason.message, /1 of 2 approvals/);
  });

  test('the compliance gate blocks an image not pinned by digest, and a target outside the data residency', async () => {
    const request = env.request({ dataResidency: { allowedJurisdictions: ['EU'] } });
    request.model.image = `registry.example/${request.model.name}:2.0.0`;
    const handle = await env.startRelease(request);
    const status = await handle.result();
    assert.equal(status.outcome, 'blocked');
    assert.equal(status.reason?.code, 'COMPLIANCE_BLOCKED');
    const report = status.compliance!;
    assert.equal(report.mode, 'request-checks', 'no manifest: only the built-in request checks ran');
    const failed = report.controls
      .filter((control) => control.status !== 'pass')
      .map((control) => control.id);
    assert.deepEqual(failed.sort(), [
      'GDPR-ChV-Art44-46-EU-RESIDENCY',
      'HIPAA-164.312(c)(1)-IMAGE-DIGEST-PIN',
    ]);
    const residency = report.controls.find((control) => control.id === 'GDPR-ChV-Art44-46-EU-RESIDENCY')!;
    assert.deepEqual(residency.evidence[0]!.observed, [
      'aws: eu-central-1 (EU)',
      'azure: westeurope (EU)',
      'gcp: us-central1 (US)',
    ]);
    assert.match(status.reason.message, /GDPR-ChV-Art44-46-EU-RESIDENCY/);
    assert.equal(status.signoff.deadline, undefined, 'never reached sign-off');
  });

  test('an EU-only release to EU clouds passes the residency control', async () => {
    const request = env.request({
      clouds: ['aws', 'azure'],
      dataResidency: { allowedJurisdictions: ['EU'] },
      signoff: { quorum: 1, deadlineSeconds: 30 },
    });
    const handle = await env.startRelease(request);
    await eventually(async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff');
    const status = await handle.query(statusQuery);
    assert.equal(status.compliance?.passed, true);
    await handle.executeUpdate(signoffUpdate, {
      args: [
        {
          credential: env.users.approverC.token,
          approver: env.users.approverC.person,
          decision: 'approve',
          comment: 'EU-only deployment approved.',
        },
      ],
    });
    assert.equal((await handle.result()).outcome, 'completed');
  });
});
