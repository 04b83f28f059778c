// npm run examples:manifests — keeps the shipped example manifests true. For each complete example
// (EXAMPLE_RELEASES: examples/manifests/compliant.yaml, a chest-xray-triage release, and
// examples/manifests/sepsis-risk.yaml) it writes the derived fields (the artifact's signature bundle
// from examples/signing/ inline, and each approval's signedPayloadDigest bound to the manifest as it
// is) and the release request carrying it (examples/release-request.json,
// examples/release-request.sepsis.json); it writes one failing example per common failure, derived
// from compliant.yaml, to examples/manifests/failures/. Then it runs the gate on every one of them as
// of the examples' date, each complete example with its gate history, checks that each release
// request is valid for the default configuration, and fails if anything does not come out as labelled.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument, stringify } from 'yaml';
import { evaluateRelease } from '../activities/compliance/evaluate.js';
import { approvalPayloadDigest } from '../activities/compliance/facts.js';
import { readManifest } from '../activities/compliance/manifest.js';
import { loadPolicyBundle, type PolicyBundle } from '../activities/compliance/policy.js';
import { parseConfig } from '../domain/config.js';
import type { NormalizedManifest } from '../domain/manifest.js';
import type { CreateReleaseRequest } from '../domain/release.js';
import { releaseRequestProblems } from '../domain/release-input.js';
import {
  EXAMPLE_TIME,
  EXAMPLE_FAILURES,
  EXAMPLE_RELEASES,
  exampleHistory,
  type ExampleRelease,
} from '../activities/compliance/examples.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MANIFESTS = path.join(ROOT, 'examples', 'manifests');
const log = (line: string) => console.log(`[examples] ${line}`);

/** The release settings of a new example request (an existing request file keeps its own). */
const REQUEST_SETTINGS = {
  pilotCloud: 'aws',
  canary: { steps: [5, 25, 50, 100], analysisIntervalSeconds: 10 },
  signoff: { quorum: 2, deadlineSeconds: 86400 },
  keepWarmSeconds: 60,
};

function normalized(text: string, file: string): NormalizedManifest {
  const result = readManifest(text);
  if (result.problems) throw new Error(`${file}: ${JSON.stringify(result.problems, null, 2)}`);
  return result.manifest;
}

/** Inlines the signature bundle and binds the approvals; returns the manifest as written. */
async function writeDerivedFields(example: ExampleRelease): Promise<NormalizedManifest> {
  const file = path.join(MANIFESTS, example.manifest);
  const document = parseDocument(readFileSync(file, 'utf8'));
  const bundle = JSON.parse(
    readFileSync(path.join(ROOT, 'examples', 'signing', example.bundle), 'utf8'),
  ) as unknown;
  document.setIn(['model', 'artifact', 'signature', 'bundle'], document.createNode(bundle, { flow: false }));
  // Approvals sign the manifest without its approvals, so they can be bound after everything else.
  const digest = approvalPayloadDigest(normalized(document.toString(), file));
  const approvals = document.getIn(['approvals']) as { items: unknown[] } | undefined;
  approvals?.items.forEach((_, index) => document.setIn(['approvals', index, 'signedPayloadDigest'], digest));
  writeFileSync(file, await formatted(document.toString({ lineWidth: 110 }), file));
  log(`${example.manifest}: signature bundle inlined, approvals bound to ${digest}`);
  return normalized(readFileSync(file, 'utf8'), file);
}

/** Every control must pass: a complete example is the reference of a compliant release. */
function checkComplete(
  example: ExampleRelease,
  manifest: NormalizedManifest,
  policy: PolicyBundle,
  problems: string[],
): void {
  const context = { now: EXAMPLE_TIME, history: exampleHistory(path.join(MANIFESTS, example.history)) };
  const report = evaluateRelease(manifest, policy, context);
  const notPassing = report.controls.filter((control) => control.status !== 'pass');
  if (report.decision !== 'pass' || notPassing.length > 0)
    problems.push(
      `${example.manifest} is ${report.decision} with ${example.history}: ${[
        ...report.reasons,
        ...notPassing.map((control) => `${control.id} ${control.status}`),
      ].join('; ')}`,
    );
  else
    log(
      `${example.manifest} passes with ${example.history}: score ${report.score}, all ${report.counts.pass} controls pass`,
    );
}

/** The release request carrying the manifest (its release settings kept when the file exists). */
async function writeRequest(
  example: ExampleRelease,
  manifest: NormalizedManifest,
  problems: string[],
): Promise<void> {
  const requestFile = path.join(ROOT, 'examples', example.request);
  const request = existsSync(requestFile)
    ? (JSON.parse(readFileSync(requestFile, 'utf8')) as Record<string, unknown>)
    : { model: {}, clouds: [], ...structuredClone(REQUEST_SETTINGS) };
  const { kubernetesManifests, ...rest } = manifest;
  request.model = {
    name: manifest.model.name,
    version: manifest.model.version,
    image: manifest.model.artifact.image,
    intendedUse: manifest.regulatory?.intendedUse,
  };
  request.clouds = manifest.deployment.targets.map((target) => target.cloud);
  delete request.dataResidency;
  request.manifest = { ...rest, kubernetesManifests };
  writeFileSync(requestFile, await formatted(JSON.stringify(request, null, 2), requestFile));
  const invalid = releaseRequestProblems(request as unknown as CreateReleaseRequest, parseConfig({}));
  if (invalid.length > 0)
    problems.push(
      `${example.request} is not a valid release request for the default configuration: ${invalid
        .map((problem) => `${problem.field} ${problem.message}`)
        .join('; ')}`,
    );
  else log(`${example.request} carries ${example.manifest}`);
}

async function main(): Promise<void> {
  const policy = loadPolicyBundle(path.join(ROOT, 'policies'));
  const problems: string[] = [];
  const complete: { example: ExampleRelease; manifest: NormalizedManifest }[] = [];
  for (const example of EXAMPLE_RELEASES) {
    const manifest = await writeDerivedFields(example);
    checkComplete(example, manifest, policy, problems);
    await writeRequest(example, manifest, problems);
    complete.push({ example, manifest });
  }

  // The failures are variants of the first complete example, judged with its history.
  const { example: base, manifest: compliant } = complete[0]!;
  const context = { now: EXAMPLE_TIME, history: exampleHistory(path.join(MANIFESTS, base.history)) };
  mkdirSync(path.join(MANIFESTS, 'failures'), { recursive: true });
  for (const failure of EXAMPLE_FAILURES) {
    const manifest = structuredClone(compliant);
    failure.mutate(manifest);
    if (!failure.keepApprovals) {
      const bound = approvalPayloadDigest(manifest);
      for (const approval of manifest.approvals ?? []) approval.signedPayloadDigest = bound;
    }
    const target = path.join(MANIFESTS, 'failures', `${failure.file}.yaml`);
    const header =
      `# A failing example: ${failure.title}\n` +
      `# Generated by \`npm run examples:manifests\` from ${base.manifest}; the gate blocks it with\n` +
      `# ${failure.controls.join(', ')} not passing (evaluated as of ${EXAMPLE_TIME.toISOString()}).\n` +
      `# How to fix it: ${failure.fix}\n`;
    writeFileSync(target, await formatted(header + stringify(manifest, { lineWidth: 110 }), target));
    const result = evaluateRelease(normalized(readFileSync(target, 'utf8'), target), policy, context);
    const notPassing = result.controls.filter(
      (control) => control.status === 'fail' || control.status === 'error',
    );
    const missing = failure.controls.filter((id) => !notPassing.some((control) => control.id === id));
    if (result.decision !== 'blocked' || missing.length > 0)
      problems.push(
        `failures/${failure.file}.yaml: ${result.decision}, expected ${failure.controls.join(', ')} to fail (missing: ${missing.join(', ') || '-'})`,
      );
    else log(`failures/${failure.file}.yaml blocked: ${notPassing.map((control) => control.id).join(', ')}`);
  }

  if (problems.length > 0) {
    for (const problem of problems) console.error(`[examples] PROBLEM ${problem}`);
    process.exit(1);
  }
}

/** Formats like the repository's prettier setup, so the written files pass `npm run lint`. */
async function formatted(text: string, file: string): Promise<string> {
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...options, filepath: file });
}

await main();
