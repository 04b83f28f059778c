// Replay of recorded histories (test/fixtures/histories, written by `npm run test:record-histories`):
// today's workflow code must make exactly the decisions it made when each history was recorded, or a
// release running during a deployment would fail with a nondeterminism error. A change to workflow
// code goes through patching; this test is what catches one that did not. No server is needed.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';
import {
  bundleWorkflowCode,
  DefaultLogger,
  makeTelemetryFilterString,
  Runtime,
  Worker,
  type ReplayResult,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { WORKFLOWS_PATH } from '../../workers/factory.js';
import { REDACTED } from '../helpers/histories.js';

/** From dist/test/workflows to the committed fixtures in the source tree. */
const FIXTURES_DIR = fileURLToPath(new URL('../../../test/fixtures/histories/', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../../node_modules/', import.meta.url));
const WORKFLOW_TYPES = ['ReleaseWorkflow', 'CloudRolloutWorkflow'];
const MAX_FIXTURE_BYTES = 1024 * 1024;
const { History } = proto.temporal.api.history.v1;

/** The fields of a history in proto JSON (as recordHistory writes it) that these tests read or change. */
interface JsonEvent {
  eventId: string;
  eventType: string;
  workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string }; workflowId?: string };
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
  workflowExecutionSignaledEventAttributes?: {
    signalName?: string;
    input?: { payloads?: { data?: string }[] };
  };
}

interface JsonHistory {
  events: JsonEvent[];
}

interface Fixture {
  file: string;
  bytes: number;
  workflowType: string;
  workflowId: string;
  history: JsonHistory;
}

async function loadFixtures(): Promise<Fixture[]> {
  const files = (await readdir(FIXTURES_DIR).catch(() => [])).filter((file) => file.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => {
      const full = path.join(FIXTURES_DIR, file);
      const history = JSON.parse(await readFile(full, 'utf8')) as JsonHistory;
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      assert.ok(started?.workflowType?.name, `${file}: the first event is not WorkflowExecutionStarted`);
      return {
        file,
        bytes: (await stat(full)).size,
        workflowType: started.workflowType.name,
        // Recent servers store the id in the started event; the file name is the fallback.
        workflowId: started.workflowId ?? path.basename(file, '.json'),
        history,
      };
    }),
  );
}

/**
 * recordHistory writes `JSON.stringify(history)`: protobufjs's toJSON form (int64 and bytes as
 * strings, enums by name, timestamps as {seconds, nanos}), whose exact inverse is `fromObject`. The
 * SDK's own reader (historyFromJSON, used by the replayer for histories whose event ids are strings)
 * expects canonical proto3 JSON, and in this install fails with "type must be a Type" anyway: npm
 * nests a separate copy of protobufjs 8 under each @temporalio package.
 */
function decodeHistory(history: JsonHistory) {
  return History.fromObject(history);
}

async function replayAll(
  source: { workflowBundle: WorkflowBundleWithSourceMap },
  fixtures: { workflowId: string; history: JsonHistory }[],
): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const replay = Worker.runReplayHistories(
    { ...source, replayName: 'medrelease-replay' },
    fixtures.map(({ workflowId, history }) => ({ workflowId, history: decodeHistory(history) })),
  );
  for await (const result of replay) results.push(result);
  return results;
}

describe('replay of recorded workflow histories', () => {
  let fixtures: Fixture[];
  let bundle: WorkflowBundleWithSourceMap;
  let directory: string | undefined;

  before(async () => {
    // Quiet: the negative tests make core log each nondeterminism it finds, which is expected here.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } },
    });
    fixtures = await loadFixtures();
    bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  });
  after(async () => {
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  test('there is a recorded history of every workflow type', () => {
    const types = new Set(fixtures.map((fixture) => fixture.workflowType));
    for (const type of WORKFLOW_TYPES) {
      assert.ok(
        types.has(type),
        `no fixture of ${type} in ${FIXTURES_DIR} (run npm run test:record-histories)`,
      );
    }
  });

  test('the fixtures are small and carry no credentials', () => {
    for (const fixture of fixtures) {
      assert.ok(fixture.bytes < MAX_FIXTURE_BYTES, `${fixture.file}: ${fixture.bytes} bytes`);
      // The credential signals carry a user's token; recordHistory redacts it before committing.
      for (const event of fixture.history.events) {
        const signal = event.workflowExecutionSignaledEventAttributes;
        const payloads = signal?.input?.payloads ?? [];
        const text = payloads
          .map((payload) => Buffer.from(payload.data ?? '', 'base64').toString('utf8'))
          .join();
        const credentials = [...text.matchAll(/"credential"\s*:\s*"([^"]*)"/g)].map((match) => match[1]);
        assert.ok(
          credentials.every((credential) => credential === REDACTED),
          `${fixture.file}: signal ${signal?.signalName} carries a credential`,
        );
      }
    }
  });

  test('every recorded history replays on the current workflow code', { timeout: 120_000 }, async () => {
    assert.ok(fixtures.length > 0, `no fixtures in ${FIXTURES_DIR}`);
    const results = await replayAll({ workflowBundle: bundle }, fixtures);
    assert.deepEqual(
      results.map((result) => result.workflowId),
      fixtures.map((fixture) => fixture.workflowId),
      'every history was replayed',
    );
    const failures = results.flatMap((result, index) =>
      result.error ? [`${fixtures[index]!.file}: ${result.error.name}: ${result.error.message}`] : [],
    );
    assert.deepEqual(failures, []);
  });

  test('a history the code no longer matches fails to replay with a nondeterminism error', async () => {
    const original = fixtures.find((fixture) => fixture.workflowType === 'ReleaseWorkflow');
    assert.ok(original, 'no ReleaseWorkflow fixture');
    // As if the recorded release had run a version whose first activity had another name.
    const history = structuredClone(original.history);
    const scheduled = history.events.find((event) => event.activityTaskScheduledEventAttributes);
    assert.ok(scheduled?.activityTaskScheduledEventAttributes?.activityType?.name);
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'renamedActivity';
    const [result] = await replayAll({ workflowBundle: bundle }, [
      { workflowId: original.workflowId, history },
    ]);
    assert.ok(
      result?.error instanceof DeterminismViolationError,
      `expected nondeterminism, got ${String(result?.error)}`,
    );
    assert.match(result.error.message, /renamedActivity/);
  });

  test(
    'workflow code changed without patching fails to replay the recorded histories',
    { timeout: 120_000 },
    async () => {
      // The change a developer might make: a pause before the release starts, without patched().
      directory = await mkdtemp(path.join(tmpdir(), 'medrelease-replay-'));
      const changed = path.join(directory, 'changed-workflows.js');
      const real = (name: string) => JSON.stringify(path.join(path.dirname(WORKFLOWS_PATH), name));
      await writeFile(
        changed,
        [
          `import { sleep } from '@temporalio/workflow';`,
          `import { ReleaseWorkflow as released } from ${real('release.js')};`,
          `export { CloudRolloutWorkflow } from ${real('cloud-rollout.js')};`,
          `export async function ReleaseWorkflow(input) {`,
          `  await sleep('1 second');`,
          `  return released(input);`,
          `}`,
        ].join('\n'),
      );
      const changedBundle = await bundleWorkflowCode({
        workflowsPath: changed,
        logger: new DefaultLogger('WARN'),
        // The temporary file lives outside the project: let it find the project's packages.
        webpackConfigHook: (config) => ({
          ...config,
          resolve: { ...config.resolve, modules: [...(config.resolve?.modules ?? []), NODE_MODULES] },
        }),
      });
      const results = await replayAll({ workflowBundle: changedBundle }, fixtures);
      fixtures.forEach((fixture, index) => {
        const error = results[index]?.error;
        if (fixture.workflowType === 'ReleaseWorkflow') {
          assert.ok(
            error instanceof DeterminismViolationError,
            `${fixture.file}: expected nondeterminism, got ${String(error)}`,
          );
        } else {
          assert.equal(error, undefined, `${fixture.file}: the unchanged CloudRolloutWorkflow still replays`);
        }
      });
    },
  );
});
