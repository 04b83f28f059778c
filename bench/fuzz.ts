// `node dist/bench/fuzz.js [--examples N]`: the fuzz test's campaign (test/security/fuzz.test.ts,
// infra/schemathesis.ts) with larger counts, as a benchmark: how many generated requests the API
// answers per second, per pass and per operation, on this machine, and whether any check failed.
//
// Against a Temporal dev server of its own (or TEMPORAL_TEST_ADDRESS), with the control worker and
// three simulated cloud workers in this process and the API listening on a free loopback port. Three
// releases are created first and wait for sign-off (half of the {releaseId} values); then the three
// passes run one after the other: anonymous (no token), positive and negative (a token with every role).
//
// Flags: --examples N (test cases per operation in the positive and negative passes, default 500),
// --anonymous-examples N (default N/6, at least 25), --seed N, --passes anonymous,positive,negative,
// --keep-reports (keep schemathesis's JUnit/HAR/JSON reports), --json-only (stdout carries only the
// JSON line). The last line of stdout is a JSON object with every figure; the exit status is 1 when a
// check failed, a protected route answered without a token, or the workflow counts disagree.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findTemporalCli } from '../infra/temporal.js';
import {
  ensureSchemathesis,
  failureText,
  operationTable,
  runFuzzCampaign,
  totalRequests,
  type PassName,
  type PassResult,
} from '../infra/schemathesis.js';
import { ROLES } from '../security/oidc.js';
import { buildTestApp, terminateRunningReleases } from '../test/api/helper.js';
import { eventually, TestEnvironment } from '../test/helpers/environment.js';
import type { ReleaseStatus } from '../domain/status.js';
import { commandVersion, cpuModel, describeLoad, fixed, machineLoad, round } from './report.js';

const { values } = parseArgs({
  options: {
    examples: { type: 'string', default: '500' },
    'anonymous-examples': { type: 'string' },
    seed: { type: 'string', default: '20261128' },
    passes: { type: 'string', default: 'anonymous,positive,negative' },
    'keep-reports': { type: 'boolean', default: false },
    'json-only': { type: 'boolean', default: false },
  },
});

const examples = positiveInteger(values.examples, '--examples');
const anonymousExamples = values['anonymous-examples']
  ? positiveInteger(values['anonymous-examples'], '--anonymous-examples')
  : Math.max(25, Math.round(examples / 6));
const seed = positiveInteger(values.seed, '--seed');
const passes = values.passes.split(',').map((name) => name.trim()) as PassName[];
for (const name of passes) {
  if (!['anonymous', 'positive', 'negative'].includes(name))
    throw new Error(`--passes: unknown pass ${name}`);
}
const jsonOnly = values['json-only'];
const say = (line: string) => {
  if (!jsonOnly) console.log(line);
};
const progress = (line: string) => {
  if (!jsonOnly) console.error(line);
};

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag} must be a positive integer, got ${text}`);
  return value;
}

const SEEDED_RELEASES = ['fuzz-seed-1', 'fuzz-seed-2', 'fuzz-seed-3'];

async function main(): Promise<number> {
  const st = await ensureSchemathesis({ log: (line) => progress(`[schemathesis] ${line}`) });
  const loadAtStart = await machineLoad();
  const env = await TestEnvironment.create({
    configOverrides: { api: { rateLimit: { max: 1_000_000, failedAuthMax: 1_000_000, windowSeconds: 60 } } },
  });
  const workers = await env.startWorkers();
  const app = await buildTestApp(env);
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'medrelease-fuzz-bench-'));
  let results: PassResult[] = [];
  const started = Date.now();
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const manager = { authorization: `Bearer ${env.users.manager.token}` };
    for (const releaseId of SEEDED_RELEASES) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/releases',
        headers: manager,
        payload: env.request({ releaseId, signoff: { quorum: 2, deadlineSeconds: 3600 } }),
      });
      if (response.statusCode !== 201)
        throw new Error(`seeding ${releaseId}: ${response.statusCode} ${response.body}`);
    }
    for (const releaseId of SEEDED_RELEASES) {
      await eventually(
        async () => {
          const response = await app.inject({
            method: 'GET',
            url: `/v1/releases/${releaseId}`,
            headers: manager,
          });
          return response.statusCode === 200 && response.json<ReleaseStatus>().stage === 'awaiting-signoff';
        },
        60_000,
        `${releaseId} awaiting sign-off`,
      );
    }
    const token = await env.issuer.mint(env.users.approverA.person.id, {
      extraClaims: { roles: [...ROLES] },
    });
    const query = `TaskQueue = '${env.config.temporal.taskQueuePrefix}medrelease' AND WorkflowType = 'ReleaseWorkflow'`;
    progress(
      `fuzzing ${baseUrl} with seed ${seed}, ${examples} examples per operation; reports in ${workDir}`,
    );
    results = await runFuzzCampaign({
      bin: st.bin,
      baseUrl,
      token,
      data: {
        clouds: env.config.clouds.map((cloud) => cloud.name),
        jurisdictions: [...new Set(env.config.clouds.map((cloud) => cloud.jurisdiction))],
        releaseIds: SEEDED_RELEASES,
      },
      seed,
      maxExamples: { anonymous: anonymousExamples, positive: examples, negative: examples },
      countReleaseWorkflows: async () => (await env.client.workflow.count(query)).count,
      workDir,
      passes,
      // Larger counts take longer; a hang still fails on the 10 s request timeout.
      passTimeoutMs: 60 * 60_000,
      log: (line) => progress(`[fuzz] ${line}`),
    });
  } finally {
    await app.close();
    await terminateRunningReleases(env);
    await workers.stop();
    await env.close();
  }
  const totalSeconds = (Date.now() - started) / 1000;

  const problems: string[] = [];
  for (const result of results) {
    const failures = (result.run.report?.failures ?? []).reduce((sum, failure) => sum + failure.count, 0);
    const errors = result.run.report?.errors.length ?? 0;
    if (result.run.exitCode !== 0 || failures > 0 || errors > 0) {
      problems.push(
        `${result.pass.name}: ${failures} failures, ${errors} errors (${result.run.ended})\n${failureText(result.run)}`,
      );
    }
    for (const request of result.unauthenticatedLeaks) {
      problems.push(
        `${result.pass.name}: ${request.method} ${request.url} answered ${request.status} without a token`,
      );
    }
    if (result.workflowsAfter - result.workflowsBefore !== result.created) {
      problems.push(
        `${result.pass.name}: ${result.workflowsAfter - result.workflowsBefore} release workflows started, ${result.created} 201s`,
      );
    }
    if (result.pass.name === 'negative' && result.created > 0) {
      problems.push(`negative: ${result.created} releases created by invalid requests`);
    }
  }

  const cliPath = (await findTemporalCli())?.path;
  const machine = {
    cpu: await cpuModel(),
    cores: os.cpus().length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()}`,
    node: process.versions.node,
    python: await commandVersion(path.join(path.dirname(st.bin), 'python')),
    schemathesis: st.version,
    temporalCli: await commandVersion(cliPath),
  };
  const loadAtEnd = await machineLoad();
  say(
    `machine: ${machine.cpu}, ${machine.cores} cores, ${fixed(machine.memoryGiB, 1)} GiB RAM, ${machine.os}`,
  );
  say(
    `         Node ${machine.node}, ${machine.python}, schemathesis ${machine.schemathesis}, ${machine.temporalCli}`,
  );
  say(`load:    at start ${describeLoad(loadAtStart)}; at end ${describeLoad(loadAtEnd)}`);
  say(
    `seed ${seed}; examples per operation: anonymous ${anonymousExamples}, positive ${examples}, negative ${examples}`,
  );
  say('');
  for (const result of results) {
    const report = result.run.report;
    say(
      `${result.pass.name.padEnd(9)} ${String(result.run.requests.length).padStart(7)} requests in ${fixed(result.run.seconds, 1).padStart(6)} s = ` +
        `${fixed(result.run.requests.length / result.run.seconds, 1).padStart(6)} req/s; ${report?.operations.tested ?? '?'} operations; ` +
        `${(report?.failures ?? []).reduce((sum, failure) => sum + failure.count, 0)} failures, ${report?.errors.length ?? '?'} errors; ` +
        `releases created ${result.created}, workflows ${result.workflowsBefore} → ${result.workflowsAfter}`,
    );
  }
  say('');
  say(operationTable(results));
  say('');
  say(`total ${totalRequests(results)} requests, ${fixed(totalSeconds, 0)} s with setup`);
  for (const problem of problems) say(`PROBLEM ${problem}`);

  console.log(
    JSON.stringify({
      benchmark: 'fuzz',
      machine,
      load: { start: loadAtStart, end: loadAtEnd },
      seed,
      examples: { anonymous: anonymousExamples, positive: examples, negative: examples },
      passes: results.map((result) => ({
        pass: result.pass.name,
        mode: result.pass.mode,
        requests: result.run.requests.length,
        testCases: result.run.report?.test_cases.generated ?? null,
        seconds: round(result.run.seconds, 1),
        requestsPerSecond: round(result.run.requests.length / result.run.seconds, 1),
        failures: result.run.report?.failures ?? null,
        errors: result.run.report?.errors.length ?? null,
        releasesCreated: result.created,
        workflowsStarted: result.workflowsAfter - result.workflowsBefore,
        byOperation: Object.fromEntries(
          Object.entries(result.byOperation).map(([name, count]) => [name, count.requests]),
        ),
      })),
      totalRequests: totalRequests(results),
      totalSeconds: round(totalSeconds, 1),
      problems: problems.length,
    }),
  );
  if (problems.length === 0 && !values['keep-reports']) await rm(workDir, { recursive: true, force: true });
  else progress(`schemathesis reports kept in ${workDir}`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
