// Failure drills on real control planes of this file's own (it kills API servers, so it shares
// clusters with no other test): one cloud's kube-apiserver is killed in the middle of its canary.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { restartApiServer, stopApiServer } from '../../infra/kube/clusters.js';
import { cloudRolloutWorkflowId } from '../../workflows/cloud-rollout.js';
import { statusQuery } from '../../workflows/messages.js';
import { approveRelease, DIGEST, eventually, type TestEnvironment } from '../helpers/environment.js';
import { kubeReleaseFixture, type KubeReleaseFixture, type TestClusters } from '../helpers/kube.js';
import { decodePayload } from '../helpers/payloads.js';

describe('drills: a cloud API server dies mid-canary', () => {
  let fixture: KubeReleaseFixture;
  let env: TestEnvironment;
  let clusters: TestClusters;
  before(async () => {
    // Clusters of this file's own: it kills API servers.
    fixture = await kubeReleaseFixture({ private: true, prefix: 'drill' });
    ({ env, clusters } = fixture);
  });
  after(async () => {
    await fixture?.close();
  });
  const seed = (model: string) => fixture.seed(model);
  const onlyStable = async (cloud: string, model: string) =>
    Object.entries(await fixture.deployments(cloud, model)).map(([name, { image }]) => [name, image]);

  /** Starts a release with a 2 s analysis interval, signs it off and waits until gcp's canary takes traffic. */
  const releaseUntilGcpCanary = async (overrides: Parameters<TestEnvironment['request']>[0] = {}) => {
    const request = env.request({
      canary: { steps: [10, 50, 100], analysisIntervalSeconds: 2 },
      ...overrides,
    });
    await seed(request.model.name);
    const handle = await env.startRelease(request);
    await approveRelease(env, handle);
    await eventually(
      async () => (await handle.query(statusQuery)).clouds.gcp?.state === 'canary',
      60_000,
      'the gcp canary taking traffic',
    );
    return { request, model: request.model.name, handle };
  };

  test('gcp unreachable past its retries: the other clouds end on the stable version, the release ends rolled back naming gcp', async () => {
    const { model, handle } = await releaseUntilGcpCanary({ cloudStepAttempts: 3 });
    const oldImage = `registry.example/${model}:1.0.0@${DIGEST}`;
    await stopApiServer(clusters.state, 'gcp');
    try {
      // aws and azure are restored while gcp cannot be reached.
      const rollingBack = await eventually(
        async () => {
          const status = await handle.query(statusQuery);
          return status.stage === 'rolling-back' &&
            status.clouds.aws?.state === 'rolled-back' &&
            status.clouds.azure?.state === 'rolled-back'
            ? status
            : undefined;
        },
        90_000,
        'aws and azure restored',
      );
      assert.notEqual(rollingBack.clouds.gcp?.state, 'rolled-back', 'gcp cannot have been restored yet');
      for (const cloud of ['aws', 'azure']) {
        assert.deepEqual(await onlyStable(cloud, model), [[`${model}-stable`, oldImage]], cloud);
      }
    } finally {
      await restartApiServer(clusters.state, 'gcp');
    }
    const status = await handle.result();
    assert.equal(status.outcome, 'rolled-back');
    assert.match(
      status.reason?.message ?? '',
      /gcp: the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ is unreachable/,
    );
    assert.deepEqual(
      await onlyStable('gcp', model),
      [[`${model}-stable`, oldImage]],
      'gcp restored once back',
    );
  });

  test('gcp restarted while its step is being retried: the release continues and completes', async () => {
    const { request, model, handle } = await releaseUntilGcpCanary();
    await stopApiServer(clusters.state, 'gcp');
    try {
      const child = env.client.workflow.getHandle(cloudRolloutWorkflowId(handle.workflowId, 'gcp'));
      const retried = await eventually(
        async () => {
          const pending = (await child.describe()).raw.pendingActivities ?? [];
          return pending.find((activity) => (activity.attempt ?? 0) >= 2);
        },
        60_000,
        'a gcp step failing and being retried',
      );
      // Failure messages are stored encrypted (like every payload): the server sees only this.
      assert.equal(retried.lastFailure?.message, 'Encoded failure');
      const { message } = await decodePayload<{ message: string }>(
        env.client,
        retried.lastFailure.encodedAttributes!,
      );
      assert.match(message, /gcp: the Kubernetes API .* is unreachable/);
    } finally {
      await restartApiServer(clusters.state, 'gcp');
    }
    const status = await handle.result();
    assert.equal(status.outcome, 'completed', JSON.stringify(status.reason));
    for (const cloud of ['aws', 'azure', 'gcp']) {
      assert.deepEqual(await onlyStable(cloud, model), [[`${model}-stable`, request.model.image]], cloud);
    }
  });

  test("gcp's credentials revoked mid-canary: refused at once, the others restored, the release fails naming gcp", async () => {
    const { model, handle } = await releaseUntilGcpCanary();
    const oldImage = `registry.example/${model}:1.0.0@${DIGEST}`;
    // The platform team rotates gcp's API token: medrelease's token is no longer accepted (401).
    const tokens = path.join(clusters.state.stateDir, 'gcp', 'tokens.csv');
    const original = await readFile(tokens, 'utf8');
    const rotated = randomBytes(24).toString('hex');
    const withRotated = {
      ...clusters.state,
      clusters: clusters.state.clusters.map((c) => (c.name === 'gcp' ? { ...c, token: rotated } : c)),
    };
    await writeFile(tokens, `${rotated},medrelease-admin,medrelease-admin,"system:masters"\n`);
    await stopApiServer(clusters.state, 'gcp');
    await restartApiServer(withRotated, 'gcp');
    try {
      const status = await handle.result();
      assert.equal(status.outcome, 'failed');
      assert.equal(status.reason?.code, 'RESTORE_FAILED');
      assert.match(status.reason?.message ?? '', /gcp: .* HTTP 401/);
      assert.match(status.reason?.message ?? '', /then gcp could not be restored/);
      assert.equal(status.clouds.gcp?.state, 'restore-failed');
      assert.ok(status.timeline.some((event) => event.cloud === 'gcp' && /needs a person/.test(event.event)));
      for (const cloud of ['aws', 'azure']) {
        assert.equal(status.clouds[cloud]?.state, 'rolled-back', cloud);
        assert.deepEqual(await onlyStable(cloud, model), [[`${model}-stable`, oldImage]], cloud);
      }
    } finally {
      await writeFile(tokens, original);
      await stopApiServer(withRotated, 'gcp');
      await restartApiServer(clusters.state, 'gcp');
    }
  });
});
