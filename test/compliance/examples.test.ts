// The shipped examples are true: every complete example manifest (EXAMPLE_RELEASES: compliant.yaml,
// sepsis-risk.yaml) passes every control with its gate history as of EXAMPLE_TIME, and still does
// when re-dated for the demo; every failure example is blocked with the controls its header names
// not passing; the example release requests are valid for the default configuration and carry
// exactly the example manifests; and the signing trust of the policy data is the example trust that
// signed every example artifact.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { ControlResult } from '../../domain/compliance.js';
import { parseConfig } from '../../domain/config.js';
import type { NormalizedManifest } from '../../domain/manifest.js';
import type { CreateReleaseRequest } from '../../domain/release.js';
import { releaseRequestProblems } from '../../domain/release-input.js';
import { evaluateRelease } from '../../activities/compliance/evaluate.js';
import {
  EXAMPLE_FAILURES,
  EXAMPLE_RELEASES,
  EXAMPLE_TIME,
  exampleHistory,
  redateExample,
} from '../../activities/compliance/examples.js';
import { readManifest } from '../../activities/compliance/manifest.js';
import { loadPolicyBundle } from '../../activities/compliance/policy.js';
import { verifyArtifactSignature, type SigningTrust } from '../../activities/compliance/signature.js';

/** The repository root (this file runs from dist/test/compliance/). */
const ROOT = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const EXAMPLES = path.join(ROOT, 'examples');
const MANIFESTS = path.join(EXAMPLES, 'manifests');
const SIGNING = path.join(EXAMPLES, 'signing');
const CONTROL_COUNT = 45;

const policy = loadPolicyBundle(path.join(ROOT, 'policies'));

function manifestFile(file: string): NormalizedManifest {
  const result = readManifest(readFileSync(file, 'utf8'));
  if (result.problems) assert.fail(`${file} is not a valid manifest: ${JSON.stringify(result.problems)}`);
  return result.manifest;
}

function explain(control: ControlResult): string {
  const items = control.evidence
    .filter((item) => item.status !== 'pass')
    .map((item) => `${item.path}: ${item.message ?? JSON.stringify(item.observed)}`);
  return `${control.id} ${control.status}${items.length > 0 ? ` (${items.join('; ')})` : ''}`;
}

describe('the complete example manifests', () => {
  test('there are two complete examples, one per demo model', () => {
    assert.deepEqual(
      EXAMPLE_RELEASES.map((example) => example.model),
      ['chest-xray-triage', 'sepsis-risk'],
    );
  });

  for (const example of EXAMPLE_RELEASES) {
    test(`${example.manifest} passes every control with ${example.history} as of EXAMPLE_TIME`, () => {
      const manifest = manifestFile(path.join(MANIFESTS, example.manifest));
      assert.equal(manifest.model.name, example.model);
      const report = evaluateRelease(manifest, policy, {
        now: EXAMPLE_TIME,
        history: exampleHistory(path.join(MANIFESTS, example.history)),
      });
      assert.deepEqual(report.controls.filter((control) => control.status !== 'pass').map(explain), []);
      assert.equal(report.controls.length, CONTROL_COUNT);
      assert.equal(report.decision, 'pass');
      assert.equal(report.score, 100);
    });

    test(`${example.manifest} carries its signature bundle (examples/signing/${example.bundle}) and replaces the deployed version`, () => {
      const manifest = manifestFile(path.join(MANIFESTS, example.manifest));
      const bundle = JSON.parse(readFileSync(path.join(SIGNING, example.bundle), 'utf8')) as unknown;
      assert.deepEqual(manifest.model.artifact.signature?.bundle, bundle);
      const history = exampleHistory(path.join(MANIFESTS, example.history));
      assert.equal(manifest.model.previousVersion, history.deployedVersion);
      assert.equal(manifest.deployment.rollout?.rollback?.previousDigest, history.previous?.artifactDigest);
    });

    test(`${example.manifest}, re-dated for the demo, still passes every control months later`, () => {
      const later = new Date('2027-06-15T09:30:00Z');
      const manifest = redateExample(manifestFile(path.join(MANIFESTS, example.manifest)), later);
      const report = evaluateRelease(manifest, policy, {
        now: later,
        history: exampleHistory(path.join(MANIFESTS, example.history)),
      });
      assert.deepEqual(report.controls.filter((control) => control.status !== 'pass').map(explain), []);
      assert.equal(report.decision, 'pass');
    });
  }

  test('the two examples are different releases (models, artifacts, test sets, namespaces)', () => {
    const [chest, sepsis] = EXAMPLE_RELEASES.map((example) =>
      manifestFile(path.join(MANIFESTS, example.manifest)),
    );
    assert.notEqual(chest!.model.artifact.digest, sepsis!.model.artifact.digest);
    assert.notEqual(chest!.deployment.namespace, sepsis!.deployment.namespace);
    assert.notDeepEqual(
      chest!.validation?.testSets?.map((set) => set.id),
      sepsis!.validation?.testSets?.map((set) => set.id),
    );
    assert.notEqual(chest!.regulatory?.fda?.pccp?.id, sepsis!.regulatory?.fda?.pccp?.id);
  });
});

describe('the failure examples', () => {
  const directory = path.join(MANIFESTS, 'failures');
  const files = readdirSync(directory)
    .filter((file) => file.endsWith('.yaml'))
    .sort();

  test('there is one file per common failure', () => {
    assert.deepEqual(files, EXAMPLE_FAILURES.map((failure) => `${failure.file}.yaml`).sort());
  });

  const base = EXAMPLE_RELEASES[0]!;
  for (const file of files) {
    test(`failures/${file} is blocked with the controls its header names not passing`, () => {
      const text = readFileSync(path.join(directory, file), 'utf8');
      const header = /^# (.+) not passing \(evaluated as of ([^)]+)\)\.$/m.exec(text);
      assert.ok(header, `failures/${file} has a header naming the failing controls`);
      const named = header[1]!.split(', ');
      assert.ok(named.length > 0);
      assert.equal(header[2], EXAMPLE_TIME.toISOString());
      const failure = EXAMPLE_FAILURES.find((entry) => `${entry.file}.yaml` === file);
      assert.deepEqual(named, failure?.controls, 'the header names the controls of EXAMPLE_FAILURES');

      const result = readManifest(text);
      if (result.problems) assert.fail(`failures/${file} is not a valid manifest`);
      const report = evaluateRelease(result.manifest, policy, {
        now: EXAMPLE_TIME,
        history: exampleHistory(path.join(MANIFESTS, base.history)),
      });
      assert.equal(report.decision, 'blocked');
      for (const id of named) {
        const control = report.controls.find((entry) => entry.id === id);
        assert.ok(control, `the shipped policy has ${id}`);
        assert.ok(
          control.status === 'fail' || control.status === 'error',
          `${id} does not pass in failures/${file} (${control.status})`,
        );
      }
    });
  }
});

describe('the example release requests', () => {
  const config = parseConfig({});
  for (const example of EXAMPLE_RELEASES) {
    test(`examples/${example.request} is a valid release request carrying ${example.manifest}`, () => {
      const request = JSON.parse(
        readFileSync(path.join(EXAMPLES, example.request), 'utf8'),
      ) as CreateReleaseRequest;
      assert.deepEqual(releaseRequestProblems(request, config), []);
      const carried = readManifest(request.manifest);
      if (carried.problems) assert.fail(`the manifest of ${example.request} is invalid`);
      assert.deepEqual(carried.manifest, manifestFile(path.join(MANIFESTS, example.manifest)));
      assert.equal(request.model.name, example.model);
      assert.equal(request.model.image, carried.manifest.model.artifact.image);
      assert.deepEqual(
        [...request.clouds].sort(),
        config.clouds.map((cloud) => cloud.name).sort(),
        'the example releases go to every default cloud',
      );
    });
  }
});

describe('the example signing trust', () => {
  const trust = JSON.parse(readFileSync(path.join(SIGNING, 'trust.json'), 'utf8')) as SigningTrust;

  test('policies/data/signing.yaml carries exactly examples/signing/trust.json', () => {
    const data = parseYaml(readFileSync(path.join(ROOT, 'policies', 'data', 'signing.yaml'), 'utf8')) as {
      data: { signing: unknown };
    };
    assert.deepEqual(data.data.signing, trust);
    assert.deepEqual(policy.data.signing, trust);
  });

  for (const example of EXAMPLE_RELEASES) {
    test(`examples/signing/${example.bundle} verifies against that trust for ${example.manifest}'s digest`, () => {
      const manifest = manifestFile(path.join(MANIFESTS, example.manifest));
      const result = verifyArtifactSignature({
        bundle: readFileSync(path.join(SIGNING, example.bundle), 'utf8'),
        digest: manifest.model.artifact.digest,
        trust,
        now: EXAMPLE_TIME,
      });
      assert.equal(result.verified, true, result.error ?? undefined);
    });
  }
});

describe('a tabular model is cleared on its input features', () => {
  const control = 'FDA-PCCP-INPUT-MODALITY-UNCHANGED';
  const sepsis = () => manifestFile(path.join(MANIFESTS, 'sepsis-risk.yaml'));
  const history = exampleHistory(path.join(MANIFESTS, 'sepsis-risk.history.json'));
  const statusOf = (manifest: NormalizedManifest) =>
    evaluateRelease(manifest, policy, { now: EXAMPLE_TIME, history }).controls.find(
      (result) => result.id === control,
    )!;

  test('the cleared features in another order pass; no body part or SOP class is asked for', () => {
    const manifest = sepsis();
    manifest.model.inputs!.features = [...manifest.model.inputs!.features!].reverse();
    const result = statusOf(manifest);
    assert.equal(result.status, 'pass');
    assert.ok(!result.evidence.some((item) => item.path === '/model/inputs/bodyPart'));
  });

  test('a new feature no modification allows, or a dropped one, fails naming it', () => {
    const added = sepsis();
    added.model.inputs!.features = [...added.model.inputs!.features!, 'procalcitonin'];
    const addition = statusOf(added);
    assert.equal(addition.status, 'fail');
    assert.ok(addition.evidence.some((item) => item.status === 'fail' && item.observed === 'procalcitonin'));
    const dropped = sepsis();
    dropped.model.inputs!.features = dropped.model.inputs!.features!.filter(
      (feature) => feature !== 'lactate',
    );
    const drop = statusOf(dropped);
    assert.equal(drop.status, 'fail');
    assert.ok(drop.evidence.some((item) => item.status === 'fail' && item.path === '/model/inputs/features'));
  });
});
