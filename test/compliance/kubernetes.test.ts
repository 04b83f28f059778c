// The Kubernetes pack (policies/kubernetes.yaml): the compliant example passes each of its twelve
// controls, every injected violation of bench/compliance/cases/kubernetes.ts makes its control fail (or
// error: missing evidence), every near miss keeps the whole pack passing, the evidence points at the
// offending field, the probe control's not-applicable rule does what it says, and the policy data
// switches (CPU limits, tag before digest) change what passes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cases } from '../../bench/compliance/cases/kubernetes.js';
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

const NON_ROOT = 'K8S-PSS-R-RUN-AS-NON-ROOT';
const PRIVILEGED = 'K8S-PSS-B-NO-PRIVILEGED-HOSTNS';
const PRIVESC = 'K8S-PSS-R-PRIVESC-CAPS-SECCOMP';
const HOSTPATH = 'K8S-PSS-B-NO-HOSTPATH';
const RO_ROOTFS = 'K8S-NSA-RO-ROOTFS';
const LIMITS = 'K8S-RESOURCE-LIMITS';
const NETPOL = 'K8S-CIS-5.3.2-NETPOL';
const LATEST = 'K8S-NO-LATEST-TAG';
const PROBES = 'K8S-PROBES';
const SA_TOKEN = 'K8S-CIS-5.1.6-SA-TOKEN';
const SECRETS = 'K8S-CIS-5.4.1-SECRETS-AS-FILES';
const NAMESPACE_PSA = 'K8S-CIS-5.7.4-NAMESPACE-PSA';

const CONTROLS: [string, 'blocker' | 'major' | 'minor'][] = [
  [NON_ROOT, 'blocker'],
  [PRIVILEGED, 'blocker'],
  [PRIVESC, 'major'],
  [HOSTPATH, 'blocker'],
  [RO_ROOTFS, 'major'],
  [LIMITS, 'major'],
  [NETPOL, 'major'],
  [LATEST, 'minor'],
  [PROBES, 'major'],
  [SA_TOKEN, 'major'],
  [SECRETS, 'minor'],
  [NAMESPACE_PSA, 'minor'],
];

/** A case of the catalog by control and name (fails loudly if it was renamed). */
function catalogCase(control: string, name: string): ComplianceCase {
  const found = cases.find((entry) => entry.control === control && entry.name === name);
  if (!found) throw new Error(`no case '${name}' for ${control}`);
  return found;
}

type CaseResult = Awaited<ReturnType<typeof runCase>>;
const results = new Map<ComplianceCase, Promise<CaseResult>>();
/** Runs a case through the gate once (the evidence tests reuse the result). */
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

/** [path, observed, status] of the non-passing items, for exact comparisons. */
function problemRows(control: ControlResult): [string, unknown, string][] {
  return problems(control).map((item) => [item.path, item.observed, item.status]);
}

/** JSON pointer of the first Kubernetes object of this kind (and name) in a manifest. */
function objectPointer(manifest: NormalizedManifest, kind: string, name?: string): string {
  const index = manifest.kubernetesManifests.findIndex(
    (object) =>
      object.kind === kind &&
      (name === undefined || (object.metadata as Record<string, unknown> | undefined)?.name === name),
  );
  assert.ok(index >= 0, `the manifest has a ${kind}`);
  return `/kubernetesManifests/${index}`;
}

const modelPod = (manifest: NormalizedManifest) =>
  `${objectPointer(manifest, 'Deployment', 'chest-xray-triage')}/spec/template/spec`;

/** The compliant example (after an optional edit) evaluated with modified policy data. */
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

function controlOf(controls: ControlResult[], id: string): ControlResult {
  const found = controls.find((control) => control.id === id);
  assert.ok(found, `${id} was evaluated`);
  return found;
}

function modelContainerOf(manifest: NormalizedManifest): Record<string, unknown> {
  const deployment = manifest.kubernetesManifests.find((object) => object.kind === 'Deployment')!;
  const spec = ((deployment.spec as Record<string, unknown>).template as Record<string, unknown>)
    .spec as Record<string, unknown>;
  return (spec.containers as Record<string, unknown>[])[0]!;
}

describe('Kubernetes pack', () => {
  // runCase evaluates the shipped bundle; the assertions here are about this pack only, so while this
  // file runs the bundle holds only this pack's controls, which keeps ~200 gate runs well under 5 s.
  // (The whole catalog against the whole bundle is test/compliance/catalog.test.ts.)
  const bundle = shippedBundle();
  const allControls = bundle.controls;
  before(() => {
    bundle.controls = allControls.filter((control) => control.pack === 'kubernetes');
  });
  after(() => {
    bundle.controls = allControls;
  });

  test('ships the twelve controls with the catalog severities, each with a source and a description', () => {
    const own = shippedBundle().controls.filter((control) => control.pack === 'kubernetes');
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
            for (const other of report.controls.filter((result) => result.pack === 'kubernetes'))
              assert.equal(other.status, 'pass', explain(other));
          }
        });
      }
    });
  }

  describe('evidence points at the exact field', () => {
    test('a container that overrides runAsNonRoot: its own field, observed false', async () => {
      const { control, manifest } = await run(
        catalogCase(NON_ROOT, 'container runAsNonRoot false overrides the pod'),
      );
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/containers/0/securityContext/runAsNonRoot`, false, 'fail'],
      ]);
    });

    test('a container that inherits runAsNonRoot false: the pod field it inherits', async () => {
      const { control, manifest } = await run(
        catalogCase(NON_ROOT, 'pod runAsNonRoot false, containers unset'),
      );
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/securityContext/runAsNonRoot`, false, 'fail'],
      ]);
    });

    test('a second port bound to the node: that port, observed 1', async () => {
      const { control, manifest } = await run(
        catalogCase(PRIVILEGED, 'second port of the model container bound to hostPort 1'),
      );
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/containers/0/ports/1/hostPort`, 1, 'fail'],
      ]);
    });

    test('a forbidden capability: its list element, observed NET_ADMIN', async () => {
      const { control, manifest } = await run(
        catalogCase(PRIVESC, 'second added capability NET_ADMIN after NET_BIND_SERVICE'),
      );
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/containers/0/securityContext/capabilities/add/1`, 'NET_ADMIN', 'fail'],
      ]);
    });

    test('a container that overrides seccomp: its own profile type, observed Unconfined', async () => {
      const { control, manifest } = await run(
        catalogCase(PRIVESC, 'container seccomp Unconfined overrides the pod'),
      );
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/containers/0/securityContext/seccompProfile/type`, 'Unconfined', 'fail'],
      ]);
    });

    test('a hostPath volume: the volume, by its hostPath and by its type', async () => {
      const { control, manifest } = await run(catalogCase(HOSTPATH, 'hostPath volume of /var/log'));
      const volume = `${modelPod(manifest)}/volumes/2`;
      assert.deepEqual(problemRows(control), [
        [`${volume}/hostPath`, { path: '/var/log' }, 'fail'],
        [volume, ['hostPath'], 'fail'],
      ]);
    });

    test('an emptyDir without a size limit: its sizeLimit, missing', async () => {
      const { control, manifest } = await run(
        catalogCase(RO_ROOTFS, 'scratch emptyDir without a size limit'),
      );
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/volumes/0/emptyDir/sizeLimit`, null, 'fail'],
      ]);
    });

    test('a missing ephemeral-storage limit and a GPU limit above the request', async () => {
      const storage = await run(catalogCase(LIMITS, 'no ephemeral-storage limit'));
      assert.deepEqual(problemRows(storage.control), [
        [`${modelPod(storage.manifest)}/containers/0/resources/limits/ephemeral-storage`, null, 'fail'],
      ]);
      const gpu = await run(catalogCase(LIMITS, 'GPU limit 2 for a request of 1'));
      const [item] = problems(gpu.control);
      assert.equal(item?.path, `${modelPod(gpu.manifest)}/containers/0/resources/limits`);
      assert.equal((item?.observed as Record<string, unknown>)['nvidia.com/gpu'], 2);
    });

    test('an egress rule opening a port policy does not allow: its destination, with the rule ports', async () => {
      const { control, manifest } = await run(catalogCase(NETPOL, 'DNS egress rule also opens port 443'));
      const allow = objectPointer(manifest, 'NetworkPolicy', 'chest-xray-triage-allow');
      const [item, ...rest] = problems(control);
      assert.equal(rest.length, 0, explain(control));
      assert.equal(item?.path, `${allow}/spec/egress/0/to/0`);
      assert.deepEqual((item?.observed as { ports: unknown }).ports, [
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
        { port: 443, protocol: 'TCP' },
      ]);
    });

    test('no default deny: the namespace, with no default-deny policy found', async () => {
      const { control } = await run(catalogCase(NETPOL, 'default-deny policy removed'));
      assert.deepEqual(problemRows(control), [
        ['/kubernetesManifests', { namespace: 'radiology-ai', defaultDeny: [] }, 'fail'],
      ]);
    });

    test('an init container running busybox:latest: its image', async () => {
      const { control, manifest } = await run(catalogCase(LATEST, 'init container busybox:latest'));
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.status]),
        [[`${modelPod(manifest)}/initContainers/0/image`, 'fail']],
      );
    });

    test('a liveness probe on the inference endpoint: its path, observed /v1/predict', async () => {
      const { control, manifest } = await run(
        catalogCase(PROBES, 'liveness probe on the inference endpoint /v1/predict'),
      );
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/containers/0/livenessProbe/httpGet/path`, '/v1/predict', 'fail'],
      ]);
    });

    test('an automount left to the ServiceAccount: its field, observed the default true', async () => {
      const { control, manifest } = await run(
        catalogCase(SA_TOKEN, 'pod unset and ServiceAccount unset (mounted by default)'),
      );
      assert.deepEqual(problemRows(control), [
        [`${objectPointer(manifest, 'ServiceAccount')}/automountServiceAccountToken`, true, 'fail'],
      ]);
    });

    test('an automount left to a ServiceAccount outside the manifest is missing evidence', async () => {
      const { control, manifest } = await run(
        catalogCase(SA_TOKEN, 'pod unset and its ServiceAccount not in the manifest (missing evidence)'),
      );
      assert.equal(control.status, 'error');
      const [item] = problems(control);
      assert.equal(item?.path, `${modelPod(manifest)}/automountServiceAccountToken`);
      assert.match(item?.message ?? '', /missing evidence/);
    });

    test('a credential in a ConfigMap: its key, naming the pattern, never the value', async () => {
      const { control, manifest } = await run(catalogCase(SECRETS, 'ConfigMap with an AWS access key id'));
      const configMap = objectPointer(manifest, 'ConfigMap', 'chest-xray-triage-config');
      assert.deepEqual(problemRows(control), [[`${configMap}/data/aws.env`, ['AWS access key id'], 'fail']]);
      assert.ok(
        !JSON.stringify(control).includes('AKIAIOSFODNN7EXAMPLE'),
        'the report does not repeat the secret',
      );
    });

    test('an environment variable from a Secret: its secretKeyRef', async () => {
      const { control, manifest } = await run(catalogCase(SECRETS, 'environment variable from a Secret'));
      assert.deepEqual(problemRows(control), [
        [
          `${modelPod(manifest)}/containers/0/env/2/valueFrom/secretKeyRef`,
          { name: 'cxr-db', key: 'password' },
          'fail',
        ],
      ]);
    });

    test('a silent cluster profile is missing evidence at that profile', async () => {
      const { control } = await run(
        catalogCase(
          NAMESPACE_PSA,
          'Namespace not in the manifest and a cluster profile silent (missing evidence)',
        ),
      );
      assert.equal(control.status, 'error');
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.status]),
        [['/deployment/targets/0/clusterProfile/podSecurityAdmission', 'error']],
      );
    });

    test('a namespace enforcing baseline: its enforce label', async () => {
      const { control, manifest } = await run(catalogCase(NAMESPACE_PSA, 'namespace enforces baseline'));
      assert.deepEqual(problemRows(control), [
        [
          `${objectPointer(manifest, 'Namespace')}/metadata/labels/pod-security.kubernetes.io~1enforce`,
          'baseline',
          'fail',
        ],
      ]);
    });

    test('a manifest without workloads is missing evidence for every control, never a pass', async () => {
      for (const [id] of CONTROLS) {
        const { control } = await run(catalogCase(id, 'no workload in the manifest (missing evidence)'));
        assert.equal(control.status, 'error', explain(control));
        const [item] = problems(control);
        assert.equal(item?.path, '/kubernetesManifests');
        assert.match(item?.message ?? '', /missing evidence/);
      }
    });
  });

  describe('not applicable', () => {
    test('probes do not apply when the model runs only as a batch CronJob, and the rule is recorded', async () => {
      const { control, report } = await runCase({
        control: PROBES,
        name: 'model only in a CronJob',
        kind: 'near-miss',
        mutate(manifest) {
          const deployment = manifest.kubernetesManifests.find((object) => object.kind === 'Deployment')!;
          const spec = deployment.spec as Record<string, unknown>;
          const template = spec.template as Record<string, unknown>;
          (template.spec as Record<string, unknown>).restartPolicy = 'OnFailure';
          Object.assign(deployment, {
            apiVersion: 'batch/v1',
            kind: 'CronJob',
            spec: { schedule: '0 2 * * *', jobTemplate: { spec: { template } } },
          });
        },
      });
      assert.equal(control.status, 'not_applicable');
      assert.match(control.notApplicableRule ?? '', /only in batch workloads/);
      assert.deepEqual(control.evidence, []);
      // The batch workload is still judged by the other controls.
      assert.equal(report.controls.find((entry) => entry.id === NON_ROOT)?.status, 'pass');
    });

    test('probes still apply when the model image is in no workload at all (an error, not N/A)', async () => {
      const { control } = await run(catalogCase(PROBES, 'no model-serving container (missing evidence)'));
      assert.equal(control.status, 'error');
    });
  });

  describe('policy data', () => {
    test('without policy.requireCpuLimit a missing CPU limit passes; other limits are still required', () => {
      const noCpuLimit = (manifest: NormalizedManifest) => {
        const resources = modelContainerOf(manifest).resources as Record<string, Record<string, unknown>>;
        delete resources.limits!.cpu;
      };
      assert.equal(controlOf(evaluateWith({ requireCpuLimit: false }, noCpuLimit), LIMITS).status, 'pass');
      assert.equal(controlOf(evaluateWith({ requireCpuLimit: true }, noCpuLimit), LIMITS).status, 'fail');
    });

    test('without policy.requireTagWithDigest a version tag alone passes, latest or no tag without a digest fails', () => {
      const image = (reference: string) => (manifest: NormalizedManifest) => {
        modelContainerOf(manifest).image = reference;
      };
      const relaxed = { requireTagWithDigest: false };
      const repository = 'registry.example.org/models/chest-xray-triage';
      const digest = `sha256:${'4f2a'.repeat(16)}`;
      assert.equal(controlOf(evaluateWith(relaxed, image(`${repository}:2.5.0`)), LATEST).status, 'pass');
      assert.equal(controlOf(evaluateWith(relaxed, image(`${repository}@${digest}`)), LATEST).status, 'pass');
      assert.equal(controlOf(evaluateWith(relaxed, image(`${repository}:latest`)), LATEST).status, 'fail');
      assert.equal(controlOf(evaluateWith(relaxed, image(repository)), LATEST).status, 'fail');
      assert.equal(controlOf(evaluateWith({}, image(`${repository}:2.5.0`)), LATEST).status, 'fail');
    });

    test('policy.maxSaTokenTtl bounds projected tokens', () => {
      const token = (manifest: NormalizedManifest) => {
        const deployment = manifest.kubernetesManifests.find((object) => object.kind === 'Deployment')!;
        const spec = ((deployment.spec as Record<string, unknown>).template as Record<string, unknown>)
          .spec as {
          volumes: unknown[];
        };
        spec.volumes.push({
          name: 'vault-token',
          projected: { sources: [{ serviceAccountToken: { audience: 'vault', expirationSeconds: 1800 } }] },
        });
      };
      assert.equal(controlOf(evaluateWith({ maxSaTokenTtl: 1800 }, token), SA_TOKEN).status, 'pass');
      assert.equal(controlOf(evaluateWith({ maxSaTokenTtl: 1200 }, token), SA_TOKEN).status, 'fail');
    });
  });
});
