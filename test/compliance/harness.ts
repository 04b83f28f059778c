// Shared by the policy-pack tests and bench:compliance: the shipped policy bundle, the compliant
// example manifest (with its signature bundle and re-bound approvals), its history, and running a
// case of the violation catalog through the real gate.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ComplianceReport, ControlResult } from '../../domain/compliance.js';
import type { NormalizedManifest } from '../../domain/manifest.js';
import { evaluateManifest } from '../../activities/compliance/engine.js';
import { verifyManifestSignature } from '../../activities/compliance/evaluate.js';
import { approvalPayloadDigest } from '../../activities/compliance/facts.js';
import { readManifest } from '../../activities/compliance/manifest.js';
import { loadPolicyBundle, type PolicyBundle } from '../../activities/compliance/policy.js';
import type { CaseContext, ComplianceCase } from '../../bench/compliance/cases/types.js';

/** The repository root (this file runs from dist/test/compliance/). */
export const ROOT = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const POLICY_DIR = path.join(ROOT, 'policies');
export const EXAMPLES_DIR = path.join(ROOT, 'examples', 'manifests');
/** The examples are dated: they are evaluated as of this time. */
export const EXAMPLE_NOW = new Date('2026-11-28T12:00:00Z');

let bundle: PolicyBundle | undefined;
export function shippedBundle(): PolicyBundle {
  bundle ??= loadPolicyBundle(POLICY_DIR);
  return bundle;
}

/** Reads and normalises a manifest file, failing loudly if it is not a valid manifest. */
export function loadManifestFile(file: string): NormalizedManifest {
  const result = readManifest(readFileSync(file, 'utf8'));
  if (result.problems) throw new Error(`${file} is not a valid manifest: ${JSON.stringify(result.problems)}`);
  return result.manifest;
}

let example: NormalizedManifest | undefined;
/** A fresh deep copy of the compliant example. */
export function compliantManifest(): NormalizedManifest {
  example ??= loadManifestFile(path.join(EXAMPLES_DIR, 'compliant.yaml'));
  return structuredClone(example);
}

export function exampleHistory(): CaseContext['history'] {
  return JSON.parse(readFileSync(path.join(EXAMPLES_DIR, 'history.json'), 'utf8')) as CaseContext['history'];
}

export function defaultContext(): CaseContext {
  return { now: new Date(EXAMPLE_NOW), history: exampleHistory(), waivers: [] };
}

/** Re-binds every approval to the manifest as it now is (what re-collecting the approvals does). */
export function rebindApprovals(manifest: NormalizedManifest): void {
  const digest = approvalPayloadDigest(manifest);
  for (const approval of manifest.approvals ?? []) approval.signedPayloadDigest = digest;
}

export function evaluate(
  manifest: NormalizedManifest,
  context: CaseContext = defaultContext(),
): ComplianceReport {
  const policy = shippedBundle();
  const signature =
    context.signature !== undefined
      ? context.signature
      : verifyManifestSignature(manifest, policy.data, context.now);
  return evaluateManifest(manifest, policy, {
    now: context.now,
    signature,
    history: context.history,
    waivers: context.waivers,
  });
}

/** Runs one case on a fresh copy of the compliant example. */
export async function runCase(
  testCase: ComplianceCase,
): Promise<{ report: ComplianceReport; control: ControlResult; manifest: NormalizedManifest }> {
  const manifest = compliantManifest();
  rebindApprovals(manifest);
  const context = defaultContext();
  await testCase.mutate(manifest, context);
  if (!testCase.keepApprovalDigests) rebindApprovals(manifest);
  const report = evaluate(manifest, context);
  const control = report.controls.find((result) => result.id === testCase.control);
  if (!control) throw new Error(`the shipped policy has no control ${testCase.control}`);
  return { report, control, manifest };
}

/** A compact description of a control result for assertion messages. */
export function explain(control: ControlResult): string {
  const items = control.evidence
    .filter((item) => item.status !== 'pass')
    .map(
      (item) => `${item.status} ${item.path}: ${item.message ?? `observed ${JSON.stringify(item.observed)}`}`,
    );
  return `${control.id} is ${control.status}${items.length > 0 ? `: ${items.join('; ')}` : ''}`;
}
