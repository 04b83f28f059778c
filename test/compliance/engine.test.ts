// The policy engine's mechanics on a small pack of its own (the shipped packs have their own tests):
// statuses and evidence, not-applicable rules, missing evidence, completeness schemas, score and
// decision, waivers, determinism and digests, and policy errors that name the file and control.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { assessWaiver, evaluateManifest, type GateContext } from '../../activities/compliance/engine.js';
import { readManifest } from '../../activities/compliance/manifest.js';
import { loadPolicyBundle, PolicyError } from '../../activities/compliance/policy.js';
import type { Waiver } from '../../domain/compliance.js';
import type { NormalizedManifest } from '../../domain/manifest.js';

const directories: string[] = [];
after(() => directories.forEach((directory) => rmSync(directory, { recursive: true, force: true })));

function policyDir(packs: Record<string, unknown>, data: Record<string, unknown> = {}): string {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'medrelease-policy-'));
  directories.push(directory);
  for (const [name, pack] of Object.entries(packs))
    writeFileSync(path.join(directory, `${name}.yaml`), stringify(pack));
  mkdirSync(path.join(directory, 'data'));
  writeFileSync(
    path.join(directory, 'data', 'test.yaml'),
    stringify({
      apiVersion: 'medrelease.dev/policy/v1',
      kind: 'PolicyData',
      metadata: { name: 'test', version: '7' },
      data,
    }),
  );
  return directory;
}

const pack = (controls: unknown[]) => ({
  apiVersion: 'medrelease.dev/policy/v1',
  kind: 'PolicyPack',
  metadata: { id: 'test', title: 'Test pack', version: '1.0.0' },
  controls,
});

const control = (id: string, severity: string, extra: Record<string, unknown>) => ({
  id,
  title: `${id} title`,
  severity,
  source: 'test source',
  description: 'A control of the engine tests.',
  ...extra,
});

const DIGEST = `sha256:${'ab'.repeat(32)}`;
function manifest(overrides: (value: Record<string, unknown>) => void = () => undefined): NormalizedManifest {
  const document: Record<string, unknown> = {
    apiVersion: 'medrelease.dev/v1',
    kind: 'ModelRelease',
    metadata: { createdAt: '2026-11-27T09:00:00Z', submittedBy: { id: 'oidc|u-1', type: 'user' } },
    model: { name: 'mm', version: '1.0.0', artifact: { image: `r/m:1.0.0@${DIGEST}`, digest: DIGEST } },
    deployment: {
      targets: [{ cloud: 'aws', region: 'eu-central-1' }],
      endpoint: { public: false, humanFacing: false, auth: { type: 'oidc', accessTokenTtlSeconds: 900 } },
    },
    modelCard: { modelName: 'mm', version: '1.0.0' },
    kubernetesManifests: [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'm', namespace: 'ns' },
        spec: {
          template: {
            spec: {
              securityContext: { runAsNonRoot: true },
              containers: [
                { name: 'model', image: `r/m:1.0.0@${DIGEST}` },
                { name: 'sidecar', image: 'r/s:1' },
              ],
            },
          },
        },
      },
    ],
  };
  overrides(document);
  const result = readManifest(document);
  assert.equal(result.problems, undefined, JSON.stringify(result.problems));
  return result.manifest;
}

const NOW = new Date('2026-11-28T12:00:00Z');
const context = (extra: Partial<GateContext> = {}): GateContext => ({ now: NOW, signature: null, ...extra });

const CONTROLS = [
  control('T-AUTH', 'blocker', {
    checks: [
      {
        name: 'auth type',
        path: '/deployment/endpoint/auth/type',
        expected: ['oidc', 'mtls'],
        expect: "value in ['oidc', 'mtls']",
      },
      {
        name: 'token lifetime',
        path: '/deployment/endpoint/auth/accessTokenTtlSeconds',
        expected: '≤ policy.maxTtl',
        expect: 'value <= policy.maxTtl',
      },
    ],
  }),
  control('T-DIGEST', 'blocker', {
    checks: [
      {
        name: 'every container pinned',
        for: 'K.containers',
        as: 'c',
        path: "c.pointer + '/image'",
        expected: 'name@sha256:<64 hex>',
        expect: "value.matches('^[^@]+@sha256:[a-f0-9]{64}$')",
      },
    ],
  }),
  control('T-CARD', 'major', {
    schema: {
      name: 'card complete',
      at: '/modelCard',
      schema: { type: 'object', required: ['modelName', 'contact'] },
    },
  }),
  control('T-EU', 'major', {
    notApplicable: {
      when: "!R.deployment.targets.exists(t, t.region.startsWith('eu-'))",
      rule: 'no EU target',
    },
    checks: [
      {
        name: 'dpia',
        path: '/regulatory/gdpr/dpia/ref',
        expected: 'a DPIA reference',
        expect: 'value != null',
      },
    ],
  }),
  control('T-HYGIENE', 'minor', {
    checks: [
      {
        name: 'namespace',
        for: 'K.workloads',
        as: 'w',
        path: "w.pointer + '/metadata/namespace'",
        expected: 'not default',
        expect: "value != 'default'",
      },
    ],
  }),
];

describe('the policy engine', () => {
  const bundle = loadPolicyBundle(policyDir({ test: pack(CONTROLS) }, { maxTtl: 3600, minScore: 50 }));

  test('each check gives evidence with its JSON pointer, observed and expected values', () => {
    const report = evaluateManifest(manifest(), bundle, context());
    const digest = report.controls.find((result) => result.id === 'T-DIGEST')!;
    assert.equal(digest.status, 'fail');
    assert.deepEqual(digest.evidence[0], {
      check: 'every container pinned',
      path: '/kubernetesManifests/0/spec/template/spec/containers/1/image',
      observed: 'r/s:1',
      expected: 'name@sha256:<64 hex>',
      status: 'fail',
    });
    assert.equal(digest.evidence[1]!.status, 'pass', 'passing items are kept too');
    const auth = report.controls.find((result) => result.id === 'T-AUTH')!;
    assert.equal(auth.status, 'pass');
    assert.deepEqual(
      auth.evidence.map((item) => [item.path, item.observed]),
      [
        ['/deployment/endpoint/auth/type', 'oidc'],
        ['/deployment/endpoint/auth/accessTokenTtlSeconds', 900],
      ],
    );
  });

  test('missing evidence is an error, never a pass; absent sections of a schema check too', () => {
    const report = evaluateManifest(
      manifest((document) => {
        delete (document.deployment as { endpoint?: unknown }).endpoint;
      }),
      bundle,
      context(),
    );
    const auth = report.controls.find((result) => result.id === 'T-AUTH')!;
    assert.equal(auth.status, 'error');
    assert.match(auth.evidence[0]!.message!, /missing evidence at \/deployment\/endpoint\/auth\/type/);
    const card = report.controls.find((result) => result.id === 'T-CARD')!;
    assert.equal(card.status, 'error');
    assert.deepEqual(
      card.evidence.map((item) => [item.path, item.status]),
      [['/modelCard/contact', 'error']],
    );
    assert.equal(report.decision, 'blocked');
    assert.match(
      report.reasons.join('\n'),
      /blocker T-AUTH is an error \(missing evidence counts as a failure\)/,
    );
  });

  test('a rule decides not-applicable, and the report records the rule', () => {
    const report = evaluateManifest(
      manifest((document) => {
        (document.deployment as { targets: unknown[] }).targets = [{ cloud: 'gcp', region: 'us-central1' }];
      }),
      bundle,
      context(),
    );
    const eu = report.controls.find((result) => result.id === 'T-EU')!;
    assert.equal(eu.status, 'not_applicable');
    assert.equal(eu.notApplicableRule, 'no EU target');
    assert.equal(report.counts.not_applicable, 1);
  });

  test('score: blocker 10, major 3, minor 1, N/A excluded; a failed blocker blocks whatever the score', () => {
    // T-AUTH pass (10), T-DIGEST fail (10), T-CARD error (3), T-EU error (3), T-HYGIENE pass (1)
    const report = evaluateManifest(manifest(), bundle, context());
    assert.equal(report.score, Math.round((1000 * 11) / 27) / 10);
    assert.equal(report.decision, 'blocked');
    assert.deepEqual(report.awaitingWaivers, [], 'a failed blocker cannot be waived away');
  });

  test('failed majors need valid waivers; a valid one for each lets the release pass', () => {
    const passing = manifest((document) => {
      const container = (
        document.kubernetesManifests as {
          spec: { template: { spec: { containers: { image: string }[] } } };
        }[]
      )[0]!.spec.template.spec.containers[1]!;
      container.image = `r/s:1@${DIGEST}`;
    });
    const blocked = evaluateManifest(passing, bundle, context());
    assert.equal(blocked.decision, 'blocked');
    assert.deepEqual(blocked.awaitingWaivers.sort(), ['T-CARD', 'T-EU']);
    const waiver = (controlId: string, overrides: Partial<Waiver> = {}): Waiver => ({
      control: controlId,
      justification: 'Card contact is being added in the next patch; EU DPIA in review.',
      expiresAt: '2027-01-15T00:00:00Z',
      requestedBy: { id: 'qa-1' },
      approvals: [
        { by: { id: 'qa-1' }, role: 'regulatory-qa', at: '2026-11-28T10:00:00Z' },
        { by: { id: 'sec-1' }, role: 'security', at: '2026-11-28T10:05:00Z' },
      ],
      ...overrides,
    });
    const waived = evaluateManifest(
      passing,
      bundle,
      context({ waivers: [waiver('T-CARD'), waiver('T-EU')] }),
    );
    assert.equal(waived.decision, 'pass', waived.reasons.join('; '));
    assert.equal(waived.controls.find((result) => result.id === 'T-CARD')!.waiver!.valid, true);
    const expired = evaluateManifest(
      passing,
      bundle,
      context({ waivers: [waiver('T-CARD', { expiresAt: '2026-11-28T11:59:00Z' }), waiver('T-EU')] }),
    );
    assert.equal(expired.decision, 'blocked');
    assert.match(expired.reasons.join('\n'), /T-CARD .*expired at 2026-11-28T11:59:00Z/);
  });

  test('a waiver counts only with every role approved by distinct people other than the submitter, within the term', () => {
    const policy = { approverRoles: ['regulatory-qa', 'security'], maxDays: 90 };
    const base: Waiver = {
      control: 'T-CARD',
      justification: 'Justified for a short time.',
      expiresAt: '2027-01-15T00:00:00Z',
      requestedBy: { id: 'qa-1' },
      approvals: [
        { by: { id: 'qa-1' }, role: 'regulatory-qa', at: '2026-11-28T10:00:00Z' },
        { by: { id: 'qa-1' }, role: 'security', at: '2026-11-28T10:01:00Z' },
      ],
    };
    const major = { id: 'T-CARD', severity: 'major' };
    assert.match(
      assessWaiver(base, major, policy, NOW, 'oidc|u-1').problems.join(),
      /needs approval by security/,
    );
    const bySubmitter = {
      ...base,
      approvals: [
        { by: { id: 'oidc|u-1' }, role: 'regulatory-qa', at: '2026-11-28T10:00:00Z' },
        { by: { id: 'sec-1' }, role: 'security', at: '2026-11-28T10:01:00Z' },
      ],
    };
    assert.match(assessWaiver(bySubmitter, major, policy, NOW, 'oidc|u-1').problems.join(), /regulatory-qa/);
    const tooLong = {
      ...base,
      expiresAt: '2027-06-01T00:00:00Z',
      approvals: [base.approvals[0]!, { by: { id: 'sec-1' }, role: 'security', at: '2026-11-28T10:01:00Z' }],
    };
    assert.match(
      assessWaiver(tooLong, major, policy, NOW, 'oidc|u-1').problems.join(),
      /longer than the policy's 90 days/,
    );
    assert.match(
      assessWaiver(
        { ...tooLong, expiresAt: '2027-01-01T00:00:00Z' },
        { id: 'T-AUTH', severity: 'blocker' },
        policy,
        NOW,
        'x',
      ).problems.join(),
      /blockers cannot be waived/,
    );
    assert.equal(
      assessWaiver({ ...tooLong, expiresAt: '2027-01-01T00:00:00Z' }, major, policy, NOW, 'x').valid,
      true,
    );
  });

  test('evaluation is deterministic and the report carries the digests of manifest and policy', () => {
    const first = evaluateManifest(manifest(), bundle, context());
    const second = evaluateManifest(manifest(), bundle, context());
    assert.deepEqual(first, second);
    assert.match(first.manifestDigest!, /^sha256:[a-f0-9]{64}$/);
    assert.match(first.policy.digest, /^sha256:[a-f0-9]{64}$/);
    assert.equal(first.policy.version, '7');
    assert.equal(first.evaluatedAt, NOW.toISOString());
    assert.deepEqual(first.engine, { name: 'medrelease-gate', version: '1.0.0' });
    const changed = evaluateManifest(
      manifest((document) => ((document.model as { version: string }).version = '1.0.1')),
      bundle,
      context(),
    );
    assert.notEqual(changed.manifestDigest, first.manifestDigest);
    const otherPolicy = loadPolicyBundle(policyDir({ test: pack(CONTROLS) }, { maxTtl: 600, minScore: 50 }));
    assert.notEqual(otherPolicy.digest, bundle.digest);
    const stricter = evaluateManifest(manifest(), otherPolicy, context());
    assert.equal(stricter.controls.find((result) => result.id === 'T-AUTH')!.status, 'fail');
  });

  test('the same manifest as JSON objects or multi-document YAML has the same digest', () => {
    const asObjects = manifest();
    const asYaml = readManifest({
      ...asObjects,
      kubernetesManifests: asObjects.kubernetesManifests.map((object) => stringify(object)).join('---\n'),
    });
    assert.equal(asYaml.problems, undefined);
    assert.equal(
      evaluateManifest(asYaml.manifest, bundle, context()).manifestDigest,
      evaluateManifest(asObjects, bundle, context()).manifestDigest,
    );
  });
});

describe('loading a policy bundle', () => {
  test('a CEL syntax error, an unknown field and a duplicate id are all reported with file and control', () => {
    const directory = policyDir({
      a: pack([
        control('T-1', 'blocker', { checks: [{ name: 'x', path: '/a', expected: 1, expect: 'value ==' }] }),
      ]),
      b: pack([
        control('T-1', 'minor', { checks: [{ name: 'y', path: '/a', expected: 1, expect: 'true' }] }),
        { ...control('T-2', 'major', { checks: [] }), colour: 'red' },
      ]),
    });
    assert.throws(
      () => loadPolicyBundle(directory),
      (error: unknown) => {
        assert.ok(error instanceof PolicyError);
        const text = error.problems.join('\n');
        assert.match(text, /a\.yaml T-1 checks\[0\] \(x\)\.expect: cannot parse CEL expression/);
        assert.match(text, /b\.yaml\/controls\/1: must NOT have additional properties/);
        return true;
      },
    );
    const duplicate = policyDir({
      a: pack([
        control('T-1', 'blocker', { checks: [{ name: 'x', path: '/a', expected: 1, expect: 'true' }] }),
      ]),
      b: pack([
        control('T-1', 'minor', { checks: [{ name: 'y', path: '/a', expected: 1, expect: 'true' }] }),
      ]),
    });
    assert.throws(() => loadPolicyBundle(duplicate), /control T-1 is already defined in .*a\.yaml/);
  });

  test('an expression that fails at evaluation is an error with the expression quoted', () => {
    const bundle = loadPolicyBundle(
      policyDir({
        a: pack([
          control('T-1', 'blocker', {
            checks: [{ name: 'x', path: '/a', observed: 'R.nothing.here', expected: 1, expect: 'true' }],
          }),
        ]),
      }),
    );
    const result = evaluateManifest(manifest(), bundle, context()).controls[0]!;
    assert.equal(result.status, 'error');
    assert.match(result.evidence[0]!.message!, /nothing.*\(in: R\.nothing\.here\)/);
  });
});

describe('reading a manifest', () => {
  test('every violation is listed by JSON pointer', () => {
    const result = readManifest({
      apiVersion: 'medrelease.dev/v2',
      kind: 'ModelRelease',
      metadata: { createdAt: 'yesterday', submittedBy: { id: 'x', type: 'robot' } },
      model: { name: 'M', version: '1', artifact: { image: 'r/m', digest: 'sha256:abc' } },
      deployment: { targets: [] },
      colour: 'red',
    });
    const fields = result.problems!.map((problem) => problem.field).sort();
    assert.deepEqual(fields, [
      '/apiVersion',
      '/colour',
      '/deployment/targets',
      '/metadata/createdAt',
      '/metadata/submittedBy/type',
      '/model/artifact/digest',
      '/model/name',
      '/model/version',
    ]);
  });

  test('YAML text: a syntax error names its line, a bad Kubernetes document its number', () => {
    assert.match(readManifest('apiVersion: [unclosed').problems![0]!.message, /not valid JSON or YAML/);
    const document = {
      apiVersion: 'medrelease.dev/v1',
      kind: 'ModelRelease',
      metadata: { createdAt: '2026-11-27T09:00:00Z', submittedBy: { id: 'x', type: 'user' } },
      model: { name: 'mm', version: '1.0.0', artifact: { image: `r/m@${DIGEST}`, digest: DIGEST } },
      deployment: { targets: [{ cloud: 'aws', region: 'eu-central-1' }] },
      kubernetesManifests:
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nmetadata: {name: b}\n---\n',
    };
    const result = readManifest(document);
    assert.deepEqual(result.problems, [
      { field: '/kubernetesManifests', message: 'document 2 has no apiVersion' },
      { field: '/kubernetesManifests', message: 'document 2 has no kind' },
    ]);
    const good = readManifest({
      ...document,
      kubernetesManifests: 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n',
    });
    assert.equal(good.manifest!.kubernetesManifests.length, 1, 'an empty trailing document is skipped');
  });
});
