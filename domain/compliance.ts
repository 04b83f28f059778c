// The compliance report and waivers: what the gate decided and why, per control with its evidence.
// Types only (the workflow keeps the report in its status); the gate is activities/compliance/.

export type Severity = 'blocker' | 'major' | 'minor';
export type ControlStatus = 'pass' | 'fail' | 'not_applicable' | 'error';

export const SEVERITY_WEIGHTS: Record<Severity, number> = { blocker: 10, major: 3, minor: 1 };

export interface EvidenceItem {
  /** The check of the control that produced it. */
  check: string;
  /** JSON pointer into the release manifest (or a policy-data or context path, prefixed). */
  path: string;
  observed: unknown;
  expected: unknown;
  status: 'pass' | 'fail' | 'error';
  message?: string;
}

export interface WaiverApproval {
  by: { id: string; name?: string };
  role: string;
  at: string;
}

export interface Waiver {
  control: string;
  justification: string;
  expiresAt: string;
  /** Who submitted it first. */
  requestedBy: { id: string; name?: string };
  approvals: WaiverApproval[];
}

export interface WaiverAssessment {
  valid: boolean;
  problems: string[];
  waiver: Waiver;
}

export interface ControlResult {
  id: string;
  pack: string;
  title: string;
  severity: Severity;
  source: string;
  status: ControlStatus;
  /** Failing and erroring items first; passing items up to a limit. */
  evidence: EvidenceItem[];
  /** Passing evidence items left out of the report for size. */
  omittedPassingEvidence?: number;
  /** For not_applicable: the rule that decided it. */
  notApplicableRule?: string;
  /** sha256 of the control's definition (its CEL and schema), so the rule that ran is pinned. */
  ruleDigest: string;
  waiver?: WaiverAssessment;
}

export interface ComplianceReport {
  decision: 'pass' | 'blocked';
  /** decision === 'pass' */
  passed: boolean;
  /** 'policy': the catalog ran on a manifest; 'request-checks': no manifest, built-in request checks only. */
  mode: 'policy' | 'request-checks';
  score: number;
  minScore: number;
  /** Why the decision is blocked, one sentence per reason (empty on pass). */
  reasons: string[];
  /** Failed majors that a valid waiver would release (the only thing standing in the way). */
  awaitingWaivers: string[];
  counts: Record<ControlStatus, number>;
  /** Who may approve waivers of failed majors, and how long a waiver may run (from the policy data). */
  waiverPolicy?: { approverRoles: string[]; maxDays: number };
  controls: ControlResult[];
  manifestDigest?: string;
  policy: {
    name: string;
    version: string;
    digest: string;
    packs: { id: string; version: string; controls: number }[];
    /** The policy data files (thresholds, registries, trust) with their versions. */
    data?: { name: string; version: string }[];
  };
  engine: { name: string; version: string };
  evaluatedAt: string;
  /** Where the full report is stored (the control worker's evidence store), with its digest. */
  stored?: { path: string; digest: string };
}
