// The whole ReleaseWorkflow on three real Kubernetes control planes (kubernetes driver, simulated
// telemetry): the outcome is checked by reading the clusters, not the workflow's own account.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { statusQuery } from '../../workflows/messages.js';
import { approveRelease, DIGEST, eventually, type TestEnvironment } from '../helpers/environment.js';
import {
  clientsFor,
  driverFor,
  kubeReleaseFixture,
  type KubeReleaseFixture,
  type TestClusters,
} from '../helpers/kube.js';

const CLOUDS = ['aws', 'azure', 'gcp'];

describe('release workflow on three real clusters', () => {
  let fixture: KubeReleaseFixture;
  let env: TestEnvironment;
  let clusters: TestClusters;
  let namespace: string;
  before(async () => {
    fixture = await kubeReleaseFixture({ prefix: 'e2e' });
    ({ env, clusters, namespace } = fixture);
  });
  after(async () => {
    await fixture?.close();
  });
  const seed = (model: string) => fixture.seed(model);
  const deployments = (cloud: string, model: string) => fixture.deployments(cloud, model);

  test('a release completes: every cluster runs the new version at full capacity, canary and previous gone', async () => {
    const request = env.request({ canary: { steps: [5, 25, 50, 100], analysisIntervalSeconds: 0 } });
    const model = request.model.name;
    await seed(model);
    const handle = await env.startRelease(request);
    await approveRelease(env, handle);
    const status = await handle.result();
    assert.equal(status.outcome, 'completed', JSON.stringify(status.reason));
    for (const cloud of CLOUDS) {
      assert.deepEqual(
        await deployments(cloud, model),
        { [`${model}-stable`]: { image: request.model.image, available: 4 } },
        cloud,
      );
      const state = await driverFor(clusters.state, cloud, namespace).describe(model);
      assert.equal(state?.stable?.version, '2.0.0', cloud);
      assert.equal(state?.stable?.releaseId, handle.workflowId, cloud);
    }
  });

  test('a canary that fails its analysis is rolled back in all three clusters', async () => {
    const request = env.request({
      canary: { steps: [5, 25, 50, 100], analysisIntervalSeconds: 0 },
      faultPlan: { telemetry: [{ cloud: 'azure', kind: 'error-spike', fromStep: 1 }] },
    });
    const model = request.model.name;
    await seed(model);
    const handle = await env.startRelease(request);
    await approveRelease(env, handle);
    const status = await handle.result();
    assert.equal(status.outcome, 'rolled-back');
    assert.equal(status.reason?.code, 'CANARY_VERDICT_FAILED');
    assert.match(status.reason?.message ?? '', /canary in azure failed at 25%/);
    const oldImage = `registry.example/${model}:1.0.0@${DIGEST}`;
    for (const cloud of CLOUDS) {
      assert.deepEqual(
        await deployments(cloud, model),
        { [`${model}-stable`]: { image: oldImage, available: 4 } },
        `${cloud} is back on 1.0.0 with no canary`,
      );
    }
  });

  test('a route weight edited by hand during the canary is restored and recorded in the timeline', async () => {
    const request = env.request({ canary: { steps: [5, 25, 50, 100], analysisIntervalSeconds: 2 } });
    const model = request.model.name;
    await seed(model);
    const handle = await env.startRelease(request);
    await approveRelease(env, handle);
    await eventually(
      async () => {
        const aws = (await handle.query(statusQuery)).clouds.aws;
        return aws?.state === 'canary' && aws.weight === 5;
      },
      60_000,
      'aws at 5 %',
    );
    await clientsFor(clusters.state, 'aws').custom.patchNamespacedCustomObject(
      {
        group: 'gateway.networking.k8s.io',
        version: 'v1',
        plural: 'httproutes',
        namespace,
        name: model,
        body: [
          { op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: 50 },
          { op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 50 },
        ],
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    const status = await handle.result();
    assert.equal(status.outcome, 'completed', JSON.stringify(status.reason));
    const correction = status.timeline.find(
      (event) =>
        event.cloud === 'aws' && event.event.startsWith('restored desired state changed outside medrelease'),
    );
    assert.ok(correction, 'the correction is on the record');
    assert.match(
      correction.event,
      /weights were stable 50 \/ canary 50, medrelease had set 95 \/ 5: restored/,
    );
  });
});
