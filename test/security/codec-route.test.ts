// The Temporal UI's remote codec endpoint (api/routes/codec.ts) on its own: a minimal app with the
// API's validation and error handling, without authentication (the full app's auth tests cover who
// may call it). Round trips over HTTP, refusals that name the payload, the body limits, and CORS that
// answers the configured UI origins only and only on /codec.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import type { ErrorResponse } from '../../api/errors.js';
import errors from '../../api/plugins/errors.js';
import codecRoutes, {
  MAX_CODEC_PAYLOADS,
  PAYLOAD_UNDECODABLE_CODE,
  REDACTED_CREDENTIAL,
} from '../../api/routes/codec.js';
import { schemaErrorFormatter, validatorCompiler } from '../../api/validation.js';
import { AesGcmPayloadCodec } from '../../security/payload-codec.js';
import { PayloadKeyRing } from '../../security/payload-keys.js';

const UI_ORIGIN = 'http://127.0.0.1:8233';
const OTHER_UI_ORIGIN = 'https://temporal-ui.example.org';
const ring = new PayloadKeyRing([{ id: 'k-route', key: randomBytes(32) }], 'k-route');

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const fromB64 = (text: string | undefined) => Buffer.from(text ?? '', 'base64').toString('utf8');

function jsonPayload(value: unknown): JsonPayload {
  const payload = defaultPayloadConverter.toPayload(value);
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([name, bytes]) => [
        name,
        Buffer.from(bytes).toString('base64'),
      ]),
    ),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

function toPayload(payload: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([name, text]) => [name, Buffer.from(text, 'base64')]),
    ),
    data: Buffer.from(payload.data ?? '', 'base64'),
  };
}

async function buildCodecApp(
  uiOrigins: string[] = [UI_ORIGIN, OTHER_UI_ORIGIN],
  codec = new AesGcmPayloadCodec(ring),
): Promise<{ app: FastifyInstance; routes: RouteOptions[] }> {
  const app = Fastify({ logger: false, schemaErrorFormatter }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.removeContentTypeParser('text/plain');
  await app.register(errors);
  // As the auth plugin does at start-up (on the root, so before the codec plugin's own hooks):
  // every route must declare who may call it.
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    if (!route.config?.permission)
      throw new Error(`route ${String(route.method)} ${route.url} declares no permission`);
    routes.push(route);
  });
  app.post('/other', { config: { permission: 'public' } }, () => Promise.resolve({ other: true }));
  await app.register(codecRoutes, { codec, uiOrigins });
  await app.ready();
  return { app, routes };
}

function post(app: FastifyInstance, url: string, payloads: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url, payload: { payloads }, headers });
}

function preflight(app: FastifyInstance, url: string, origin: string) {
  return app.inject({
    method: 'OPTIONS',
    url,
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,authorization,x-namespace',
    },
  });
}

describe('the remote codec endpoint', () => {
  test('its routes declare the roles and the cookie session; the CORS preflight route is public', async () => {
    const { app, routes } = await buildCodecApp();
    try {
      const byKey = new Map(routes.map((route) => [`${String(route.method)} ${route.url}`, route]));
      for (const url of ['/codec/encode', '/codec/decode']) {
        const route = byKey.get(`POST ${url}`);
        assert.ok(route, `${url} exists`);
        assert.deepEqual(route.config?.permission, { roles: ['operator', 'auditor'] });
        assert.equal(route.config?.cookieSession, true);
      }
      const preflightRoutes = routes.filter((route) => route.method === 'OPTIONS');
      assert.deepEqual(
        preflightRoutes.map((route) => [route.url, route.config?.permission]),
        [['/codec*', 'public']],
      );
    } finally {
      await app.close();
    }
  });

  test('encode then decode round-trips over HTTP, with Cache-Control: no-store', async () => {
    const { app } = await buildCodecApp();
    try {
      const originals = [
        jsonPayload({ patient: 'MRN-00042', finding: 'effusion' }),
        { metadata: { encoding: b64('binary/plain') }, data: randomBytes(64).toString('base64') },
        { metadata: { encoding: b64('binary/null') } },
      ];
      const encoded = await post(app, '/codec/encode', originals);
      assert.equal(encoded.statusCode, 200, encoded.body);
      assert.equal(encoded.headers['cache-control'], 'no-store');
      const encrypted = encoded.json<{ payloads: JsonPayload[] }>().payloads;
      assert.equal(encrypted.length, 3);
      for (const payload of encrypted) {
        assert.equal(fromB64(payload.metadata?.encoding), 'binary/encrypted');
        assert.equal(fromB64(payload.metadata?.['encryption-cipher']), 'AES256-GCM');
        assert.equal(fromB64(payload.metadata?.['encryption-key-id']), 'k-route');
        assert.ok(!fromB64(payload.data).includes('MRN-00042'));
      }
      // What the route encrypted, the codec decrypts (and the other way round, below).
      const direct = await new AesGcmPayloadCodec(ring).decode(encrypted.map(toPayload));
      assert.deepEqual(defaultPayloadConverter.fromPayload(direct[0]!), {
        patient: 'MRN-00042',
        finding: 'effusion',
      });

      const decoded = await post(app, '/codec/decode', encrypted, { 'x-namespace': 'default' });
      assert.equal(decoded.statusCode, 200, decoded.body);
      assert.equal(decoded.headers['cache-control'], 'no-store');
      const plain = decoded.json<{ payloads: JsonPayload[] }>().payloads;
      assert.deepEqual(plain[0], originals[0]);
      assert.deepEqual(plain[1], originals[1]);
      assert.deepEqual(plain[2]?.metadata, originals[2]?.metadata);
      assert.equal(plain[2]?.data ?? '', '');

      const workerEncrypted = await new AesGcmPayloadCodec(ring).encode([toPayload(jsonPayload(['a', 1]))]);
      const fromWorker = await post(app, '/codec/decode', [
        {
          metadata: Object.fromEntries(
            Object.entries(workerEncrypted[0]!.metadata ?? {}).map(([name, bytes]) => [
              name,
              Buffer.from(bytes).toString('base64'),
            ]),
          ),
          data: Buffer.from(workerEncrypted[0]!.data ?? new Uint8Array()).toString('base64'),
        },
      ]);
      assert.deepEqual(fromWorker.json<{ payloads: JsonPayload[] }>().payloads, [jsonPayload(['a', 1])]);

      const empty = await post(app, '/codec/decode', []);
      assert.equal(empty.statusCode, 200);
      assert.deepEqual(empty.json(), { payloads: [] });
    } finally {
      await app.close();
    }
  });

  test('decoded sign-offs never show the access token they carried', async () => {
    const { app } = await buildCodecApp();
    try {
      const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJkci1ib2IifQ.c2lnbmF0dXJl';
      const signal = {
        credential: token,
        decision: 'approve',
        comment: 'Reviewed.',
        nested: [{ credential: token }],
      };
      const encrypted = await new AesGcmPayloadCodec(ring).encode([toPayload(jsonPayload(signal))]);
      const response = await post(app, '/codec/decode', [
        {
          metadata: Object.fromEntries(
            Object.entries(encrypted[0]!.metadata ?? {}).map(([name, bytes]) => [
              name,
              Buffer.from(bytes).toString('base64'),
            ]),
          ),
          data: Buffer.from(encrypted[0]!.data ?? new Uint8Array()).toString('base64'),
        },
      ]);
      assert.equal(response.statusCode, 200, response.body);
      const [decoded] = response.json<{ payloads: JsonPayload[] }>().payloads;
      const value = defaultPayloadConverter.fromPayload<typeof signal>(toPayload(decoded!));
      assert.equal(value.credential, REDACTED_CREDENTIAL);
      assert.equal(value.nested[0]!.credential, REDACTED_CREDENTIAL);
      assert.equal(value.comment, 'Reviewed.');
      assert.ok(!response.body.includes(Buffer.from(token).toString('base64').slice(0, 20)));
    } finally {
      await app.close();
    }
  });

  test('payloads that are not encrypted are returned unchanged', async () => {
    const { app } = await buildCodecApp();
    try {
      const plain = [jsonPayload({ legacy: true }), { metadata: { encoding: b64('binary/null') } }];
      const response = await post(app, '/codec/decode', plain);
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), { payloads: plain });
    } finally {
      await app.close();
    }
  });

  test('a payload that cannot be decoded is a 400 naming its index', async () => {
    const { app } = await buildCodecApp();
    try {
      const encrypted = (
        await post(app, '/codec/encode', [jsonPayload(1), jsonPayload(2), jsonPayload(3)])
      ).json<{
        payloads: JsonPayload[];
      }>().payloads;
      const unknownKey = {
        ...encrypted[1]!,
        metadata: { ...encrypted[1]!.metadata, 'encryption-key-id': b64('k-gone') },
      };
      const response = await post(app, '/codec/decode', [encrypted[0], unknownKey, encrypted[2]]);
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = response.json<ErrorResponse>();
      assert.equal(body.code, PAYLOAD_UNDECODABLE_CODE);
      assert.match(body.message, /^payload 1 cannot be decoded: .*'k-gone'.*loaded keys: k-route/);
      assert.equal(body.field, '/payloads/1');

      const data = Buffer.from(encrypted[2]!.data!, 'base64');
      data[data.length - 1]! ^= 0xff;
      const tampered = await post(app, '/codec/decode', [
        encrypted[0],
        encrypted[1],
        { ...encrypted[2], data: data.toString('base64') },
      ]);
      assert.equal(tampered.statusCode, 400);
      const tamperedBody = tampered.json<ErrorResponse>();
      assert.equal(tamperedBody.code, PAYLOAD_UNDECODABLE_CODE);
      assert.match(tamperedBody.message, /^payload 2 cannot be decoded: payload authentication failed/);
    } finally {
      await app.close();
    }
  });

  test('bodies: at most 1000 payloads, base64 bytes, the codec JSON shape only', async () => {
    const { app } = await buildCodecApp();
    try {
      const tooMany = await post(
        app,
        '/codec/decode',
        Array.from({ length: MAX_CODEC_PAYLOADS + 1 }, () => ({ data: '' })),
      );
      assert.equal(tooMany.statusCode, 400);
      assert.equal(tooMany.json<ErrorResponse>().code, 'VALIDATION_FAILED');
      assert.match(tooMany.json<ErrorResponse>().message, /\/payloads/);
      const limit = await post(
        app,
        '/codec/decode',
        Array.from({ length: MAX_CODEC_PAYLOADS }, () => ({ data: '' })),
      );
      assert.equal(limit.statusCode, 200);

      for (const body of [
        [{ data: 'not base64!' }],
        [{ metadata: { encoding: 'a b' } }],
        [{ data: '', extra: 1 }],
        'payloads',
      ]) {
        const response = await post(app, '/codec/encode', body);
        assert.equal(response.statusCode, 400, JSON.stringify(body));
        assert.equal(response.json<ErrorResponse>().code, 'VALIDATION_FAILED');
      }
      const text = await app.inject({
        method: 'POST',
        url: '/codec/decode',
        payload: '{"payloads": []}',
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(text.statusCode, 415);
    } finally {
      await app.close();
    }
  });

  test('CORS: a preflight from a configured UI origin is allowed, with credentials', async () => {
    const { app } = await buildCodecApp();
    try {
      for (const origin of [UI_ORIGIN, OTHER_UI_ORIGIN]) {
        const response = await preflight(app, '/codec/decode', origin);
        assert.equal(response.statusCode, 204, response.body);
        assert.equal(response.headers['access-control-allow-origin'], origin);
        assert.equal(response.headers['access-control-allow-credentials'], 'true');
        assert.equal(response.headers['access-control-allow-methods'], 'POST');
        assert.equal(
          response.headers['access-control-allow-headers'],
          'content-type, authorization, x-namespace',
        );
        assert.equal(response.headers['access-control-max-age'], '600');
        assert.match(String(response.headers.vary), /Origin/);
        assert.equal(response.headers['cache-control'], 'no-store');
      }
      const actual = await post(app, '/codec/decode', [], { origin: UI_ORIGIN });
      assert.equal(actual.statusCode, 200);
      assert.equal(actual.headers['access-control-allow-origin'], UI_ORIGIN);
      assert.equal(actual.headers['access-control-allow-credentials'], 'true');
      // A refusal reaches the UI too.
      const refused = await post(app, '/codec/decode', 'x', { origin: UI_ORIGIN });
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.headers['access-control-allow-origin'], UI_ORIGIN);
    } finally {
      await app.close();
    }
  });

  test('CORS: other origins get no allow-origin, and routes outside /codec get no CORS at all', async () => {
    const { app } = await buildCodecApp();
    try {
      for (const origin of ['https://evil.example', `${UI_ORIGIN}.evil.example`, 'http://127.0.0.1:8234']) {
        const response = await preflight(app, '/codec/decode', origin);
        assert.equal(response.headers['access-control-allow-origin'], undefined, origin);
        const actual = await post(app, '/codec/decode', [], { origin });
        assert.equal(actual.headers['access-control-allow-origin'], undefined, origin);
      }
      const otherPreflight = await preflight(app, '/other', UI_ORIGIN);
      assert.equal(otherPreflight.statusCode, 404);
      assert.equal(otherPreflight.headers['access-control-allow-origin'], undefined);
      const other = await app.inject({ method: 'POST', url: '/other', headers: { origin: UI_ORIGIN } });
      assert.equal(other.statusCode, 200);
      assert.equal(other.headers['access-control-allow-origin'], undefined);
      assert.equal(other.headers['cache-control'], undefined);
    } finally {
      await app.close();
    }
  });

  test('CORS: no configured origin means no CORS; an origin must be scheme://host[:port]', async () => {
    const { app } = await buildCodecApp([]);
    try {
      const response = await preflight(app, '/codec/decode', UI_ORIGIN);
      assert.equal(response.headers['access-control-allow-origin'], undefined);
      const actual = await post(app, '/codec/decode', [], { origin: UI_ORIGIN });
      assert.equal(actual.statusCode, 200);
      assert.equal(actual.headers['access-control-allow-origin'], undefined);
    } finally {
      await app.close();
    }
    for (const origin of ['*', `${UI_ORIGIN}/`, 'localhost:8233', 'http://127.0.0.1:8233/ui']) {
      await assert.rejects(buildCodecApp([origin]), /is not an origin/, origin);
    }
  });
});
