// The HIPAA pack, audit/integrity/PHI half (policies/hipaa.yaml) through the real gate: the compliant example passes
// its seven controls, every injected violation of bench/compliance/cases/hipaa-integrity.ts makes its control
// fail (or error: missing evidence) and every near miss keeps it passing, the evidence names the exact
// field with what was observed, and the conditional checks, the PHI allow-list and the signature
// verification behave as documented in docs/policies/hipaa.md.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ControlResult } from '../../domain/compliance.js';
import type { NormalizedManifest } from '../../domain/manifest.js';
import {
  containerEnv,
  dig,
  listAt,
  modelContainer,
  modelDeployment,
  podSpec,
} from '../../bench/compliance/cases/helpers.js';
import type { CaseContext } from '../../bench/compliance/cases/types.js';
import {
  AUDIT,
  BAA,
  cases,
  DIGEST_PIN,
  failedSignature,
  PHI_LOGS,
  PHI_METADATA,
  RETENTION,
  SIGNATURE,
  verifiedSignature,
} from '../../bench/compliance/cases/hipaa-integrity.js';
import {
  assertCatalogShape,
  assertExamplePasses,
  assertPackControls,
  compliantManifest,
  controlOf,
  type ControlSeverity,
  describeCatalogCases,
  evaluate,
  evaluateWithPolicyData,
  evidenceItem,
  explain,
  runCase,
  shippedBundle,
} from './harness.js';

/** The pack's controls in order, with the catalog's severities. */
const CONTROLS: ControlSeverity[] = [
  [AUDIT, 'blocker'],
  [DIGEST_PIN, 'blocker'],
  [SIGNATURE, 'blocker'],
  [PHI_METADATA, 'blocker'],
  [PHI_LOGS, 'major'],
  [RETENTION, 'major'],
  [BAA, 'blocker'],
];
/** This file's controls of the hipaa pack (the pack's other half has its own file). */
const PART_B = CONTROLS.map(([id]) => id);

/** Runs an ad-hoc case and returns the result of its control. */
async function controlAfter(
  control: string,
  mutate: (manifest: NormalizedManifest, context: CaseContext) => void,
): Promise<ControlResult> {
  return (await runCase({ control, name: 'ad hoc', kind: 'violation', mutate })).control;
}

/** The example with the gate's own verification of a valid signature (until the bundle is inlined). */
const signed = (manifest: NormalizedManifest, context: CaseContext) => {
  context.signature = verifiedSignature(manifest.model.artifact.digest);
};

describe('HIPAA part B pack (policies/hipaa.yaml)', () => {
  test('ships the seven controls with the catalog severities, no N/A rule and a source each', () => {
    // Only controls of the hipaa pack are selected, so all seven are part of it.
    const own = assertPackControls('hipaa', CONTROLS, { part: true });
    const pack = shippedBundle().packs.find((entry) => entry.id === 'hipaa');
    assert.equal(pack?.title, 'HIPAA Security and Privacy Rules, and electronic signatures');
    for (const control of own) {
      assert.equal(control.notApplicable, undefined, `${control.definition.id} always applies`);
      assert.ok(control.definition.source.includes('45 CFR 164.'), `${control.definition.id} cites HIPAA`);
    }
  });

  test('the compliant example passes all seven controls', async () => {
    await assertExamplePasses(PART_B, signed);
  });

  test('the example passes the signature control with its own bundle, verified by the gate', () => {
    const manifest = compliantManifest();
    const bundle = manifest.model.artifact.signature?.bundle as Record<string, unknown> | undefined;
    assert.ok(bundle && Object.keys(bundle).length > 0, 'the example carries its sigstore bundle inline');
    const control = controlOf(evaluate(manifest).controls, SIGNATURE);
    assert.equal(control.status, 'pass', explain(control));
  });

  test('the violation catalog has at least 10 violations and 2 near misses per control, uniquely named', () => {
    assertCatalogShape(cases, PART_B);
    assert.ok(cases.every((entry) => PART_B.includes(entry.control)));
  });

  describeCatalogCases(cases, PART_B, { shapeTests: false });
});

describe('HIPAA part B evidence', () => {
  test('audit logging names the target whose cluster audit log is off', async () => {
    const control = await controlAfter(AUDIT, (manifest) => {
      manifest.deployment.targets[1]!.clusterProfile!.auditLogging!.enabled = false;
    });
    const failed = evidenceItem(control, 'every target cluster has Kubernetes audit logging enabled', 'fail');
    assert.equal(failed.path, '/deployment/targets/1/clusterProfile/auditLogging/enabled');
    assert.equal(failed.observed, false);
  });

  test('audit logging lists the missing audit fields and checks the sink region only for EU data', async () => {
    const missing = await controlAfter(AUDIT, (manifest) => {
      const events = manifest.deployment.logging!.auditEvents!;
      events.fields = events.fields.filter((field) => field !== 'clientId' && field !== 'decision');
    });
    assert.deepEqual(evidenceItem(missing, 'audit events carry every field', 'fail').observed, [
      'clientId',
      'decision',
    ]);

    const london = await controlAfter(AUDIT, (manifest) => {
      manifest.deployment.logging!.auditEvents!.sink!.region = 'eu-west-2';
    });
    const region = evidenceItem(london, 'the audit sink region passes', 'fail');
    assert.equal(region.path, '/deployment/logging/auditEvents/sink/region');
    assert.equal(region.observed, 'eu-west-2');

    const noEuData = await controlAfter(AUDIT, (manifest) => {
      manifest.regulatory!.gdpr!.euDataSubjects = false;
      manifest.deployment.logging!.auditEvents!.sink!.region = 'eu-west-2';
    });
    assert.equal(noEuData.status, 'pass', explain(noEuData));
    assert.ok(!noEuData.evidence.some((entry) => entry.check.startsWith('the audit sink region')));
  });

  test('digest pinning names the unpinned container and the model container running another digest', async () => {
    const control = await controlAfter(DIGEST_PIN, (manifest) => {
      listAt(podSpec(manifest), 'containers').push({
        name: 'audit-shipper',
        image: 'docker.io/fluent/fluent-bit:3.1.9',
      });
      modelContainer(manifest).image =
        `registry.example.org/models/chest-xray-triage:2.5.0@sha256:${'0'.repeat(64)}`;
    });
    const unpinned = evidenceItem(control, 'every container image is pinned by digest', 'fail');
    assert.equal(unpinned.path, '/kubernetesManifests/2/spec/template/spec/containers/1/image');
    assert.equal(unpinned.observed, 'docker.io/fluent/fluent-bit:3.1.9');
    const other = evidenceItem(control, 'every model-server container runs the artifact digest', 'fail');
    assert.equal(other.path, '/kubernetesManifests/2/spec/template/spec/containers/0/image');
  });

  test('a verified flag in the manifest is not evidence: the gate verification decides', async () => {
    const control = await controlAfter(SIGNATURE, (manifest, context) => {
      manifest.model.artifact.signature = { ...manifest.model.artifact.signature!, verified: true };
      context.signature = failedSignature('signature', 'the signature does not verify');
    });
    assert.equal(control.status, 'fail');
    const verification = evidenceItem(control, 'the gate verified the signature bundle', 'fail');
    assert.equal(verification.path, '/model/artifact/signature/bundle');
    assert.deepEqual(verification.observed, {
      verified: false,
      error: 'signature: the signature does not verify',
      failedChecks: ['signature: the signature does not verify'],
    });
  });

  test('no bundle is missing evidence (error), and the signer evidence is the verified signer', async () => {
    const missing = await controlAfter(SIGNATURE, (_manifest, context) => {
      context.signature = null;
    });
    assert.equal(missing.status, 'error');
    assert.match(evidenceItem(missing, 'the gate verified', 'error').message ?? '', /missing evidence/);

    const untrusted = await controlAfter(SIGNATURE, (manifest, context) => {
      context.signature = verifiedSignature(manifest.model.artifact.digest, {
        signer: {
          kind: 'certificate',
          identity: 'https://ci.example.org/other/build',
          issuer: 'https://token.ci.example.org',
        },
      });
    });
    assert.deepEqual(evidenceItem(untrusted, 'the signer is trusted', 'fail').observed, {
      kind: 'certificate',
      identity: 'https://ci.example.org/other/build',
      issuer: 'https://token.ci.example.org',
    });
  });

  test('the PHI detector names the field and value, and shows the allow-listed contact as passing', async () => {
    const control = await controlAfter(PHI_METADATA, (manifest) => {
      dig(modelDeployment(manifest), 'metadata').annotations = { note: 'patient 123-45-6789' };
    });
    const ssn = evidenceItem(control, 'no Social Security numbers', 'fail');
    assert.equal(ssn.path, '/kubernetesManifests/2/metadata/annotations/note');
    assert.equal(ssn.observed, 'patient 123-45-6789');
    const contact = evidenceItem(control, 'no e-mail addresses', 'pass');
    assert.equal(contact.path, '/modelCard/contact');
    assert.equal(contact.observed, 'ai-safety@example-hospital.org');
  });

  test('the PHI allow-list ignores entries without a reviewer and honours a path limit', () => {
    const judge = (phiAllowList: unknown[], edit?: (manifest: NormalizedManifest) => void) =>
      controlOf(evaluateWithPolicyData({ phiAllowList }, edit), PHI_METADATA);
    const unreviewed = judge([{ detector: 'email', domain: 'example-hospital.org' }]);
    assert.equal(evidenceItem(unreviewed, 'no e-mail addresses', 'fail').path, '/modelCard/contact');

    const contactOnly = [
      {
        detector: 'email',
        domain: 'example-hospital.org',
        pathPrefix: '/modelCard/contact',
        reviewer: 'oidc|u-2002',
      },
    ];
    assert.equal(judge(contactOnly).status, 'pass');
    const elsewhere = judge(contactOnly, (manifest) => {
      dig(modelDeployment(manifest), 'metadata').annotations = {
        owner: 'radiology-ai@example-hospital.org',
      };
    });
    assert.equal(
      evidenceItem(elsewhere, 'no e-mail addresses', 'fail').path,
      '/kubernetesManifests/2/metadata/annotations/owner',
    );

    const exactValue = [
      { detector: 'ssn', value: 'lot 123-45-6789', reviewer: 'oidc|u-2002', reason: 'a batch lot' },
    ];
    const reviewed = judge([...contactOnly, ...exactValue], (manifest) => {
      manifest.modelCard!.limitations = 'lot 123-45-6789';
    });
    assert.equal(reviewed.status, 'pass', explain(reviewed));
  });

  test('payload-logging evidence shows the env entry, and raw identifiers point at the audit field', async () => {
    const control = await controlAfter(PHI_LOGS, (manifest) => {
      containerEnv(modelContainer(manifest)).push({ name: 'LOG_REQUEST_BODY', value: 'true' });
      manifest.deployment.logging!.auditEvents!.fields.push('patientId');
    });
    const flag = evidenceItem(control, 'no container environment variable', 'fail');
    assert.equal(flag.path, '/kubernetesManifests/2/spec/template/spec/containers/0/env/2');
    assert.deepEqual(flag.observed, { name: 'LOG_REQUEST_BODY', value: 'true' });
    const raw = evidenceItem(control, 'audit events carry pseudonymous IDs', 'fail');
    assert.equal(raw.path, '/deployment/logging/auditEvents/fields/8');
    assert.equal(raw.observed, 'patientId');
  });

  test('retention below the device lifetime fails with the declared years as evidence', async () => {
    const control = await controlAfter(RETENTION, (manifest) => {
      manifest.deployment.dataRetention!.releaseRecordsYears = 6;
    });
    const years = evidenceItem(control, 'release records are kept', 'fail');
    assert.equal(years.path, '/deployment/dataRetention/releaseRecordsYears');
    assert.equal(years.observed, 6);
  });

  test('BAA evidence names the party without an agreement and the region its DPA misses', async () => {
    const control = await controlAfter(BAA, (manifest) => {
      manifest.regulatory!.hipaa!.baa = manifest.regulatory!.hipaa!.baa.filter(
        (entry) => entry.party !== 'azure',
      );
      manifest.deployment.backups!.push({ vendor: 'aws', region: 'eu-north-1' });
    });
    const missing = evidenceItem(control, 'every cloud and vendor has a signed BAA', 'fail');
    assert.equal(missing.path, '/regulatory/hipaa/baa');
    assert.deepEqual(missing.observed, { party: 'azure', baa: [] });
    const dpa = evidenceItem(control, 'every cloud and vendor has a DPA', 'fail');
    assert.equal(dpa.path, '/regulatory/gdpr/processors/0');
    assert.deepEqual((dpa.observed as { regionsUsed: string[] }).regionsUsed, ['eu-central-1', 'eu-north-1']);
  });

  test('the DPA check applies only when EU personal data is processed', async () => {
    const control = await controlAfter(BAA, (manifest) => {
      manifest.regulatory!.gdpr!.euDataSubjects = false;
      manifest.deployment.backups!.push({ vendor: 'aws', region: 'us-east-1' });
    });
    assert.equal(control.status, 'pass', explain(control));
    assert.ok(
      control.evidence.every((entry) => !entry.check.includes('DPA') || entry.message?.includes('nothing')),
    );
  });
});
