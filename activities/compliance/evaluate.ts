// One evaluation of a release manifest, as the workflow's gate, the API, the CLI and the benchmark
// all run it: the gate verifies the artifact signature itself (against the signing trust of the
// policy data, never a flag in the manifest), then the engine evaluates every control.
import type { ComplianceReport, Waiver } from '../../domain/compliance.js';
import type { NormalizedManifest } from '../../domain/manifest.js';
import { canonicalize } from '../../domain/canonical-json.js';
import { sha256Hex } from './cel.js';
import { evaluateManifest, type PreviousRelease } from './engine.js';
import type { PolicyBundle } from './policy.js';
import { verifyArtifactSignature, type SignatureVerification, type SigningTrust } from './signature.js';

export interface EvaluationContext {
  now: Date;
  history?: { deployedVersion: string | null; previous: PreviousRelease | null };
  waivers?: Waiver[];
  /** A verification to use instead of the gate's own (tests and the benchmark fabricate outcomes). */
  signature?: SignatureVerification | null;
}

const verifications = new Map<string, SignatureVerification>();
const trustKeys = new WeakMap<object, string>();

/** The digest of a signing trust, computed once per policy bundle's trust object. */
function trustKey(trust: SigningTrust): string {
  let key = trustKeys.get(trust);
  if (key === undefined) {
    key = sha256Hex(canonicalize(trust));
    trustKeys.set(trust, key);
  }
  return key;
}
const CACHE_LIMIT = 256;

/**
 * The gate's own verification of the artifact signature in the manifest, or null when the manifest
 * carries no bundle. Results are cached by (bundle, digest, trust, day), since verification is the
 * slowest part of an evaluation and the same artifact is judged again on every re-evaluation.
 */
export function verifyManifestSignature(
  manifest: NormalizedManifest,
  data: Record<string, unknown>,
  now: Date,
): SignatureVerification | null {
  const signature = manifest.model.artifact.signature;
  if (!signature || signature.bundle === undefined || signature.bundle === null) return null;
  const trust = (data.signing ?? { transparencyLogs: [] }) as SigningTrust;
  const key = sha256Hex(
    `${trustKey(trust)}\n${manifest.model.artifact.digest}\n${now.toISOString().slice(0, 10)}\n${JSON.stringify(signature.bundle)}`,
  );
  const cached = verifications.get(key);
  if (cached) return cached;
  const result = verifyArtifactSignature({
    bundle: signature.bundle,
    digest: manifest.model.artifact.digest,
    trust,
    now,
  });
  if (verifications.size >= CACHE_LIMIT) verifications.delete(verifications.keys().next().value!);
  verifications.set(key, result);
  return result;
}

export function evaluateRelease(
  manifest: NormalizedManifest,
  bundle: PolicyBundle,
  context: EvaluationContext,
): ComplianceReport {
  return evaluateManifest(manifest, bundle, {
    now: context.now,
    signature:
      context.signature !== undefined
        ? context.signature
        : verifyManifestSignature(manifest, bundle.data, context.now),
    ...(context.history ? { history: context.history } : {}),
    ...(context.waivers ? { waivers: context.waivers } : {}),
  });
}
