// The audit trail of real releases, through the API: every release event and human action is
// recorded once, with who, when, what and digests; auditors page, verify and export it; a record
// edited directly in the database is found and named by the API's verification.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { AuditRecord } from '../../activities/audit/store.js';
import { auditPaths } from '../../domain/config.js';
import type { ReleaseStatus } from '../../domain/status.js';
import { eventually } from '../helpers/environment.js';
import { liveApi } from './helper.js';

/** A record as the API returns it (JSON). */
type AuditRecordBody = AuditRecord;

describe('the audit trail of real releases', () => {
  const live = liveApi();

  test('a completed release: every stage, decision and sign-off recorded once, with digests', async () => {
    const { env } = live;
    await env.seedStable('audit-model');
    const releaseId = 'rel-audit-completed';
    const created = await live.user('manager').post('/v1/releases', {
      ...env.request({ model: { name: 'audit-model', version: '2.0.0', image: '' } }),
      model: {
        name: 'audit-model',
        version: '2.0.0',
        image: `registry.example/audit-model:2.0.0@sha256:${'ab'.repeat(32)}`,
      },
      releaseId,
    });
    assert.equal(created.statusCode, 201, created.body);
    await eventually(async () => (await live.status(releaseId)).stage === 'awaiting-signoff', 60_000);
    for (const [user, comment] of [
      ['approverA', 'Validation evidence reviewed.'],
      ['approverB', 'Within the change-control plan.'],
    ] as const) {
      const response = await live
        .user(user)
        .post(`/v1/releases/${releaseId}/signoff`, { decision: 'approve', comment });
      assert.equal(response.statusCode, 200, response.body);
    }
    const final = await eventually(async () => {
      const status: ReleaseStatus = await live.status(releaseId);
      return status.outcome ? status : undefined;
    }, 120_000);
    assert.equal(final.outcome, 'completed');

    // The status shows the outcome as the release records it; the outcome's audit record follows.
    const records = await eventually(async () => {
      const response = await live.user('auditor').get(`/v1/audit?release=${releaseId}&limit=1000`);
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json<{ records: AuditRecordBody[] }>().records;
      return page.some((record) => record.type === 'release.completed') ? page : undefined;
    }, 30_000);
    const types = records.map((record) => record.type);
    const count = (type: string) => types.filter((entry) => entry === type).length;
    assert.equal(count('release.created'), 1);
    assert.equal(count('staging.evaluated'), 1);
    assert.equal(count('compliance.evaluated'), 1);
    assert.deepEqual(
      records.filter((record) => record.type === 'stage.entered').map((record) => record.detail.stage),
      ['staging', 'compliance', 'awaiting-signoff', 'canary', 'promoting'],
    );
    assert.equal(count('signoff.approve'), 2);
    assert.equal(count('cloud.promoted'), 3);
    assert.equal(count('release.completed'), 1);
    // One verdict per cloud and step (3 steps in 3 clouds), and nothing recorded twice.
    assert.ok(count('canary.verdict') >= 9, `${count('canary.verdict')} verdicts`);
    assert.equal(new Set(records.map((record) => record.eventId)).size, records.length);

    const created_ = records.find((record) => record.type === 'release.created')!;
    assert.equal(created_.actor, 'rm-alice');
    assert.equal(created_.digests.image, `sha256:${'ab'.repeat(32)}`);
    const approvals = records.filter((record) => record.type === 'signoff.approve');
    assert.deepEqual(approvals.map((record) => record.actor).sort(), ['dr-bob', 'dr-carol']);
    assert.equal(approvals[0]!.detail.comment, 'Validation evidence reviewed.');
    assert.match(approvals[0]!.digests.image ?? '', /^sha256:/);
    const verdict = records.find((record) => record.type === 'canary.verdict')!;
    assert.match(verdict.digests.verdict ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.ok(Array.isArray(verdict.detail.verdicts));
    const compliance = records.find((record) => record.type === 'compliance.evaluated')!;
    assert.equal(compliance.detail.decision, 'pass');
    assert.match(compliance.digests.policyBundle ?? '', /^sha256:/);
    // Chained in order: each record names the hash of the one before it in the whole trail.
    assert.ok(records.every((record, index) => index === 0 || record.seq > records[index - 1]!.seq));

    // Paging: `after` continues where the previous page ended.
    const first = (await live.user('auditor').get(`/v1/audit?release=${releaseId}&limit=5`)).json<{
      records: AuditRecordBody[];
      next?: number;
    }>();
    assert.equal(first.records.length, 5);
    assert.equal(first.next, first.records.at(-1)!.seq);
    const second = (
      await live.user('auditor').get(`/v1/audit?release=${releaseId}&limit=5&after=${first.next}`)
    ).json<{ records: AuditRecordBody[] }>();
    assert.deepEqual(
      second.records.map((record) => record.seq),
      records.slice(5, 10).map((record) => record.seq),
    );

    // Export: JSON Lines, the same records.
    const exported = await live.user('auditor').get(`/v1/audit/export?release=${releaseId}`);
    assert.equal(exported.statusCode, 200);
    assert.match(String(exported.headers['content-type']), /application\/x-ndjson/);
    const lines = exported.body
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditRecordBody);
    assert.deepEqual(
      lines.map((line) => line.hash),
      records.map((record) => record.hash),
    );
  });

  test('verify: intact, then a record edited directly in the database is named', async () => {
    const intact = await live.user('auditor').get('/v1/audit/verify');
    assert.equal(intact.statusCode, 200, intact.body);
    const result = intact.json<{ ok: boolean; records: number; lastSeq: number }>();
    assert.equal(result.ok, true, intact.body);
    assert.ok(result.records >= 20);

    // Someone with access to the file rewrites a sign-off's comment (dropping the guard trigger first).
    const { database } = auditPaths(live.env.config);
    const db = new Database(database);
    try {
      const target = db
        .prepare("select seq, content from audit_records where type = 'signoff.approve' order by seq limit 1")
        .get() as { seq: number; content: string };
      for (const { name } of db.prepare("select name from sqlite_master where type = 'trigger'").all() as {
        name: string;
      }[]) {
        db.exec(`drop trigger ${name}`);
      }
      db.prepare('update audit_records set content = ? where seq = ?').run(
        target.content.replace('Validation evidence reviewed.', 'Not reviewed at all.'),
        target.seq,
      );
      const broken = await live.user('auditor').get('/v1/audit/verify');
      const body = broken.json<{
        ok: boolean;
        firstBroken: { seq: number; problem: string; message: string };
      }>();
      assert.equal(body.ok, false, broken.body);
      assert.equal(body.firstBroken.seq, target.seq);
      assert.equal(body.firstBroken.problem, 'hash-mismatch');
      assert.match(body.firstBroken.message, new RegExp(String(target.seq)));
    } finally {
      db.close();
    }
  });
});
