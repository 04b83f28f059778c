// POST /v1/releases: every malformed request is a 400 naming each field and rule, and starts nothing;
// JSON and YAML bodies alike; a repeated create is idempotent, a conflicting one is refused.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { stringify as toYaml } from 'yaml';
import type { CreatedRelease } from '../../api/schemas.js';
import { parseConfig } from '../../domain/config.js';
import type { CreateReleaseRequest, ReleaseInput } from '../../domain/release.js';
import { AesGcmPayloadCodec } from '../../security/payload-codec.js';
import { keyRingFor } from '../../security/setup.js';
import { TestEnvironment } from '../helpers/environment.js';
import {
  as,
  assertError,
  assertNotStarted,
  build,
  buildTestApp,
  terminateRunningReleases,
} from './helper.js';

describe('POST /v1/releases', () => {
  let env: TestEnvironment;
  let app: FastifyInstance;
  const newId = () => `rel-create-${randomUUID().slice(0, 8)}`;

  before(async () => {
    env = await TestEnvironment.create();
    app = await buildTestApp(env);
  });
  after(async () => {
    await app?.close();
    if (env) await terminateRunningReleases(env);
    await env?.close();
  });

  const create = (body: unknown, headers: Record<string, string> = {}) =>
    as(env, app, 'manager').post('/v1/releases', body as Record<string, unknown>, headers);

  /** Posts `body`, expects one 400 VALIDATION_FAILED whose problems include `field` with `rule`, and no release. */
  const rejects = async (
    body: unknown,
    field: string,
    rule: RegExp,
    headers: Record<string, string> = {},
  ) => {
    const releaseId = (body as { releaseId?: string }).releaseId;
    const response = await create(body, headers);
    const error = assertError(response, 400, 'VALIDATION_FAILED');
    const problem = error.problems?.find((candidate) => candidate.field === field);
    assert.ok(problem, `no problem names ${field}: ${response.body}`);
    assert.match(problem.message, rule);
    assert.equal(error.field, error.problems![0]!.field, 'field is the first problem');
    assert.ok(error.message.includes(field), 'the message names the field');
    if (releaseId) await assertNotStarted(env.client, releaseId);
    return error;
  };

  test('missing model', async () => {
    const request: Partial<CreateReleaseRequest> = env.request({ releaseId: newId() });
    delete request.model;
    await rejects(request, '/model', /is required/);
  });

  test('an unknown extra field is an error, not silently dropped', async () => {
    await rejects(
      { ...env.request({ releaseId: newId() }), priority: 'high' },
      '/priority',
      /not a known field/,
    );
    const request = env.request({ releaseId: newId() });
    await rejects(
      { ...request, canary: { ...request.canary, speed: 'fast' } },
      '/canary/speed',
      /not a known field/,
    );
  });

  test('an image shorter than 3 characters', async () => {
    const request = env.request({ releaseId: newId() });
    await rejects(
      { ...request, model: { ...request.model, image: 'ab' } },
      '/model/image',
      /fewer than 3 characters/,
    );
  });

  test('canary weights that do not increase, or do not end at 100', async () => {
    await rejects(
      env.request({ releaseId: newId(), canary: { steps: [10, 50, 40, 100], analysisIntervalSeconds: 0 } }),
      '/canary/steps/2',
      /strictly increasing/,
    );
    await rejects(
      env.request({ releaseId: newId(), canary: { steps: [10, 50] } }),
      '/canary/steps/1',
      /last step must be 100/,
    );
  });

  test('an unknown cloud, and a pilot cloud that is not a target', async () => {
    await rejects(
      env.request({ releaseId: newId(), clouds: ['aws', 'mars'] }),
      '/clouds/1',
      /'mars' is not configured/,
    );
    await rejects(
      env.request({ releaseId: newId(), clouds: ['aws'], pilotCloud: 'gcp' }),
      '/pilotCloud',
      /must be one of the release's clouds/,
    );
  });

  test('a fault plan naming a cloud the release does not target', async () => {
    await rejects(
      env.request({
        releaseId: newId(),
        clouds: ['aws', 'azure'],
        faultPlan: { telemetry: [{ cloud: 'gcp', kind: 'error-spike' }] },
      }),
      '/faultPlan/telemetry/0/cloud',
      /'gcp' is not one of the release's clouds/,
    );
  });

  test('a canary judge configuration is checked field by field, and not combined with the old limits', async () => {
    const judge: NonNullable<CreateReleaseRequest['canary']>['judge'] = {
      metrics: [
        {
          name: 'error_rate',
          direction: 'increase-is-bad',
          critical: true,
          allowedShift: 0.5,
          hardMax: 0.01,
        },
        {
          name: 'latency_p99_ms',
          direction: 'increase-is-bad',
          allowedShift: 0.2,
          hardMin: 900,
          hardMax: 800,
        },
      ],
      crashLoop: { metric: 'restarts', max: 3 },
    };
    const error = await rejects(
      env.request({ releaseId: newId(), canary: { judge } }),
      '/canary/judge/metrics/1/hardMin',
      /must be ≤ hardMax \(800\)/,
    );
    assert.ok(
      error.problems!.some(
        (problem) =>
          problem.field === '/canary/judge/crashLoop/metric' && /configured metric/.test(problem.message),
      ),
      JSON.stringify(error.problems),
    );
    await rejects(
      env.request({
        releaseId: newId(),
        canary: { judge: { metrics: [{ name: 'x', direction: 'up' as never, allowedShift: 0 }] } },
      }),
      '/canary/judge/metrics/0/direction',
      /must be one of/,
    );
    await rejects(
      env.request({
        releaseId: newId(),
        canary: {
          maxErrorRate: 0.05,
          judge: { metrics: [{ name: 'x', direction: 'either', allowedShift: 0 }] },
        },
      }),
      '/canary/maxErrorRate',
      /cannot be combined with canary.judge/,
    );
  });

  test('the judge configuration that will judge the canary is in the workflow input, defaults applied', async () => {
    const releaseId = newId();
    const response = await create(
      env.request({ releaseId, canary: { maxErrorRate: 0.01, marginalRechecks: 1 } }),
    );
    assert.equal(response.statusCode, 201, response.body);
    const history = await env.client.workflow.getHandle(releaseId).fetchHistory();
    const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
    // The history holds ciphertext: decrypt it as the Temporal UI's codec endpoint would.
    const [payload] = await new AesGcmPayloadCodec(keyRingFor(env.config)).decode([
      started.input!.payloads![0]!,
    ]);
    const input = JSON.parse(Buffer.from(payload!.data!).toString('utf8')) as ReleaseInput;
    assert.equal(input.canary.marginalRechecks, 1);
    const metrics = input.canary.judge!.metrics;
    assert.deepEqual(
      metrics.map((metric) => metric.name),
      ['error_rate', 'latency_p99_ms', 'prediction_mean', 'restarts'],
    );
    assert.equal(metrics[0]!.hardMax, 0.01);
    assert.equal(metrics[1]!.allowedShift, 0.25);
    await env.client.workflow.getHandle(releaseId).terminate('test done');
  });

  test('a union value outside its members reads as "must be one of"', async () => {
    const error = await rejects(
      {
        ...env.request({ releaseId: newId() }),
        faultPlan: { telemetry: [{ cloud: 'aws', kind: 'meteor-strike' }] },
      },
      '/faultPlan/telemetry/0/kind',
      /must be one of "latency-regression", "error-spike"/,
    );
    assert.equal(error.problems!.length, 1, 'the union branches collapse into one problem');
  });

  test('all problems at once, schema problems by JSON pointer', async () => {
    const request = env.request({ releaseId: newId() });
    const error = await rejects(
      { ...request, model: { ...request.model, image: 'x', version: 2 }, clouds: [], extra: 1 },
      '/model/image',
      /fewer than 3/,
    );
    const fields = error.problems!.map((problem) => problem.field).sort();
    assert.deepEqual(fields, ['/clouds', '/extra', '/model/image', '/model/version']);
  });

  test('a YAML body with an error names the field; malformed YAML is INVALID_BODY', async () => {
    const releaseId = newId();
    const request = env.request({ releaseId });
    // Unquoted, YAML reads 2.0 as a number, and a version is a string.
    const yaml = toYaml(request).replace(/version: .*$/m, 'version: 2.0');
    await rejects(yaml, '/model/version', /must be string/, { 'content-type': 'application/yaml' });

    const broken = await create('model:\n  name: [unclosed\nclouds: aws\n', {
      'content-type': 'application/yaml',
    });
    assert.match(assertError(broken, 400, 'INVALID_BODY').message, /YAML/);
  });

  test('malformed JSON, another media type, an oversized body', async () => {
    assertError(await create('{"model": ', { 'content-type': 'application/json' }), 400, 'INVALID_BODY');
    assertError(await create('model: x', { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    const huge = { ...env.request({ releaseId: newId() }), padding: 'x'.repeat(1024 * 1024) };
    assertError(await create(huge), 413, 'BODY_TOO_LARGE');
  });

  test('a valid YAML body creates a release (201, Location)', async () => {
    const releaseId = newId();
    for (const contentType of ['application/yaml', 'text/yaml']) {
      const id = `${releaseId}-${contentType.startsWith('text') ? 't' : 'a'}`;
      const response = await create(toYaml(env.request({ releaseId: id })), { 'content-type': contentType });
      assert.equal(response.statusCode, 201, response.body);
      const created = response.json<CreatedRelease>();
      assert.deepEqual(created, {
        releaseId: id,
        stage: 'validating',
        links: { self: `/v1/releases/${id}` },
      });
      assert.equal(response.headers.location, `/v1/releases/${id}`);
      const description = await env.client.workflow.getHandle(id).describe();
      assert.equal(description.type, 'ReleaseWorkflow');
      assert.equal(description.taskQueue, `${env.config.temporal.taskQueuePrefix}medrelease`);
    }
  });

  test('without a releaseId, one is generated: rel-<yyyymmdd>-<8 hex>', async () => {
    const response = await create(env.request());
    assert.equal(response.statusCode, 201, response.body);
    const { releaseId } = response.json<CreatedRelease>();
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
    assert.match(releaseId, new RegExp(`^rel-(${day}|\\d{8})-[0-9a-f]{8}$`));
    const description = await env.client.workflow.getHandle(releaseId).describe();
    assert.equal(description.memo?.requestHash !== undefined, true, 'the request hash is in the memo');
  });

  test('the same id and body again → 200 with the same release; a different body → 409', async () => {
    const releaseId = newId();
    const request: CreateReleaseRequest = env.request({ releaseId });
    const first = await create(request);
    assert.equal(first.statusCode, 201, first.body);

    // Same request, keys in another order, and as YAML: still the same request.
    const reordered = Object.fromEntries(Object.entries(request).reverse());
    for (const [body, headers] of [
      [reordered, {}],
      [toYaml(request), { 'content-type': 'application/yaml' }],
    ] as const) {
      const repeat = await create(body, headers);
      assert.equal(repeat.statusCode, 200, repeat.body);
      assert.deepEqual(repeat.json<CreatedRelease>().releaseId, releaseId);
      assert.equal(repeat.headers.location, `/v1/releases/${releaseId}`);
    }

    const different = await create({ ...request, model: { ...request.model, version: '2.0.1' } });
    assert.match(
      assertError(different, 409, 'RELEASE_ID_CONFLICT', '/releaseId').message,
      new RegExp(releaseId),
    );
  });

  test('links to the Temporal UI when it is configured', async (t) => {
    const withUi = await build(t, env, { temporalUiUrl: 'http://temporal.example:8233/' });
    const releaseId = newId();
    const response = await as(env, withUi, 'manager').post('/v1/releases', env.request({ releaseId }));
    assert.equal(response.statusCode, 201, response.body);
    assert.equal(
      response.json<CreatedRelease>().links.temporalUi,
      `http://temporal.example:8233/namespaces/default/workflows/${releaseId}`,
    );
  });

  test('a driver fault for a kubernetes cloud is refused: only simulations inject faults', async (t) => {
    const config = parseConfig({
      ...env.config,
      clouds: [
        {
          name: 'aws',
          driver: 'kubernetes',
          region: 'us-east-1',
          jurisdiction: 'US',
          kubeContext: 'aws-prod',
        },
        { name: 'azure', driver: 'simulated', region: 'westeurope', jurisdiction: 'EU' },
      ],
    });
    const kubernetesApp = await build(t, env, { config });
    const releaseId = newId();
    const response = await as(env, kubernetesApp, 'manager').post(
      '/v1/releases',
      env.request({
        releaseId,
        clouds: ['aws', 'azure'],
        faultPlan: {
          // Fine: azure's telemetry is simulated.
          telemetry: [{ cloud: 'azure', kind: 'no-data' }],
          driver: [{ cloud: 'aws', operation: 'setCanaryWeight', failures: 1 }],
        },
      }),
    );
    const error = assertError(response, 400, 'VALIDATION_FAILED', '/faultPlan/driver/0/cloud');
    assert.equal(error.problems!.length, 1);
    assert.match(
      error.problems![0]!.message,
      /kubernetes driver: driver faults are only injected into simulated clouds/,
    );
    await assertNotStarted(env.client, releaseId);
  });
});
