// The shipped example manifests: the time they are dated at, the common failures written next to
// the compliant one (npm run examples:manifests), and re-dating a manifest for the demo — the
// examples' scan and approvals are a day old on 2026-11-28, and a gate run later would rightly call
// them stale, so `npm start` writes a copy whose dates are moved to the present.
import { readFileSync } from 'node:fs';
import type { NormalizedManifest } from '../../domain/manifest.js';
import type { EvaluationContext } from './evaluate.js';
import { approvalPayloadDigest } from './facts.js';

/** The examples are evaluated as of this time. */
export const EXAMPLE_TIME = new Date('2026-11-28T12:00:00Z');

/**
 * The complete example releases, each passing every control as of EXAMPLE_TIME with its history:
 * the manifest (examples/manifests/), the sigstore bundle of its artifact (examples/signing/, inlined
 * by `npm run examples:manifests`), the gate's record of the release before it (examples/manifests/)
 * and the release request carrying the manifest (examples/). The first is the one the failure
 * examples are derived from.
 */
export interface ExampleRelease {
  model: string;
  manifest: string;
  bundle: string;
  history: string;
  request: string;
}

export const EXAMPLE_RELEASES: readonly ExampleRelease[] = [
  {
    model: 'chest-xray-triage',
    manifest: 'compliant.yaml',
    bundle: 'chest-xray-triage-2.5.0.sigstore.json',
    history: 'history.json',
    request: 'release-request.json',
  },
  {
    model: 'sepsis-risk',
    manifest: 'sepsis-risk.yaml',
    bundle: 'sepsis-risk-1.9.0.sigstore.json',
    history: 'sepsis-risk.history.json',
    request: 'release-request.sepsis.json',
  },
];

export function exampleHistory(file: string): NonNullable<EvaluationContext['history']> {
  return JSON.parse(readFileSync(file, 'utf8')) as NonNullable<EvaluationContext['history']>;
}

type Workload = { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };

function deployment(manifest: NormalizedManifest): Workload {
  return manifest.kubernetesManifests.find((object) => object.kind === 'Deployment') as unknown as Workload;
}

export interface ExampleFailure {
  file: string;
  title: string;
  /** Controls the gate must not pass. */
  controls: string[];
  fix: string;
  keepApprovals?: boolean;
  mutate(manifest: NormalizedManifest): void;
}

export const EXAMPLE_FAILURES: ExampleFailure[] = [
  {
    file: 'image-not-pinned',
    title: 'the model container runs a mutable tag instead of the validated digest',
    controls: ['HIPAA-164.312(c)(1)-IMAGE-DIGEST-PIN'],
    fix: 'reference the image as name:tag@sha256:<digest of the validated artifact>.',
    mutate(manifest) {
      deployment(manifest).spec.template.spec.containers[0]!.image =
        'registry.example.org/models/chest-xray-triage:2.5.0';
    },
  },
  {
    file: 'privileged-container',
    title: 'the model container is privileged and may escalate privileges',
    controls: ['K8S-PSS-B-NO-PRIVILEGED-HOSTNS', 'K8S-PSS-R-PRIVESC-CAPS-SECCOMP'],
    fix: 'remove privileged: true and set allowPrivilegeEscalation: false.',
    mutate(manifest) {
      const container = deployment(manifest).spec.template.spec.containers[0]!;
      container.securityContext = {
        ...(container.securityContext as Record<string, unknown>),
        privileged: true,
        allowPrivilegeEscalation: true,
      };
    },
  },
  {
    file: 'eu-transfer-undeclared',
    title: 'EU patients’ data goes to a US region without a declared transfer mechanism',
    controls: ['GDPR-ChV-Art44-46-EU-RESIDENCY'],
    fix: 'declare the transfer (adequacy, SCC-2021/914 with a transfer impact assessment, BCR or DPF), or deploy in an EEA region.',
    mutate(manifest) {
      manifest.regulatory!.gdpr!.transfers = [];
    },
  },
  {
    file: 'vendor-without-baa',
    title: 'a metrics vendor that receives data from the model has no business associate agreement',
    controls: ['HIPAA-164.308(b)(1)-BAA-PER-PROCESSOR'],
    fix: 'sign a BAA (and, for EU data, a DPA) with every vendor that stores or processes the data, or stop sending it there.',
    mutate(manifest) {
      manifest.regulatory!.hipaa!.baa = manifest.regulatory!.hipaa!.baa.filter(
        (entry) => entry.party !== 'grafana-labs',
      );
    },
  },
  {
    file: 'self-approved',
    title: 'the person who submitted the release also approved it',
    controls: ['NIST-AC-5+21CFR11-SOD-APPROVALS'],
    fix: 'have an independent, role-qualified person approve it; the submitter and the builder can never approve.',
    mutate(manifest) {
      manifest.approvals![1]!.approverId = manifest.metadata.submittedBy.id;
    },
  },
  {
    file: 'approval-of-another-manifest',
    title: 'the approvals were signed for a different version of the manifest',
    controls: ['NIST-AC-5+21CFR11-SOD-APPROVALS'],
    fix: 're-collect the approvals on the manifest as it will be released (each signs its sha256 without approvals).',
    keepApprovals: true,
    mutate(manifest) {
      for (const approval of manifest.approvals ?? [])
        approval.signedPayloadDigest = `sha256:${'0'.repeat(64)}`;
    },
  },
  {
    file: 'below-acceptance-criteria',
    title: 'sensitivity’s 95 % confidence bound is below the PCCP’s acceptance criterion',
    controls: ['FDA-PCCP-PERF-ACCEPTANCE'],
    fix: 'the modification failed its pre-specified criteria and cannot be implemented under the PCCP: improve the model or route to Regulatory.',
    mutate(manifest) {
      manifest.validation!.metrics!.sensitivity = { value: 0.905, ci95: [0.884, 0.924] };
      // The model card reports the same evaluation (GMLP principle 9 checks they agree).
      const card = manifest.modelCard!.evaluation as { metrics: Record<string, unknown> };
      card.metrics.sensitivity = { value: 0.905, ci95: [0.884, 0.924] };
    },
  },
  {
    file: 'outside-pccp',
    title: 'the change is a modification the authorized PCCP does not list',
    controls: ['FDA-PCCP-DoM-IN-SCOPE'],
    fix: 'outside the PCCP: route to Regulatory (a new 510(k), De Novo or PMA supplement).',
    mutate(manifest) {
      manifest.regulatory!.fda!.change!.modificationIds = ['M9'];
      manifest.regulatory!.fda!.change!.impactAssessment!.modificationIds = ['M9'];
    },
  },
  {
    file: 'unsigned-artifact',
    title: 'the artifact carries no signature the gate can verify',
    controls: ['HIPAA-164.312(c)(1)-ARTIFACT-SIGNATURE'],
    fix: 'sign the image digest in CI (sigstore) with an identity the policy trusts and attach the bundle.',
    mutate(manifest) {
      manifest.model.artifact.signature = { format: 'sigstore-bundle', verified: true };
    },
  },
  {
    file: 'stale-vulnerability-scan',
    title: 'the vulnerability scan is older than the policy allows and found a critical vulnerability',
    controls: ['FDA-FDCA-524B(b)(3)-SBOM-VULN'],
    fix: 'rescan the exact image and fix the critical vulnerability, or have regulatory-qa and security waive the control for a limited time.',
    mutate(manifest) {
      manifest.model.artifact.vulnScan!.scannedAt = '2026-11-01T06:00:00Z';
      manifest.model.artifact.vulnScan!.critical = 1;
    },
  },
];

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A copy of a dated example with every date-time moved by (now − EXAMPLE_TIME), so it is as fresh at
 * `now` as it was on its date; the approvals are re-bound to the re-dated manifest. For the demo.
 */
export function redateExample(manifest: NormalizedManifest, now: Date): NormalizedManifest {
  const shift = now.getTime() - EXAMPLE_TIME.getTime();
  const visit = (node: unknown, key?: string): unknown => {
    if (typeof node === 'string' && key !== 'bundle' && DATE_TIME.test(node))
      return new Date(Date.parse(node) + shift).toISOString().replace('.000Z', 'Z');
    if (Array.isArray(node)) return node.map((entry) => visit(entry));
    if (node && typeof node === 'object') {
      return Object.fromEntries(
        Object.entries(node).map(([name, value]) => [name, name === 'bundle' ? value : visit(value, name)]),
      );
    }
    return node;
  };
  const redated = visit(manifest) as NormalizedManifest;
  const digest = approvalPayloadDigest(redated);
  for (const approval of redated.approvals ?? []) approval.signedPayloadDigest = digest;
  return redated;
}
