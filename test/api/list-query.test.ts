// The pure parts of the release service: the visibility query a listing sends, and generated ids.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { listQuery, newReleaseId } from '../../api/services/releases.js';
import { RELEASE_ID_PATTERN } from '../../domain/release.js';

describe('release listing query and ids', () => {
  test('always scoped to release workflows on this environment’s control task queue', () => {
    assert.equal(
      listQuery({}, 'tabc-medrelease'),
      "WorkflowType = 'ReleaseWorkflow' AND TaskQueue = 'tabc-medrelease'",
    );
  });

  test('each filter is one quoted clause on its search attribute', () => {
    assert.equal(
      listQuery({ stage: 'canary', model: 'sepsis-risk', version: '1.2.0', cloud: 'gcp' }, 'medrelease'),
      "WorkflowType = 'ReleaseWorkflow' AND TaskQueue = 'medrelease' AND MedreleaseStage = 'canary' AND " +
        "MedreleaseModel = 'sepsis-risk' AND MedreleaseModelVersion = '1.2.0' AND MedreleaseClouds = 'gcp'",
    );
  });

  test('a quote in a value cannot end the string (the schema already refuses such values)', () => {
    const query = listQuery({ model: "x' OR WorkflowType != '" }, 'medrelease');
    assert.ok(query.endsWith("MedreleaseModel = 'x\\' OR WorkflowType != \\''"), query);
  });

  test('generated ids: rel-<yyyymmdd>-<8 hex>, valid release ids, different each time', () => {
    const id = newReleaseId(new Date('2025-03-09T12:00:00Z'));
    assert.match(id, /^rel-20250309-[0-9a-f]{8}$/);
    assert.match(id, new RegExp(RELEASE_ID_PATTERN));
    assert.notEqual(newReleaseId(), newReleaseId());
  });
});
