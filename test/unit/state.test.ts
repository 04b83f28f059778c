// State kept outside the workers: the simulated cloud (idempotent operations, atomic files) and the
// hash-chained audit trail.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { FileAuditStore } from '../../activities/audit.js';
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

describe('audit trail', () => {
  const event = (eventId: string, type: string) => ({
    eventId,
    releaseId: 'rel-1',
    type,
    actor: 'dr-bob',
    at: '2026-11-27T00:00:00Z',
    detail: { n: 1 },
  });

  test('records chain by hash; a repeated event id is recorded once', async () => {
    const store = new FileAuditStore(directory);
    await store.append(event('a', 'release.created'));
    await Promise.all([
      store.append(event('b', 'signoff.approve')),
      store.append(event('b', 'signoff.approve')),
    ]);
    await store.append(event('c', 'release.completed'));
    const records = await store.read('rel-1');
    assert.deepEqual(
      records.map((record) => [record.sequence, record.eventId]),
      [
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
      ],
    );
    assert.equal(FileAuditStore.verify(records), null);
  });

  test('an edited record breaks the chain at that record', async () => {
    const store = new FileAuditStore(directory);
    for (const id of ['a', 'b', 'c']) await store.append(event(id, 'x'));
    const file = path.join(directory, 'rel-1.jsonl');
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    lines[1] = lines[1]!.replace('dr-bob', 'dr-mallory');
    await writeFile(file, lines.join('\n') + '\n');
    assert.equal(FileAuditStore.verify(await store.read('rel-1')), 1);
  });
});
