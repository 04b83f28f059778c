// `npm run demo`, against a running `npm start`: drives two releases through the REST API — a healthy
// one that both demo approvers sign off and that completes, and one whose canary gets an injected
// error spike in its second cloud and is rolled back in every cloud. Prints progress as it goes, a
// timeline chart of each release, and a summary line; exits non-zero unless both ended as expected.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { ReleaseStatus } from '../domain/status.js';

const { values: options } = parseArgs({
  options: {
    api: { type: 'string' },
    'users-file': { type: 'string' },
    interval: { type: 'string', default: '3' },
    'timeout-minutes': { type: 'string', default: '10' },
  },
});

interface EffectiveConfig {
  api: { host: string; port: number };
  users: { file: string };
  temporal: { uiUrl?: string; namespace: string };
}

async function readJson<T>(file: string, what: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    throw new Error(
      `cannot read ${what} at ${file} (is 'npm start' running in this folder?): ${(error as Error).message}`,
    );
  }
}

const config = await readJson<EffectiveConfig>(
  '.data/effective-config.json',
  'the configuration written by npm start',
);
const apiUrl =
  options.api ?? `http://${config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host}:${config.api.port}`;
const { users } = await readJson<{ users: { id: string; token: string }[] }>(
  options['users-file'] ?? config.users.file,
  'the demo users',
);
const token = (id: string) => {
  const user = users.find((candidate) => candidate.id === id);
  if (!user) throw new Error(`demo user '${id}' is missing from the users file`);
  return user.token;
};

async function api<T>(
  method: string,
  route: string,
  as: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${apiUrl}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${token(as)}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as T };
}

const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
const interval = Number(options.interval);
const DIGEST = 'sha256:' + 'c3'.repeat(32);
const plans = [
  {
    label: 'healthy',
    expected: 'completed',
    request: {
      releaseId: `demo-${stamp}-healthy`,
      model: {
        name: 'chest-xray-triage',
        version: '2.4.0',
        image: `registry.example.org/models/chest-xray-triage:2.4.0@${DIGEST}`,
        intendedUse: 'Triage of adult chest radiographs for suspected pneumothorax (demo).',
      },
      clouds: ['aws', 'azure', 'gcp'],
      dataResidency: { allowedJurisdictions: ['US', 'EU'] },
      canary: { steps: [5, 25, 50, 100], analysisIntervalSeconds: interval },
      signoff: { quorum: 2, deadlineSeconds: 600 },
      keepWarmSeconds: interval,
      // A brief latency creep in gcp's first window at 100 %: the judge finds it marginal, the weight
      // is held and the step re-checked on a fresh window, which passes.
      faultPlan: { telemetry: [{ cloud: 'gcp', kind: 'latency-creep', fromStep: 3, transient: true }] },
    },
  },
  {
    label: 'faulty',
    expected: 'rolled-back',
    request: {
      releaseId: `demo-${stamp}-faulty`,
      model: {
        name: 'sepsis-risk',
        version: '1.9.0',
        image: `registry.example.org/models/sepsis-risk:1.9.0@${DIGEST}`,
        intendedUse: 'Early warning of sepsis risk for adult inpatients (demo).',
      },
      clouds: ['aws', 'azure', 'gcp'],
      dataResidency: { allowedJurisdictions: ['US', 'EU'] },
      canary: { steps: [5, 25, 50, 100], analysisIntervalSeconds: interval },
      signoff: { quorum: 2, deadlineSeconds: 600 },
      keepWarmSeconds: interval,
      // The second cloud (azure, in the second wave) starts failing at its second step.
      faultPlan: { telemetry: [{ cloud: 'azure', kind: 'error-spike', fromStep: 1 }] },
    },
  },
] as const;

const print = (label: string, line: string) =>
  console.log(`${new Date().toISOString().slice(11, 19)}  ${label.padEnd(8)} ${line}`);

async function createAndSignOff(plan: (typeof plans)[number]): Promise<void> {
  const created = await api<{ releaseId: string; code?: string; message?: string }>(
    'POST',
    '/releases',
    'rm-alice',
    plan.request,
  );
  if (created.status !== 201 && created.status !== 200) {
    throw new Error(
      `creating the ${plan.label} release failed: HTTP ${created.status} ${JSON.stringify(created.body)}`,
    );
  }
  print(
    plan.label,
    `created ${plan.request.releaseId} (${plan.request.model.name} ${plan.request.model.version}) by rm-alice`,
  );
}

async function status(releaseId: string): Promise<ReleaseStatus> {
  const response = await api<ReleaseStatus>('GET', `/releases/${releaseId}`, 'au-erin');
  if (response.status !== 200)
    throw new Error(`reading ${releaseId} failed: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

async function follow(plan: (typeof plans)[number], deadline: number): Promise<ReleaseStatus> {
  const releaseId = plan.request.releaseId;
  let seen = 0;
  const signedBy = new Set<string>();
  for (;;) {
    const current = await status(releaseId);
    for (const event of current.timeline.slice(seen)) {
      print(plan.label, `${event.cloud ? `[${event.cloud}] ` : ''}${event.event}`);
    }
    seen = current.timeline.length;
    if (current.stage === 'awaiting-signoff') {
      for (const approver of ['dr-bob', 'dr-carol'].filter((id) => !signedBy.has(id))) {
        const response = await api<{ approvals?: number; code?: string; message?: string }>(
          'POST',
          `/releases/${releaseId}/signoff`,
          approver,
          {
            decision: 'approve',
            comment: `Reviewed staging evaluation and compliance report for ${plan.request.model.name} ${plan.request.model.version}.`,
          },
        );
        signedBy.add(approver);
        print(
          plan.label,
          `sign-off by ${approver}: HTTP ${response.status} ${response.status === 200 ? `(${response.body.approvals} approvals)` : `${response.body.code}: ${response.body.message}`}`,
        );
      }
    }
    if (current.outcome) return current;
    if (Date.now() > deadline)
      throw new Error(`${releaseId} did not finish in time (stage ${current.stage})`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** One row per cloud: the canary weight over time, as a strip of blocks (one per event). */
function timelineChart(status: ReleaseStatus): string {
  const start = Date.parse(status.timeline[0]?.at ?? status.requestedAt);
  const end = Date.parse(status.updatedAt);
  const width = 60;
  const column = (at: string) =>
    Math.min(width - 1, Math.floor(((Date.parse(at) - start) / Math.max(1, end - start)) * width));
  const glyph = (weight: number) =>
    weight === 0 ? '·' : weight < 25 ? '▁' : weight < 50 ? '▃' : weight < 100 ? '▅' : '█';
  const lines = [
    `  ${status.releaseId}: ${status.outcome} after ${((end - start) / 1000).toFixed(0)} s   (canary weight: · 0  ▁ <25  ▃ <50  ▅ <100  █ 100, ‖ held for a re-check, ✗ failed, ↺ restored)`,
  ];
  for (const cloud of Object.keys(status.clouds)) {
    const row = Array.from({ length: width }, () => ' ');
    let weight = 0;
    for (const event of status.timeline.filter((entry) => entry.cloud === cloud)) {
      const match = /weight set to (\d+)%/.exec(event.event);
      if (match) weight = Number(match[1]);
      const at = column(event.at);
      if (/marginal .*holding for re-check/.test(event.event)) row[at] = '‖';
      else if (/failed/.test(event.event)) row[at] = '✗';
      else if (/restored/.test(event.event)) {
        row[at] = '↺';
        weight = 0;
      } else row[at] = glyph(weight);
    }
    // Carry the weight forward between events.
    let last = ' ';
    for (let index = 0; index < width; index++) {
      if (row[index] === ' ' && last !== ' ' && last !== '✗' && last !== '↺') row[index] = last;
      last = row[index]!;
    }
    lines.push(`  ${cloud.padEnd(6)} |${row.join('')}| ${status.clouds[cloud]!.state}`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  console.log(`medrelease demo against ${apiUrl} (analysis interval ${interval} s)\n`);
  for (const plan of plans) await createAndSignOff(plan);
  const deadline = Date.now() + Number(options['timeout-minutes']) * 60_000;
  const results = await Promise.all(plans.map((plan) => follow(plan, deadline)));

  console.log('\nTimelines:');
  for (const result of results) console.log(timelineChart(result) + '\n');

  let ok = true;
  for (const [index, plan] of plans.entries()) {
    const result = results[index]!;
    const clouds = Object.values(result.clouds);
    const cloudsOk =
      plan.expected === 'completed'
        ? clouds.every((cloud) => cloud.state === 'promoted')
        : clouds.every((cloud) => cloud.state === 'rolled-back');
    const passed = result.outcome === plan.expected && cloudsOk;
    ok &&= passed;
    console.log(
      `${passed ? 'ok  ' : 'FAIL'} ${plan.label}: ${result.releaseId} ended ${result.outcome} (expected ${plan.expected})` +
        `${result.reason ? ` — ${result.reason.code}: ${result.reason.message}` : ''}; clouds ${clouds.map((cloud) => `${cloud.cloud}=${cloud.state}`).join(', ')}`,
    );
  }
  if (config.temporal.uiUrl) {
    const query = encodeURIComponent(`MedreleaseModel IN ("chest-xray-triage", "sepsis-risk")`);
    console.log(
      `\nIn the Temporal UI: ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows?query=${query}`,
    );
  }
  console.log(
    `\ndemo summary: ${ok ? 'both releases ended as expected' : 'a release did NOT end as expected'} (healthy → ${results[0]!.outcome}, faulty → ${results[1]!.outcome})`,
  );
  return ok ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
