// The simulated cloud's `scale`: a model's capacity (replicas at full traffic) is part of its state,
// 4 until set, applied once per operation id, bounded to whole numbers from 1 to 1000, and kept in
// the state files, so that a new driver on the same folder (a restarted worker) sees it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { CloudConflictError, CloudRejectedError } from '../../activities/cloud/driver.js';
import { SimulatedCloudDriver } from '../../activities/cloud/simulated.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'medrelease-scaling-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

const model = { name: 'sepsis-risk', version: '2.0.0', image: 'r/sepsis@sha256:' + 'a'.repeat(64) };
const op = (suffix: string) => ({ operationId: `rel-1:aws:${suffix}`, releaseId: 'rel-1', model });

async function seeded(): Promise<SimulatedCloudDriver> {
  const cloud = new SimulatedCloudDriver('aws', { stateDir: directory });
  await cloud.seedStable('sepsis-risk', { version: '1.0.0', image: 'r/sepsis:1' });
  return cloud;
}

describe('simulated cloud: scale', () => {
  test('a model runs at the default capacity of 4 until scaled, up or down, with or without a canary', async () => {
    const cloud = await seeded();
    assert.deepEqual((await cloud.describe('sepsis-risk'))?.capacity, { replicas: 4, via: 'replicas' });

    const up = await cloud.scale({ ...op('scale-up'), replicas: 12 });
    assert.deepEqual(up.capacity, { replicas: 12, via: 'replicas' });
    assert.equal(up.stable?.version, '1.0.0', 'the stable version is untouched');

    await cloud.deployCanary(op('deploy'));
    await cloud.setCanaryWeight({ ...op('w25'), weight: 25 });
    const down = await cloud.scale({ ...op('scale-down'), replicas: 2 });
    assert.deepEqual(down.capacity, { replicas: 2, via: 'replicas' });
    assert.deepEqual(
      [down.canary?.version, down.canaryWeight],
      ['2.0.0', 25],
      'the canary weight is unchanged',
    );

    // The capacity belongs to the model, not the release: it outlives promotion.
    const promoted = await cloud.promote(op('promote'));
    assert.deepEqual(promoted.capacity, { replicas: 2, via: 'replicas' });

    assert.deepEqual(
      (await cloud.operations('sepsis-risk')).map(({ kind, replicas, weight }) => ({
        kind,
        replicas,
        weight,
      })),
      [
        { kind: 'seed', replicas: undefined, weight: undefined },
        { kind: 'scale', replicas: 12, weight: undefined },
        { kind: 'deployCanary', replicas: undefined, weight: undefined },
        { kind: 'setCanaryWeight', replicas: undefined, weight: 25 },
        { kind: 'scale', replicas: 2, weight: undefined },
        { kind: 'promote', replicas: undefined, weight: undefined },
      ],
    );
  });

  test('an operation id is applied once, even when a later scale changed the capacity, and by a new driver', async () => {
    const cloud = await seeded();
    await Promise.all([1, 2, 3].map(() => cloud.scale({ ...op('scale-a'), replicas: 8 })));
    await cloud.scale({ ...op('scale-b'), replicas: 6 });
    const repeated = await cloud.scale({ ...op('scale-a'), replicas: 8 });
    assert.deepEqual(repeated.capacity, { replicas: 6, via: 'replicas' }, 'the repeated id changed nothing');

    const restarted = new SimulatedCloudDriver('aws', { stateDir: directory });
    assert.deepEqual((await restarted.describe('sepsis-risk'))?.capacity, { replicas: 6, via: 'replicas' });
    await restarted.scale({ ...op('scale-b'), replicas: 6 });
    assert.deepEqual(
      (await restarted.operations('sepsis-risk'))
        .filter(({ kind }) => kind === 'scale')
        .map((o) => o.replicas),
      [8, 6],
    );
  });

  test('replicas outside whole numbers from 1 to 1000 are refused, naming the field and the rule, and nothing changes', async () => {
    const cloud = await seeded();
    for (const replicas of [0, 1001, 2.5, -3, Number.NaN]) {
      await assert.rejects(cloud.scale({ ...op(`bad-${replicas}`), replicas }), (error: unknown) => {
        assert.ok(error instanceof CloudRejectedError, String(error));
        assert.equal(
          error.message,
          `aws: scale sepsis-risk: replicas must be an integer from 1 to 1000, got ${replicas}`,
        );
        return true;
      });
    }
    assert.deepEqual((await cloud.describe('sepsis-risk'))?.capacity, { replicas: 4, via: 'replicas' });
    assert.deepEqual(
      (await cloud.operations('sepsis-risk')).map(({ kind }) => kind),
      ['seed'],
    );
    // The bounds themselves are accepted.
    assert.equal((await cloud.scale({ ...op('one'), replicas: 1 })).capacity?.replicas, 1);
    assert.equal((await cloud.scale({ ...op('max'), replicas: 1000 })).capacity?.replicas, 1000);
  });

  test('a model with neither a stable version nor a canary here has no capacity to set', async () => {
    const cloud = new SimulatedCloudDriver('aws', { stateDir: directory });
    await assert.rejects(
      cloud.scale({ ...op('scale'), replicas: 6 }),
      (error: unknown) =>
        error instanceof CloudConflictError &&
        /no deployment of sepsis-risk to scale in aws/.test(error.message),
    );
    assert.equal(await cloud.describe('sepsis-risk'), null, 'nothing was created');
  });
});
