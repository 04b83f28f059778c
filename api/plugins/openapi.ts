// OpenAPI 3 from the routes' own schemas, with Swagger UI at /docs and the document at /docs/json.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { ERROR_MEANINGS } from '../errors.js';

export const DOCS_PREFIX = '/docs';

const description = [
  'Ships medical AI model versions safely: every release is a durable Temporal workflow that stages the',
  'model, runs the compliance gate, waits for clinical sign-off, runs a canary in each cloud judged by',
  'live telemetry, then promotes it — or rolls every cloud back.',
  '',
  'Authenticate with `Authorization: Bearer <access token>` (OpenID Connect, from the configured',
  'issuer). Every error response is',
  "`{ code, message, field?, problems? }`; `field` and each problem's `field` are JSON pointers.",
  '',
  'Error codes:',
  ...Object.entries(ERROR_MEANINGS).map(([code, meaning]) => `- \`${code}\`: ${meaning}`),
].join('\n');

export default fp(
  async (app, options: { version: string }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'medrelease API', version: options.version, description },
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'JWT',
              description:
                'An OpenID Connect access token from the configured issuer (audience, expiry and signature checked; roles from the configured claim).',
            },
          },
        },
        tags: [
          { name: 'releases', description: 'Create, list and inspect releases.' },
          { name: 'sign-off', description: 'Clinical sign-off of a release.' },
          { name: 'operations', description: 'Operator actions: pause, resume, abort, rollback.' },
          { name: 'audit', description: 'The tamper-evident audit trail (auditor role).' },
          {
            name: 'codec',
            description: 'The Temporal UI’s remote codec: decrypts payloads for operators and auditors.',
          },
          { name: 'session', description: 'Browser sign-in for the Temporal UI’s codec requests.' },
          { name: 'health', description: 'Liveness and readiness.' },
        ],
      },
    });
    // Its own content security policy (with hashes of its inline code), over the API's strict one.
    await app.register(swaggerUi, { routePrefix: DOCS_PREFIX, staticCSP: true });
  },
  { name: 'medrelease-openapi', fastify: '5.x' },
);
