// Risk-adaptive pacing, sequential looks and predictive scaling in real releases (real Temporal server,
// simulated clouds): the risk and the plan are shown before sign-off and recorded; the clouds run the
// chosen plan; a step concludes early on decisive evidence (a healthy canary, a broken hard limit) and
// never before the policy's earliest look; the capacity is set ahead of each step.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SqliteAuditStore } from '../../activities/audit/store.js';
import { auditPaths, defaultPlacement } from '../../domain/config.js';
import { statusQuery } from '../../workflows/messages.js';
import { approveRelease, eventually, TestEnvironment, type RunningWorkers } from '../helpers/environment.js';

const POLICY = { maxSteps: 3, looks: 4, earliestLook: 0.5 };

describe('risk-adaptive pacing and predictive scaling', () => {
  let env: TestEnvironment;
  let workers: RunningWorkers;

  before(async () => {
    env = await TestEnvironment.create({
      configOverrides: {
        pacing: POLICY,
        clouds: ['aws', 'azure', 'gcp'].map((name) => ({
          name,
          driver: 'simulated',
          ...defaultPlacement(name),
          // aws and azure size their capacity from the forecast; gcp is left alone.
          ...(name === 'gcp' ? {} : { scaling: { requestsPerReplica: 8, minReplicas: 2, maxReplicas: 12 } }),
        })),
      },
    });
    workers = await env.startWorkers();
  });
  after(async () => {
    await workers?.stop();
    await env?.close();
  });

  const auditOf = (releaseId: string) => {
    const store = SqliteAuditStore.open(auditPaths(env.config).database, { readonly: true });
    try {
      return store.records({ releaseId });
    } finally {
      store.close();
    }
  };

  test('an adaptive release: risk and plan before sign-off, the plan run with early conclusions, capacity set ahead of each step', async () => {
    const request = env.request({ canary: { pacing: 'adaptive', analysisIntervalSeconds: 4 } });
    await env.seedStable(request.model.name, '1.0.0');
    const handle = await env.startRelease(request);
    const waiting = await eventually(async () => {
      const status = await handle.query(statusQuery);
      return status.stage === 'awaiting-signoff' ? status : undefined;
    }, 30_000);
    const pacing = waiting.pacing!;
    assert.equal(pacing.mode, 'adaptive');
    assert.ok(pacing.risk.probability > 0 && pacing.risk.probability < 1);
    assert.equal(pacing.risk.model.source, 'prior');
    // A first release of the model's history: a major change by the gate's record, named as a reason.
    assert.ok(
      pacing.risk.reasons.some((reason) => reason.feature === 'versionChange'),
      JSON.stringify(pacing.risk.reasons),
    );
    assert.ok(pacing.plan.steps.length >= 2 && pacing.plan.steps.length <= POLICY.maxSteps);
    assert.ok(pacing.plan.steps[0]! <= 25);
    assert.ok(pacing.plan.analysisIntervalSeconds >= 2 && pacing.plan.analysisIntervalSeconds <= 6);
    assert.equal(pacing.plan.looks, 4);
    assert.ok(pacing.laterWaves, 'a three-cloud release has a plan for the waves after the pilot');
    assert.ok(pacing.laterWaves.risk < pacing.risk.probability);
    assert.equal(pacing.traffic.aws?.source, 'simulated');
    assert.ok(waiting.timeline.some((entry) => /adaptive canary plan/.test(entry.event)));

    await approveRelease(env, handle);
    const final = await handle.result();
    assert.equal(final.outcome, 'completed', JSON.stringify(final.reason));
    // Capacity: set in aws and azure from the forecast, within the bounds; gcp untouched.
    for (const cloud of ['aws', 'azure']) {
      const capacity = final.clouds[cloud]!.capacity!;
      assert.ok(capacity.replicas >= 2 && capacity.replicas <= 12, JSON.stringify(capacity));
      const scaled = (await env.cloud(cloud).operations(request.model.name)).filter(
        (entry) => entry.kind === 'scale',
      );
      assert.ok(scaled.length >= 1, `${cloud} scaled`);
      assert.equal(
        (await env.cloud(cloud).describe(request.model.name))?.capacity?.replicas,
        scaled.at(-1)!.replicas,
      );
    }
    assert.equal(final.clouds.gcp!.capacity, undefined);
    assert.ok(
      !(await env.cloud('gcp').operations(request.model.name)).some((entry) => entry.kind === 'scale'),
    );

    const records = await eventually(() => {
      const list = auditOf(final.releaseId);
      return Promise.resolve(list.some((record) => record.type === 'release.completed') ? list : undefined);
    });
    const assessed = records.filter((record) => record.type === 'risk.assessed');
    assert.equal(assessed.length, 1);
    assert.equal(assessed[0]!.detail.probability, pacing.risk.probability);
    assert.deepEqual((assessed[0]!.detail.plan as { steps: number[] }).steps, pacing.plan.steps);
    // Each cloud ran its wave's plan: the pilot's steps in aws, the later waves' in azure and gcp.
    const verdicts = records.filter((record) => record.type === 'canary.verdict');
    const weights = (cloud: string) => [
      ...new Set(
        verdicts.filter((record) => record.detail.cloud === cloud).map((record) => record.detail.weight),
      ),
    ];
    assert.deepEqual(weights('aws'), pacing.plan.steps);
    assert.deepEqual(weights('gcp'), pacing.laterWaves.plan.steps);
    // A healthy canary concludes steps early, and never before half the interval.
    const early = verdicts.filter((record) => record.detail.early);
    assert.ok(early.length > 0, 'some steps concluded early');
    for (const record of early) {
      const { look, looks } = record.detail.early as { look: number; looks: number };
      assert.ok(look / looks >= POLICY.earliestLook && look < looks, JSON.stringify(record.detail.early));
      assert.equal(record.detail.decision, 'pass');
    }
  });

  test('a canary breaking a hard limit fails at the first look that may conclude, and the release rolls back', async () => {
    const request = env.request({
      canary: { pacing: 'adaptive', analysisIntervalSeconds: 4 },
      faultPlan: { telemetry: [{ cloud: 'aws', kind: 'latency-regression' }] },
    });
    await env.seedStable(request.model.name, '1.0.0');
    const handle = await env.startRelease(request);
    await approveRelease(env, handle);
    const final = await handle.result();
    assert.equal(final.outcome, 'rolled-back');
    assert.equal(final.reason?.code, 'CANARY_VERDICT_FAILED');
    const verdict = final.clouds.aws!.lastVerdict!;
    assert.equal(verdict.decision, 'fail');
    assert.deepEqual(verdict.early && { look: verdict.early.look, looks: verdict.early.looks }, {
      look: 2,
      looks: 4,
    });
    assert.match(verdict.early!.reason, /hard limit/);
  });

  test('a release that pins its steps runs them as given, with its risk shown', async () => {
    const request = env.request({ canary: { steps: [20, 100], analysisIntervalSeconds: 0 } });
    await env.seedStable(request.model.name, '1.0.0');
    const handle = await env.startRelease(request);
    await approveRelease(env, handle);
    const final = await handle.result();
    assert.equal(final.outcome, 'completed');
    assert.equal(final.pacing?.mode, 'fixed');
    assert.deepEqual(final.pacing?.plan, {
      steps: [20, 100],
      analysisIntervalSeconds: 0,
      looks: 1,
      earliestLook: 1,
    });
    assert.equal(final.pacing?.laterWaves, undefined);
    assert.match(final.pacing?.why[0] ?? '', /the risk is shown, not used/);
  });
});
