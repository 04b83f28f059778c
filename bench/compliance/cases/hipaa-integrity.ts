// Violation catalog of the HIPAA pack, part B (policies/hipaa.yaml): audit logging, image digests,
// the artifact signature, PHI in metadata and logs, record retention and business associate
// agreements. For each control, injected violations (the control must not pass) and near misses
// (suspicious but compliant: it must pass). Every case edits a fresh copy of
// examples/manifests/compliant.yaml; the signature cases replace the gate's own verification result.
import type { NormalizedManifest } from '../../../domain/manifest.js';
import type { SignatureVerification } from '../../../activities/compliance/signature.js';
import {
  auditEvents,
  auditSink,
  clusterProfile,
  configMap,
  containerEnv,
  dig,
  digList,
  gdpr,
  hardenedSecurityContext,
  k8s,
  listAt,
  logging,
  MODEL_REPOSITORY,
  modelCard,
  modelConfigData,
  modelContainer,
  modelDeployment,
  NAMESPACE,
  nearMiss,
  type Obj,
  podSpec,
  removeK8s,
  retention,
  violation,
} from './helpers.js';
import type { CaseContext, ComplianceCase } from './types.js';

export const AUDIT = 'HIPAA-164.312(b)-AUDIT-LOGGING';
export const DIGEST_PIN = 'HIPAA-164.312(c)(1)-IMAGE-DIGEST-PIN';
export const SIGNATURE = 'HIPAA-164.312(c)(1)-ARTIFACT-SIGNATURE';
export const PHI_METADATA = 'HIPAA-164.514(b)-NO-PHI-IN-METADATA';
export const PHI_LOGS = 'HIPAA-164.502(b)-NO-PHI-IN-LOGS';
export const RETENTION = 'HIPAA-164.316(b)(2)(i)-RETENTION-6Y';
export const BAA = 'HIPAA-164.308(b)(1)-BAA-PER-PROCESSOR';

/** A well-formed digest that is not the example artifact's. */
const OTHER_DIGEST = 'sha256:9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c';
const SIDECAR_DIGEST = 'sha256:0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d';

/** The trusted keyless signer of the example (policies/data/signing.yaml). */
export const TRUSTED_SIGNER = {
  identity: 'https://ci.example.org/medrelease/build@refs/heads/main',
  issuer: 'https://token.ci.example.org',
} as const;

/** The names of the checks the gate's verifier reports, in its order (activities/compliance/signature.ts). */
const VERIFIER_CHECKS = [
  'artifact digest',
  'trust material',
  'bundle format',
  'signed subject',
  'transparency-log entries',
  'certificate chain',
  'transparency-log inclusion',
  'transparency-log entry matches the signature',
  'signature',
  'transparency-log entry names the signing key',
  'signing time',
  'code-signing certificate',
  'signer identity',
];

/**
 * A fabricated result of the gate's own signature verification: by default a successful keyless
 * verification of `digest` by the trusted pipeline, recorded in the transparency log.
 */
export function verifiedSignature(
  digest: string,
  overrides: Partial<SignatureVerification> = {},
): SignatureVerification {
  return {
    verified: true,
    checks: VERIFIER_CHECKS.map((name) => ({
      name,
      ok: true,
      detail: `${name}: verified (fabricated for a test)`,
    })),
    signer: { kind: 'certificate', ...TRUSTED_SIGNER },
    tlog: { logIndex: '2', integratedTime: '1764326995', logId: 'offline-lab-rekor' },
    subjectDigest: digest,
    ...overrides,
  };
}

/** A fabricated failed verification: the checks up to `failing` pass, `failing` fails. */
export function failedSignature(failing: string, detail: string): SignatureVerification {
  const index = VERIFIER_CHECKS.indexOf(failing);
  const passed = VERIFIER_CHECKS.slice(0, index < 0 ? 0 : index).map((name) => ({
    name,
    ok: true,
    detail: 'ok',
  }));
  return {
    verified: false,
    checks: [...passed, { name: failing, ok: false, detail }],
    error: `${failing}: ${detail}`,
  };
}

const env = (manifest: NormalizedManifest) => containerEnv(modelContainer(manifest));
const baa = (manifest: NormalizedManifest) => manifest.regulatory!.hipaa!.baa;

function annotate(object: Obj, annotations: Record<string, string>): void {
  const metadata = dig(object, 'metadata');
  metadata.annotations = { ...(metadata.annotations ?? {}), ...annotations };
}

/** A container hardened like the example's, so that only what a case injects differs. */
function hardenedContainer(name: string, image: string, extra: Obj = {}): Obj {
  return {
    name,
    image,
    resources: {
      requests: { cpu: '100m', memory: '128Mi', 'ephemeral-storage': '64Mi' },
      limits: { cpu: '500m', memory: '256Mi', 'ephemeral-storage': '128Mi' },
    },
    securityContext: hardenedSecurityContext(),
    ...extra,
  };
}

/** Adds a hardened container running `image` to a container list of the model's pod. */
function addSidecar(manifest: NormalizedManifest, image: string, listName = 'containers'): void {
  listAt(podSpec(manifest), listName).push(
    hardenedContainer(listName === 'containers' ? 'audit-shipper' : `${listName}-helper`, image),
  );
}

function cronJob(image: string): Obj {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'drift-report', namespace: NAMESPACE },
    spec: {
      schedule: '0 3 * * *',
      jobTemplate: {
        spec: {
          template: {
            spec: {
              restartPolicy: 'Never',
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [hardenedContainer('report', image)],
            },
          },
        },
      },
    },
  };
}

/** Sets the gate's own verification result (the example's digest unless stated). */
const withSignature =
  (make: (digest: string) => SignatureVerification | null) =>
  (manifest: NormalizedManifest, context: CaseContext): void => {
    context.signature = make(manifest.model.artifact.digest);
  };

const auditCases: ComplianceCase[] = [
  violation(AUDIT, 'Kubernetes audit logging off on one target cluster', (m) => {
    clusterProfile(m, 1).auditLogging = { enabled: false, source: 'AKS diagnostic category kube-audit' };
  }),
  violation(AUDIT, 'a target cluster profile without audit-logging evidence', (m) => {
    delete clusterProfile(m, 2).auditLogging;
  }),
  violation(AUDIT, 'a target without any cluster profile', (m) => {
    delete m.deployment.targets[0]!.clusterProfile;
  }),
  violation(AUDIT, 'cluster audit flag without the cloud evidence it came from', (m) => {
    clusterProfile(m, 0).auditLogging = { enabled: true, source: '' };
  }),
  violation(AUDIT, 'no deployment targets at all', (m) => {
    m.deployment.targets = [];
  }),
  violation(AUDIT, 'application audit events disabled', (m) => {
    auditEvents(m).enabled = false;
  }),
  violation(AUDIT, 'audit events without the actor', (m) => {
    auditEvents(m).fields = auditEvents(m).fields.filter((field) => field !== 'actorId');
  }),
  violation(AUDIT, 'audit events without the decision and model version', (m) => {
    auditEvents(m).fields = auditEvents(m).fields.filter(
      (field) => field !== 'decision' && field !== 'modelVersion',
    );
  }),
  violation(AUDIT, 'no application audit events section', (m) => {
    delete logging(m).auditEvents;
  }),
  violation(AUDIT, 'audit sink is not write-once', (m) => {
    auditSink(m).immutable = false;
  }),
  violation(AUDIT, 'audit events without a sink', (m) => {
    delete auditEvents(m).sink;
  }),
  violation(AUDIT, 'EU data audited into London without a UK transfer', (m) => {
    auditSink(m).region = 'eu-west-2';
  }),
  violation(AUDIT, 'EU data audited into Singapore', (m) => {
    auditSink(m).region = 'ap-southeast-1';
  }),
  violation(AUDIT, 'US audit sink relying on a transfer without a ref', (m) => {
    auditSink(m).region = 'us-east-1';
    delete gdpr(m).transfers![0]!.ref;
  }),
  violation(AUDIT, 'US audit sink relying on SCCs without a transfer impact assessment', (m) => {
    auditSink(m).region = 'us-east-1';
    delete gdpr(m).transfers![0]!.tiaRef;
  }),
  violation(AUDIT, 'US audit sink relying on consent, not an accepted mechanism', (m) => {
    auditSink(m).region = 'us-east-1';
    gdpr(m).transfers![0]!.mechanism = 'consent';
  }),
  violation(AUDIT, 'Singapore audit sink under the DPF (a US-only mechanism)', (m) => {
    auditSink(m).region = 'ap-southeast-1';
    gdpr(m).transfers!.push({ toCountry: 'SG', mechanism: 'DPF', ref: 'doc://DPF-SG' });
  }),
  violation(AUDIT, 'audit sink in an unknown region', (m) => {
    auditSink(m).region = 'mars-north-1';
  }),
  nearMiss(AUDIT, 'EU data audited into the US under the declared SCC transfer', (m) => {
    auditSink(m).region = 'us-central1';
    auditSink(m).vendor = 'gcp';
  }),
  nearMiss(AUDIT, 'audit sink in Singapore when no EU data subjects are concerned', (m) => {
    gdpr(m).euDataSubjects = false;
    auditSink(m).region = 'ap-southeast-1';
    // GDPR still governs what the EU clusters process (Art. 3(1)), so the transfer is declared; the
    // audit control's own residency test applies only to EU data subjects.
    gdpr(m).transfers!.push({
      toCountry: 'SG',
      mechanism: 'SCC-2021/914',
      ref: 'doc://SCC-AWS-SG',
      tiaRef: 'doc://TIA-SG',
    });
    gdpr(m)
      .processors!.find((processor) => processor.name === 'aws')!
      .regions.push('ap-southeast-1');
  }),
  nearMiss(AUDIT, 'audit sink in London under an adequacy decision', (m) => {
    auditSink(m).region = 'eu-west-2';
    gdpr(m).transfers!.push({ toCountry: 'GB', mechanism: 'adequacy:UK', ref: 'doc://ADEQUACY-UK-2025' });
    gdpr(m)
      .processors!.find((processor) => processor.name === 'aws')!
      .regions.push('eu-west-2');
  }),
  nearMiss(AUDIT, 'audit events with more fields than required', (m) => {
    auditEvents(m).fields = [...auditEvents(m).fields, 'latencyMs', 'siteId'];
  }),
];

const digestPinCases: ComplianceCase[] = [
  violation(DIGEST_PIN, 'model container named by tag only', (m) => {
    modelContainer(m).image = `${MODEL_REPOSITORY}:2.5.0`;
  }),
  violation(DIGEST_PIN, 'sidecar named by tag only', (m) => {
    addSidecar(m, 'docker.io/fluent/fluent-bit:3.1.9');
  }),
  violation(DIGEST_PIN, 'init container on latest', (m) => {
    addSidecar(m, 'docker.io/library/busybox:latest', 'initContainers');
  }),
  violation(DIGEST_PIN, 'ephemeral debug container without a digest', (m) => {
    podSpec(m).ephemeralContainers = [{ name: 'debugger', image: 'docker.io/library/busybox' }];
  }),
  violation(DIGEST_PIN, 'CronJob container named by tag', (m) => {
    m.kubernetesManifests.push(cronJob('registry.example.org/tools/drift-report:1.4.2'));
  }),
  violation(DIGEST_PIN, 'model container runs another digest', (m) => {
    modelContainer(m).image = `${MODEL_REPOSITORY}:2.5.0@${OTHER_DIGEST}`;
  }),
  violation(DIGEST_PIN, 'digest written in upper-case hex', (m) => {
    modelContainer(m).image =
      `${MODEL_REPOSITORY}:2.5.0@${m.model.artifact.digest.toUpperCase().replace('SHA256', 'sha256')}`;
  }),
  violation(DIGEST_PIN, 'truncated digest', (m) => {
    modelContainer(m).image = `${MODEL_REPOSITORY}:2.5.0@${m.model.artifact.digest.slice(0, 19)}`;
  }),
  violation(DIGEST_PIN, 'sidecar pinned by a sha512 digest', (m) => {
    addSidecar(m, `docker.io/fluent/fluent-bit:3.1.9@sha512:${'ab'.repeat(64)}`);
  }),
  violation(DIGEST_PIN, 'validation ran on another digest', (m) => {
    m.validation!.artifactDigest = OTHER_DIGEST;
  }),
  violation(DIGEST_PIN, 'validation report without the digest it ran on', (m) => {
    delete m.validation!.artifactDigest;
  }),
  violation(DIGEST_PIN, 'artifact image reference named by tag only', (m) => {
    m.model.artifact.image = `${MODEL_REPOSITORY}:2.5.0`;
  }),
  violation(DIGEST_PIN, 'artifact image reference pinned to another digest', (m) => {
    m.model.artifact.image = `${MODEL_REPOSITORY}:2.5.0@${OTHER_DIGEST}`;
  }),
  violation(DIGEST_PIN, 'no container runs the model image', (m) => {
    modelContainer(m).image =
      `registry.example.org/models/chest-xray-triage-shadow:2.5.0@${m.model.artifact.digest}`;
  }),
  violation(DIGEST_PIN, 'no workload at all', (m) => {
    removeK8s(m, 'Deployment');
  }),
  nearMiss(DIGEST_PIN, 'sidecar pinned by tag and digest', (m) => {
    addSidecar(m, `docker.io/fluent/fluent-bit:3.1.9@${SIDECAR_DIGEST}`);
  }),
  nearMiss(DIGEST_PIN, 'model container with another tag in front of the validated digest', (m) => {
    modelContainer(m).image = `${MODEL_REPOSITORY}:2.5.0-eu@${m.model.artifact.digest}`;
  }),
  nearMiss(DIGEST_PIN, 'a second workload serving the same validated digest', (m) => {
    const canary = structuredClone(modelDeployment(m));
    dig(canary, 'metadata').name = 'chest-xray-triage-canary';
    m.kubernetesManifests.push(canary);
  }),
];

const signatureCases: ComplianceCase[] = [
  violation(
    SIGNATURE,
    'no signature bundle to verify',
    withSignature(() => null),
  ),
  violation(SIGNATURE, 'manifest says verified but the gate could not verify it', (m, context) => {
    m.model.artifact.signature = { ...m.model.artifact.signature!, verified: true };
    context.signature = failedSignature(
      'signature',
      'the signature does not verify with the certificate key',
    );
  }),
  violation(SIGNATURE, 'no signature in the manifest at all', (m, context) => {
    delete m.model.artifact.signature;
    delete context.signature; // the gate's own path: no bundle, nothing verified
  }),
  violation(
    SIGNATURE,
    'signed by an untrusted pipeline identity',
    withSignature((digest) =>
      verifiedSignature(digest, {
        signer: {
          kind: 'certificate',
          identity: 'https://ci.example.org/forks/build@refs/heads/main',
          issuer: TRUSTED_SIGNER.issuer,
        },
      }),
    ),
  ),
  violation(
    SIGNATURE,
    'trusted identity issued by another OIDC issuer',
    withSignature((digest) =>
      verifiedSignature(digest, {
        signer: {
          kind: 'certificate',
          identity: TRUSTED_SIGNER.identity,
          issuer: 'https://token.actions.githubusercontent.com',
        },
      }),
    ),
  ),
  violation(
    SIGNATURE,
    'identity that only starts like the trusted one',
    withSignature((digest) =>
      verifiedSignature(digest, {
        signer: {
          kind: 'certificate',
          identity: `${TRUSTED_SIGNER.identity}-hotfix`,
          issuer: TRUSTED_SIGNER.issuer,
        },
      }),
    ),
  ),
  violation(
    SIGNATURE,
    'signature over another digest',
    withSignature(() => verifiedSignature(OTHER_DIGEST)),
  ),
  violation(
    SIGNATURE,
    'no transparency-log entry',
    withSignature((digest) => {
      const result = verifiedSignature(digest);
      delete result.tlog;
      return result;
    }),
  ),
  violation(
    SIGNATURE,
    'transparency-log entry without its log id',
    withSignature((digest) =>
      verifiedSignature(digest, { tlog: { logIndex: '2', integratedTime: '1764326995', logId: '' } }),
    ),
  ),
  violation(
    SIGNATURE,
    'inclusion proof does not verify',
    withSignature(() =>
      failedSignature(
        'transparency-log inclusion',
        'the Merkle inclusion proof does not match the checkpoint',
      ),
    ),
  ),
  violation(
    SIGNATURE,
    'certificate outside its validity at signing time',
    withSignature(() =>
      failedSignature('certificate chain', 'the leaf certificate expired before the logged time'),
    ),
  ),
  violation(
    SIGNATURE,
    'verified flag contradicted by a failed check',
    withSignature((digest) => {
      const result = verifiedSignature(digest);
      result.checks[8] = { name: 'signature', ok: false, detail: 'signature mismatch' };
      return result;
    }),
  ),
  violation(
    SIGNATURE,
    'verification reports no signer',
    withSignature((digest) => {
      const result = verifiedSignature(digest);
      delete result.signer;
      return result;
    }),
  ),
  violation(SIGNATURE, 'the example bundle judged against another artifact digest', (m, context) => {
    context.signature = verifiedSignature(m.model.artifact.digest);
    m.model.artifact.digest = OTHER_DIGEST;
  }),
  nearMiss(
    SIGNATURE,
    'keyless signature of the trusted pipeline, verified by the gate',
    withSignature((digest) => verifiedSignature(digest)),
  ),
  nearMiss(SIGNATURE, 'manifest flag says not verified but the gate verified it', (m, context) => {
    m.model.artifact.signature = { ...m.model.artifact.signature!, verified: false };
    context.signature = verifiedSignature(m.model.artifact.digest);
  }),
  nearMiss(SIGNATURE, 'stale informative identity in the manifest', (m, context) => {
    m.model.artifact.signature = {
      ...m.model.artifact.signature!,
      identity: 'https://ci.example.org/old/build',
    };
    context.signature = verifiedSignature(m.model.artifact.digest);
  }),
  nearMiss(
    SIGNATURE,
    'signed with a trusted release key',
    withSignature((digest) =>
      verifiedSignature(digest, { signer: { kind: 'key', keyId: 'offline-lab-signing-key' } }),
    ),
  ),
];

const phiMetadataCases: ComplianceCase[] = [
  violation(PHI_METADATA, 'SSN in a Deployment annotation', (m) => {
    annotate(modelDeployment(m), { 'example-hospital.org/escalation': 'case of patient 123-45-6789' });
  }),
  violation(PHI_METADATA, 'SSN as an object name', (m) => {
    m.kubernetesManifests.push(configMap('debug-123-45-6789', { note: 'replay' }));
  }),
  violation(PHI_METADATA, 'MRN in a pod-template label', (m) => {
    dig(modelDeployment(m), 'spec', 'template', 'metadata', 'labels')['debug-case'] = 'MRN00123456';
  }),
  violation(PHI_METADATA, 'Example Hospital MRN in ConfigMap data', (m) => {
    modelConfigData(m)['replay.txt'] = 'EH00123456 flagged for manual review';
  }),
  violation(PHI_METADATA, 'date of birth in a container env value', (m) => {
    env(m).push({ name: 'REPLAY_CONTEXT', value: 'DOB: 1961-04-12, female' });
  }),
  violation(PHI_METADATA, 'phone number in the model card contact', (m) => {
    modelCard(m).contact = 'Dr. Amara Okafor, +1 617 555 0142';
  }),
  violation(PHI_METADATA, 'personal e-mail in the model card limitations', (m) => {
    modelCard(m).limitations = 'Misses reported by jane.doe1961@gmail.com are under review.';
  }),
  violation(PHI_METADATA, 'personal address next to the organisational one', (m) => {
    modelCard(m).contact = 'john.smith@gmail.com, ai-safety@example-hospital.org';
  }),
  violation(PHI_METADATA, 'public IP address in a container argument', (m) => {
    modelContainer(m).args = ['--trusted-client=203.0.113.45'];
  }),
  violation(PHI_METADATA, 'public IP address as an env value', (m) => {
    env(m).push({ name: 'LAST_CLIENT', value: '198.51.100.7' });
  }),
  violation(PHI_METADATA, 'URL with a public IP host in ConfigMap data', (m) => {
    modelConfigData(m)['webhook'] = 'http://198.51.100.7:8080/hook';
  }),
  violation(PHI_METADATA, 'IPv6 address in an annotation', (m) => {
    annotate(modelDeployment(m), { 'example-hospital.org/last-client': '2001:db8:85a3:0:0:8a2e:370:7334' });
  }),
  violation(PHI_METADATA, 'DICOM PatientName in a container command', (m) => {
    modelContainer(m).command = ['python', '-m', 'replay', '--filter', 'PatientName=DOE^JOHN'];
  }),
  violation(PHI_METADATA, 'DICOM PatientID tag in ConfigMap data', (m) => {
    modelConfigData(m)['replay.cfg'] = 'tag (0010,0020) = 4471203';
  }),
  violation(PHI_METADATA, 'accession number in an annotation', (m) => {
    annotate(k8s(m, 'Service'), { 'example-hospital.org/incident': 'Accession number: ACC20261127001' });
  }),
  violation(PHI_METADATA, 'person name in DICOM form in the model card', (m) => {
    modelCard(m).limitations = 'Fails on the chest tube case of OKAFOR^GRACE (see incident log).';
  }),
  violation(PHI_METADATA, 'labelled SSN without dashes in an env value', (m) => {
    env(m).push({ name: 'REPLAY_SUBJECT', value: 'SSN=123456789' });
  }),
  violation(PHI_METADATA, 'phone number in an init container argument', (m) => {
    addSidecar(m, `docker.io/library/busybox:1.36@${SIDECAR_DIGEST}`, 'initContainers');
    digList(podSpec(m), 'initContainers')[0]!.args = ['--notify', '(617) 555-0142'];
  }),
  nearMiss(PHI_METADATA, 'DICOM SOP class UID and versions in annotations', (m) => {
    annotate(modelDeployment(m), {
      'example-hospital.org/sop-class': '1.2.840.10008.5.1.4.1.1.1.1',
      'example-hospital.org/model-version': '2.5.0',
      'example-hospital.org/deployed-at': '2026-11-27T09:00:00Z',
    });
  }),
  nearMiss(PHI_METADATA, 'organisational mailbox in an env value', (m) => {
    env(m).push({ name: 'ALERT_EMAIL', value: 'radiology-oncall@example-hospital.org' });
  }),
  nearMiss(PHI_METADATA, 'private service addresses in env values', (m) => {
    env(m).push(
      { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://10.42.3.7:4317' },
      { name: 'PACS_GATEWAY_IP', value: '172.20.4.15' },
    );
  }),
  nearMiss(PHI_METADATA, 'URL with a key as user info (an error-tracker DSN)', (m) => {
    env(m).push({ name: 'SENTRY_DSN', value: 'https://0123abcd@o4501.ingest.de.sentry.io/4502' });
  }),
  nearMiss(PHI_METADATA, 'the words patient ID without a value', (m) => {
    modelCard(m).limitations =
      'Patient IDs and accession numbers are pseudonymised before inference; see the DPIA for details.';
  }),
  nearMiss(PHI_METADATA, 'ports, sizes and thresholds in annotations and ConfigMap data', (m) => {
    annotate(modelDeployment(m), {
      'prometheus.io/port': '8080',
      'example-hospital.org/batch': '512x512 1820 studies',
    });
    modelConfigData(m)['limits.json'] = '{"maxStudies": 20000, "timeoutMs": 3000}';
  }),
];

const phiLogsCases: ComplianceCase[] = [
  violation(PHI_LOGS, 'payload logging on', (m) => {
    logging(m).payloadLogging = true;
  }),
  violation(PHI_LOGS, 'PHI redaction off', (m) => {
    logging(m).phiRedaction = false;
  }),
  violation(PHI_LOGS, 'debug log level in production', (m) => {
    logging(m).level = 'debug';
  }),
  violation(PHI_LOGS, 'TRACE log level in capitals', (m) => {
    logging(m).level = 'TRACE';
  }),
  violation(PHI_LOGS, 'no log level declared', (m) => {
    delete (logging(m) as Obj).level;
  }),
  violation(PHI_LOGS, 'no logging section', (m) => {
    delete m.deployment.logging;
  }),
  violation(PHI_LOGS, 'LOG_REQUEST_BODY=true in the model container', (m) => {
    env(m).push({ name: 'LOG_REQUEST_BODY', value: 'true' });
  }),
  violation(PHI_LOGS, 'LOG_LEVEL=DEBUG in the model container', (m) => {
    env(m)[0]!.value = 'DEBUG';
  }),
  violation(PHI_LOGS, 'PHI_REDACTION=off in the model container', (m) => {
    env(m).push({ name: 'PHI_REDACTION', value: 'off' });
  }),
  violation(PHI_LOGS, 'LOG_PAYLOADS=1 in an init container', (m) => {
    addSidecar(m, `docker.io/library/busybox:1.36@${SIDECAR_DIGEST}`, 'initContainers');
    digList(podSpec(m), 'initContainers')[0]!.env = [{ name: 'LOG_PAYLOADS', value: '1' }];
  }),
  violation(PHI_LOGS, 'LOG_RESPONSE_BODY=yes from a ConfigMap loaded with envFrom', (m) => {
    m.kubernetesManifests.push(configMap('chest-xray-triage-debug', { LOG_RESPONSE_BODY: 'yes' }));
    modelContainer(m).envFrom = [{ configMapRef: { name: 'chest-xray-triage-debug' } }];
  }),
  violation(PHI_LOGS, 'raw patient ID in the audit events', (m) => {
    auditEvents(m).fields = [...auditEvents(m).fields, 'patientId'];
  }),
  violation(PHI_LOGS, 'raw study instance UID instead of its hash', (m) => {
    auditEvents(m).fields = auditEvents(m).fields.map((field) =>
      field === 'studyUidHash' ? 'StudyInstanceUID' : field,
    );
  }),
  violation(PHI_LOGS, 'audit event fields not declared', (m) => {
    delete (auditEvents(m) as Obj).fields;
  }),
  nearMiss(PHI_LOGS, 'LOG_REQUEST_BODY=false', (m) => {
    env(m).push({ name: 'LOG_REQUEST_BODY', value: 'false' });
  }),
  nearMiss(PHI_LOGS, 'pseudonymous patient hash in the audit events', (m) => {
    auditEvents(m).fields = [...auditEvents(m).fields, 'patientIdHash'];
  }),
  nearMiss(PHI_LOGS, 'WARN log level in capitals', (m) => {
    logging(m).level = 'WARN';
    env(m)[0]!.value = 'warn';
  }),
  nearMiss(PHI_LOGS, 'envFrom ConfigMap with safe logging settings', (m) => {
    m.kubernetesManifests.push(
      configMap('chest-xray-triage-logging', { LOG_LEVEL: 'info', LOG_REQUEST_BODY: 'false' }),
    );
    modelContainer(m).envFrom = [{ configMapRef: { name: 'chest-xray-triage-logging' } }];
  }),
];

const retentionCases: ComplianceCase[] = [
  violation(RETENTION, 'release records kept 5 years', (m) => {
    retention(m).releaseRecordsYears = 5;
  }),
  violation(RETENTION, 'six years, but shorter than the device lifetime', (m) => {
    retention(m).releaseRecordsYears = 6;
  }),
  violation(RETENTION, 'nine and a half years', (m) => {
    retention(m).releaseRecordsYears = 9.5;
  }),
  violation(RETENTION, 'no retention at all', (m) => {
    retention(m).releaseRecordsYears = 0;
  }),
  violation(RETENTION, 'retention written as text', (m) => {
    (retention(m) as Obj).releaseRecordsYears = '10';
  }),
  violation(RETENTION, 'release-record retention not declared', (m) => {
    delete (retention(m) as Obj).releaseRecordsYears;
  }),
  violation(RETENTION, 'no data-retention section', (m) => {
    delete m.deployment.dataRetention;
  }),
  violation(RETENTION, 'evidence store without a retention lock', (m) => {
    retention(m).evidenceStore = { ref: 's3://radiology-evidence-eu/releases/', retentionLock: false };
  }),
  violation(RETENTION, 'retention lock written as text', (m) => {
    (retention(m).evidenceStore as Obj).retentionLock = 'true';
  }),
  violation(RETENTION, 'no evidence store declared', (m) => {
    delete retention(m).evidenceStore;
  }),
  violation(RETENTION, 'evidence store without a ref', (m) => {
    retention(m).evidenceStore = { retentionLock: true };
  }),
  violation(RETENTION, 'evidence store with an empty ref', (m) => {
    retention(m).evidenceStore = { ref: '', retentionLock: true };
  }),
  nearMiss(RETENTION, 'records kept exactly the device lifetime', (m) => {
    retention(m).releaseRecordsYears = 10;
  }),
  nearMiss(RETENTION, 'records kept 25 years', (m) => {
    retention(m).releaseRecordsYears = 25;
  }),
  nearMiss(RETENTION, 'records kept ten and a half years', (m) => {
    retention(m).releaseRecordsYears = 10.5;
  }),
];

const baaCases: ComplianceCase[] = [
  violation(BAA, 'target cloud without a BAA', (m) => {
    m.regulatory!.hipaa!.baa = baa(m).filter((entry) => entry.party !== 'azure');
  }),
  violation(BAA, 'BAA not signed', (m) => {
    baa(m).find((entry) => entry.party === 'gcp')!.signed = false;
  }),
  violation(BAA, 'BAA without a ref', (m) => {
    delete baa(m).find((entry) => entry.party === 'grafana-labs')!.ref;
  }),
  violation(BAA, 'signed flag written as text', (m) => {
    (baa(m).find((entry) => entry.party === 'aws') as Obj).signed = 'yes';
  }),
  violation(BAA, 'new trace vendor without a BAA', (m) => {
    logging(m).sinks!.push({ type: 'traces', vendor: 'honeycomb', region: 'eu-west-1' });
    gdpr(m).processors!.push({ name: 'honeycomb', dpaRef: 'doc://DPA-HONEYCOMB', regions: ['eu-west-1'] });
  }),
  violation(BAA, 'audit sink vendor without a BAA', (m) => {
    auditSink(m).vendor = 'splunk';
    gdpr(m).processors!.push({ name: 'splunk', dpaRef: 'doc://DPA-SPLUNK', regions: ['eu-central-1'] });
  }),
  violation(BAA, 'storage provider without a BAA', (m) => {
    m.deployment.storage![1]!.provider = 'wasabi';
    gdpr(m).processors!.push({ name: 'wasabi', dpaRef: 'doc://DPA-WASABI', regions: ['eu-central-1'] });
  }),
  violation(BAA, 'backup vendor without a BAA', (m) => {
    m.deployment.backups!.push({ vendor: 'backblaze', region: 'eu-central-1' });
    gdpr(m).processors!.push({ name: 'backblaze', dpaRef: 'doc://DPA-BACKBLAZE', regions: ['eu-central-1'] });
  }),
  violation(BAA, 'no BAA register', (m) => {
    delete m.regulatory!.hipaa;
  }),
  violation(BAA, 'processor without a DPA ref (EU data)', (m) => {
    delete gdpr(m).processors![1]!.dpaRef;
  }),
  violation(BAA, 'log vendor missing from the processor register (EU data)', (m) => {
    gdpr(m).processors = gdpr(m).processors!.filter((entry) => entry.name !== 'grafana-labs');
  }),
  violation(BAA, 'cloud used in a region its DPA does not cover', (m) => {
    m.deployment.storage!.push({
      purpose: 'cache',
      provider: 'aws',
      encryption: 'kms-cmek',
      kmsKeyRef: 'arn:aws:kms:eu-west-1:111122223333:key/1d2e3f4a',
      region: 'eu-west-1',
      lifecycleDays: 7,
    });
  }),
  violation(BAA, 'backups in a region the DPA does not cover', (m) => {
    m.deployment.backups!.push({ vendor: 'aws', region: 'eu-north-1' });
  }),
  violation(BAA, 'storage without provider in a region no target serves', (m) => {
    m.deployment.storage!.push({
      purpose: 'cache',
      encryption: 'kms-provider',
      kmsKeyRef: 'provider-managed',
      region: 'eu-west-3',
      lifecycleDays: 7,
    });
  }),
  violation(BAA, 'no processor register while EU data is processed', (m) => {
    delete gdpr(m).processors;
  }),
  nearMiss(BAA, 'no EU data subjects: a processor without a DPA reference', (m) => {
    gdpr(m).euDataSubjects = false;
    delete gdpr(m).processors!.find((processor) => processor.name === 'gcp')!.dpaRef;
  }),
  nearMiss(BAA, 'an expired unsigned BAA listed before the signed one', (m) => {
    baa(m).unshift({ party: 'aws', signed: false, ref: 'doc://BAA-AWS-2019-DRAFT' });
  }),
  nearMiss(BAA, 'storage without provider in a target region', (m) => {
    delete m.deployment.storage![0]!.provider;
  }),
  nearMiss(BAA, 'DPA regions wider than the regions used', (m) => {
    gdpr(m).processors![0]!.regions = ['eu-central-1', 'eu-west-1', 'eu-north-1'];
  }),
];

export const cases: ComplianceCase[] = [
  ...auditCases,
  ...digestPinCases,
  ...signatureCases,
  ...phiMetadataCases,
  ...phiLogsCases,
  ...retentionCases,
  ...baaCases,
];
