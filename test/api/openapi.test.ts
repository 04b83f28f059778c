// The OpenAPI document: every route, with its schemas, roles and error responses.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { TestEnvironment } from '../helpers/environment.js';
import { buildTestApp } from './helper.js';

interface Operation {
  tags?: string[];
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, unknown>;
  description?: string;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  components: { securitySchemes: Record<string, { type: string; scheme: string }> };
  paths: Record<string, Record<string, Operation>>;
}

/** The operation at `route` and `method`, failing the test when the document lacks it. */
function operation(document: OpenApiDocument, route: string, method: string): Operation {
  const found = document.paths[route]?.[method];
  assert.ok(found, `the document has no ${method.toUpperCase()} ${route}`);
  return found;
}

describe('OpenAPI', () => {
  let env: TestEnvironment;
  let app: FastifyInstance;
  let document: OpenApiDocument;

  before(async () => {
    env = await TestEnvironment.create();
    app = await buildTestApp(env);
    const response = await app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(response.statusCode, 200);
    document = response.json<OpenApiDocument>();
  });
  after(async () => {
    await app?.close();
    await env?.close();
  });

  test('lists every route', () => {
    const routes = Object.entries(document.paths)
      .flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      )
      .sort();
    assert.deepEqual(routes, [
      'GET /auth/callback',
      'GET /auth/login',
      'GET /healthz',
      'GET /metrics',
      'GET /readyz',
      'GET /v1/audit',
      'GET /v1/audit/export',
      'GET /v1/audit/verify',
      'GET /v1/releases',
      'GET /v1/releases/{releaseId}',
      'GET /v1/releases/{releaseId}/compliance',
      'GET /v1/schemas/release-manifest.v1.json',
      'POST /auth/logout',
      'POST /codec/decode',
      'POST /codec/encode',
      'POST /v1/releases',
      'POST /v1/releases/{releaseId}/abort',
      'POST /v1/releases/{releaseId}/pause',
      'POST /v1/releases/{releaseId}/resume',
      'POST /v1/releases/{releaseId}/rollback',
      'POST /v1/releases/{releaseId}/signoff',
      'POST /v1/releases/{releaseId}/waivers',
    ]);
  });

  test('title, version, bearer scheme; protected routes require it and document 401 and 403', () => {
    assert.equal(document.openapi.startsWith('3.'), true);
    assert.equal(document.info.title, 'medrelease API');
    assert.match(document.info.version, /^\d+\.\d+\.\d+/);
    assert.match(document.info.description, /RELEASE_ID_CONFLICT/);
    assert.deepEqual(document.components.securitySchemes.bearerAuth, {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        'An OpenID Connect access token from the configured issuer (audience, expiry and signature checked; roles from the configured claim).',
    });
    const create = operation(document, '/v1/releases', 'post');
    assert.deepEqual(create.security, [{ bearerAuth: [] }]);
    for (const status of ['200', '201', '400', '401', '403', '409'])
      assert.ok(create.responses[status], `POST /v1/releases documents ${status}`);
    assert.match(create.description!, /release-manager/);
    assert.deepEqual(Object.keys(create.requestBody!.content).sort(), [
      'application/json',
      'application/x-yaml',
      'application/yaml',
      'text/yaml',
    ]);
    assert.deepEqual(operation(document, '/healthz', 'get').security, []);
    assert.match(
      operation(document, '/v1/releases/{releaseId}/abort', 'post').description!,
      /operator or release-manager/,
    );
  });

  test('the release status response describes its main fields', () => {
    const response = operation(document, '/v1/releases/{releaseId}', 'get').responses['200'] as {
      content: Record<string, { schema: { properties: Record<string, unknown> } }>;
    };
    const properties = Object.keys(response.content['application/json']!.schema.properties);
    for (const field of ['stage', 'clouds', 'signoff', 'compliance', 'timeline', 'reason'])
      assert.ok(properties.includes(field), field);
  });
});
