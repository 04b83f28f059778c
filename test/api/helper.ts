// Building the API app for a test: the app on a TestEnvironment's Temporal client and users, quiet
// logs, and small helpers for authenticated requests.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../api/app.js';
import type { ErrorResponse } from '../../api/errors.js';
import type { Config } from '../../domain/config.js';
import { AesGcmPayloadCodec } from '../../security/payload-codec.js';
import { keyRingFor, verifierFor } from '../../security/setup.js';
import type { ReleaseStatus } from '../../domain/status.js';
import { TestEnvironment, type RunningWorkers } from '../helpers/environment.js';

export type UserName = keyof TestEnvironment['users'];

export async function buildTestApp(
  env: TestEnvironment,
  overrides: { config?: Config; client?: Client; temporalUiUrl?: string } = {},
): Promise<FastifyInstance> {
  const app = await buildApp({
    config: overrides.config ?? env.config,
    client: overrides.client ?? env.client,
    verifier: verifierFor(overrides.config ?? env.config),
    codec: new AesGcmPayloadCodec(keyRingFor(overrides.config ?? env.config)),
    logger: false,
    temporalUiUrl: overrides.temporalUiUrl,
  });
  await app.ready();
  return app;
}

/** A test's own app, closed when the test ends. */
export async function build(
  t: { after: (fn: () => Promise<void>) => void },
  env: TestEnvironment,
  overrides: Parameters<typeof buildTestApp>[1] = {},
): Promise<FastifyInstance> {
  const app = await buildTestApp(env, overrides);
  t.after(() => app.close());
  return app;
}

/** `app.inject` as one of the environment's users. */
export function as(env: TestEnvironment, app: FastifyInstance, user: UserName) {
  const headers = { authorization: `Bearer ${env.users[user].token}` };
  return {
    get: (url: string) => app.inject({ method: 'GET', url, headers }),
    post: (url: string, payload: InjectOptions['payload'], extraHeaders: Record<string, string> = {}) =>
      app.inject({ method: 'POST', url, headers: { ...headers, ...extraHeaders }, payload }),
  };
}

/** Asserts an error response: status, code, and (when given) the field it names. */
export function assertError(
  response: LightMyRequestResponse,
  statusCode: number,
  code: string,
  field?: string,
): ErrorResponse {
  const body = response.json<ErrorResponse>();
  assert.equal(
    response.statusCode,
    statusCode,
    `expected ${statusCode} ${code}, got ${response.statusCode}: ${response.body}`,
  );
  assert.equal(body.code, code, response.body);
  assert.equal(typeof body.message, 'string');
  if (field !== undefined) assert.equal(body.field, field, response.body);
  return body;
}

/** Proves that no release (workflow) with this id was started. */
export async function assertNotStarted(client: Client, releaseId: string): Promise<void> {
  await assert.rejects(
    client.workflow.getHandle(releaseId).describe(),
    WorkflowNotFoundError,
    `release ${releaseId} was started`,
  );
}

/** Terminates the environment's releases that are still running (those no worker will ever run). */
export async function terminateRunningReleases(env: TestEnvironment): Promise<void> {
  const query = `TaskQueue = '${env.config.temporal.taskQueuePrefix}medrelease' AND ExecutionStatus = 'Running'`;
  for await (const execution of env.client.workflow.list({ query })) {
    await env.client.workflow
      .getHandle(execution.workflowId)
      .terminate('test cleanup')
      .catch(() => undefined);
  }
}

/**
 * A suite's own environment with running workers and the API on it: registers the suite's before
 * and after hooks (`prepare` runs before the workers start); the accessors work inside its tests.
 */
export function liveApi(
  options: {
    create?: Parameters<typeof TestEnvironment.create>[0];
    prepare?: (env: TestEnvironment) => void | Promise<void>;
  } = {},
) {
  let env: TestEnvironment | undefined;
  let workers: RunningWorkers | undefined;
  let app: FastifyInstance | undefined;
  before(async () => {
    env = await TestEnvironment.create(options.create);
    await options.prepare?.(env);
    workers = await env.startWorkers();
    app = await buildTestApp(env);
  });
  after(async () => {
    await app?.close();
    if (env) await terminateRunningReleases(env);
    await workers?.stop();
    await env?.close();
  });
  const live = {
    get env(): TestEnvironment {
      assert.ok(env, 'the environment is made in before()');
      return env;
    },
    get app(): FastifyInstance {
      assert.ok(app, 'the app is built in before()');
      return app;
    },
    user: (name: UserName) => as(live.env, live.app, name),
    /** A release's status as a viewer reads it (asserting 200). */
    status: async (releaseId: string): Promise<ReleaseStatus> => {
      const response = await live.user('viewer').get(`/v1/releases/${releaseId}`);
      assert.equal(response.statusCode, 200, response.body);
      return response.json<ReleaseStatus>();
    },
  };
  return live;
}
