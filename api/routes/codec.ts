// POST /codec/encode and POST /codec/decode — the Temporal Web UI's remote codec endpoint. The UI
// (configured with this API's /codec as its codec endpoint) sends the payloads it shows, in proto3
// JSON (`{ payloads: [{ metadata: { k: base64 }, data: base64 }] }`), and gets them back decrypted,
// so operators and auditors see the data while the Temporal server only ever stores ciphertext.
//
// The UI calls from its own origin in the browser: CORS (with credentials) is enabled here, in this
// plugin's own scope, for the configured UI origins only; the session cookie or bearer token is
// checked by the auth plugin like on any other route.
import cors from '@fastify/cors';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod, RouteShorthandOptions } from 'fastify';
import { Type, type Static } from 'typebox';
import { PayloadDecodeError } from '../../security/payload-codec.js';
import { ApiError, ErrorResponse, isErrorCode, type ErrorCode } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route also accepts the access token from the `medrelease_session` cookie. */
    cookieSession?: boolean;
  }
}

export interface CodecRouteOptions {
  codec: PayloadCodec;
  /** Origins of the Temporal Web UI (scheme://host[:port]) allowed to call the codec from a browser. */
  uiOrigins: string[];
}

export const CODEC_PREFIX = '/codec';
export const MAX_CODEC_PAYLOADS = 1000;
/**
 * Larger than the API's 1 MiB: a batch of payloads, each up to Temporal's 2 MB blob limit, grows by
 * a third in base64.
 */
export const CODEC_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

/** The code of a payload the codec refused; BAD_REQUEST until errors.ts lists it. */
const UNDECODABLE: string = 'PAYLOAD_UNDECODABLE';
export const PAYLOAD_UNDECODABLE_CODE: ErrorCode = isErrorCode(UNDECODABLE) ? UNDECODABLE : 'BAD_REQUEST';

const Base64 = Type.String({
  pattern: '^[A-Za-z0-9+/_-]*={0,2}$',
  description: 'Bytes, base64-encoded (standard or URL-safe alphabet), as in proto3 JSON.',
});

const JsonPayload = Type.Object(
  {
    // Keys are printable ASCII: a key with a line terminator would slip past the value check.
    metadata: Type.Optional(
      Type.Record(Type.String(), Base64, {
        propertyNames: { pattern: '^[\\x20-\\x7E]{1,256}$' },
        maxProperties: 64,
      }),
    ),
    data: Type.Optional(Base64),
  },
  { additionalProperties: false, description: 'A temporal.api.common.v1.Payload in proto3 JSON.' },
);
type JsonPayload = Static<typeof JsonPayload>;

const CodecPayloads = Type.Object(
  { payloads: Type.Array(JsonPayload, { maxItems: MAX_CODEC_PAYLOADS }) },
  { additionalProperties: false },
);
type CodecPayloads = Static<typeof CodecPayloads>;

const CodecHeaders = Type.Object({
  'x-namespace': Type.Optional(
    Type.String({ description: 'The Temporal namespace the UI shows; every namespace shares the key ring.' }),
  ),
});

const codec: FastifyPluginAsyncTypebox<CodecRouteOptions> = async (app, options) => {
  const origins = checkOrigins(options.uiOrigins);
  const { codec: payloadCodec } = options;

  // Everything in a child scope with the /codec prefix, so that CORS, its `OPTIONS /codec*` preflight
  // route and the hooks below touch the codec routes only.
  const routes: FastifyPluginAsyncTypebox = async (scope) => {
    // @fastify/cors adds its preflight route with no config, and the auth plugin (on the root, so
    // its onRoute hook runs before any hook of ours) refuses a route that declares no permission.
    // A browser sends preflights without credentials, so that route is public: this scope's
    // `options` shorthand — used by nothing but @fastify/cors here — declares it so.
    const addOptionsRoute = scope.options.bind(scope) as (
      path: string,
      routeOptions: RouteShorthandOptions,
      handler: RouteHandlerMethod,
    ) => unknown;
    scope.options = ((path: string, routeOptions: RouteShorthandOptions, handler: RouteHandlerMethod) =>
      addOptionsRoute(
        path,
        { ...routeOptions, config: { ...routeOptions.config, permission: 'public' } },
        handler,
      )) as unknown as typeof scope.options;

    // Decrypted payloads are patient data: nothing may cache them.
    scope.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      reply.header('cache-control', 'no-store');
      allowOriginOnRefusal(request, reply, origins);
      return payload;
    });

    await scope.register(cors, {
      origin: origins.length > 0 ? origins : false,
      credentials: true,
      methods: ['POST'],
      allowedHeaders: ['content-type', 'authorization', 'x-namespace'],
      maxAge: 600,
    });

    const routeOptions = (summary: string, description: string) => ({
      config: { permission: { roles: ['operator', 'auditor'] }, cookieSession: true },
      bodyLimit: CODEC_BODY_LIMIT_BYTES,
      schema: {
        tags: ['codec'],
        summary,
        description,
        headers: CodecHeaders,
        body: CodecPayloads,
        response: {
          200: { ...CodecPayloads, description: 'The payloads, in the order given.' },
          400: {
            ...ErrorResponse,
            description: `VALIDATION_FAILED (not the codec JSON, or more than ${MAX_CODEC_PAYLOADS} payloads), INVALID_BODY, or ${PAYLOAD_UNDECODABLE_CODE} (a payload that cannot be decrypted; the message names its index).`,
          },
        },
      },
    });

    scope.post(
      '/decode',
      routeOptions(
        'Decrypt payloads (Temporal UI remote codec)',
        'Payloads encrypted by medrelease are decrypted (with any key of the ring); others are returned unchanged.',
      ),
      async (request) => {
        const payloads = request.body.payloads.map(fromJson);
        request.log.info(
          { namespace: request.headers['x-namespace'], count: payloads.length },
          'codec: decode requested',
        );
        const decoded: Payload[] = [];
        // One by one, so that a refusal names the payload.
        for (const [index, payload] of payloads.entries()) {
          try {
            decoded.push(...(await payloadCodec.decode([payload])));
          } catch (error) {
            if (!(error instanceof PayloadDecodeError)) throw error;
            throw new ApiError(
              PAYLOAD_UNDECODABLE_CODE,
              `payload ${index} cannot be decoded: ${error.message}`,
              { field: `/payloads/${index}`, cause: error },
            );
          }
        }
        return { payloads: decoded.map(withoutCredentials).map(toJson) } satisfies CodecPayloads;
      },
    );

    scope.post(
      '/encode',
      routeOptions(
        'Encrypt payloads (Temporal UI remote codec)',
        'Payloads are encrypted with the active key, as workers and clients do (used by the UI for data it sends, e.g. signal input).',
      ),
      async (request) => {
        const encoded = await payloadCodec.encode(request.body.payloads.map(fromJson));
        return { payloads: encoded.map(toJson) } satisfies CodecPayloads;
      },
    );
  };
  await app.register(routes, { prefix: CODEC_PREFIX });
};

export default codec;

/** The UI origins, exactly as a browser sends them in `Origin`; '*' cannot go with credentials. */
function checkOrigins(origins: string[]): string[] {
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
      throw new Error(
        `codec: the UI origin ${JSON.stringify(origin)} is not an origin: it must be scheme://host[:port] with no path or trailing slash (and '*' is not allowed with credentials)`,
      );
    }
  }
  return [...new Set(origins)];
}

/**
 * A request refused before the CORS hook ran (the auth plugin's 401 or 403 comes first) still gets
 * the CORS headers, so the UI can read the refusal instead of reporting a network error.
 */
function allowOriginOnRefusal(request: FastifyRequest, reply: FastifyReply, origins: string[]): void {
  const origin = request.headers.origin;
  if (!origin || !origins.includes(origin) || reply.hasHeader('access-control-allow-origin')) return;
  reply.header('access-control-allow-origin', origin);
  reply.header('access-control-allow-credentials', 'true');
  const vary = reply.getHeader('vary');
  if (
    !String(vary ?? '')
      .toLowerCase()
      .split(/\s*,\s*/)
      .includes('origin')
  ) {
    reply.header('vary', vary ? `${String(vary)}, Origin` : 'Origin');
  }
}

/**
 * Sign-offs and operator actions carry the person's access token (the release verifies it). People
 * reading histories in the Temporal UI must not be able to lift it: in a decoded JSON payload every
 * `credential` is replaced before it leaves the API.
 */
export const REDACTED_CREDENTIAL = '[redacted by medrelease]';

function withoutCredentials(payload: Payload): Payload {
  const encoding = Buffer.from(payload.metadata?.encoding ?? []).toString();
  if (encoding !== 'json/plain' || !payload.data) return payload;
  const text = Buffer.from(payload.data).toString('utf8');
  if (!text.includes('"credential"')) return payload;
  const redact = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(redact);
    if (!value || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([key, entry]) => [
        key,
        key === 'credential' && typeof entry === 'string' ? REDACTED_CREDENTIAL : redact(entry),
      ]),
    );
  };
  try {
    return { ...payload, data: Buffer.from(JSON.stringify(redact(JSON.parse(text)))) };
  } catch {
    return payload;
  }
}

function fromJson(payload: JsonPayload): Payload {
  const result: Payload = {};
  if (payload.metadata) {
    result.metadata = Object.fromEntries(
      Object.entries(payload.metadata).map(([key, value]) => [key, bytes(value)]),
    );
  }
  if (payload.data !== undefined) result.data = bytes(payload.data);
  return result;
}

function toJson(payload: Payload): JsonPayload {
  const result: JsonPayload = {};
  if (payload.metadata) {
    result.metadata = Object.fromEntries(
      Object.entries(payload.metadata).map(([key, value]) => [key, base64(value)]),
    );
  }
  if (payload.data) result.data = base64(payload.data);
  return result;
}

function bytes(value: string): Uint8Array {
  return Buffer.from(value, 'base64');
}

function base64(value: Uint8Array): string {
  return (
    Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  ).toString('base64');
}
