// Fuzzing the live API against its own OpenAPI description with schemathesis (infra/schemathesis.ts,
// docs/fuzzing.md): the API listens on a real port, on an environment with running workers, and
// schemathesis reads GET /docs/json and sends thousands of generated requests in three passes:
//   anonymous  no token, valid and invalid data: every protected route must answer 401, nothing 5xx;
//   positive   a token with every role, schema-valid data: no 5xx, responses match their documented
//              status codes, media types, headers and schemas, valid data is accepted, auth is not
//              ignored, and every release the API says it started (201) is exactly one new workflow;
//   negative   the same token, schema-violating data: rejected with 4xx, never 5xx, and no workflow
//              started.
// The seed is fixed (MEDRELEASE_FUZZ_SEED overrides it), so a failure reproduces with the command line
// the test prints. Schemathesis is installed into the cache on first use; a failed install fails here.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ensureSchemathesis,
  failureText,
  operationTable,
  runFuzzCampaign,
  totalRequests,
  type PassName,
  type PassResult,
  type Schemathesis,
} from '../../infra/schemathesis.js';
import { ROLES } from '../../security/oidc.js';
import { liveApi } from '../api/helper.js';
import { eventually } from '../helpers/environment.js';

const SEED = Number(process.env.MEDRELEASE_FUZZ_SEED ?? 20261128);
/** Test cases per operation and pass (operations without inputs get a handful). */
const EXAMPLES: Record<PassName, number> = { anonymous: 50, positive: 100, negative: 100 };
const MIN_REQUESTS = 2000;
/**
 * The passes must be over before the test runner's per-file timeout (test/run.ts), with a minute left
 * for the environment's teardown: a pass that would overrun is killed and fails with a clear message.
 */
const DEADLINE = Date.now() + Number(process.env.MEDRELEASE_TEST_TIMEOUT_MS ?? 600_000) - 60_000;
/** Releases that exist before fuzzing, waiting for sign-off: half of the {releaseId} values. */
const SEEDED_RELEASES = ['fuzz-seed-1', 'fuzz-seed-2', 'fuzz-seed-3'];

describe('fuzzing the API against its OpenAPI description (schemathesis)', () => {
  let st: Schemathesis;
  let workDir: string;
  let results: PassResult[] = [];

  // First, so that a failed install fails the file before any environment starts.
  before(async () => {
    try {
      st = await ensureSchemathesis({ log: (line) => console.log(`[schemathesis] ${line}`) });
    } catch (error) {
      throw new Error(
        `schemathesis could not be installed, so the API cannot be fuzzed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  });

  // The fuzzer sends thousands of requests a minute as one person: the rate limit (600 a minute,
  // tested in test/api) would answer most of them 429.
  const live = liveApi({
    create: {
      configOverrides: {
        api: { rateLimit: { max: 1_000_000, failedAuthMax: 1_000_000, windowSeconds: 60 } },
      },
    },
  });

  before(async () => {
    const { env, app } = live;
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const baseUrl = `http://127.0.0.1:${port}`;

    for (const releaseId of SEEDED_RELEASES) {
      const response = await live
        .user('manager')
        .post('/v1/releases', env.request({ releaseId, signoff: { quorum: 2, deadlineSeconds: 3600 } }));
      assert.equal(response.statusCode, 201, response.body);
    }
    for (const releaseId of SEEDED_RELEASES) {
      await eventually(
        async () => (await live.status(releaseId)).stage === 'awaiting-signoff',
        60_000,
        `${releaseId} awaiting sign-off`,
      );
    }

    // One person with every role, so that every route is authorised; not the seeded releases'
    // requester, so that it may sign them off.
    const token = await env.issuer.mint(env.users.approverA.person.id, {
      extraClaims: { roles: [...ROLES] },
    });
    const query = `TaskQueue = '${env.config.temporal.taskQueuePrefix}medrelease' AND WorkflowType = 'ReleaseWorkflow'`;
    workDir = await mkdtemp(path.join(os.tmpdir(), 'medrelease-fuzz-'));
    console.log(`fuzzing ${baseUrl} with seed ${SEED}; reports in ${workDir}`);
    results = await runFuzzCampaign({
      bin: st.bin,
      baseUrl,
      token,
      data: {
        clouds: env.config.clouds.map((cloud) => cloud.name),
        jurisdictions: [...new Set(env.config.clouds.map((cloud) => cloud.jurisdiction))],
        releaseIds: SEEDED_RELEASES,
      },
      seed: SEED,
      maxExamples: EXAMPLES,
      countReleaseWorkflows: async () => (await env.client.workflow.count(query)).count,
      workDir,
      deadline: DEADLINE,
      log: (line) => console.log(`[fuzz] ${line}`),
      ...(process.env.MEDRELEASE_FUZZ_VERBOSE
        ? { stLog: (line: string) => console.log(`[st] ${line}`) }
        : {}),
    });
  });

  after(async () => {
    const clean = results.length === 3 && results.every((result) => result.run.exitCode === 0);
    if (workDir && clean && !process.env.MEDRELEASE_FUZZ_KEEP_REPORTS) {
      await rm(workDir, { recursive: true, force: true });
    } else if (workDir) {
      console.log(`schemathesis reports (JUnit, HAR, JSON) and configs kept in ${workDir}`);
    }
  });

  const result = (name: PassName): PassResult => {
    const found = results.find((entry) => entry.pass.name === name);
    assert.ok(found, `the ${name} pass did not run`);
    return found;
  };

  for (const name of ['anonymous', 'positive', 'negative'] as const) {
    test(`${name} pass: every check passes, no 5xx, no errors, no hang`, (t) => {
      const { run, pass } = result(name);
      t.diagnostic(`seed ${SEED}; ${run.display}`);
      t.diagnostic(`checks: ${pass.checks.join(', ')}`);
      for (const exclusion of pass.exclusions) {
        const what = [
          ...exclusion.checks,
          ...Object.entries(exclusion.parameters ?? {}).map(([name, value]) => `${name} fixed to ${value}`),
        ];
        t.diagnostic(`excluded for ${exclusion.operation}: ${what.join(', ')} (${exclusion.why})`);
      }
      const report = run.report;
      assert.ok(report, `schemathesis wrote no JSON report (${run.ended}):\n${run.output.slice(-4000)}`);
      t.diagnostic(
        `${run.requests.length} requests, ${report.test_cases.generated} test cases over ${report.operations.tested} operations in ${run.seconds.toFixed(1)} s`,
      );
      const failures = failureText(run);
      assert.equal(run.ended, 'exit code 0', `schemathesis reported problems (${run.ended}):\n${failures}`);
      assert.deepEqual(report.failures, [], failures);
      assert.deepEqual(report.errors, [], failures);
      assert.equal(report.complete, true, `the run stopped early: ${report.stop_reason}`);
      const serverErrors = run.requests.filter((request) => request.status >= 500);
      assert.deepEqual(
        serverErrors.map((request) => `${request.method} ${request.url} → ${request.status}`),
        [],
      );
    });
  }

  test('anonymous pass: every protected route answered 401', () => {
    const { unauthenticatedLeaks, run } = result('anonymous');
    assert.ok(run.requests.length > 0, 'the anonymous pass sent no requests');
    assert.deepEqual(
      unauthenticatedLeaks.map(
        (request) =>
          `${request.method} ${request.url} → ${request.status} ${request.body?.slice(0, 200) ?? ''}`,
      ),
      [],
    );
  });

  test('negative pass: no invalid request started a release', (t) => {
    const { workflowsBefore, workflowsAfter, created, createdSeen } = result('negative');
    t.diagnostic(
      `release workflows ${workflowsBefore} → ${workflowsAfter}; 201s: ${created} (metrics), ${createdSeen} (HAR)`,
    );
    assert.equal(created, 0, 'POST /v1/releases answered 201 to a request schemathesis made invalid');
    assert.equal(workflowsAfter, workflowsBefore, 'release workflows were started during the negative pass');
  });

  test('positive pass: one new release workflow per 201 of POST /v1/releases', (t) => {
    const { workflowsBefore, workflowsAfter, created, createdSeen } = result('positive');
    t.diagnostic(
      `release workflows ${workflowsBefore} → ${workflowsAfter}; 201s: ${created} (metrics), ${createdSeen} (HAR)`,
    );
    assert.equal(created, createdSeen, 'the API metrics and the HAR report disagree on the 201s');
    assert.ok(created > 0, 'no release was created: the positive pass never got past validation');
    assert.equal(workflowsAfter - workflowsBefore, created);
  });

  test(`thousands of requests (at least ${MIN_REQUESTS})`, (t) => {
    const total = totalRequests(results);
    for (const line of operationTable(results).split('\n')) t.diagnostic(line);
    t.diagnostic(
      `total ${total} requests: ${results.map((entry) => `${entry.pass.name} ${entry.run.requests.length} (${entry.run.seconds.toFixed(0)} s)`).join(', ')}; seed ${SEED}`,
    );
    assert.ok(total >= MIN_REQUESTS, `only ${total} requests were sent`);
  });
});
