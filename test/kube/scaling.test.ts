// The kubernetes driver's `scale` against real control planes (kube-apiserver, controller-manager,
// scheduler, etcd, kwok as the kubelet: Deployments really roll out and EndpointSlices fill). The
// model's capacity re-sizes the current split in both traffic modes and every later step uses it;
// a repeated operation id changes nothing; hand-made replica changes are restored; an HPA on a
// track takes the capacity as its minReplicas. The local clusters run no HPA controller, so an HPA's
// Deployment keeps whatever replicas it had: exactly what shows that medrelease left them alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import {
  CloudConflictError,
  CloudRejectedError,
  type CloudOperation,
} from '../../activities/cloud/driver.js';
import type { KubernetesCloudDriver } from '../../activities/cloud/kubernetes.js';
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

function operation(releaseId: string, step: string): CloudOperation {
  return { operationId: `${releaseId}:${step}`, releaseId, model: { name: 'cxr', ...NEW } };
}

describe('kubernetes driver: scale', () => {
  let clusters: TestClusters;
  before(async () => {
    clusters = await testClusters();
  });
  after(async () => {
    await clusters?.release();
  });

  /** spec.replicas and medrelease's replica annotation of the model's Deployments (absent ones left out). */
  async function replicas(cloud: string, namespace: string): Promise<Record<string, [number?, string?]>> {
    const list = await clientsFor(clusters.state, cloud).apps.listNamespacedDeployment({ namespace });
    return Object.fromEntries(
      list.items.map((deployment) => [
        deployment.metadata!.name!.replace(/^cxr-/, ''),
        [deployment.spec?.replicas, deployment.metadata?.annotations?.['medrelease.io/replicas']],
      ]),
    );
  }

  /** Waits until the model's Service lists exactly these Ready endpoints (canary of total). */
  async function endpoints(driver: KubernetesCloudDriver, canary: number, total: number): Promise<void> {
    await waitFor(async () => {
      const current = await driver.readyEndpoints('cxr');
      return current.canary === canary && current.total === total ? true : undefined;
    });
  }

  test('replica ratio: scaled up and down with no canary and mid-canary, the canary share kept; later steps use the capacity', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['azure'], 'scale-rr');
    const driver = driverFor(state, 'azure', namespace, { traffic: 'replica-ratio' });
    await driver.seedStable('cxr', STABLE);
    assert.deepEqual((await driver.describe('cxr'))?.capacity, { replicas: 4, via: 'replicas' }, 'default');

    const up = await driver.scale({ ...operation('rel-rr', 'scale-6'), replicas: 6 });
    assert.deepEqual(up.capacity, { replicas: 6, via: 'replicas' });
    assert.deepEqual(await replicas('azure', namespace), { stable: [6, '6'] });
    assert.deepEqual([(await driver.readyEndpoints('cxr')).total, up.traffic?.canaryShare], [6, 0]);
    await driver.scale({ ...operation('rel-rr', 'scale-3'), replicas: 3 });
    assert.deepEqual(await replicas('azure', namespace), { stable: [3, '3'] });
    await endpoints(driver, 0, 3);

    const op = operation('rel-rr', 'op');
    await driver.deployCanary(op);
    await driver.setCanaryWeight({ ...op, weight: 25 });
    assert.deepEqual(
      await replicas('azure', namespace),
      { stable: [2, '2'], canary: [1, '1'] },
      '⌈3 × 25 %⌉',
    );

    // Mid-canary: the same 25 % of a larger, then a smaller capacity.
    const mid = await driver.scale({ ...operation('rel-rr', 'scale-8'), replicas: 8 });
    assert.deepEqual(await replicas('azure', namespace), { stable: [6, '6'], canary: [2, '2'] });
    assert.deepEqual([mid.canaryWeight, mid.traffic?.canaryShare, mid.capacity?.replicas], [25, 25, 8]);
    const down = await driver.scale({ ...operation('rel-rr', 'scale-4'), replicas: 4 });
    assert.deepEqual(await replicas('azure', namespace), { stable: [3, '3'], canary: [1, '1'] });
    assert.deepEqual([down.canaryWeight, down.traffic?.canaryShare], [25, 25]);

    // The next steps split the model's capacity, not the driver's default.
    await driver.scale({ ...operation('rel-rr', 'scale-10'), replicas: 10 });
    await driver.setCanaryWeight({ ...op, weight: 50 });
    assert.deepEqual(await replicas('azure', namespace), { stable: [5, '5'], canary: [5, '5'] });
    await endpoints(driver, 5, 10);
    const promoted = await driver.promote(op);
    assert.deepEqual(await replicas('azure', namespace), { stable: [10, '10'], previous: [10, '10'] });
    assert.deepEqual(promoted.capacity, { replicas: 10, via: 'replicas' }, 'the capacity outlives promotion');
  });

  test('Gateway API: the canary gets its share of the new capacity, the stable version all of it, the weights stay', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['aws'], 'scale-gw');
    const driver = driverFor(state, 'aws', namespace);
    assert.equal(await driver.trafficMode(), 'gateway-api');
    await driver.seedStable('cxr', STABLE);
    await driver.scale({ ...operation('rel-gw', 'scale-6'), replicas: 6 });
    assert.deepEqual(await replicas('aws', namespace), { stable: [6, '6'] });

    const op = operation('rel-gw', 'op');
    await driver.deployCanary(op);
    await driver.setCanaryWeight({ ...op, weight: 25 });
    assert.deepEqual(await replicas('aws', namespace), { stable: [6, '6'], canary: [2, '2'] }, '⌈6 × 25 %⌉');
    for (const [capacity, canary] of [
      [10, 3],
      [2, 1],
    ] as const) {
      const result = await driver.scale({ ...operation('rel-gw', `scale-${capacity}`), replicas: capacity });
      assert.deepEqual(await replicas('aws', namespace), {
        stable: [capacity, String(capacity)],
        canary: [canary, String(canary)],
      });
      assert.deepEqual(await routeWeights(state, 'aws', namespace, 'cxr'), { stable: 75, canary: 25 });
      assert.deepEqual(
        [result.canaryWeight, result.traffic, result.capacity],
        [25, { mode: 'gateway-api', canaryShare: 25 }, { replicas: capacity, via: 'replicas' }],
      );
    }
  });

  test('a repeated operation id changes nothing, even after a later scale; a hand-edited replica count is restored by the next operation', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['gcp'], 'scale-idem');
    const driver = driverFor(state, 'gcp', namespace);
    await driver.seedStable('cxr', STABLE);
    const first = { ...operation('rel-idem', 'scale-a'), replicas: 6 };
    await driver.scale(first);
    const once = await clusterSnapshot(state, 'gcp', namespace);
    await driver.scale(first);
    assert.deepEqual(await clusterSnapshot(state, 'gcp', namespace), once, 'repeated at once');
    await driver.scale({ ...operation('rel-idem', 'scale-b'), replicas: 3 });
    const later = await clusterSnapshot(state, 'gcp', namespace);
    const repeated = await driver.scale(first);
    assert.deepEqual(await clusterSnapshot(state, 'gcp', namespace), later, 'repeated after another scale');
    assert.equal(repeated.capacity?.replicas, 3);

    // Someone scales the stable Deployment by hand: the next operation puts the capacity back.
    const { apps } = clientsFor(state, 'gcp');
    await scaleByHand(apps, namespace, 'cxr-stable', 9);
    const restored = await driver.scale({ ...operation('rel-idem', 'scale-c'), replicas: 5 });
    assert.deepEqual(await replicas('gcp', namespace), { stable: [5, '5'] });
    assert.match(
      restored.corrections?.join('\n') ?? '',
      /gcp: Deployment .*\/cxr-stable had 9 replicas, medrelease had set 3: restored/,
    );
    // And mid-canary, by the next weight step, at the share of the new capacity.
    const op = operation('rel-idem', 'op');
    await driver.deployCanary(op);
    await scaleByHand(apps, namespace, 'cxr-stable', 1);
    const step = await driver.setCanaryWeight({ ...op, weight: 50 });
    assert.match(
      step.corrections?.join('\n') ?? '',
      /Deployment .*\/cxr-stable had 1 replicas, medrelease had set 5: restored/,
    );
    assert.deepEqual(await replicas('gcp', namespace), { stable: [5, '5'], canary: [3, '3'] }, '⌈5 × 50 %⌉');
  });

  test('an HPA on the stable Deployment takes the capacity as minReplicas; the Deployment replicas stay its own', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['aws'], 'scale-hpa');
    const driver = driverFor(state, 'aws', namespace);
    await driver.seedStable('cxr', STABLE);
    const { config, apps } = clientsFor(state, 'aws');
    const autoscaling = config.makeApiClient(k8s.AutoscalingV2Api);
    // Named unlike the Deployment: the driver finds it by its target.
    await autoscaling.createNamespacedHorizontalPodAutoscaler({
      namespace,
      body: {
        metadata: { name: 'inference-autoscaler' },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'cxr-stable' },
          minReplicas: 2,
          maxReplicas: 5,
          metrics: [
            {
              type: 'Resource',
              resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
            },
          ],
        },
      },
    });
    const bounds = async () => {
      const hpa = await autoscaling.readNamespacedHorizontalPodAutoscaler({
        name: 'inference-autoscaler',
        namespace,
      });
      return [hpa.spec?.minReplicas, hpa.spec?.maxReplicas];
    };
    const up = await driver.scale({ ...operation('rel-hpa', 'scale-8'), replicas: 8 });
    assert.deepEqual(await bounds(), [8, 8], 'maxReplicas raised to the new floor');
    assert.deepEqual(up.capacity, { replicas: 8, via: 'hpa' });
    assert.deepEqual(
      await replicas('aws', namespace),
      { stable: [4, '4'] },
      'the Deployment is left to the HPA',
    );

    // The HPA scales the Deployment (by hand here: no HPA controller runs): that is not drift.
    await scaleByHand(apps, namespace, 'cxr-stable', 7);
    const down = await driver.scale({ ...operation('rel-hpa', 'scale-3'), replicas: 3 });
    assert.deepEqual(await bounds(), [3, 8], 'maxReplicas is only ever raised');
    assert.equal(down.corrections, undefined);
    assert.deepEqual(await replicas('aws', namespace), { stable: [7, '4'] });
    assert.deepEqual((await driver.describe('cxr'))?.capacity, { replicas: 3, via: 'hpa' });
  });

  test('replicas 0 or 1001 are refused naming the field and the rule, and nothing changes; a model not here has no capacity', async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['azure'], 'scale-bounds');
    const driver = driverFor(state, 'azure', namespace, { traffic: 'replica-ratio' });
    await assert.rejects(
      driver.scale({ ...operation('rel-bounds', 'scale-none'), replicas: 6 }),
      (error: unknown) => {
        assert.ok(error instanceof CloudConflictError, String(error));
        assert.match(error.message, /^no Deployment of cxr to scale in azure/);
        return true;
      },
    );
    await driver.seedStable('cxr', STABLE);
    const before = await clusterSnapshot(state, 'azure', namespace);
    for (const replicas of [0, 1001]) {
      await assert.rejects(
        driver.scale({ ...operation('rel-bounds', `scale-${replicas}`), replicas }),
        (error: unknown) => {
          assert.ok(error instanceof CloudRejectedError, String(error));
          assert.equal(
            error.message,
            `azure: scale cxr: replicas must be an integer from 1 to 1000, got ${replicas}`,
          );
          return true;
        },
      );
    }
    assert.deepEqual(await clusterSnapshot(state, 'azure', namespace), before);
  });

  test("a first release's capacity, set on its canary, is the stable version's after promotion", async () => {
    const { state } = clusters;
    const namespace = await createNamespace(state, ['azure'], 'scale-first');
    const driver = driverFor(state, 'azure', namespace, { traffic: 'replica-ratio' });
    const op = operation('rel-first', 'op');
    await driver.deployCanary(op);
    await driver.setCanaryWeight({ ...op, weight: 50 });
    const scaled = await driver.scale({ ...operation('rel-first', 'scale-6'), replicas: 6 });
    assert.deepEqual([scaled.stable, scaled.capacity?.replicas], [null, 6]);
    assert.deepEqual(await replicas('azure', namespace), { canary: [3, '3'] }, '⌈6 × 50 %⌉, no stable');
    const promoted = await driver.promote(op);
    assert.deepEqual(await replicas('azure', namespace), { stable: [6, '6'] });
    assert.deepEqual(promoted.capacity, { replicas: 6, via: 'replicas' });
  });
});

/** Sets a Deployment's replicas through its scale subresource, as `kubectl scale` (or an HPA) would. */
async function scaleByHand(apps: k8s.AppsV1Api, namespace: string, name: string, replicas: number) {
  await apps.patchNamespacedDeploymentScale(
    { name, namespace, body: [{ op: 'replace', path: '/spec/replicas', value: replicas }] },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
  );
}

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
