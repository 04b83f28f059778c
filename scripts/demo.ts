// `npm run demo`, against a running `npm start`: drives three releases through the REST API, each
// built from a shipped example release request (examples/release-request.json, a chest-xray-triage
// 2.5.0 release, and examples/release-request.sepsis.json, sepsis-risk 1.9.0) with its manifest dated
// today (redateExample): a healthy one that passes the compliance gate, that both demo approvers sign
// off and that completes; a faulty one that passes the gate but whose canary gets an injected error
// spike in its second cloud and is rolled back in every cloud; and one whose manifest has a common
// failure injected (a privileged model container), which the gate blocks before any cloud is touched.
// Prints progress as it goes, each release's compliance report as the gate decides it, a timeline
// chart of each release, and a summary line; exits non-zero unless each ended as expected.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EXAMPLE_FAILURES, EXAMPLE_RELEASES, redateExample } from '../activities/compliance/examples.js';
import { approvalPayloadDigest } from '../activities/compliance/facts.js';
import type { ComplianceReport, ControlResult } from '../domain/compliance.js';
import type { NormalizedManifest } from '../domain/manifest.js';
import type { CreateReleaseRequest, FaultPlan, TerminalStage } from '../domain/release.js';
import type { ReleaseStatus } from '../domain/status.js';
import { devTokensFile, type DevTokens } from './dev-identity.js';

const { values: options } = parseArgs({
  options: {
    api: { type: 'string' },
    // Where `npm start` wrote its effective configuration: .data/ of the folder it runs in, whatever
    // its data directory (MEDRELEASE_DATA_DIR) is; pass it when the demo runs from another folder.
    config: { type: 'string', default: '.data/effective-config.json' },
    'tokens-file': { type: 'string' },
    interval: { type: 'string', default: '3' },
    'timeout-minutes': { type: 'string', default: '10' },
  },
});

/** The repository root (this file runs from dist/scripts/): the shipped example requests are there. */
const repoRoot = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

interface EffectiveConfig {
  dataDir: string;
  api: { host: string; port: number };
  temporal: { uiUrl?: string; namespace: string };
}

async function readJson<T>(file: string, what: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    throw new Error(
      `cannot read ${what} at ${file} (is 'npm start' running in this folder? Otherwise pass --config <its .data/effective-config.json>): ${(error as Error).message}`,
    );
  }
}

const config = await readJson<EffectiveConfig>(options.config, 'the configuration written by npm start');
const apiUrl =
  options.api ?? `http://${config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host}:${config.api.port}`;
const { users } = await readJson<DevTokens>(
  options['tokens-file'] ?? devTokensFile(config),
  'the demo users’ tokens (npm start writes them when it runs the development issuer)',
);
const token = (id: string) => {
  const user = users.find((candidate) => candidate.id === id);
  if (!user) throw new Error(`demo user '${id}' is missing from the tokens file`);
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
/** The failure injected into the blocked release (a blocker: the gate ends the release at once). */
const BLOCKED_FAILURE = EXAMPLE_FAILURES.find((failure) => failure.file === 'privileged-container')!;

interface Plan {
  label: 'healthy' | 'faulty' | 'blocked';
  expected: TerminalStage;
  request: CreateReleaseRequest & { releaseId: string; manifest: NormalizedManifest };
  /** Controls the gate must find failing (the injected failure's); none: the gate must pass it. */
  failingControls: string[];
}

/** A release from a shipped example request, its manifest dated now (and a failure injected, if any). */
async function fromExample(
  model: string,
  releaseId: string,
  settings: { faultPlan?: FaultPlan; failure?: (typeof EXAMPLE_FAILURES)[number] },
): Promise<Plan['request']> {
  const example = EXAMPLE_RELEASES.find((candidate) => candidate.model === model)!;
  const shipped = await readJson<CreateReleaseRequest & { manifest: NormalizedManifest }>(
    path.join(repoRoot, 'examples', example.request),
    `the example release request of ${model}`,
  );
  const manifest = redateExample(shipped.manifest, new Date());
  if (settings.failure) {
    settings.failure.mutate(manifest);
    // The approvals are collected again for the changed manifest, unless the failure is about them.
    if (!settings.failure.keepApprovals) {
      const digest = approvalPayloadDigest(manifest);
      for (const approval of manifest.approvals ?? []) approval.signedPayloadDigest = digest;
    }
  }
  return {
    ...shipped,
    releaseId,
    canary: { steps: [5, 25, 50, 100], analysisIntervalSeconds: interval },
    signoff: { quorum: 2, deadlineSeconds: 600 },
    keepWarmSeconds: interval,
    ...(settings.faultPlan ? { faultPlan: settings.faultPlan } : {}),
    manifest,
  };
}

const plans: Plan[] = [
  {
    label: 'healthy',
    expected: 'completed',
    // A brief latency creep in gcp's first window at 100 %: the judge finds it marginal, the weight
    // is held and the step re-checked on a fresh window, which passes.
    request: await fromExample('chest-xray-triage', `demo-${stamp}-healthy`, {
      faultPlan: { telemetry: [{ cloud: 'gcp', kind: 'latency-creep', fromStep: 3, transient: true }] },
    }),
    failingControls: [],
  },
  {
    label: 'faulty',
    expected: 'rolled-back',
    // The second cloud (azure, in the second wave) starts failing at its second step.
    request: await fromExample('sepsis-risk', `demo-${stamp}-faulty`, {
      faultPlan: { telemetry: [{ cloud: 'azure', kind: 'error-spike', fromStep: 1 }] },
    }),
    failingControls: [],
  },
  {
    label: 'blocked',
    expected: 'blocked',
    request: await fromExample('chest-xray-triage', `demo-${stamp}-blocked`, { failure: BLOCKED_FAILURE }),
    failingControls: BLOCKED_FAILURE.controls,
  },
];

const print = (label: string, line: string) =>
  console.log(`${new Date().toISOString().slice(11, 19)}  ${label.padEnd(8)} ${line}`);

/**
 * The gate keeps its own record of what each model has deployed: once this installation completed a
 * release of an example version, the gate rightly refuses to release the same version again (it no
 * longer replaces the deployed one), so the demo needs fresh state.
 */
async function alreadyDeployed(): Promise<string[]> {
  const found: string[] = [];
  for (const plan of plans.filter((candidate) => candidate.expected === 'completed')) {
    const { name, version } = plan.request.model;
    const query = new URLSearchParams({ model: name, version, stage: 'completed', limit: '1' });
    const response = await api<{ releases?: { releaseId: string }[] }>(
      'GET',
      `/v1/releases?${query.toString()}`,
      'au-erin',
    );
    const release = response.status === 200 ? response.body.releases?.[0] : undefined;
    if (release) found.push(`${name} ${version} (release ${release.releaseId})`);
  }
  return found;
}

async function create(plan: Plan): Promise<void> {
  const created = await api<{ releaseId: string; code?: string; message?: string }>(
    'POST',
    '/v1/releases',
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
    `created ${plan.request.releaseId} (${plan.request.model.name} ${plan.request.model.version}` +
      `${plan.label === 'blocked' ? `, with a failure injected: ${BLOCKED_FAILURE.title}` : ''}) by rm-alice`,
  );
}

const failing = (control: ControlResult) => control.status === 'fail' || control.status === 'error';

const brief = (value: unknown) => {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 70 ? `${text.slice(0, 67)}...` : text;
};

/** The gate's report as the API serves it: decision, score, and each failing control with its first evidence. */
async function printCompliance(plan: Plan): Promise<ComplianceReport | undefined> {
  const route = `/v1/releases/${plan.request.releaseId}/compliance`;
  const response = await api<{ report?: ComplianceReport; code?: string; message?: string }>(
    'GET',
    route,
    'au-erin',
  );
  const report = response.body.report;
  if (response.status !== 200 || !report) {
    print(
      plan.label,
      `GET ${route}: HTTP ${response.status} ${response.body.code}: ${response.body.message}`,
    );
    return undefined;
  }
  const { counts } = report;
  print(
    plan.label,
    `compliance report (GET ${route}): ${report.decision.toUpperCase()}, score ${report.score} (minimum ${report.minScore}); ` +
      `${counts.pass} pass, ${counts.fail} fail, ${counts.error} error, ${counts.not_applicable} not applicable`,
  );
  for (const control of report.controls.filter(failing)) {
    const item = control.evidence.find((entry) => entry.status !== 'pass') ?? control.evidence[0];
    print(
      plan.label,
      `  ✗ ${control.severity} ${control.id} ${control.status}` +
        (item ? ` at ${item.path}: observed ${brief(item.observed)}, expected ${brief(item.expected)}` : ''),
    );
  }
  return report;
}

async function status(releaseId: string): Promise<ReleaseStatus> {
  const response = await api<ReleaseStatus>('GET', `/v1/releases/${releaseId}`, 'au-erin');
  if (response.status !== 200)
    throw new Error(`reading ${releaseId} failed: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

interface Followed {
  status: ReleaseStatus;
  /** The gate's latest report (GET /v1/releases/{id}/compliance), if the release reached the gate. */
  report?: ComplianceReport;
}

async function follow(plan: Plan, deadline: number): Promise<Followed> {
  const releaseId = plan.request.releaseId;
  let seen = 0;
  const signedBy = new Set<string>();
  let report: ComplianceReport | undefined;
  for (;;) {
    const current = await status(releaseId);
    for (const event of current.timeline.slice(seen)) {
      print(plan.label, `${event.cloud ? `[${event.cloud}] ` : ''}${event.event}`);
    }
    seen = current.timeline.length;
    // Each evaluation of the gate (one, or one per waiver) is printed as it is decided.
    if (current.compliance && current.compliance.evaluatedAt !== report?.evaluatedAt)
      report = (await printCompliance(plan)) ?? current.compliance;
    if (current.stage === 'awaiting-signoff') {
      for (const approver of ['dr-bob', 'dr-carol'].filter((id) => !signedBy.has(id))) {
        const response = await api<{ approvals?: number; code?: string; message?: string }>(
          'POST',
          `/v1/releases/${releaseId}/signoff`,
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
    if (current.outcome) return { status: current, ...(report ? { report } : {}) };
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
  const deployed = await alreadyDeployed();
  if (deployed.length > 0) {
    console.error(
      `This installation has already released ${deployed.join(' and ')}: its compliance gate records that version as ` +
        'deployed and would now rightly block releasing it again, so the healthy release could not complete. ' +
        `Run the demo on fresh state: stop npm start, move its data directory (${config.dataDir}) away or give it ` +
        'an empty one (MEDRELEASE_DATA_DIR=<folder>), and start it again.',
    );
    return 1;
  }
  for (const plan of plans) await create(plan);
  const deadline = Date.now() + Number(options['timeout-minutes']) * 60_000;
  const results = await Promise.all(plans.map((plan) => follow(plan, deadline)));

  console.log('\nTimelines:');
  for (const result of results) console.log(timelineChart(result.status) + '\n');

  let ok = true;
  for (const [index, plan] of plans.entries()) {
    const { status: result, report } = results[index]!;
    const clouds = Object.values(result.clouds);
    const cloudStates = clouds.map((cloud) => `${cloud.cloud}=${cloud.state}`).join(', ');
    const cloudsOk =
      plan.expected === 'completed'
        ? clouds.every((cloud) => cloud.state === 'promoted')
        : plan.expected === 'rolled-back'
          ? clouds.every((cloud) => cloud.state === 'rolled-back')
          : // Blocked at the gate: no cloud was ever touched.
            clouds.every((cloud) => cloud.state === 'pending') &&
            !result.timeline.some((event) => event.cloud);
    const notPassing = (report?.controls ?? []).filter(failing).map((control) => control.id);
    const gateOk =
      plan.failingControls.length === 0
        ? report?.decision === 'pass'
        : report?.decision === 'blocked' && plan.failingControls.every((id) => notPassing.includes(id));
    const passed = result.outcome === plan.expected && cloudsOk && gateOk;
    ok &&= passed;
    console.log(
      `${passed ? 'ok  ' : 'FAIL'} ${plan.label}: ${result.releaseId} (${result.model.name} ${result.model.version}) ` +
        `ended ${result.outcome} (expected ${plan.expected}); compliance gate ${report?.decision ?? 'not reached'}` +
        `${report ? `, score ${report.score}` : ''}${notPassing.length > 0 ? ` (failing: ${notPassing.join(', ')})` : ''}` +
        `${result.reason ? ` — ${result.reason.code}${plan.expected === 'blocked' ? '' : `: ${result.reason.message}`}` : ''}; ` +
        `clouds ${cloudStates}${plan.expected === 'blocked' ? ' (none touched)' : ''}`,
    );
  }
  if (config.temporal.uiUrl) {
    const query = encodeURIComponent(`MedreleaseModel IN ("chest-xray-triage", "sepsis-risk")`);
    console.log(
      `\nIn the Temporal UI: ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows?query=${query}`,
    );
  }
  console.log(
    `\ndemo summary: ${ok ? 'all three releases ended as expected' : 'a release did NOT end as expected'} ` +
      `(${plans.map((plan, index) => `${plan.label} → ${results[index]!.status.outcome}`).join(', ')})`,
  );
  return ok ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
