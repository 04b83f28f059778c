// The Kubernetes pack (policies/kubernetes.yaml): the compliant example passes each of its twelve
// controls, every injected violation of bench/compliance/cases/kubernetes.ts makes its control fail (or
// error: missing evidence), every near miss keeps the whole pack passing, the evidence points at the
// offending field, the probe control's not-applicable rule does what it says, and the policy data
// switches (CPU limits, tag before digest) change what passes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dig, modelContainer, modelDeployment, volumes } from '../../bench/compliance/cases/helpers.js';
import {
  cases,
  HOSTPATH,
  LATEST,
  LIMITS,
  NAMESPACE_PSA,
  NETPOL,
  NON_ROOT,
  PRIVESC,
  PRIVILEGED,
  PROBES,
  RO_ROOTFS,
  SA_TOKEN,
  SECRETS,
} from '../../bench/compliance/cases/kubernetes.js';
import type { ControlResult } from '../../domain/compliance.js';
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
const IDS = CONTROLS.map(([id]) => id);

/** A case of the catalog run through the gate, once per file (the evidence tests reuse the result). */
const run = (control: string, name: string) => runCaseOnce(catalogCase(cases, control, name));

/** [path, observed, status] of the non-passing items, for exact comparisons. */
function problemRows(control: ControlResult): [string, unknown, string][] {
  return problems(control).map((item) => [item.path, item.observed, item.status]);
}

const modelPod = (manifest: NormalizedManifest) =>
  `${objectPointer(manifest, 'Deployment', 'chest-xray-triage')}/spec/template/spec`;

describe('Kubernetes pack', () => {
  // runCase evaluates the shipped bundle; the assertions here are about this pack only, so while this
  // file runs the bundle holds only this pack's controls, which keeps ~200 gate runs well under 5 s.
  narrowBundleTo(IDS);

  test('ships the twelve controls with the catalog severities, each with a source and a description', () => {
    assertDocumented(assertPackControls('kubernetes', CONTROLS));
  });

  test('the compliant example passes every control of the pack', async () => {
    await assertExamplePasses(IDS);
  });

  describeCatalogCases(cases, IDS);

  describe('evidence points at the exact field', () => {
    test('a container that overrides runAsNonRoot: its own field, observed false', async () => {
      const { control, manifest } = await run(NON_ROOT, 'container runAsNonRoot false overrides the pod');
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/containers/0/securityContext/runAsNonRoot`, false, 'fail'],
      ]);
    });

    test('a container that inherits runAsNonRoot false: the pod field it inherits', async () => {
      const { control, manifest } = await run(NON_ROOT, 'pod runAsNonRoot false, containers unset');
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/securityContext/runAsNonRoot`, false, 'fail'],
      ]);
    });

    test('a second port bound to the node: that port, observed 1', async () => {
      const { control, manifest } = await run(
        PRIVILEGED,
        'second port of the model container bound to hostPort 1',
      );
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/containers/0/ports/1/hostPort`, 1, 'fail'],
      ]);
    });

    test('a forbidden capability: its list element, observed NET_ADMIN', async () => {
      const { control, manifest } = await run(
        PRIVESC,
        'second added capability NET_ADMIN after NET_BIND_SERVICE',
      );
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/containers/0/securityContext/capabilities/add/1`, 'NET_ADMIN', 'fail'],
      ]);
    });

    test('a container that overrides seccomp: its own profile type, observed Unconfined', async () => {
      const { control, manifest } = await run(PRIVESC, 'container seccomp Unconfined overrides the pod');
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/containers/0/securityContext/seccompProfile/type`, 'Unconfined', 'fail'],
      ]);
    });

    test('a hostPath volume: the volume, by its hostPath and by its type', async () => {
      const { control, manifest } = await run(HOSTPATH, 'hostPath volume of /var/log');
      const volume = `${modelPod(manifest)}/volumes/2`;
      assert.deepEqual(problemRows(control), [
        [`${volume}/hostPath`, { path: '/var/log' }, 'fail'],
        [volume, ['hostPath'], 'fail'],
      ]);
    });

    test('an emptyDir without a size limit: its sizeLimit, missing', async () => {
      const { control, manifest } = await run(RO_ROOTFS, 'scratch emptyDir without a size limit');
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/volumes/0/emptyDir/sizeLimit`, null, 'fail'],
      ]);
    });

    test('a missing ephemeral-storage limit and a GPU limit above the request', async () => {
      const storage = await run(LIMITS, 'no ephemeral-storage limit');
      assert.deepEqual(problemRows(storage.control), [
        [`${modelPod(storage.manifest)}/containers/0/resources/limits/ephemeral-storage`, null, 'fail'],
      ]);
      const gpu = await run(LIMITS, 'GPU limit 2 for a request of 1');
      const [item] = problems(gpu.control);
      assert.equal(item?.path, `${modelPod(gpu.manifest)}/containers/0/resources/limits`);
      assert.equal((item?.observed as Record<string, unknown>)['nvidia.com/gpu'], 2);
    });

    test('an egress rule opening a port policy does not allow: its destination, with the rule ports', async () => {
      const { control, manifest } = await run(NETPOL, 'DNS egress rule also opens port 443');
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
      const { control } = await run(NETPOL, 'default-deny policy removed');
      assert.deepEqual(problemRows(control), [
        ['/kubernetesManifests', { namespace: 'radiology-ai', defaultDeny: [] }, 'fail'],
      ]);
    });

    test('an init container running busybox:latest: its image', async () => {
      const { control, manifest } = await run(LATEST, 'init container busybox:latest');
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.status]),
        [[`${modelPod(manifest)}/initContainers/0/image`, 'fail']],
      );
    });

    test('a liveness probe on the inference endpoint: its path, observed /v1/predict', async () => {
      const { control, manifest } = await run(PROBES, 'liveness probe on the inference endpoint /v1/predict');
      assert.deepEqual(problemRows(control), [
        [`${modelPod(manifest)}/containers/0/livenessProbe/httpGet/path`, '/v1/predict', 'fail'],
      ]);
    });

    test('an automount left to the ServiceAccount: its field, observed the default true', async () => {
      const { control, manifest } = await run(
        SA_TOKEN,
        'pod unset and ServiceAccount unset (mounted by default)',
      );
      assert.deepEqual(problemRows(control), [
        [`${objectPointer(manifest, 'ServiceAccount')}/automountServiceAccountToken`, true, 'fail'],
      ]);
    });

    test('an automount left to a ServiceAccount outside the manifest is missing evidence', async () => {
      const { control, manifest } = await run(
        SA_TOKEN,
        'pod unset and its ServiceAccount not in the manifest (missing evidence)',
      );
      assert.equal(control.status, 'error');
      const [item] = problems(control);
      assert.equal(item?.path, `${modelPod(manifest)}/automountServiceAccountToken`);
      assert.match(item?.message ?? '', /missing evidence/);
    });

    test('a credential in a ConfigMap: its key, naming the pattern, never the value', async () => {
      const { control, manifest } = await run(SECRETS, 'ConfigMap with an AWS access key id');
      const configMap = objectPointer(manifest, 'ConfigMap', 'chest-xray-triage-config');
      assert.deepEqual(problemRows(control), [[`${configMap}/data/aws.env`, ['AWS access key id'], 'fail']]);
      assert.ok(
        !JSON.stringify(control).includes('AKIAIOSFODNN7EXAMPLE'),
        'the report does not repeat the secret',
      );
    });

    test('an environment variable from a Secret: its secretKeyRef', async () => {
      const { control, manifest } = await run(SECRETS, 'environment variable from a Secret');
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
        NAMESPACE_PSA,
        'Namespace not in the manifest and a cluster profile silent (missing evidence)',
      );
      assert.equal(control.status, 'error');
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.status]),
        [['/deployment/targets/0/clusterProfile/podSecurityAdmission', 'error']],
      );
    });

    test('a namespace enforcing baseline: its enforce label', async () => {
      const { control, manifest } = await run(NAMESPACE_PSA, 'namespace enforces baseline');
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
        const { control } = await run(id, 'no workload in the manifest (missing evidence)');
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
          const deployment = modelDeployment(manifest);
          const template = dig(deployment, 'spec', 'template');
          dig(template, 'spec').restartPolicy = 'OnFailure';
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
      const { control } = await run(PROBES, 'no model-serving container (missing evidence)');
      assert.equal(control.status, 'error');
    });
  });

  describe('policy data', () => {
    test('without policy.requireCpuLimit a missing CPU limit passes; other limits are still required', () => {
      const noCpuLimit = (manifest: NormalizedManifest) => {
        const resources = modelContainer(manifest).resources as Record<string, Record<string, unknown>>;
        delete resources.limits!.cpu;
      };
      assert.equal(
        controlOf(evaluateWithPolicyData({ requireCpuLimit: false }, noCpuLimit), LIMITS).status,
        'pass',
      );
      assert.equal(
        controlOf(evaluateWithPolicyData({ requireCpuLimit: true }, noCpuLimit), LIMITS).status,
        'fail',
      );
    });

    test('without policy.requireTagWithDigest a version tag alone passes, latest or no tag without a digest fails', () => {
      const image = (reference: string) => (manifest: NormalizedManifest) => {
        modelContainer(manifest).image = reference;
      };
      const relaxed = { requireTagWithDigest: false };
      const repository = 'registry.example.org/models/chest-xray-triage';
      const digest = `sha256:${'4f2a'.repeat(16)}`;
      assert.equal(
        controlOf(evaluateWithPolicyData(relaxed, image(`${repository}:2.5.0`)), LATEST).status,
        'pass',
      );
      assert.equal(
        controlOf(evaluateWithPolicyData(relaxed, image(`${repository}@${digest}`)), LATEST).status,
        'pass',
      );
      assert.equal(
        controlOf(evaluateWithPolicyData(relaxed, image(`${repository}:latest`)), LATEST).status,
        'fail',
      );
      assert.equal(controlOf(evaluateWithPolicyData(relaxed, image(repository)), LATEST).status, 'fail');
      assert.equal(
        controlOf(evaluateWithPolicyData({}, image(`${repository}:2.5.0`)), LATEST).status,
        'fail',
      );
    });

    test('policy.maxSaTokenTtl bounds projected tokens', () => {
      const token = (manifest: NormalizedManifest) => {
        volumes(manifest).push({
          name: 'vault-token',
          projected: { sources: [{ serviceAccountToken: { audience: 'vault', expirationSeconds: 1800 } }] },
        });
      };
      assert.equal(
        controlOf(evaluateWithPolicyData({ maxSaTokenTtl: 1800 }, token), SA_TOKEN).status,
        'pass',
      );
      assert.equal(
        controlOf(evaluateWithPolicyData({ maxSaTokenTtl: 1200 }, token), SA_TOKEN).status,
        'fail',
      );
    });
  });
});
