// Durability on the real Temporal server with the workers as real processes: a release survives its
// workers being killed mid-canary (SIGKILL, new processes started), and the Temporal server itself
// being stopped and restarted from its database file. The simulated clouds keep their state and an
// operations log in files, so the tests can prove every change was made exactly once and in order.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { cloudTaskQueue, controlTaskQueue } from '../../domain/task-queues.js';
import { findFreePort, startDevServer, type DevServerHandle } from '../../infra/temporal.js';
import type { AppliedOperation } from '../../activities/cloud/simulated.js';
import { cloudRolloutWorkflowId } from '../../workflows/cloud-rollout.js';
import { signoffUpdate, statusQuery } from '../../workflows/messages.js';
import type { ReleaseWorkflow } from '../../workflows/release.js';
import { eventually, TestEnvironment } from '../helpers/environment.js';
import { recordHistory } from '../helpers/histories.js';
import { ProcessLog, waitUntilPolling, WorkerFleet, type WorkerProcess } from '../helpers/processes.js';

const STEPS = [10, 25, 50, 100];
const CLOUDS = ['aws', 'azure', 'gcp'];
const PILOT = 'aws';
/** The weight at which the pilot is interrupted: one step done before it, two after. */
const INTERRUPT_AT = 25;

type ReleaseHandle = WorkflowHandle<typeof ReleaseWorkflow>;
type History = Awaited<ReturnType<ReleaseHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

/**
 * Runs `body`; if it fails, the output of the worker processes (and server) is shown with the failure.
 * TEST_LOG_LEVEL=debug (as for test/helpers/environment.ts) shows it after a pass too.
 */
async function showingOutput(t: TestContext, log: ProcessLog, body: () => Promise<void>): Promise<void> {
  const show = () => t.diagnostic(`output of the processes started by this test:\n${log.text()}`);
  try {
    await body();
  } catch (error) {
    show();
    throw error;
  }
  if (process.env.TEST_LOG_LEVEL === 'debug') show();
}

/** Records how long each phase of a test took, shown as a diagnostic. */
function phases(t: TestContext) {
  const started = Date.now();
  let last = started;
  const marks: string[] = [];
  return {
    mark(what: string) {
      const now = Date.now();
      marks.push(`${what} ${((now - last) / 1000).toFixed(1)} s`);
      last = now;
    },
    report() {
      t.diagnostic(`phases: ${marks.join(', ')}; total ${((Date.now() - started) / 1000).toFixed(1)} s`);
    },
  };
}

function taskQueueOf(env: TestEnvironment, worker: WorkerProcess): string {
  const prefix = env.config.temporal.taskQueuePrefix;
  return worker.name === 'control' ? controlTaskQueue(prefix) : cloudTaskQueue(worker.name, prefix);
}

async function waitUntilAllPolling(env: TestEnvironment, workers: WorkerProcess[]): Promise<void> {
  await Promise.all(
    workers.map((worker) =>
      waitUntilPolling(env.client, env.config.temporal.namespace, taskQueueOf(env, worker), worker),
    ),
  );
}

async function signOff(env: TestEnvironment, handle: ReleaseHandle): Promise<void> {
  await eventually(
    async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff',
    30_000,
    'awaiting-signoff',
  );
  await handle.executeUpdate(signoffUpdate, {
    args: [
      {
        credential: env.users.approverA.token,
        approver: env.users.approverA.person,
        decision: 'approve',
        comment: 'Validation evidence reviewed.',
      },
    ],
  });
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
  assert.equal(second.stage, 'canary');
}

/** Resolves once the pilot's canary has reached INTERRUPT_AT, read from the simulated cloud's state file. */
async function pilotMidCanary(env: TestEnvironment, model: string): Promise<void> {
  await eventually(
    async () => ((await env.cloud(PILOT).describe(model))?.canaryWeight ?? 0) >= INTERRUPT_AT,
    40_000,
    `the pilot's canary at ${INTERRUPT_AT} %`,
  );
}

/** The release's result, or a failure naming the stage it is stuck in. */
async function resultWithin(handle: ReleaseHandle, timeoutMs: number) {
  const timeout = delay(timeoutMs, undefined, { ref: false });
  const outcome = await Promise.race([handle.result(), timeout]);
  if (outcome === undefined) {
    const status = await handle.query(statusQuery).catch((error: unknown) => String(error));
    throw new Error(`the release did not finish within ${timeoutMs} ms; status: ${JSON.stringify(status)}`);
  }
  return outcome;
}

/**
 * Every cloud: exactly one of each operation, the canary weights exactly the steps in order, and the
 * new version stable with nothing left over (no canary, the previous version retired).
 */
async function assertEveryCloudReleasedOnce(env: TestEnvironment, model: string, releaseId: string) {
  const operations: Record<string, AppliedOperation[]> = {};
  for (const cloud of CLOUDS) {
    const applied = await env.cloud(cloud).operations(model);
    operations[cloud] = applied;
    const ids = applied.map((operation) => operation.operationId);
    assert.equal(
      new Set(ids).size,
      ids.length,
      `${cloud}: an operation id was applied twice: ${ids.join(', ')}`,
    );
    const ofRelease = applied.filter((operation) => operation.releaseId === releaseId);
    assert.deepEqual(
      ofRelease.map((operation) => operation.kind),
      ['deployCanary', ...STEPS.map(() => 'setCanaryWeight'), 'promote', 'retirePrevious'],
      `${cloud}: operations of the release`,
    );
    assert.deepEqual(
      ofRelease
        .filter((operation) => operation.kind === 'setCanaryWeight')
        .map((operation) => operation.weight),
      STEPS,
      `${cloud}: canary weights`,
    );
    const deployment = await env.cloud(cloud).describe(model);
    assert.equal(deployment?.stable?.version, '2.0.0', `${cloud}: stable version`);
    assert.equal(deployment?.stable?.releaseId, releaseId, `${cloud}: stable release`);
    assert.equal(deployment?.canary, null, `${cloud}: canary left`);
    assert.equal(deployment?.canaryWeight, 0, `${cloud}: canary weight`);
    assert.equal(deployment?.previous, null, `${cloud}: previous version retired`);
  }
  return operations;
}

/** The pilot's weights applied before `from` and after `to` (ISO timestamps of the interruption). */
function weightsAround(operations: AppliedOperation[], from: string, to: string) {
  const weights = operations.filter((operation) => operation.kind === 'setCanaryWeight');
  return {
    before: weights.filter((operation) => operation.at < from).map((operation) => operation.weight),
    during: weights
      .filter((operation) => operation.at >= from && operation.at <= to)
      .map((operation) => operation.weight),
    after: weights.filter((operation) => operation.at > to).map((operation) => operation.weight),
  };
}

function identities(
  history: History,
  attributes: (event: HistoryEvent) => { identity?: string | null } | null | undefined,
) {
  return new Set(
    (history.events ?? []).map((event) => attributes(event)?.identity).filter((identity) => !!identity),
  );
}

/** What a history shows of an interruption: timeouts, failed workflow tasks, activity retries. */
function interruptionSigns(history: History) {
  const events = history.events ?? [];
  return {
    workflowTaskTimeouts: events.filter((event) => event.workflowTaskTimedOutEventAttributes).length,
    workflowTaskFailures: events.filter((event) => event.workflowTaskFailedEventAttributes).length,
    activityTimeouts: events.filter((event) => event.activityTaskTimedOutEventAttributes).length,
    activityRetries: events.filter((event) => (event.activityTaskStartedEventAttributes?.attempt ?? 1) > 1)
      .length,
  };
}

describe('durability: worker processes killed mid-canary', () => {
  let env: TestEnvironment;
  let fleet: WorkerFleet;

  before(async () => {
    env = await TestEnvironment.create();
    fleet = await WorkerFleet.create(env.config, path.join(env.dataDir, 'medrelease.json'));
  });
  after(async () => {
    await fleet?.stopAll();
    await env?.close();
  });

  test(
    'the pilot cloud worker and the control worker are killed mid-canary and replaced: every change is made exactly once',
    { timeout: 120_000 },
    async (t) => {
      await showingOutput(t, fleet.log, async () => {
        const phase = phases(t);
        const first = fleet.startAll();
        await waitUntilAllPolling(env, first);
        phase.mark('4 worker processes polling');

        const request = env.request({ canary: { steps: STEPS, analysisIntervalSeconds: 1 } });
        const model = request.model.name;
        await env.seedStable(model, '1.0.0');
        const handle = await env.startRelease(request);
        const releaseId = handle.workflowId;
        await signOff(env, handle);
        await pilotMidCanary(env, model);
        phase.mark(`pilot at ${INTERRUPT_AT} %`);

        const killed = [fleet.current(PILOT), fleet.current('control')];
        const killedFrom = new Date().toISOString();
        assert.deepEqual(await Promise.all(killed.map((worker) => worker.kill())), [
          'signal SIGKILL',
          'signal SIGKILL',
        ]);
        const weightAtKill = (await env.cloud(PILOT).describe(model))?.canaryWeight ?? 0;
        await delay(1000);
        const replacedAt = new Date().toISOString();
        const replacements = [fleet.start(PILOT), fleet.start('control')];
        await waitUntilAllPolling(env, replacements);
        phase.mark('killed and replaced');

        const status = await resultWithin(handle, 60_000);
        phase.mark('release completed');
        assert.equal(status.outcome, 'completed', JSON.stringify(status.reason));
        for (const cloud of CLOUDS) assert.equal(status.clouds[cloud]?.state, 'promoted', cloud);
        const operations = await assertEveryCloudReleasedOnce(env, model, releaseId);

        // The kill fell between two steps of the pilot: the steps up to the weight it had were applied
        // by the killed process, the rest by its replacement, and none while no pilot worker was running.
        assert.ok(weightAtKill >= INTERRUPT_AT && weightAtKill < 100, `killed at ${weightAtKill} %`);
        const done = STEPS.indexOf(weightAtKill) + 1;
        assert.deepEqual(weightsAround(operations[PILOT]!, killedFrom, replacedAt), {
          before: STEPS.slice(0, done),
          during: [],
          after: STEPS.slice(done),
        });

        // The histories name the processes: the pilot's rollout and the release itself were each
        // carried on by the replacement of the process that was killed while they were running.
        const [oldPilot, oldControl] = killed as [WorkerProcess, WorkerProcess];
        const [newPilot, newControl] = replacements as [WorkerProcess, WorkerProcess];
        const releaseHistory = await handle.fetchHistory();
        const pilotHistory = await env.client.workflow
          .getHandle(cloudRolloutWorkflowId(releaseId, PILOT))
          .fetchHistory();
        const workflowTasks = (history: History) =>
          identities(history, (event) => event.workflowTaskCompletedEventAttributes);
        const activityTasks = (history: History) =>
          identities(history, (event) => event.activityTaskStartedEventAttributes);
        for (const [history, gone, replacement, what] of [
          [pilotHistory, oldPilot, newPilot, 'the pilot rollout'],
          [releaseHistory, oldControl, newControl, 'the release'],
        ] as const) {
          const workers = workflowTasks(history);
          assert.ok(
            workers.has(gone.identity),
            `${what}: no workflow task of the killed ${gone.name} worker`,
          );
          assert.ok(
            workers.has(replacement.identity),
            `${what}: no workflow task of the new ${replacement.name} worker`,
          );
        }
        const pilotActivities = activityTasks(pilotHistory);
        assert.ok(pilotActivities.has(oldPilot.identity) && pilotActivities.has(newPilot.identity));
        t.diagnostic(
          `interruption in the histories: release ${JSON.stringify(interruptionSigns(releaseHistory))}, ` +
            `pilot ${JSON.stringify(interruptionSigns(pilotHistory))}`,
        );
        const signs = interruptionSigns(pilotHistory);
        assert.ok(
          signs.workflowTaskTimeouts + signs.activityRetries > 0,
          `the pilot's history shows no timed-out workflow task or retried activity: ${JSON.stringify(signs)}`,
        );

        await recordHistory(env.client, 'worker-killed', [
          releaseId,
          ...CLOUDS.map((cloud) => cloudRolloutWorkflowId(releaseId, cloud)),
        ]);
        phase.report();
      });
    },
  );
});

describe('durability: the Temporal server stopped and restarted mid-release', () => {
  const log = new ProcessLog();
  let directory: string | undefined;
  let server: DevServerHandle | undefined;
  let env: TestEnvironment | undefined;
  let fleet: WorkerFleet | undefined;

  after(async () => {
    await fleet?.stopAll();
    await env?.close();
    await server?.stop();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  /** This file's own dev server (not the shared one the runner started): the test stops it. */
  const startServer = (dbFile: string, port: number) =>
    startDevServer({ dbFile, port, headless: true, log: (line) => log.add(`[temporal] ${line}`) });

  /** TestEnvironment.create() against `address`, whatever TEMPORAL_TEST_ADDRESS says. */
  async function environmentOn(address: string): Promise<TestEnvironment> {
    const shared = process.env.TEMPORAL_TEST_ADDRESS;
    process.env.TEMPORAL_TEST_ADDRESS = address;
    try {
      return await TestEnvironment.create();
    } finally {
      if (shared === undefined) delete process.env.TEMPORAL_TEST_ADDRESS;
      else process.env.TEMPORAL_TEST_ADDRESS = shared;
    }
  }

  test(
    'the release completes, and the workers reconnect by themselves, after a server restart mid-canary',
    { timeout: 120_000 },
    async (t) => {
      await showingOutput(t, log, async () => {
        const phase = phases(t);
        directory = await mkdtemp(path.join(tmpdir(), 'medrelease-restart-'));
        const dbFile = path.join(directory, 'temporal.db');
        const port = await findFreePort();
        server = await startServer(dbFile, port);
        phase.mark('own server started');
        env = await environmentOn(server.address);
        assert.equal(env.address, server.address);
        fleet = await WorkerFleet.create(env.config, path.join(directory, 'medrelease.json'));
        const workers = fleet.startAll();
        await waitUntilAllPolling(env, workers);
        phase.mark('4 worker processes polling');

        const request = env.request({ canary: { steps: STEPS, analysisIntervalSeconds: 1 } });
        const model = request.model.name;
        await env.seedStable(model, '1.0.0');
        const handle = await env.startRelease(request);
        await signOff(env, handle);
        await pilotMidCanary(env, model);
        phase.mark(`pilot at ${INTERRUPT_AT} %`);

        const stoppedFrom = new Date().toISOString();
        await server.stop();
        await delay(2000);
        server = await startServer(dbFile, port);
        const restartedAt = new Date().toISOString();
        phase.mark('server stopped and restarted');

        // The same processes, reconnected: none was restarted by the test.
        await waitUntilAllPolling(env, workers);
        phase.mark('workers polling again');
        const status = await resultWithin(handle, 60_000);
        phase.mark('release completed');
        assert.equal(status.outcome, 'completed', JSON.stringify(status.reason));
        for (const cloud of CLOUDS) assert.equal(status.clouds[cloud]?.state, 'promoted', cloud);
        const operations = await assertEveryCloudReleasedOnce(env, model, handle.workflowId);
        // Stopped mid-canary: the pilot had steps behind it and ahead of it. (A step whose activity was
        // already running may legitimately land while the server is away; it is still applied once.)
        const pilotWeights = weightsAround(operations[PILOT]!, stoppedFrom, restartedAt);
        assert.ok(
          pilotWeights.before.includes(INTERRUPT_AT),
          `before the stop: ${pilotWeights.before.join(', ')}`,
        );
        assert.ok(pilotWeights.after.includes(100), `after the restart: ${pilotWeights.after.join(', ')}`);
        assert.deepEqual(
          fleet.processes.filter((worker) => !worker.alive).map((worker) => worker.name),
          [],
          'a worker process ended while the server was away',
        );
        phase.report();
      });
    },
  );
});
