// State kept outside the workers: the simulated cloud (idempotent operations, atomic files). The
// audit trail has its own tests (test/audit/).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { SimulatedCloudDriver } from '../../activities/cloud/simulated.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'medrelease-unit-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

const model = { name: 'sepsis-risk', version: '2.0.0', image: 'r/sepsis@sha256:' + 'a'.repeat(64) };
const op = (suffix: string) => ({ operationId: `rel-1:aws:${suffix}`, releaseId: 'rel-1', model });

describe('simulated cloud', () => {
  test('canary, weights, promotion, rollback to the warm previous version', async () => {
    const cloud = new SimulatedCloudDriver('aws', { stateDir: directory });
    await cloud.seedStable('sepsis-risk', { version: '1.0.0', image: 'r/sepsis:1' });
    await cloud.deployCanary(op('deploy'));
    await cloud.setCanaryWeight({ ...op('w25'), weight: 25 });
    let state = await cloud.promote(op('promote'));
    assert.deepEqual(
      [state.stable?.version, state.previous?.version, state.canary],
      ['2.0.0', '1.0.0', null],
    );
    state = await cloud.rollback(op('rollback'));
    assert.deepEqual(
      [state.stable?.version, state.previous, state.canary, state.canaryWeight],
      ['1.0.0', null, null, 0],
    );
  });

  test('an operation id is applied once, however often it is retried, even by a new process', async () => {
    const first = new SimulatedCloudDriver('aws', { stateDir: directory });
    await first.deployCanary(op('deploy'));
    await Promise.all([1, 2, 3].map(() => first.setCanaryWeight({ ...op('w10'), weight: 10 })));
    const restarted = new SimulatedCloudDriver('aws', { stateDir: directory });
    await restarted.setCanaryWeight({ ...op('w10'), weight: 10 });
    const operations = await restarted.operations('sepsis-risk');
    assert.deepEqual(
      operations.map((operation) => operation.kind),
      ['deployCanary', 'setCanaryWeight'],
    );
  });

  test('a transient failure changes nothing', async () => {
    const flaky = new SimulatedCloudDriver('aws', { stateDir: directory, failureRate: 1 });
    await assert.rejects(
      flaky.deployCanary(op('deploy')),
      /simulated aws control plane failed during deployCanary/,
    );
    assert.equal(await flaky.describe('sepsis-risk'), null);
  });

  test('a weight for a canary that is not there is refused', async () => {
    const cloud = new SimulatedCloudDriver('aws', { stateDir: directory });
    await assert.rejects(cloud.setCanaryWeight({ ...op('w5'), weight: 5 }), /no canary of release rel-1/);
  });
});
