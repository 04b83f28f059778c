// The HIPAA pack, part A (policies/hipaa.yaml): the compliant example passes each of its seven controls,
// every injected violation of bench/compliance/cases/hipaa.ts makes its control fail (or error: missing
// evidence), every near miss keeps it passing, the evidence points at the offending field, and the
// rules that decide applicability (automatic logoff, manual PCCP modifications) do what they say.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cases } from '../../bench/compliance/cases/hipaa.js';
import type { ComplianceCase } from '../../bench/compliance/cases/types.js';
import type { ControlResult, EvidenceItem } from '../../domain/compliance.js';
import type { NormalizedManifest } from '../../domain/manifest.js';
import { evaluateManifest } from '../../activities/compliance/engine.js';
import type { PolicyBundle } from '../../activities/compliance/policy.js';
import {
  compliantManifest,
  defaultContext,
  evaluate,
  explain,
  rebindApprovals,
  runCase,
  shippedBundle,
} from './harness.js';

const NO_ANON = 'HIPAA-164.312(a)(1)-NO-ANON-ENDPOINT';
const UNIQUE_ID = 'HIPAA-164.312(a)(2)(i)-UNIQUE-USER-ID';
const SOD = 'NIST-AC-5+21CFR11-SOD-APPROVALS';
const AUTO_LOGOFF = 'HIPAA-164.312(a)(2)(iii)-AUTO-LOGOFF';
const ENC_AT_REST = 'HIPAA-164.312(a)(2)(iv)-ENC-AT-REST';
const TLS = 'HIPAA-164.312(e)(1)-TLS-IN-TRANSIT';
const MTLS = 'HIPAA-164.312(e)(2)(i)-MTLS-IN-CLUSTER';

const CONTROLS: [string, 'blocker' | 'major'][] = [
  [NO_ANON, 'blocker'],
  [UNIQUE_ID, 'blocker'],
  [SOD, 'blocker'],
  [AUTO_LOGOFF, 'major'],
  [ENC_AT_REST, 'blocker'],
  [TLS, 'blocker'],
  [MTLS, 'major'],
];
/** This file's controls of the hipaa pack (the pack's other half has its own file). */
const PART_A = new Set(CONTROLS.map(([id]) => id));

/** A case of the catalog by control and name (fails loudly if it was renamed). */
function catalogCase(control: string, name: string): ComplianceCase {
  const found = cases.find((entry) => entry.control === control && entry.name === name);
  if (!found) throw new Error(`no case '${name}' for ${control}`);
  return found;
}

type CaseResult = Awaited<ReturnType<typeof runCase>>;
const results = new Map<ComplianceCase, Promise<CaseResult>>();
/** Runs a case through the whole gate once (the evidence tests reuse the result). */
function run(entry: ComplianceCase): Promise<CaseResult> {
  let result = results.get(entry);
  if (!result) {
    result = runCase(entry);
    results.set(entry, result);
  }
  return result;
}

/** The non-passing evidence items of a control. */
function problems(control: ControlResult): EvidenceItem[] {
  return control.evidence.filter((item) => item.status !== 'pass');
}

/** The compliant example with its approvals bound to it, evaluated with a modified policy bundle. */
function evaluateWith(
  data: Record<string, unknown>,
  mutate: (manifest: NormalizedManifest) => void = () => {},
): ControlResult[] {
  const manifest = compliantManifest();
  mutate(manifest);
  rebindApprovals(manifest);
  const shipped = shippedBundle();
  const bundle: PolicyBundle = { ...shipped, data: { ...shipped.data, ...data } };
  const context = defaultContext();
  return evaluateManifest(manifest, bundle, { now: context.now, signature: null, history: context.history })
    .controls;
}

describe('HIPAA pack, part A', () => {
  // runCase evaluates the shipped bundle; the assertions here are about this pack only, so while this
  // file runs the bundle holds only this pack's controls, which keeps ~150 gate runs well under 5 s.
  // (The whole catalog against the whole bundle is test/compliance/catalog.test.ts.)
  const bundle = shippedBundle();
  const allControls = bundle.controls;
  before(() => {
    bundle.controls = allControls.filter((control) => PART_A.has(control.definition.id));
  });
  after(() => {
    bundle.controls = allControls;
  });

  test('ships the seven controls with the catalog severities, each with a source and a description', () => {
    const own = shippedBundle().controls.filter((control) => PART_A.has(control.definition.id));
    assert.deepEqual(
      own.map((control) => [control.definition.id, control.severity]),
      CONTROLS,
    );
    for (const control of own) {
      assert.ok(control.definition.source.length > 20, `${control.definition.id} cites its source`);
      assert.ok(control.definition.description.length > 100, `${control.definition.id} is described`);
    }
  });

  test('the compliant example passes every control of the pack', () => {
    const manifest = compliantManifest();
    rebindApprovals(manifest);
    const report = evaluate(manifest);
    for (const [id] of CONTROLS) {
      const control = report.controls.find((entry) => entry.id === id);
      assert.equal(control?.status, 'pass', control ? explain(control) : `${id} missing`);
    }
  });

  for (const [id] of CONTROLS) {
    describe(id, () => {
      const own = cases.filter((entry) => entry.control === id);

      test('has at least 10 violations and 2 near misses, with unique names', () => {
        assert.ok(own.filter((entry) => entry.kind === 'violation').length >= 10);
        assert.ok(own.filter((entry) => entry.kind === 'near-miss').length >= 2);
        assert.equal(new Set(own.map((entry) => entry.name)).size, own.length);
      });

      for (const entry of own) {
        test(`${entry.kind}: ${entry.name}`, async () => {
          const { control, report } = await run(entry);
          if (entry.kind === 'violation') {
            assert.ok(control.status === 'fail' || control.status === 'error', explain(control));
            assert.ok(problems(control).length > 0, 'the evidence names what is wrong');
          } else {
            assert.equal(control.status, 'pass', explain(control));
            // A near miss must not trip another control of this pack either.
            for (const other of report.controls.filter((result) => result.pack === 'hipaa'))
              assert.equal(other.status, 'pass', explain(other));
          }
        });
      }
    });
  }

  describe('evidence points at the exact field', () => {
    test('a LoadBalancer Service: its spec.type, observed LoadBalancer', async () => {
      const { control, manifest } = await run(catalogCase(NO_ANON, 'model Service of type LoadBalancer'));
      const index = manifest.kubernetesManifests.findIndex((object) => object.kind === 'Service');
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed, item.status]),
        [[`/kubernetesManifests/${index}/spec/type`, 'LoadBalancer', 'fail']],
      );
    });

    test('a route to the model without authentication: the route, and the unprotected model workload', async () => {
      const { control, manifest } = await run(catalogCase(NO_ANON, 'RequestAuthentication removed'));
      const route = manifest.kubernetesManifests.findIndex((object) => object.kind === 'HTTPRoute');
      const deployment = manifest.kubernetesManifests.findIndex((object) => object.kind === 'Deployment');
      const [item] = problems(control);
      assert.equal(item?.path, `/kubernetesManifests/${route}`);
      assert.deepEqual(item?.observed, {
        kind: 'HTTPRoute',
        name: 'chest-xray-triage',
        authAnnotations: [],
        modelWorkloadsWithoutIstioAuth: [`/kubernetesManifests/${deployment}`],
      });
    });

    test('a missing issuer is an error that says the evidence is missing', async () => {
      const { control } = await run(catalogCase(NO_ANON, 'token issuer missing'));
      assert.equal(control.status, 'error');
      const [item] = problems(control);
      assert.equal(item?.path, '/deployment/endpoint/auth/issuer');
      assert.match(item?.message ?? '', /missing evidence/);
    });

    test('a service-account approver: that approval, observed service-account', async () => {
      const { control } = await run(catalogCase(UNIQUE_ID, 'second approver is a service account'));
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed]),
        [['/approvals/1/type', 'service-account']],
      );
    });

    test('an approval bound to another manifest, and a missing role', async () => {
      const stale = await run(catalogCase(SOD, 'second approval signed another manifest'));
      assert.deepEqual(
        problems(stale.control).map((item) => [item.path, item.observed]),
        [['/approvals/1/signedPayloadDigest', `sha256:${'0'.repeat(64)}`]],
      );
      const noClinical = await run(catalogCase(SOD, 'no clinical approval'));
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
      const { control } = await run(catalogCase(SOD, 'signed before the manifest was created'));
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed]),
        [['/approvals/0/signedAt', '2026-11-27T08:59:59Z']],
      );
    });

    test('a long token lifetime: observed 7200 seconds', async () => {
      const { control } = await run(catalogCase(AUTO_LOGOFF, 'access tokens live two hours'));
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed]),
        [['/deployment/endpoint/auth/accessTokenTtlSeconds', 7200]],
      );
    });

    test('a cluster without Secrets encryption: its kmsKeyRef, and a PHI cache on disk: the volume', async () => {
      const secrets = await run(catalogCase(ENC_AT_REST, 'third cluster without a Secrets KMS key'));
      assert.deepEqual(
        problems(secrets.control).map((item) => [item.path, item.observed]),
        [['/deployment/targets/2/clusterProfile/secretsEncryption/kmsKeyRef', '']],
      );
      const cache = await run(catalogCase(ENC_AT_REST, 'disk scratch volume mounted at a PHI cache path'));
      const deployment = cache.manifest.kubernetesManifests.findIndex(
        (object) => object.kind === 'Deployment',
      );
      assert.deepEqual(
        problems(cache.control).map((item) => [item.path, item.observed]),
        [
          [
            `/kubernetesManifests/${deployment}/spec/template/spec/volumes/0`,
            { medium: null, mountPaths: ['/cache'] },
          ],
        ],
      );
    });

    test('a route using a plaintext listener: the parentRef, with the listeners it uses', async () => {
      const { control, manifest } = await run(
        catalogCase(TLS, 'route without sectionName also uses an HTTP listener'),
      );
      const route = manifest.kubernetesManifests.findIndex((object) => object.kind === 'HTTPRoute');
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed]),
        [
          [
            `/kubernetesManifests/${route}/spec/parentRefs/0`,
            [
              { listener: 'https', protocol: 'HTTPS' },
              { listener: 'http', protocol: 'HTTP' },
            ],
          ],
        ],
      );
    });

    test('without a PeerAuthentication, each target mesh: the permissive one', async () => {
      const { control } = await run(catalogCase(MTLS, 'no PeerAuthentication and a permissive mesh'));
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
      const { control } = await run(
        catalogCase(AUTO_LOGOFF, 'human-facing mTLS endpoint without token limits'),
      );
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
      const sod = (controls: ControlResult[]) => controls.find((control) => control.id === SOD)!;

      const manual = sod(evaluateWith(registry('manual'), withoutClinical));
      assert.equal(manual.status, 'fail', explain(manual));
      assert.deepEqual(
        problems(manual).map((item) => item.check),
        ['a manual modification has a clinical approval'],
      );
      const automatic = sod(evaluateWith(registry('automatic'), withoutClinical));
      assert.equal(automatic.status, 'pass', explain(automatic));
      // A model the registry does not know has no manual modification (the FDA pack judges the rest).
      const unknown = sod(evaluateWith({ ...registry('manual'), authorizedPccps: {} }, withoutClinical));
      assert.equal(unknown.status, 'pass', explain(unknown));
    });
  });
});
