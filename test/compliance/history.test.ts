// The gate's own record of each model's deployments: what a completed release records (including
// the digests the separation-of-duties control compares), idempotent per release, and seeding that
// never overwrites a real record.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { documentDigest } from '../../activities/compliance/facts.js';
import { FileReleaseHistory } from '../../activities/compliance/history.js';
import { compliantManifest, exampleHistory } from './harness.js';

const directory = mkdtempSync(path.join(os.tmpdir(), 'medrelease-history-'));
after(() => rmSync(directory, { recursive: true, force: true }));

describe('the gate’s release history', () => {
  test('a completed release becomes the deployed version, with its digests and validation', () => {
    const history = new FileReleaseHistory(path.join(directory, 'a'));
    assert.deepEqual(history.lookup('chest-xray-triage'), { deployedVersion: null, previous: null });
    const manifest = compliantManifest();
    history.recordDeployed(manifest, 'rel-1', '2026-11-28T12:00:00Z');
    history.recordDeployed(manifest, 'rel-1', '2026-11-28T12:01:00Z'); // a retried activity
    const { deployedVersion, previous } = history.lookup('chest-xray-triage');
    assert.equal(deployedVersion, '2.5.0');
    assert.equal(previous?.artifactDigest, manifest.model.artifact.digest);
    assert.equal(previous?.sbomDigest, manifest.model.artifact.sbom!.digest);
    assert.equal(previous?.infraDigest, documentDigest(manifest.kubernetesManifests));
    assert.equal(previous?.riskFileVersion, '7');
    assert.deepEqual(previous?.validation?.metrics, manifest.validation!.metrics);
  });

  test('seeding records an outside deployment once and never overwrites a real record', () => {
    const history = new FileReleaseHistory(path.join(directory, 'b'));
    const seed = exampleHistory() as { deployedVersion: string; previous: { version: string } };
    assert.equal(history.seed('chest-xray-triage', seed, '2026-11-28T00:00:00Z'), true);
    assert.equal(history.lookup('chest-xray-triage').deployedVersion, '2.4.1');
    history.recordDeployed(compliantManifest(), 'rel-2', '2026-11-28T12:00:00Z');
    assert.equal(history.seed('chest-xray-triage', seed, '2026-11-28T13:00:00Z'), false);
    assert.equal(history.lookup('chest-xray-triage').deployedVersion, '2.5.0');
  });
});

test('the infrastructure digest the gate compares is the one the history records', async () => {
  const { manifestDigests } = await import('../../activities/compliance/facts.js');
  const manifest = compliantManifest();
  assert.equal(
    manifestDigests(manifest as unknown as Record<string, unknown>).infra,
    documentDigest(manifest.kubernetesManifests),
  );
});
