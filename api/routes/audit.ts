// The audit trail, for auditors: the records (all, or one release's), a verification of the whole
// hash chain and its signatures that names the first broken record, and a JSON Lines export for
// archiving.
import { PassThrough } from 'node:stream';
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { RELEASE_ID_PATTERN } from '../../domain/release.js';
import { ErrorResponse } from '../errors.js';

const AUDITOR = { roles: ['auditor'] } as const;

const Filter = Type.Object(
  {
    release: Type.Optional(Type.String({ pattern: RELEASE_ID_PATTERN, description: 'Only this release.' })),
    after: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'Only records after this sequence number.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const AuditRecordSchema = Type.Object(
  {
    seq: Type.Integer({ description: 'Position in the chain (1, 2, 3 …; no gaps).' }),
    eventId: Type.String({ description: 'Idempotency key: a retried write never adds a second record.' }),
    releaseId: Type.String(),
    type: Type.String({ description: 'release.created, stage.entered, canary.verdict, signoff.approve, …' }),
    actor: Type.String({ description: "The person's id, or 'medrelease' for the system." }),
    at: Type.String({ format: 'date-time' }),
    detail: Type.Record(Type.String(), Type.Unknown()),
    digests: Type.Record(Type.String(), Type.String()),
    retainUntil: Type.String({ format: 'date-time' }),
    previousHash: Type.String({ description: 'SHA-256 (hex) of the previous record.' }),
    hash: Type.String({ description: 'SHA-256 (hex) of this record’s canonical JSON.' }),
    keyId: Type.String({ description: 'The Ed25519 key that signed it.' }),
    signature: Type.String({ description: 'Ed25519 signature of the hash (base64).' }),
  },
  { additionalProperties: false },
);

const VerifyResultSchema = Type.Object({
  ok: Type.Boolean(),
  records: Type.Integer(),
  lastSeq: Type.Optional(Type.Integer()),
  lastHash: Type.Optional(Type.String()),
  keyIds: Type.Optional(Type.Array(Type.String())),
  firstBroken: Type.Optional(
    Type.Object({
      seq: Type.Integer(),
      eventId: Type.Optional(Type.String()),
      problem: Type.String(),
      message: Type.String(),
    }),
  ),
});

const audit: FastifyPluginCallbackTypebox = (app, _options, done) => {
  app.get(
    '/audit',
    {
      config: { permission: AUDITOR },
      schema: {
        tags: ['audit'],
        summary: 'Audit records',
        description:
          'Records in chain order: every release event and human action with who, when, what and the related digests. Page with `after` (the last `seq` you have).',
        querystring: Type.Object(
          {
            ...Filter.properties,
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            records: Type.Array(AuditRecordSchema),
            next: Type.Optional(Type.Integer({ description: 'Pass as `after` for the next page.' })),
          }),
          503: { ...ErrorResponse, description: 'AUDIT_UNAVAILABLE.' },
        },
      },
    },
    (request) => {
      const { release, after, limit = 200 } = request.query;
      const records = app.audit.records({
        ...(release ? { releaseId: release } : {}),
        ...(after !== undefined ? { afterSeq: after } : {}),
        limit: limit + 1,
      });
      const page = records.slice(0, limit);
      return Promise.resolve({
        records: page,
        ...(records.length > limit ? { next: page.at(-1)!.seq } : {}),
      });
    },
  );

  app.get(
    '/audit/verify',
    {
      config: { permission: AUDITOR },
      schema: {
        tags: ['audit'],
        summary: 'Verify the audit trail',
        description:
          'Re-computes every record’s hash, the chain and each Ed25519 signature; `ok: false` names the first broken record (edited, deleted, reordered or re-signed).',
        response: { 200: VerifyResultSchema, 503: { ...ErrorResponse, description: 'AUDIT_UNAVAILABLE.' } },
      },
    },
    () => Promise.resolve(app.audit.verify()),
  );

  app.get(
    '/audit/export',
    {
      config: { permission: AUDITOR },
      schema: {
        tags: ['audit'],
        summary: 'Export the audit trail',
        description: 'JSON Lines (one record per line, chain order), for archiving; `release` narrows it.',
        querystring: Filter,
        response: {
          200: {
            description: 'One record per line (JSON Lines), in chain order.',
            content: { 'application/x-ndjson': { schema: { type: 'string' } } },
          },
          503: { ...ErrorResponse, description: 'AUDIT_UNAVAILABLE.' },
        },
      },
    },
    async (request, reply) => {
      const { release, after } = request.query;
      const stream = new PassThrough();
      void app.audit
        .exportJsonl(stream, {
          ...(release ? { releaseId: release } : {}),
          ...(after !== undefined ? { afterSeq: after } : {}),
        })
        .then(
          () => stream.end(),
          (error: unknown) => stream.destroy(error as Error),
        );
      return (
        reply
          .type('application/x-ndjson')
          .header(
            'content-disposition',
            `attachment; filename="medrelease-audit${release ? `-${release}` : ''}.jsonl"`,
          )
          // A stream; the response schema types the body as the text it produces.
          .send(stream as unknown as string)
      );
    },
  );
  done();
};

export default audit;
