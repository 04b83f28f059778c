// The policy engine: evaluates every control of a policy bundle against a release manifest and its
// context, and decides. Pure and deterministic — the same manifest, bundle and context (including
// `now`) give the same report — so a decision can be re-derived years later from what was recorded.
//
// Per control: not_applicable when its rule says so (the rule is recorded); otherwise each check
// yields evidence items (JSON pointer, observed, expected) that pass, fail, or are errors (missing
// evidence, or an expression that could not be evaluated), and so does its completeness schema.
// The control fails if any item fails, is an error if any item is, and passes otherwise.
import type {
  ComplianceReport,
  ControlResult,
  ControlStatus,
  EvidenceItem,
  Waiver,
  WaiverAssessment,
} from '../../domain/compliance.js';
import { SEVERITY_WEIGHTS } from '../../domain/compliance.js';
import type { NormalizedManifest } from '../../domain/manifest.js';
import { isCelList, type CelValue } from '@bufbuild/cel';
import { ExpressionError, fromCel, pointerGet, toCelDeep } from './cel.js';
import { kubernetesFacts, manifestDigests, type KubernetesFacts } from './facts.js';
import { jsonPointerGet } from '../../domain/json-pointer.js';
import type { CompiledCheck, CompiledControl, PolicyBundle } from './policy.js';
import type { SignatureVerification } from './signature.js';

export const ENGINE = { name: 'medrelease-gate', version: '1.0.0' } as const;

/** Passing evidence items kept per control (all failing and erroring items are always kept). */
export const PASSING_EVIDENCE_LIMIT = 20;

export interface PreviousRelease {
  version: string;
  artifactDigest?: string;
  /** Digest of its SBOM document, and of its Kubernetes objects (canonical JSON): what changed since. */
  sbomDigest?: string;
  infraDigest?: string;
  riskFileVersion?: string;
  validation?: NormalizedManifest['validation'];
  labelingVersion?: string;
}

export interface GateContext {
  now: Date;
  /** The gate's own verification of the artifact signature (null: no bundle to verify). */
  signature: SignatureVerification | null;
  /** What the system knows of the model's history: the deployed version and its stored release record. */
  history?: { deployedVersion: string | null; previous: PreviousRelease | null };
  waivers?: Waiver[];
}

interface Scope {
  [name: string]: unknown;
}

/** The scope keeps the plain manifest under this name (not a CEL identifier) for schemas. */
const PLAIN_MANIFEST = '$plainManifest';

const policyCache = new WeakMap<PolicyBundle, CelValue>();
/** The policy data as CEL values, converted once per bundle. */
function policyCel(bundle: PolicyBundle): CelValue {
  let converted = policyCache.get(bundle);
  if (converted === undefined) {
    converted = toCelDeep(bundle.data);
    policyCache.set(bundle, converted);
  }
  return converted;
}

function isMissing(value: unknown): boolean {
  return value === null || value === undefined;
}

function message(error: unknown): string {
  if (error instanceof ExpressionError) return `${error.message} (in: ${error.expression.trim()})`;
  return (error as Error).message;
}

function evaluateCheck(check: CompiledCheck, scope: Scope, items: EvidenceItem[]): void {
  const definition = check.definition;
  let elements: unknown[] = [undefined];
  if (check.each) {
    try {
      const list = check.each(scope);
      if (!isCelList(list)) throw new Error(`'for' must give a list, got ${typeof list}`);
      elements = [...list];
    } catch (error) {
      items.push({
        check: definition.name,
        path: '',
        observed: null,
        expected: definition.expected,
        status: 'error',
        message: message(error),
      });
      return;
    }
  }
  let applied = 0;
  for (const element of elements) {
    const local: Scope = check.each ? { ...scope, [check.as]: element } : scope;
    let pointer = typeof check.path === 'string' ? check.path : '';
    try {
      if (check.when && check.when(local) !== true) continue;
      applied += 1;
      if (typeof check.path !== 'string') pointer = String(fromCel(check.path(local)));
      const raw = check.observed ? check.observed(local) : pointerGet(scope.R, pointer);
      const ok = check.expect({ ...local, value: raw ?? null }) === true;
      const observed = fromCel(raw);
      const status: EvidenceItem['status'] = ok
        ? 'pass'
        : isMissing(observed) && definition.missing !== 'fail'
          ? 'error'
          : 'fail';
      items.push({
        check: definition.name,
        path: pointer,
        observed: observed ?? null,
        expected: definition.expected,
        status,
        ...(status === 'error' ? { message: `missing evidence at ${pointer || '(manifest)'}` } : {}),
      });
    } catch (error) {
      items.push({
        check: definition.name,
        path: pointer,
        observed: null,
        expected: definition.expected,
        status: 'error',
        message: message(error),
      });
    }
  }
  if (check.each && applied === 0) {
    // Vacuously true: record that there was nothing to check, so the evidence says so.
    items.push({
      check: definition.name,
      path: typeof check.path === 'string' ? check.path : '',
      observed: [],
      expected: definition.expected,
      status: 'pass',
      message: 'nothing to check: no element applies',
    });
  }
}

function evaluateSchema(control: CompiledControl, manifest: unknown, items: EvidenceItem[]): void {
  // The schema reads the plain manifest (kept next to its CEL form in the scope).
  const schema = control.schema!;
  const target = jsonPointerGet(manifest, schema.at);
  if (target === undefined) {
    items.push({
      check: schema.name,
      path: schema.at,
      observed: null,
      expected: 'present and complete',
      status: 'error',
      message: `missing evidence at ${schema.at}`,
    });
    return;
  }
  if (schema.validate(target)) {
    items.push({
      check: schema.name,
      path: schema.at,
      observed: 'complete',
      expected: 'complete',
      status: 'pass',
    });
    return;
  }
  for (const error of schema.validate.errors ?? []) {
    const params = error.params as Record<string, unknown>;
    const at =
      error.keyword === 'required'
        ? `${schema.at}${error.instancePath}/${String(params.missingProperty)}`
        : `${schema.at}${error.instancePath}`;
    const observed = jsonPointerGet(manifest, at);
    items.push({
      check: schema.name,
      path: at,
      observed: observed ?? null,
      expected: error.keyword === 'required' ? 'present' : (error.message ?? error.keyword),
      status: observed === undefined ? 'error' : 'fail',
      message:
        error.keyword === 'required' ? `missing evidence at ${at}` : `${at} ${error.message ?? ''}`.trim(),
    });
  }
}

function statusOf(items: EvidenceItem[]): ControlStatus {
  if (items.some((item) => item.status === 'fail')) return 'fail';
  if (items.some((item) => item.status === 'error')) return 'error';
  return 'pass';
}

function trimEvidence(items: EvidenceItem[]): { evidence: EvidenceItem[]; omitted: number } {
  const problems = items.filter((item) => item.status !== 'pass');
  const passing = items.filter((item) => item.status === 'pass');
  return {
    evidence: [...problems, ...passing.slice(0, PASSING_EVIDENCE_LIMIT)],
    omitted: Math.max(0, passing.length - PASSING_EVIDENCE_LIMIT),
  };
}

export function evaluateControl(control: CompiledControl, scope: Scope): ControlResult {
  const definition = control.definition;
  const base = {
    id: definition.id,
    pack: control.pack,
    title: definition.title,
    severity: control.severity,
    source: definition.source,
    ruleDigest: control.ruleDigest,
  };
  const local: Scope = { ...scope };
  const items: EvidenceItem[] = [];
  try {
    if (control.notApplicable && control.notApplicable.when(local) === true) {
      return {
        ...base,
        status: 'not_applicable',
        evidence: [],
        notApplicableRule: control.notApplicable.rule,
      };
    }
    for (const [name, expression] of control.lets) local[name] = expression(local);
  } catch (error) {
    items.push({
      check: 'applicability',
      path: '',
      observed: null,
      expected: null,
      status: 'error',
      message: message(error),
    });
    return { ...base, status: 'error', evidence: items };
  }
  for (const check of control.checks) evaluateCheck(check, local, items);
  if (control.schema) evaluateSchema(control, scope[PLAIN_MANIFEST], items);
  const { evidence, omitted } = trimEvidence(items);
  return {
    ...base,
    status: statusOf(items),
    evidence,
    ...(omitted > 0 ? { omittedPassingEvidence: omitted } : {}),
  };
}

export interface WaiverPolicy {
  approverRoles: string[];
  maxDays: number;
}

export function waiverPolicy(data: Record<string, unknown>): WaiverPolicy {
  const waivers = (data.waivers ?? {}) as Partial<WaiverPolicy>;
  return {
    approverRoles: Array.isArray(waivers.approverRoles)
      ? waivers.approverRoles.map(String)
      : ['regulatory-qa', 'security'],
    maxDays: typeof waivers.maxDays === 'number' ? waivers.maxDays : 90,
  };
}

/** Whether a waiver releases a failed major now: unexpired, within the policy's limit, approved by the roles. */
export function assessWaiver(
  waiver: Waiver,
  control: { id: string; severity: string },
  policy: WaiverPolicy,
  now: Date,
  submitter: string | undefined,
): WaiverAssessment {
  const problems: string[] = [];
  if (control.severity === 'blocker') problems.push(`${control.id} is a blocker: blockers cannot be waived`);
  const expires = Date.parse(waiver.expiresAt);
  if (!Number.isFinite(expires)) problems.push(`expiresAt '${waiver.expiresAt}' is not a date-time`);
  else if (expires <= now.getTime()) problems.push(`expired at ${waiver.expiresAt}`);
  else {
    const firstApproval = Math.min(
      ...waiver.approvals.map((approval) => Date.parse(approval.at)),
      now.getTime(),
    );
    if (expires - firstApproval > policy.maxDays * 86_400_000)
      problems.push(`runs longer than the policy's ${policy.maxDays} days`);
  }
  if (!waiver.justification.trim()) problems.push('has no justification');
  const byRole = new Map<string, string>();
  for (const approval of waiver.approvals) {
    if (submitter !== undefined && approval.by.id === submitter) continue; // never the release's submitter
    if (!byRole.has(approval.role) && ![...byRole.values()].includes(approval.by.id))
      byRole.set(approval.role, approval.by.id);
  }
  const missing = policy.approverRoles.filter((role) => !byRole.has(role));
  if (missing.length > 0)
    problems.push(
      `needs approval by ${missing.join(' and ')} (distinct people, not the release's submitter)`,
    );
  return { valid: problems.length === 0, problems, waiver };
}

export function policyScope(
  manifest: NormalizedManifest,
  bundle: PolicyBundle,
  context: GateContext,
): { scope: Scope; K: KubernetesFacts; manifestDigest: string } {
  const digests = manifestDigests(manifest);
  const manifestDigest = digests.manifest;
  const K = kubernetesFacts(manifest.kubernetesManifests, manifest.model.artifact.image);
  const memo = new WeakMap<object, CelValue>();
  const scope: Scope = {
    [PLAIN_MANIFEST]: manifest,
    R: toCelDeep(manifest, memo),
    K: toCelDeep(K, memo),
    policy: policyCel(bundle),
    now: context.now.toISOString(),
    facts: toCelDeep({
      manifestDigest,
      approvalPayloadDigest: digests.approvalPayload,
      infraDigest: digests.infra,
      signature: context.signature,
      deployedVersion: context.history?.deployedVersion ?? null,
      previous: context.history?.previous ?? null,
    }),
  };
  return { scope, K, manifestDigest };
}

export function evaluateManifest(
  manifest: NormalizedManifest,
  bundle: PolicyBundle,
  context: GateContext,
): ComplianceReport {
  const { scope, manifestDigest } = policyScope(manifest, bundle, context);
  const controls = bundle.controls.map((control) => evaluateControl(control, scope));
  const waivers = waiverPolicy(bundle.data);
  for (const result of controls) {
    if (result.severity !== 'major' || result.status === 'pass' || result.status === 'not_applicable')
      continue;
    const candidates = (context.waivers ?? []).filter((waiver) => waiver.control === result.id);
    const assessments = candidates.map((waiver) =>
      assessWaiver(waiver, result, waivers, context.now, manifest.metadata.submittedBy.id),
    );
    const chosen = assessments.find((assessment) => assessment.valid) ?? assessments[0];
    if (chosen) result.waiver = chosen;
  }
  const minScore = typeof bundle.data.minScore === 'number' ? bundle.data.minScore : 90;
  const report = decide(controls, minScore, {
    mode: 'policy',
    manifestDigest,
    policy: {
      name: bundle.name,
      version: bundle.version,
      digest: bundle.digest,
      packs: bundle.packs.map((pack) => ({ id: pack.id, version: pack.version, controls: pack.controls })),
      data: bundle.dataFiles,
    },
    evaluatedAt: context.now.toISOString(),
  });
  report.waiverPolicy = waivers;
  return report;
}

/** Score and decision (compliance-controls.md §0.3) from the control results. */
export function decide(
  controls: ControlResult[],
  minScore: number,
  rest: Pick<ComplianceReport, 'mode' | 'policy' | 'evaluatedAt'> & { manifestDigest?: string },
): ComplianceReport {
  const counts: Record<ControlStatus, number> = { pass: 0, fail: 0, not_applicable: 0, error: 0 };
  let earned = 0;
  let possible = 0;
  for (const control of controls) {
    counts[control.status] += 1;
    if (control.status === 'not_applicable') continue;
    const weight = SEVERITY_WEIGHTS[control.severity];
    possible += weight;
    if (control.status === 'pass') earned += weight;
  }
  const score = possible === 0 ? 100 : Math.round((1000 * earned) / possible) / 10;
  const reasons: string[] = [];
  const notPassing = (severity: string) =>
    controls.filter(
      (control) => control.severity === severity && (control.status === 'fail' || control.status === 'error'),
    );
  for (const control of notPassing('blocker'))
    reasons.push(
      `blocker ${control.id} is ${control.status === 'error' ? 'an error (missing evidence counts as a failure)' : 'failed'}`,
    );
  if (score < minScore) reasons.push(`score ${score} is below the policy minimum ${minScore}`);
  const unwaived = notPassing('major').filter((control) => !control.waiver?.valid);
  for (const control of unwaived)
    reasons.push(
      `major ${control.id} is ${control.status === 'error' ? 'an error' : 'failed'} without a valid waiver${
        control.waiver ? ` (${control.waiver.problems.join('; ')})` : ''
      }`,
    );
  const blockersFailed = notPassing('blocker').length > 0;
  const decision = reasons.length === 0 ? 'pass' : 'blocked';
  const order: Record<ControlStatus, number> = { error: 0, fail: 0, pass: 2, not_applicable: 3 };
  const sorted = [...controls].sort(
    (a, b) =>
      order[a.status] - order[b.status] ||
      SEVERITY_WEIGHTS[b.severity] - SEVERITY_WEIGHTS[a.severity] ||
      a.id.localeCompare(b.id),
  );
  return {
    decision,
    passed: decision === 'pass',
    mode: rest.mode,
    score,
    minScore,
    reasons,
    awaitingWaivers: !blockersFailed && score >= minScore ? unwaived.map((control) => control.id) : [],
    counts,
    controls: sorted,
    ...(rest.manifestDigest ? { manifestDigest: rest.manifestDigest } : {}),
    policy: rest.policy,
    engine: { ...ENGINE },
    evaluatedAt: rest.evaluatedAt,
  };
}
