// The kubernetes CloudDriver against real control planes (kube-apiserver, controller-manager,
// scheduler, etcd) with kwok playing the kubelet: Deployments really roll out, EndpointSlices fill.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import {
  CloudConflictError,
  CloudRejectedError,
  RolloutFailedError,
  TransientCloudError,
  type CloudOperation,
} from '../../activities/cloud/driver.js';
import { KubernetesCloudDriver } from '../../activities/cloud/kubernetes.js';
import {
  clientsFor,
  clusterSnapshot,
  createNamespace,
  driverFor,
  NEW,
  routeWeights,
  STABLE,
  testClusters,
  type TestClusters,
} from '../helpers/kube.js';

function operation(releaseId: string, model = 'cxr'): CloudOperation {
  return { operationId: `${releaseId}:op`, releaseId, model: { name: model, ...NEW } };
}

describe('kubernetes driver on real control planes', () => {
  let clusters: TestClusters;
  before(async () => {
    clusters = await testClusters();
  });
  after(async () => {
    await clusters?.release();
  });

  test("a cloud's KubeConfig holds that cloud's context, cluster and user only", () => {
    const config = clientsFor(clusters.state, 'azure').config;
    assert.deepEqual(
      [config.contexts.map((c) => c.name), config.clusters.length, config.users.length],
      [['medrelease-azure'], 1, 1],
    );
    assert.equal(
      config.getCurrentCluster()?.server,
      clusters.state.clusters.find((c) => c.name === 'azure')?.server,
    );
  });

  test('Gateway API: canary, every weight on the HTTPRoute, promote with the previous version kept warm, rollback after promotion', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['aws'], 'gw');
    const driver = driverFor(state, 'aws', namespace);
    assert.equal(await driver.trafficMode(), 'gateway-api', 'detected from the HTTPRoute CRD');
    await driver.seedStable('cxr', STABLE);
    const op = operation('rel-gw');

    const deployed = await driver.deployCanary(op);
    assert.equal(deployed.canary?.version, '1.1.0');
    assert.deepEqual(await routeWeights(state, 'aws', namespace, 'cxr'), { stable: 100, canary: 0 });

    for (const weight of [5, 25, 50, 100]) {
      const result = await driver.setCanaryWeight({ ...op, weight });
      assert.deepEqual(await routeWeights(state, 'aws', namespace, 'cxr'), {
        stable: 100 - weight,
        canary: weight,
      });
      assert.equal(result.canaryWeight, weight);
      assert.deepEqual(result.traffic, { mode: 'gateway-api', canaryShare: weight });
      const canary = await clientsFor(state, 'aws').apps.readNamespacedDeployment({
        name: 'cxr-canary',
        namespace,
      });
      assert.equal(
        canary.spec?.replicas,
        Math.max(1, Math.ceil((4 * weight) / 100)),
        `canary capacity at ${weight}%`,
      );
      assert.equal(canary.status?.availableReplicas, canary.spec?.replicas, `canary Available at ${weight}%`);
    }

    const promoted = await driver.promote(op);
    assert.equal(promoted.stable?.version, '1.1.0');
    assert.equal(promoted.stable?.releaseId, 'rel-gw');
    assert.equal(promoted.canary, null);
    assert.deepEqual(promoted.previous, STABLE, 'the replaced version stays warm');
    const { apps, core } = clientsFor(state, 'aws');
    const previous = await apps.readNamespacedDeployment({ name: 'cxr-previous', namespace });
    assert.equal(previous.status?.availableReplicas, 4, 'previous pods are running');
    const service = await core.readNamespacedService({ name: 'cxr', namespace });
    assert.equal(
      service.spec?.selector?.['medrelease.io/serving'],
      'true',
      'the warm version takes no traffic',
    );
    assert.deepEqual(await routeWeights(state, 'aws', namespace, 'cxr'), { stable: 100, canary: 0 });

    const rolledBack = await driver.rollback(op);
    assert.equal(rolledBack.stable?.version, '1.0.0');
    assert.equal(rolledBack.stable?.image, STABLE.image);
    assert.equal(rolledBack.previous, null);
    const stable = await apps.readNamespacedDeployment({ name: 'cxr-stable', namespace });
    assert.equal(stable.spec?.template.spec?.containers[0]?.image, STABLE.image);
    assert.equal(stable.status?.availableReplicas, 4);
    const restoredService = await core.readNamespacedService({ name: 'cxr-stable', namespace });
    assert.equal(
      restoredService.spec?.selector?.track,
      'stable',
      'the stable Service selects stable pods again',
    );
  });

  test('replica ratio: the Ready canary endpoints in EndpointSlices follow each step; rollback before promotion', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['azure'], 'rr');
    const driver = driverFor(state, 'azure', namespace, { traffic: 'replica-ratio' });
    await driver.seedStable('cxr', STABLE);
    const op = operation('rel-rr');
    await driver.deployCanary(op);
    const before = await waitFor(async () => {
      const current = await driver.readyEndpoints('cxr');
      return current.total === 4 ? current : undefined;
    });
    assert.equal(before.canary, 0, 'a canary at 0 % has no pods serving');

    for (const weight of [5, 25, 50, 100]) {
      const expectedCanary = Math.ceil((4 * weight) / 100);
      const result = await driver.setCanaryWeight({ ...op, weight });
      // The step returns once the EndpointSlices show the split.
      const endpoints = await driver.readyEndpoints('cxr');
      assert.deepEqual([endpoints.canary, endpoints.total], [expectedCanary, 4], `endpoints at ${weight}%`);
      assert.equal(endpoints.addresses.length, 4);
      assert.ok(
        endpoints.addresses.every((address) => /^10\.\d+\.\d+\.\d+$/.test(address)),
        'pod IPs from kwok',
      );
      assert.equal(result.traffic?.mode, 'replica-ratio');
      const share = (await driver.describe('cxr'))!.traffic!.canaryShare;
      assert.equal(share, (expectedCanary / 4) * 100, `canary share at ${weight}%`);
    }

    const restored = await driver.rollback(op);
    assert.equal(restored.canary, null);
    assert.equal(restored.stable?.version, '1.0.0');
    const endpoints = await waitFor(async () => {
      const current = await driver.readyEndpoints('cxr');
      return current.total === 4 && current.canary === 0 ? current : undefined;
    });
    assert.equal(endpoints.canary, 0);
    const { apps } = clientsFor(state, 'azure');
    const stable = await apps.readNamespacedDeployment({ name: 'cxr-stable', namespace });
    assert.equal(stable.spec?.replicas, 4, 'stable back at full capacity');
    await assert.rejects(apps.readNamespacedDeployment({ name: 'cxr-canary', namespace }), /404|Not ?Found/i);
  });

  test("a model's first release by replica ratio: no stable version, no endpoints, then only the canary's", async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['azure'], 'first');
    const driver = driverFor(state, 'azure', namespace, { traffic: 'replica-ratio' });
    const op = operation('rel-first-ever');
    const deployed = await driver.deployCanary(op);
    assert.equal(deployed.stable, null);
    assert.deepEqual(deployed.traffic, { mode: 'replica-ratio', canaryShare: 0 }, 'no pods serve yet');
    await driver.setCanaryWeight({ ...op, weight: 50 });
    const endpoints = await waitFor(async () => {
      const current = await driver.readyEndpoints('cxr');
      return current.canary === 2 ? current : undefined;
    });
    assert.equal(endpoints.total, 2, 'only canary pods serve');
    const promoted = await driver.promote(op);
    assert.equal(promoted.stable?.version, '1.1.0');
    assert.equal(promoted.previous, null, 'nothing was replaced');
    const rolledBack = await driver.rollback(op);
    assert.equal(rolledBack.stable, null, 'before its first release the model did not run here');
  });

  test('staging: one replica of the new version, not serving, removed afterwards', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['gcp'], 'staging');
    const driver = driverFor(state, 'gcp', namespace, { traffic: 'replica-ratio' });
    await driver.seedStable('cxr', STABLE);
    await driver.deployStaging(operation('rel-staging'));
    const { apps } = clientsFor(state, 'gcp');
    const staging = await apps.readNamespacedDeployment({ name: 'cxr-staging', namespace });
    assert.equal(staging.status?.availableReplicas, 1);
    assert.equal(staging.spec?.template.spec?.containers[0]?.image, NEW.image);
    assert.equal(staging.spec?.template.metadata?.labels?.['medrelease.io/serving'], 'false');
    const endpoints = await waitFor(async () => {
      const current = await driver.readyEndpoints('cxr');
      return current.total >= 4 ? current : undefined;
    });
    assert.deepEqual([endpoints.total, endpoints.canary], [4, 0], 'production traffic never reaches staging');
    await driver.removeStaging(operation('rel-staging'));
    await driver.removeStaging(operation('rel-staging'));
    await assert.rejects(
      apps.readNamespacedDeployment({ name: 'cxr-staging', namespace }),
      /404|Not ?Found/i,
    );
  });

  test('every operation run twice leaves the cluster exactly as once', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['gcp'], 'idem');
    const driver = driverFor(state, 'gcp', namespace);
    await driver.seedStable('cxr', STABLE);
    const op = operation('rel-idem');
    const steps: [string, () => Promise<unknown>][] = [
      ['deployCanary', () => driver.deployCanary(op)],
      ['setCanaryWeight 25', () => driver.setCanaryWeight({ ...op, weight: 25 })],
      ['setCanaryWeight 100', () => driver.setCanaryWeight({ ...op, weight: 100 })],
      ['promote', () => driver.promote(op)],
      ['rollback', () => driver.rollback(op)],
      ['retirePrevious', () => driver.retirePrevious(op)],
    ];
    for (const [name, step] of steps) {
      await step();
      const once = await clusterSnapshot(state, 'gcp', namespace);
      await step();
      assert.deepEqual(await clusterSnapshot(state, 'gcp', namespace), once, `${name} repeated`);
    }
    // Promote twice then retire: the previous version goes once, nothing else changes.
    const second = operation('rel-idem-2');
    await driver.deployCanary(second);
    await driver.promote(second);
    await driver.promote(second);
    const retired = await driver.retirePrevious(second);
    assert.equal(retired.previous, null);
    assert.equal(retired.stable?.releaseId, 'rel-idem-2');
  });

  test('a weight edited by hand in the cluster is restored on the next step and reported', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['aws'], 'drift');
    const driver = driverFor(state, 'aws', namespace);
    await driver.seedStable('cxr', STABLE);
    const op = operation('rel-drift');
    await driver.deployCanary(op);
    await driver.setCanaryWeight({ ...op, weight: 5 });
    // Someone sends half the traffic to the canary with their own tool.
    const { custom } = clientsFor(state, 'aws');
    await custom.patchNamespacedCustomObject(
      {
        group: 'gateway.networking.k8s.io',
        version: 'v1',
        plural: 'httproutes',
        namespace,
        name: 'cxr',
        body: [
          { op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: 50 },
          { op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 50 },
        ],
        fieldManager: 'kubectl-edit',
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    assert.deepEqual(await routeWeights(state, 'aws', namespace, 'cxr'), { stable: 50, canary: 50 });

    const next = await driver.setCanaryWeight({ ...op, weight: 25 });
    assert.deepEqual(await routeWeights(state, 'aws', namespace, 'cxr'), { stable: 75, canary: 25 });
    assert.equal(next.corrections?.length, 1);
    assert.match(
      next.corrections[0]!,
      /aws: HTTPRoute .*\/cxr weights were stable 50 \/ canary 50, medrelease had set 95 \/ 5: restored/,
    );

    // A canary scaled by hand is put back too.
    await clientsFor(state, 'aws').apps.patchNamespacedDeploymentScale(
      { name: 'cxr-canary', namespace, body: [{ op: 'replace', path: '/spec/replicas', value: 3 }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    const after = await driver.setCanaryWeight({ ...op, weight: 50 });
    assert.match(
      after.corrections?.join('\n') ?? '',
      /Deployment .*\/cxr-canary had 3 replicas, medrelease had set 1: restored/,
    );
    const canary = await clientsFor(state, 'aws').apps.readNamespacedDeployment({
      name: 'cxr-canary',
      namespace,
    });
    assert.equal(canary.spec?.replicas, 2);
  });

  test('another release of the same model is refused while a canary runs', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['gcp'], 'conflict');
    const driver = driverFor(state, 'gcp', namespace);
    await driver.deployCanary(operation('rel-first'));
    await assert.rejects(driver.deployCanary(operation('rel-second')), (error: unknown) => {
      assert.ok(error instanceof CloudConflictError);
      assert.match(error.message, /gcp already runs a canary of cxr for release rel-first/);
      return true;
    });
    await assert.rejects(
      driver.setCanaryWeight({ ...operation('rel-second'), weight: 5 }),
      CloudConflictError,
    );
  });

  test('an invalid manifest (422) fails at once with the cloud, the object and the API reason', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['azure'], 'invalid');
    const driver = driverFor(state, 'azure', namespace);
    const bad: CloudOperation = {
      operationId: 'x',
      releaseId: 'rel-bad',
      model: { name: 'cxr_model', ...NEW },
    };
    await assert.rejects(driver.deployCanary(bad), (error: unknown) => {
      assert.ok(error instanceof CloudRejectedError, String(error));
      assert.match(
        error.message,
        /^azure: apply Service invalid-[a-z0-9]+\/cxr_model(-stable|-canary)? failed: HTTP 422 Invalid: /,
      );
      assert.match(error.message, /metadata\.name: Invalid value/);
      return true;
    });
    const { apps } = clientsFor(state, 'azure');
    assert.equal((await apps.listNamespacedDeployment({ namespace })).items.length, 0, 'nothing was created');
  });

  test('a rollout that makes no progress fails its step with the Deployment condition and the ReplicaSet error', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['azure'], 'stall');
    const driver = driverFor(state, 'azure', namespace, { progressDeadlineSeconds: 3 });
    // The Deployment accepts this template; the pods it stands for are refused.
    const unschedulable: CloudOperation = {
      operationId: 'x',
      releaseId: 'rel-stall',
      model: { name: 'cxr', version: '1.1.0', image: ' registry.example/cxr:1.1.0 ' },
    };
    await assert.rejects(driver.deployCanary(unschedulable), (error: unknown) => {
      assert.ok(error instanceof RolloutFailedError, String(error));
      assert.match(
        error.message,
        /^azure: Deployment stall-[a-z0-9]+\/cxr-canary did not roll out: ReplicaSet "cxr-canary-[a-z0-9]+" has timed out progressing\./,
      );
      assert.match(error.message, /image/);
      return true;
    });
  });

  test('a missing namespace, a wrong token and an unreachable API fail as the error kinds the workflow acts on', async () => {
    const { state } = clusters;
    const missing = driverFor(state, 'aws', 'no-such-namespace');
    const access = await missing.checkAccess();
    assert.match(access.problem ?? '', /^aws: read Namespace no-such-namespace failed: HTTP 404 NotFound/);
    const fine = await driverFor(state, 'aws', 'medrelease').checkAccess();
    assert.deepEqual([fine.problem, fine.traffic], [undefined, 'gateway-api']);
    await assert.rejects(missing.deployCanary(operation('rel-ns')), (error: unknown) => {
      assert.ok(error instanceof CloudRejectedError, String(error));
      assert.match(
        error.message,
        /aws: .*no-such-namespace.* HTTP 404 NotFound: namespaces "no-such-namespace" not found/,
      );
      return true;
    });
    // Nothing can have been changed in a namespace that does not exist: a rollback there is done.
    assert.deepEqual(await missing.rollback(operation('rel-ns')), {
      model: 'cxr',
      stable: null,
      canary: null,
      canaryWeight: 0,
      previous: null,
    });

    const config = clientsFor(state, 'aws').config;
    const wrongToken = new k8s.KubeConfig();
    wrongToken.loadFromOptions({
      clusters: config.clusters,
      users: [{ name: 'intruder', token: 'not-a-valid-token' }],
      contexts: [{ name: 'intruder', cluster: config.clusters[0]!.name, user: 'intruder' }],
      currentContext: 'intruder',
    });
    const unauthorised = new KubernetesCloudDriver('aws', { kubeConfig: wrongToken, namespace: 'default' });
    await assert.rejects(unauthorised.describe('cxr'), (error: unknown) => {
      assert.ok(error instanceof CloudRejectedError, String(error));
      assert.match(error.message, /^aws: read .* failed: HTTP 401/);
      return true;
    });

    const unreachable = new k8s.KubeConfig();
    unreachable.loadFromOptions({
      clusters: [{ name: 'gone', server: 'https://127.0.0.1:9', skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'gone', cluster: 'gone', user: 'u' }],
      currentContext: 'gone',
    });
    const offline = new KubernetesCloudDriver('gcp', {
      kubeConfig: unreachable,
      namespace: 'default',
      traffic: 'replica-ratio',
    });
    await assert.rejects(offline.describe('cxr'), (error: unknown) => {
      assert.ok(error instanceof TransientCloudError, String(error));
      assert.match(
        error.message,
        /^gcp: the Kubernetes API at https:\/\/127\.0\.0\.1:9 is unreachable .*ECONNREFUSED/,
      );
      return true;
    });
  });
});

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
