// Shared by the policy-pack tests and bench:compliance: the shipped policy bundle, the compliant
// example manifest (with its signature bundle and re-bound approvals), its history, and running a
// case of the violation catalog through the real gate. Below those, what the pack test files
// (test/compliance/<pack>.test.ts) share: the catalog tests, the pack's controls, evidence lookups.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ComplianceReport, ControlResult, EvidenceItem, Severity } from '../../domain/compliance.js';
import type { NormalizedManifest } from '../../domain/manifest.js';
import { evaluateManifest } from '../../activities/compliance/engine.js';
import { evaluateRelease } from '../../activities/compliance/evaluate.js';
import { approvalPayloadDigest } from '../../activities/compliance/facts.js';
import { readManifest } from '../../activities/compliance/manifest.js';
import {
  loadPolicyBundle,
  type CompiledControl,
  type PolicyBundle,
} from '../../activities/compliance/policy.js';
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
  return evaluateRelease(manifest, shippedBundle(), context);
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

// ---------------------------------------------------------------------------------------------
// Shared by the pack test files.

/** What runCase returns: the report, the case's own control, and the manifest as evaluated. */
export type CaseResult = Awaited<ReturnType<typeof runCase>>;

/** A control of a pack with the severity the catalog (compliance-controls.md) gives it. */
export type ControlSeverity = [id: string, severity: Severity];

const caseResults = new WeakMap<ComplianceCase, Promise<CaseResult>>();

/** runCase, once per case and process: a file's catalog tests and evidence tests share the result. */
export function runCaseOnce(testCase: ComplianceCase): Promise<CaseResult> {
  let result = caseResults.get(testCase);
  if (!result) {
    result = runCase(testCase);
    caseResults.set(testCase, result);
  }
  return result;
}

/** A case of a catalog by control and name (throws if it was renamed). */
export function catalogCase(cases: readonly ComplianceCase[], control: string, name: string): ComplianceCase {
  const found = cases.find((entry) => entry.control === control && entry.name === name);
  if (!found) throw new Error(`no case '${name}' for ${control}`);
  return found;
}

/** The result of one control among others (asserts it was evaluated). */
export function controlOf(controls: readonly ControlResult[], id: string): ControlResult {
  const found = controls.find((control) => control.id === id);
  assert.ok(found, `${id} was evaluated`);
  return found;
}

/** The non-passing evidence items of a control. */
export function problems(control: ControlResult): EvidenceItem[] {
  return control.evidence.filter((item) => item.status !== 'pass');
}

/** The one non-passing evidence item of a control at a JSON pointer (asserts there is exactly one). */
export function problemAt(control: ControlResult, path: string): EvidenceItem {
  const found = problems(control).filter((item) => item.path === path);
  assert.equal(found.length, 1, `${explain(control)}: expected one problem at ${path}`);
  return found[0]!;
}

/** The first evidence item of a check (named by its start), with this status if given (asserts one). */
export function evidenceItem(
  result: ControlResult,
  check: string,
  status?: EvidenceItem['status'],
): EvidenceItem {
  const found = result.evidence.find(
    (entry) => entry.check.startsWith(check) && (!status || entry.status === status),
  );
  assert.ok(found, `${result.id} has ${status ?? 'an'} item of '${check}': ${explain(result)}`);
  return found;
}

/** JSON pointer of the first Kubernetes object of a manifest with this kind (and name); asserts one. */
export function objectPointer(manifest: NormalizedManifest, kind: string, name?: string): string {
  const index = manifest.kubernetesManifests.findIndex(
    (object) =>
      object.kind === kind &&
      (name === undefined || (object.metadata as Record<string, unknown> | undefined)?.name === name),
  );
  assert.ok(index >= 0, `the manifest has a ${kind}`);
  return `/kubernetesManifests/${index}`;
}

/**
 * The controls of the compliant example (after an optional edit, approvals re-bound) evaluated with
 * some policy data replaced (and the keys in `drop` removed), without a signature verification.
 */
export function evaluateWithPolicyData(
  data: Record<string, unknown>,
  edit: (manifest: NormalizedManifest) => void = () => {},
  drop: readonly string[] = [],
): ControlResult[] {
  const manifest = compliantManifest();
  edit(manifest);
  rebindApprovals(manifest);
  const shipped = shippedBundle();
  const merged: Record<string, unknown> = { ...shipped.data, ...data };
  for (const key of drop) delete merged[key];
  const policy: PolicyBundle = { ...shipped, data: merged };
  const context = defaultContext();
  return evaluateManifest(manifest, policy, { now: context.now, signature: null, history: context.history })
    .controls;
}

/**
 * For the describe block it is called in, narrows the shipped bundle (which runCase evaluates) to
 * these controls: a pack's tests assert only on its own controls, and hundreds of gate runs over the
 * pack alone stay fast. (The whole catalog against the whole bundle is catalog.test.ts.)
 */
export function narrowBundleTo(ids: Iterable<string>): void {
  const wanted = new Set(ids);
  const bundle = shippedBundle();
  const allControls = bundle.controls;
  before(() => {
    bundle.controls = allControls.filter((control) => wanted.has(control.definition.id));
  });
  after(() => {
    bundle.controls = allControls;
  });
}

/**
 * Asserts the shipped controls of a pack are exactly `expected` (ids in order, severities) and
 * returns them; with `part`, only the pack's controls listed in `expected` (a pack split across files).
 */
export function assertPackControls(
  pack: string,
  expected: readonly ControlSeverity[],
  { part = false }: { part?: boolean } = {},
): CompiledControl[] {
  const listed = new Set(expected.map(([id]) => id));
  const own = shippedBundle().controls.filter(
    (control) => control.pack === pack && (!part || listed.has(control.definition.id)),
  );
  assert.deepEqual(
    own.map((control) => [control.definition.id, control.severity]),
    expected,
  );
  return own;
}

/** Asserts every control cites its source and has a description for regulatory staff. */
export function assertDocumented(controls: readonly CompiledControl[]): void {
  for (const control of controls) {
    assert.ok(control.definition.source.length > 20, `${control.definition.id} cites its source`);
    assert.ok(control.definition.description.length > 100, `${control.definition.id} is described`);
  }
}

/** Asserts the compliant example (approvals re-bound, after an optional edit) passes these controls. */
export async function assertExamplePasses(
  ids: readonly string[],
  edit: ComplianceCase['mutate'] = () => {},
): Promise<void> {
  const { report } = await runCase({
    control: ids[0]!,
    name: 'the compliant example',
    kind: 'near-miss',
    mutate: edit,
  });
  for (const id of ids) {
    const control = controlOf(report.controls, id);
    assert.equal(control.status, 'pass', explain(control));
  }
}

/**
 * What is wrong with the outcome of a case (nothing: empty). A violation must not pass, and its
 * evidence must name what is wrong; a near miss must pass, and so must every other evaluated control
 * of its pack.
 */
export function wrongOutcomes(testCase: ComplianceCase, { control, report }: CaseResult): string[] {
  if (testCase.kind === 'violation') {
    if (control.status !== 'fail' && control.status !== 'error')
      return [`must not pass: ${explain(control)}`];
    return problems(control).length > 0 ? [] : [`${control.id}: the evidence names nothing wrong`];
  }
  return report.controls
    .filter((result) => result.pack === control.pack && result.status !== 'pass')
    .map((result) => `must pass: ${explain(result)}`);
}

/** Asserts each control has at least 10 violations and 2 near misses in a catalog, uniquely named. */
export function assertCatalogShape(cases: readonly ComplianceCase[], ids: readonly string[]): void {
  for (const id of ids) {
    const own = cases.filter((entry) => entry.control === id);
    assert.ok(own.filter((entry) => entry.kind === 'violation').length >= 10, `${id} violations`);
    assert.ok(own.filter((entry) => entry.kind === 'near-miss').length >= 2, `${id} near misses`);
    assert.equal(new Set(own.map((entry) => entry.name)).size, own.length, `${id} case names are unique`);
  }
}

export interface CatalogTestOptions {
  /** One test per control that runs all its cases and lists every wrong outcome (default: one per case). */
  perControl?: boolean;
  /** Whether each control's block tests the shape of its share of the catalog (default true). */
  shapeTests?: boolean;
}

/**
 * Registers a describe block per control: the shape of its share of the catalog, and every case of
 * it run through the gate (see wrongOutcomes).
 */
export function describeCatalogCases(
  cases: readonly ComplianceCase[],
  ids: readonly string[],
  { perControl = false, shapeTests = true }: CatalogTestOptions = {},
): void {
  for (const id of ids) {
    describe(id, () => {
      const own = cases.filter((entry) => entry.control === id);
      if (shapeTests)
        test('has at least 10 violations and 2 near misses, with unique names', () => {
          assertCatalogShape(own, [id]);
        });
      if (perControl)
        test('every violation fails or errors, every near miss passes', async () => {
          const wrong: string[] = [];
          for (const entry of own)
            for (const problem of wrongOutcomes(entry, await runCaseOnce(entry)))
              wrong.push(`${entry.kind} '${entry.name}': ${problem}`);
          assert.deepEqual(wrong, []);
        });
      else
        for (const entry of own)
          test(`${entry.kind}: ${entry.name}`, async () => {
            assert.deepEqual(wrongOutcomes(entry, await runCaseOnce(entry)), []);
          });
    });
  }
}
