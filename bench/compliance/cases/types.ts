// The violation catalog shared by the policy packs' unit tests and bench:compliance: for each
// control, injected violations (the control must not pass) and near misses (it must still pass).
import type { Waiver } from '../../../domain/compliance.js';
import type { NormalizedManifest } from '../../../domain/manifest.js';
import type { PreviousRelease } from '../../../activities/compliance/engine.js';
import type { SignatureVerification } from '../../../activities/compliance/signature.js';

/** What a case may change besides the manifest: the gate's context. */
export interface CaseContext {
  now: Date;
  history: { deployedVersion: string | null; previous: PreviousRelease | null };
  waivers: Waiver[];
  /** Set to override the gate's own signature verification (e.g. a bundle signed by someone else). */
  signature?: SignatureVerification | null;
}

export interface ComplianceCase {
  /** The control the case is about. */
  control: string;
  /** What is injected, in a few words (unique per control). */
  name: string;
  /** violation: the control must not pass. near-miss: it looks suspicious but complies, so it must pass. */
  kind: 'violation' | 'near-miss';
  /** Edits a deep copy of the compliant example (and may edit the context). */
  mutate(manifest: NormalizedManifest, context: CaseContext): void | Promise<void>;
  /**
   * By default the harness re-binds the approvals to the mutated manifest (as the submitter would
   * re-collect them), so that a case violates only what it means to. Set for cases about approvals.
   */
  keepApprovalDigests?: boolean;
}
