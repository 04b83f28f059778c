// The compliance gate in the product: a release created through the API with its manifest, on a
// real Temporal server with the control and cloud workers, judged by the shipped policy packs.
// Invalid manifests are refused with every violation and nothing starts; a compliant one passes and
// its report is queryable and stored; a blocker ends the release `blocked` with the failing control;
// a failed major waits for waivers by the roles the policy names, which release it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, test } from 'node:test';
import { canonicalize } from '../../domain/canonical-json.js';
import { sha256Hex } from '../../activities/compliance/cel.js';
import { redateExample } from '../../activities/compliance/examples.js';
import { approvalPayloadDigest } from '../../activities/compliance/facts.js';
import type { ErrorResponse } from '../../api/errors.js';
import type { ComplianceReport, Waiver } from '../../domain/compliance.js';
import type { NormalizedManifest } from '../../domain/manifest.js';
import type { CreateReleaseRequest } from '../../domain/release.js';
import { eventually } from '../helpers/environment.js';
import { assertError, assertNotStarted, liveApi } from '../api/helper.js';
import type { PreviousRelease } from '../../activities/compliance/engine.js';
import { FileReleaseHistory } from '../../activities/compliance/history.js';
import { stateDirectory } from '../../workers/factory.js';
import { compliantManifest, exampleHistory } from './harness.js';

type Deployment = { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };

describe('the compliance gate in a release', () => {
  const live = liveApi({
    create: { configOverrides: { compliance: { requireManifest: true } } },
    // The gate's own record: chest-xray-triage 2.4.1 is deployed (the example's previous version).
    prepare: (env) => {
      new FileReleaseHistory(stateDirectory(env.config, 'compliance', 'history')).seed(
        'chest-xray-triage',
        exampleHistory() as { deployedVersion: string; previous: PreviousRelease },
        new Date().toISOString(),
      );
    },
  });
  const { user, status } = live;
  const compliance = async (releaseId: string) => {
    const response = await user('viewer').get(`/v1/releases/${releaseId}/compliance`);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<{ report: ComplianceReport; waivers: Waiver[]; stage: string }>();
  };

  /** The compliant example, dated now, optionally changed (approvals re-bound as a submitter would). */
  function manifest(change: (manifest: NormalizedManifest) => void = () => undefined): NormalizedManifest {
    const fresh = redateExample(compliantManifest(), new Date());
    change(fresh);
    const digest = approvalPayloadDigest(fresh);
    for (const approval of fresh.approvals ?? []) approval.signedPayloadDigest = digest;
    return fresh;
  }
  function request(releaseId: string, body: unknown): CreateReleaseRequest {
    const example = compliantManifest();
    return {
      releaseId,
      model: {
        name: example.model.name,
        version: example.model.version,
        image: example.model.artifact.image,
      },
      clouds: ['aws', 'azure', 'gcp'],
      canary: { steps: [100], analysisIntervalSeconds: 0 },
      signoff: { quorum: 1, deadlineSeconds: 120 },
      keepWarmSeconds: 0,
      waiverDeadlineSeconds: 120,
      manifest: body,
    };
  }

  test('a release without a manifest, or with an invalid one, is refused with every problem and nothing starts', async () => {
    const releaseId = `rel-nomanifest-${randomUUID().slice(0, 6)}`;
    const { manifest: _none, ...withoutManifest } = request(releaseId, undefined);
    assertError(await user('manager').post('/v1/releases', withoutManifest), 400, 'VALIDATION_FAILED');
    const invalidId = `rel-invalid-${randomUUID().slice(0, 6)}`;
    const invalid = manifest() as unknown as Record<string, unknown>;
    (invalid.metadata as Record<string, unknown>).createdAt = 'last Tuesday';
    (invalid.model as Record<string, unknown>).version = 'two';
    (invalid.deployment as Record<string, unknown>).targets = [];
    invalid.colour = 'red';
    const response = await user('manager').post('/v1/releases', request(invalidId, invalid));
    const body = assertError(response, 400, 'VALIDATION_FAILED');
    const fields = (body as ErrorResponse & { problems: { field: string }[] }).problems.map(
      (problem) => problem.field,
    );
    for (const field of [
      '/manifest/metadata/createdAt',
      '/manifest/model/version',
      '/manifest/deployment/targets',
      '/manifest/colour',
    ])
      assert.ok(fields.includes(field), `${field} in ${fields.join(', ')}`);
    await assertNotStarted(live.env.client, invalidId);
    await assertNotStarted(live.env.client, releaseId);
  });

  test('the manifest must describe the release it comes with: model, image, clouds and their regions', async () => {
    const releaseId = `rel-mismatch-${randomUUID().slice(0, 6)}`;
    const mismatched = request(
      releaseId,
      manifest((value) => (value.deployment.targets[2]!.region = 'europe-west4')),
    );
    mismatched.model.version = '2.5.1';
    const body = assertError(
      await user('manager').post('/v1/releases', mismatched),
      400,
      'VALIDATION_FAILED',
    ) as ErrorResponse & {
      problems: { field: string; message: string }[];
    };
    assert.deepEqual(body.problems.map((problem) => problem.field).sort(), [
      '/manifest/deployment/targets/2/region',
      '/model/version',
    ]);
    await assertNotStarted(live.env.client, releaseId);
  });

  test('a compliant manifest passes: the report has every control, its digests, and is stored', async () => {
    const releaseId = `rel-compliant-${randomUUID().slice(0, 6)}`;
    await live.env.seedStable('chest-xray-triage', '2.4.1');
    const created = await user('manager').post('/v1/releases', request(releaseId, manifest()));
    assert.equal(created.statusCode, 201, created.body);
    await eventually(
      async () => (await status(releaseId)).stage === 'awaiting-signoff',
      30_000,
      'sign-off stage',
    );
    const { report, stage } = await compliance(releaseId);
    assert.equal(stage, 'awaiting-signoff');
    assert.equal(report.decision, 'pass', report.reasons.join('; '));
    assert.equal(report.mode, 'policy');
    assert.equal(report.controls.length, 45);
    assert.equal(report.counts.fail + report.counts.error, 0);
    assert.match(report.manifestDigest!, /^sha256:[a-f0-9]{64}$/);
    assert.match(report.policy.digest, /^sha256:[a-f0-9]{64}$/);
    const signature = report.controls.find(
      (control) => control.id === 'HIPAA-164.312(c)(1)-ARTIFACT-SIGNATURE',
    )!;
    assert.equal(signature.status, 'pass');
    // The stored record is the report the release holds (its digest over the canonical JSON).
    const stored = readFileSync(report.stored!.path, 'utf8').trim();
    assert.equal(`sha256:${sha256Hex(stored)}`, report.stored!.digest);
    const { stored: _stored, ...withoutStored } = report;
    assert.equal(stored, canonicalize(withoutStored));
    assert.ok(path.resolve(report.stored!.path).startsWith(path.resolve(live.env.dataDir)));
  });

  test('a failed blocker ends the release blocked, naming the control, before any cloud is touched', async () => {
    const releaseId = `rel-privileged-${randomUUID().slice(0, 6)}`;
    const privileged = manifest((value) => {
      const deployment = value.kubernetesManifests.find(
        (object) => object.kind === 'Deployment',
      ) as unknown as Deployment;
      deployment.spec.template.spec.containers[0]!.securityContext = {
        privileged: true,
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      };
    });
    assert.equal(
      (await user('manager').post('/v1/releases', request(releaseId, privileged))).statusCode,
      201,
    );
    await eventually(async () => (await status(releaseId)).stage === 'blocked', 30_000, 'blocked');
    const final = await status(releaseId);
    assert.equal(final.outcome, 'blocked');
    assert.equal(final.reason?.code, 'COMPLIANCE_BLOCKED');
    assert.match(final.reason.message, /K8S-PSS-B-NO-PRIVILEGED-HOSTNS/);
    assert.ok(
      Object.values(final.clouds).every((cloud) => cloud.state === 'pending'),
      'no cloud was changed',
    );
    const { report } = await compliance(releaseId);
    const control = report.controls.find((entry) => entry.id === 'K8S-PSS-B-NO-PRIVILEGED-HOSTNS')!;
    assert.equal(control.status, 'fail');
    assert.ok(
      control.evidence.some(
        (item) =>
          item.path === '/kubernetesManifests/2/spec/template/spec/containers/0/securityContext/privileged' &&
          item.observed === true,
      ),
      JSON.stringify(control.evidence),
    );
    assert.deepEqual(report.awaitingWaivers, []);
  });

  test('a failed major waits for waivers; only the policy’s roles, never the requester, once each, release it', async () => {
    const releaseId = `rel-waiver-${randomUUID().slice(0, 6)}`;
    const control = 'FDA-FDCA-524B(b)(3)-SBOM-VULN';
    const stale = manifest((value) => {
      value.model.artifact.vulnScan!.scannedAt = new Date(Date.now() - 20 * 86_400_000).toISOString();
    });
    assert.equal((await user('manager').post('/v1/releases', request(releaseId, stale))).statusCode, 201);
    await eventually(
      async () => ((await status(releaseId)).compliance?.awaitingWaivers ?? []).length > 0,
      30_000,
      'awaiting waivers',
    );
    const waiting = await compliance(releaseId);
    assert.equal(waiting.stage, 'compliance');
    assert.deepEqual(waiting.report.awaitingWaivers, [control]);
    assert.deepEqual(waiting.report.waiverPolicy?.approverRoles, ['regulatory-qa', 'security']);

    const body = {
      control,
      justification: 'Rescan scheduled in the next maintenance window; no exploitable CVE.',
      expiresAt: new Date(Date.now() + 14 * 86_400_000).toISOString(),
    };
    // The release admits the roles its policy names, whatever the route would allow.
    assertError(
      await user('manager').post(`/v1/releases/${releaseId}/waivers`, body),
      403,
      'WAIVER_ROLE_MISSING',
    );
    assertError(
      await user('approverA').post(`/v1/releases/${releaseId}/waivers`, body),
      403,
      'WAIVER_ROLE_MISSING',
    );
    assertError(
      await user('qa').post(`/v1/releases/${releaseId}/waivers`, { ...body, control: 'K8S-PROBES' }),
      409,
      'CONTROL_NOT_WAIVABLE',
    );
    assertError(
      await user('qa').post(`/v1/releases/${releaseId}/waivers`, {
        ...body,
        expiresAt: new Date(Date.now() + 200 * 86_400_000).toISOString(),
      }),
      400,
      'WAIVER_INVALID',
    );
    const first = await user('qa').post(`/v1/releases/${releaseId}/waivers`, body);
    assert.equal(first.statusCode, 200, first.body);
    assert.deepEqual(first.json<{ missingRoles: string[] }>().missingRoles, ['security']);
    assertError(
      await user('qa').post(`/v1/releases/${releaseId}/waivers`, body),
      409,
      'WAIVER_ALREADY_APPROVED',
    );
    // One approval is not enough: the gate re-ran and still waits.
    await eventually(
      async () => (await compliance(releaseId)).waivers.length === 1,
      10_000,
      'waiver recorded',
    );
    assert.equal((await status(releaseId)).stage, 'compliance');

    const second = await user('security').post(`/v1/releases/${releaseId}/waivers`, body);
    assert.equal(second.statusCode, 200, second.body);
    await eventually(
      async () => (await status(releaseId)).stage === 'awaiting-signoff',
      30_000,
      'released by the waiver',
    );
    const { report } = await compliance(releaseId);
    assert.equal(report.decision, 'pass', report.reasons.join('; '));
    const waived = report.controls.find((entry) => entry.id === control)!;
    assert.equal(waived.status, 'fail', 'a waiver does not make the control pass');
    assert.equal(waived.waiver?.valid, true);
    assert.deepEqual(
      waived.waiver.waiver.approvals.map((approval) => [approval.by.id, approval.role]),
      [
        [live.env.users.qa.person.id, 'regulatory-qa'],
        [live.env.users.security.person.id, 'security'],
      ],
    );
    assertError(
      await user('security').post(`/v1/releases/${releaseId}/waivers`, body),
      409,
      'NOT_AWAITING_WAIVERS',
    );
  });

  test('the manifest schema is published', async () => {
    const response = await live.app.inject({ method: 'GET', url: '/v1/schemas/release-manifest.v1.json' });
    assert.equal(response.statusCode, 200);
    const schema = response.json<{ $id: string; properties: Record<string, unknown> }>();
    assert.equal(schema.$id, 'https://medrelease.dev/schemas/release-manifest.v1.json');
    assert.ok(schema.properties.kubernetesManifests);
  });
});
