// The HIPAA pack, part A (policies/hipaa.yaml): the compliant example passes each of its seven controls,
// every injected violation of bench/compliance/cases/hipaa.ts makes its control fail (or error: missing
// evidence), every near miss keeps it passing, the evidence points at the offending field, and the
// rules that decide applicability (automatic logoff, manual PCCP modifications) do what they say.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AUTO_LOGOFF,
  cases,
  ENC_AT_REST,
  MTLS,
  NO_ANON,
  SOD,
  TLS,
  UNIQUE_ID,
} from '../../bench/compliance/cases/hipaa.js';
import type { NormalizedManifest } from '../../domain/manifest.js';
import {
  assertDocumented,
  assertExamplePasses,
  assertPackControls,
  catalogCase,
  controlOf,
  type ControlSeverity,
  describeCatalogCases,
  evaluateWithPolicyData,
  explain,
  narrowBundleTo,
  objectPointer,
  problems,
  runCase,
  runCaseOnce,
} from './harness.js';

const CONTROLS: ControlSeverity[] = [
  [NO_ANON, 'blocker'],
  [UNIQUE_ID, 'blocker'],
  [SOD, 'blocker'],
  [AUTO_LOGOFF, 'major'],
  [ENC_AT_REST, 'blocker'],
  [TLS, 'blocker'],
  [MTLS, 'major'],
];
/** This file's controls of the hipaa pack (the pack's other half has its own file). */
const PART_A = CONTROLS.map(([id]) => id);

/** A case of the catalog run through the gate, once per file (the evidence tests reuse the result). */
const run = (control: string, name: string) => runCaseOnce(catalogCase(cases, control, name));

describe('HIPAA pack, part A', () => {
  // runCase evaluates the shipped bundle; the assertions here are about this pack only, so while this
  // file runs the bundle holds only this pack's controls, which keeps ~150 gate runs well under 5 s.
  narrowBundleTo(PART_A);

  test('ships the seven controls with the catalog severities, each with a source and a description', () => {
    assertDocumented(assertPackControls('hipaa', CONTROLS, { part: true }));
  });

  test('the compliant example passes every control of the pack', async () => {
    await assertExamplePasses(PART_A);
  });

  describeCatalogCases(cases, PART_A);

  describe('evidence points at the exact field', () => {
    test('a LoadBalancer Service: its spec.type, observed LoadBalancer', async () => {
      const { control, manifest } = await run(NO_ANON, 'model Service of type LoadBalancer');
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed, item.status]),
        [[`${objectPointer(manifest, 'Service')}/spec/type`, 'LoadBalancer', 'fail']],
      );
    });

    test('a route to the model without authentication: the route, and the unprotected model workload', async () => {
      const { control, manifest } = await run(NO_ANON, 'RequestAuthentication removed');
      const [item] = problems(control);
      assert.equal(item?.path, objectPointer(manifest, 'HTTPRoute'));
      assert.deepEqual(item?.observed, {
        kind: 'HTTPRoute',
        name: 'chest-xray-triage',
        authAnnotations: [],
        modelWorkloadsWithoutIstioAuth: [objectPointer(manifest, 'Deployment')],
      });
    });

    test('a missing issuer is an error that says the evidence is missing', async () => {
      const { control } = await run(NO_ANON, 'token issuer missing');
      assert.equal(control.status, 'error');
      const [item] = problems(control);
      assert.equal(item?.path, '/deployment/endpoint/auth/issuer');
      assert.match(item?.message ?? '', /missing evidence/);
    });

    test('a service-account approver: that approval, observed service-account', async () => {
      const { control } = await run(UNIQUE_ID, 'second approver is a service account');
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed]),
        [['/approvals/1/type', 'service-account']],
      );
    });

    test('an approval bound to another manifest, and a missing role', async () => {
      const stale = await run(SOD, 'second approval signed another manifest');
      assert.deepEqual(
        problems(stale.control).map((item) => [item.path, item.observed]),
        [['/approvals/1/signedPayloadDigest', `sha256:${'0'.repeat(64)}`]],
      );
      const noClinical = await run(SOD, 'no clinical approval');
      assert.ok(
        problems(noClinical.control).some(
          (item) =>
            item.path === '/approvals' &&
            JSON.stringify(item.observed) === '{"role":"clinical","approvers":[]}',
        ),
        explain(noClinical.control),
      );
    });

    test('an approval signed before the manifest existed: its signedAt', async () => {
      const { control } = await run(SOD, 'signed before the manifest was created');
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed]),
        [['/approvals/0/signedAt', '2026-11-27T08:59:59Z']],
      );
    });

    test('a long token lifetime: observed 7200 seconds', async () => {
      const { control } = await run(AUTO_LOGOFF, 'access tokens live two hours');
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed]),
        [['/deployment/endpoint/auth/accessTokenTtlSeconds', 7200]],
      );
    });

    test('a cluster without Secrets encryption: its kmsKeyRef, and a PHI cache on disk: the volume', async () => {
      const secrets = await run(ENC_AT_REST, 'third cluster without a Secrets KMS key');
      assert.deepEqual(
        problems(secrets.control).map((item) => [item.path, item.observed]),
        [['/deployment/targets/2/clusterProfile/secretsEncryption/kmsKeyRef', '']],
      );
      const cache = await run(ENC_AT_REST, 'disk scratch volume mounted at a PHI cache path');
      assert.deepEqual(
        problems(cache.control).map((item) => [item.path, item.observed]),
        [
          [
            `${objectPointer(cache.manifest, 'Deployment')}/spec/template/spec/volumes/0`,
            { medium: null, mountPaths: ['/cache'] },
          ],
        ],
      );
    });

    test('a route using a plaintext listener: the parentRef, with the listeners it uses', async () => {
      const { control, manifest } = await run(TLS, 'route without sectionName also uses an HTTP listener');
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed]),
        [
          [
            `${objectPointer(manifest, 'HTTPRoute')}/spec/parentRefs/0`,
            [
              { listener: 'https', protocol: 'HTTPS' },
              { listener: 'http', protocol: 'HTTP' },
            ],
          ],
        ],
      );
    });

    test('without a PeerAuthentication, each target mesh: the permissive one', async () => {
      const { control } = await run(MTLS, 'no PeerAuthentication and a permissive mesh');
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed]),
        [['/deployment/targets/0/clusterProfile/meshMtls', 'permissive']],
      );
    });
  });

  describe('applicability rules', () => {
    test('automatic logoff is not applicable to a machine-only mTLS endpoint that issues no tokens', async () => {
      const { control } = await runCase({
        control: AUTO_LOGOFF,
        name: 'machine-only mTLS endpoint without tokens',
        kind: 'near-miss',
        mutate: (manifest) => {
          const auth = manifest.deployment.endpoint!.auth!;
          auth.type = 'mtls';
          delete auth.accessTokenTtlSeconds;
        },
      });
      assert.equal(control.status, 'not_applicable', explain(control));
      assert.match(control.notApplicableRule ?? '', /machine-to-machine/);
    });

    test('automatic logoff still applies to an mTLS endpoint that people use', async () => {
      const { control } = await run(AUTO_LOGOFF, 'human-facing mTLS endpoint without token limits');
      assert.equal(control.status, 'error', explain(control));
    });

    test('a modification the PCCP registry marks manual needs a clinical approval, whatever the required roles', () => {
      const registry = (implementation: string) => ({
        requiredRoles: ['regulatory-qa'],
        authorizedPccps: {
          'chest-xray-triage': {
            id: 'PCCP-CXR-01',
            authorizedModifications: [
              { id: 'M1', type: 'retrain-same-architecture', implementation, scope: 'global' },
            ],
          },
        },
      });
      const withoutClinical = (manifest: NormalizedManifest) => {
        manifest.approvals![1]!.role = 'security';
      };
      const sod = (data: Record<string, unknown>) =>
        controlOf(evaluateWithPolicyData(data, withoutClinical), SOD);

      const manual = sod(registry('manual'));
      assert.equal(manual.status, 'fail', explain(manual));
      assert.deepEqual(
        problems(manual).map((item) => item.check),
        ['a manual modification has a clinical approval'],
      );
      const automatic = sod(registry('automatic'));
      assert.equal(automatic.status, 'pass', explain(automatic));
      // A model the registry does not know has no manual modification (the FDA pack judges the rest).
      const unknown = sod({ ...registry('manual'), authorizedPccps: {} });
      assert.equal(unknown.status, 'pass', explain(unknown));
    });
  });
});
