// End to end on real telemetry: the full ReleaseWorkflow on the real Temporal server, simulated cloud
// drivers, and the prometheus telemetry source reading reference model servers (separate processes,
// a stable and a canary instance per cloud, driven by the load generator) through a real Prometheus
// that scrapes them every second (infra/telemetry-lab.ts).
//
// The releases run one after another (they share the model servers): a canary with added latency, one
// answering errors in the second wave only, one with drifted predictions — each rolled back, every
// cloud back on the stable version, the verdict naming the metric, the canary's and the baseline's
// values and the rule — and last a healthy canary, promoted in every cloud although Prometheus is
// killed in the middle of its first analysis and comes back only later.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { CreateReleaseRequest } from '../../domain/release.js';
import type { ReleaseStatus, StepVerdict, VerdictReason } from '../../domain/status.js';
import { PrometheusTelemetrySource } from '../../activities/telemetry/prometheus.js';
import { startTelemetryLab, type TelemetryLab } from '../../infra/telemetry-lab.js';
import { cloudRolloutWorkflowId } from '../../workflows/cloud-rollout.js';
import { signoffUpdate, statusQuery } from '../../workflows/messages.js';
import { DIGEST, eventually, TestEnvironment, type RunningWorkers } from '../helpers/environment.js';
import { stepVerdicts } from '../helpers/verdicts.js';

const CLOUDS = ['aws', 'azure', 'gcp'];
const MODEL = 'sepsis-risk';
/** Seconds per analysis window: 30 samples at the source's 1 s step (scrapes every 0.5 s), above the judge's 20. */
const INTERVAL = 30;

describe(
  'canary analysis on real telemetry: model servers → Prometheus → judge',
  { timeout: 900_000 },
  () => {
    let env: TestEnvironment;
    let workers: RunningWorkers;
    let lab: TelemetryLab;
    let labDir: string | undefined;

    before(async () => {
      const started = Date.now();
      labDir = await mkdtemp(path.join(tmpdir(), 'medrelease-lab-'));
      lab = await startTelemetryLab({
        dataDir: labDir,
        clouds: CLOUDS,
        model: MODEL,
        stableVersion: '1.0.0',
        canaryVersion: '2.0.0',
        rpsPerInstance: 20,
        log: (line) => console.log(`[lab +${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`),
      });
      // The workers read the lab's Prometheus: the same configuration a user writes (docs/telemetry.md).
      env = await TestEnvironment.create({ configOverrides: { clouds: lab.cloudConfigs() } });
      workers = await env.startWorkers();
      await env.seedStable(MODEL, '1.0.0');
    });
    after(async () => {
      await workers?.stop();
      await lab?.stop();
      await env?.close();
      if (labDir) await rm(labDir, { recursive: true, force: true });
    });

    const request = (overrides: Partial<CreateReleaseRequest['canary']> = {}): CreateReleaseRequest => ({
      model: { name: MODEL, version: '2.0.0', image: `registry.example/${MODEL}:2.0.0@${DIGEST}` },
      clouds: CLOUDS,
      canary: { steps: [50, 100], analysisIntervalSeconds: INTERVAL, ...overrides },
      signoff: { quorum: 2, deadlineSeconds: 120 },
      keepWarmSeconds: 0,
      activityTimeoutSeconds: 30,
    });

    const run = async (body: CreateReleaseRequest, during?: (releaseId: string) => Promise<void>) => {
      const handle = await env.startRelease(body);
      await eventually(
        async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff',
        30_000,
        'awaiting-signoff',
      );
      for (const approver of [env.users.approverA, env.users.approverB]) {
        await handle.executeUpdate(signoffUpdate, {
          args: [
            {
              credential: approver.token,
              approver: approver.person,
              decision: 'approve',
              comment: 'Validation evidence reviewed.',
            },
          ],
        });
      }
      await during?.(handle.workflowId);
      const status: ReleaseStatus = await handle.result();
      const steps = (cloud: string): Promise<StepVerdict[]> =>
        stepVerdicts(env.client, cloudRolloutWorkflowId(handle.workflowId, cloud));
      return { status, steps };
    };

    /** Every cloud runs the stable version and no canary. */
    const assertAllStable = async (version: string) => {
      for (const cloud of CLOUDS) {
        const deployment = await env.cloud(cloud).describe(MODEL);
        assert.equal(deployment?.stable?.version, version, `${cloud} stable version`);
        assert.equal(deployment?.canary, null, `${cloud} still has a canary`);
      }
    };

    const failingReason = (verdict: StepVerdict | undefined, metric: string): VerdictReason => {
      const reason = verdict?.verdicts[0]?.reasons.find((entry) => entry.metric === metric);
      assert.ok(reason, `no reason for ${metric} in ${JSON.stringify(verdict)}`);
      assert.equal(reason.passed, false, `${metric} passed: ${reason.summary}`);
      assert.equal(typeof reason.observed, 'number', 'the canary value is named');
      assert.equal(typeof reason.baseline, 'number', 'the baseline value is named');
      return reason;
    };

    /** Each query the verdict was based on is on the record, with what it returned. */
    const assertQueriesRecorded = (verdict: StepVerdict | undefined) => {
      const queries = verdict?.telemetry?.queries ?? [];
      assert.equal(verdict?.telemetry?.source, 'prometheus');
      for (const metric of ['error_rate', 'latency_p99_ms', 'prediction_mean', 'restarts']) {
        for (const track of ['canary', 'baseline'] as const) {
          const record = queries.find((query) => query.metric === metric && query.track === track);
          assert.ok(record, `no ${track} query for ${metric}`);
          assert.match(record.query, /track="(canary|stable)"/);
          assert.ok(record.samples >= 20, `${metric}/${track}: ${record.samples} samples`);
        }
      }
    };

    test('the request-rate history for predictive scaling: every version and track of the model in one cloud', async () => {
      for (const cloud of lab.cloudConfigs()) {
        const source = new PrometheusTelemetrySource({ cloud: cloud.name, url: cloud.prometheus!.url });
        // A stable and a canary instance at 20 requests/s each: about 40/s once the counters have a
        // few scrapes (the lab has just started; the earliest steps predate its first scrape: NaN).
        const history = await eventually(
          async () => {
            const read = await source.loadHistory({
              cloud: cloud.name,
              model: MODEL,
              samples: 20,
              stepSeconds: 5,
            });
            assert.equal(read.source, 'prometheus', read.error);
            assert.equal(read.samples.length, 20);
            return read.samples.slice(-3).every((value) => value > 25 && value < 55) ? read : undefined;
          },
          90_000,
          `${cloud.name}: about 40 requests/s in the load query`,
        );
        assert.ok(history.samples.every((value) => Number.isNaN(value) || value >= 0));
      }
      const unreachable = await new PrometheusTelemetrySource({
        cloud: 'aws',
        url: 'http://127.0.0.1:9',
        retries: 0,
      }).loadHistory({ cloud: 'aws', model: MODEL, samples: 5, stepSeconds: 2 });
      assert.equal(unreachable.source, 'unavailable');
      assert.deepEqual(unreachable.samples, []);
      assert.ok((unreachable.error ?? '').length > 0, 'the reason is given');
    });

    test('added latency on the canary: held as marginal, then rolled back on latency_p99_ms', async () => {
      await lab.setFaults('canary', { latencyMs: 150, latencyJitterMs: 20 });
      try {
        const { status, steps } = await run(request({ marginalRechecks: 1 }));
        assert.equal(status.outcome, 'rolled-back', status.reason?.message);
        assert.equal(status.reason?.code, 'CANARY_VERDICT_FAILED');
        assert.match(status.reason.message, /latency_p99_ms/);
        const aws = await steps('aws');
        assert.deepEqual(
          aws.map((step) => step.decision),
          ['marginal', 'marginal'],
          'the first window holds the weight, the re-check decides',
        );
        const latency = failingReason(aws.at(-1), 'latency_p99_ms');
        assert.equal(latency.rule, 'mann-whitney');
        assert.ok(latency.observed! > 100, `canary p99 ${latency.observed} ms`);
        assert.ok(latency.baseline! < 50, `baseline p99 ${latency.baseline} ms`);
        assert.match(latency.summary ?? '', /canary median .* vs baseline .*allowed \+25 %/);
        assertQueriesRecorded(aws.at(-1));
        await assertAllStable('1.0.0');
      } finally {
        await lab.setFaults('canary', {});
      }
    });

    test('errors from the canary in the second wave: every cloud restored, error_rate named', async () => {
      await lab.setFaults('canary', { errorRate: 0.2 }, 'gcp');
      try {
        const { status, steps } = await run(request());
        assert.equal(status.outcome, 'rolled-back', status.reason?.message);
        assert.match(status.reason!.message, /gcp/);
        // The healthy pilot passes both steps. On live metrics of a busy machine a window may come out
        // marginal; the step is then held and re-checked (the product's rule), and must pass.
        const pilot = (await steps('aws')).map((step) => step.decision);
        assert.deepEqual(
          pilot.filter((decision) => decision !== 'marginal'),
          ['pass', 'pass'],
          `the pilot passed on real telemetry: ${pilot.join(', ')}`,
        );
        const gcp = await steps('gcp');
        assert.equal(gcp.at(-1)?.decision, 'fail');
        const errors = failingReason(gcp.at(-1), 'error_rate');
        assert.equal(errors.rule, 'hard-limit');
        assert.equal(errors.limit, 0.02);
        assert.ok(errors.observed! > 0.1 && errors.observed! < 0.3, `canary error rate ${errors.observed}`);
        assert.equal(errors.baseline, 0);
        assertQueriesRecorded(gcp.at(-1));
        for (const cloud of CLOUDS) assert.equal(status.clouds[cloud]!.state, 'rolled-back', cloud);
        await assertAllStable('1.0.0');
      } finally {
        await lab.setFaults('canary', {});
      }
    });

    test('drifted predictions on the canary: rolled back on prediction_mean', async () => {
      await lab.setFaults('canary', { drift: 1.5 });
      try {
        const { status, steps } = await run(request());
        assert.equal(status.outcome, 'rolled-back', status.reason?.message);
        const aws = await steps('aws');
        assert.equal(aws.at(-1)?.decision, 'fail');
        const drift = failingReason(aws.at(-1), 'prediction_mean');
        assert.equal(drift.rule, 'mann-whitney');
        assert.ok(
          drift.observed! > drift.baseline! + 0.1,
          `canary ${drift.observed} vs baseline ${drift.baseline}`,
        );
        assert.ok(drift.shift! > 0.1, `shift ${drift.shift}`);
        await assertAllStable('1.0.0');
      } finally {
        await lab.setFaults('canary', {});
      }
    });

    test('a healthy canary is promoted everywhere, and Prometheus lost mid-analysis only holds the step', async () => {
      let outage: { killedAt: number; restartedAt: number } | undefined;
      const { status, steps } = await run(request(), async (releaseId) => {
        // Kill Prometheus once the pilot's first analysis window is under way; bring it back after the
        // window has ended, so that the analysis finds it gone.
        const handle = env.client.workflow.getHandle(releaseId);
        await eventually(
          async () => (await handle.query(statusQuery)).clouds.aws?.state === 'canary',
          60_000,
          'aws canary',
        );
        await delay(5_000);
        await lab.prometheus.kill();
        const killedAt = Date.now();
        await delay((INTERVAL + 5) * 1000);
        await lab.prometheus.restart();
        outage = { killedAt, restartedAt: Date.now() };
      });
      assert.ok(outage, 'the outage happened');
      assert.equal(status.outcome, 'completed', status.reason?.message);
      await assertAllStable('2.0.0');

      const aws = await steps('aws');
      const held = aws.find((step) => step.decision === 'marginal');
      assert.ok(held, `no step was held: ${aws.map((step) => step.decision).join(', ')}`);
      assert.equal(held.step, 0);
      assert.equal(held.passed, false);
      const reason = held.verdicts[0]!.reasons.find((entry) => entry.rule === 'telemetry-unavailable');
      assert.ok(reason, JSON.stringify(held.verdicts[0]));
      assert.ok(held.telemetry?.unavailable?.includes('error_rate'));
      const failed = held.telemetry!.queries.filter((query) => query.outcome === 'error');
      assert.ok(failed.length > 0);
      assert.ok(
        failed.every((query) => query.attempts === 3),
        'each query was retried twice within the step',
      );
      // After the outage the step was re-checked on a fresh window and passed; so did every later one.
      const after = aws.slice(aws.indexOf(held) + 1);
      assert.equal(after.at(-1)?.decision, 'pass');
      assert.ok(after.every((step) => step.decision !== 'fail'));
      // The other clouds pass every step; a window that comes out marginal on a busy machine is held
      // and re-checked, never failed.
      for (const cloud of ['azure', 'gcp']) {
        const decisions = (await steps(cloud)).map((step) => step.decision);
        assert.ok(
          decisions.every((decision) => decision !== 'fail') && decisions.at(-1) === 'pass',
          `${cloud}: ${decisions.join(', ')}`,
        );
      }
    });
  },
);
