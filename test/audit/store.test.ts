// The SQLite audit store: records chain by hash and carry Ed25519 signatures; appends are idempotent
// by event id and safe from several processes at once; every way of tampering with the file that an
// attacker with write access has (the guard triggers dropped first) is reported at the right record
// with the right problem; retention removes only an expired prefix and leaves a checkpoint the chain
// continues from; exports are the records; key rotation; read-only stores do not write.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, verify as verifySignature } from 'node:crypto';
import { once } from 'node:events';
import {
  chmodSync,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { canonicalize } from '../../domain/canonical-json.js';
import {
  createAuditSigner,
  ensureAuditKey,
  keyIdOf,
  loadAuditSigner,
  loadVerifyKeys,
  publicKeyFileFor,
  verifyKeysFrom,
} from '../../activities/audit/keys.js';
import {
  GENESIS_HASH,
  SqliteAuditStore,
  type AuditEvent,
  type AuditRecord,
  type AuditStoreOptions,
  type VerifyResult,
} from '../../activities/audit/store.js';

const WORKER = fileURLToPath(new URL('./fixtures/append-worker.js', import.meta.url));
const scratch = mkdtempSync(path.join(os.tmpdir(), 'medrelease-audit-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let files = 0;
const newFile = () => path.join(scratch, `audit-${(files += 1)}.sqlite`);

const pair = generateKeyPairSync('ed25519');
const signer = createAuditSigner(pair.privateKey);
const keys = verifyKeysFrom([pair.publicKey]);
const MODEL_DIGEST = `sha256:${'ab'.repeat(32)}`;

function event(index: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    eventId: `run-1/activity-${index}`,
    releaseId: index % 2 === 1 ? 'rel-a' : 'rel-b',
    type: 'stage.entered',
    actor: 'medrelease',
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
    detail: { stage: 'canary', index, cloud: 'aws' },
    digests: { model: MODEL_DIGEST },
    ...overrides,
  };
}

function filled(count: number, options: AuditStoreOptions = {}): { file: string; store: SqliteAuditStore } {
  const file = newFile();
  const store = SqliteAuditStore.open(file, { signer, ...options });
  for (let index = 1; index <= count; index += 1) store.append(event(index));
  return { file, store };
}

/** As an attacker with the file would: plain SQLite, the guard triggers dropped first. */
function tamper(file: string, change: (db: Database.Database) => void): void {
  const db = new Database(file);
  db.exec('DROP TRIGGER audit_records_no_update; DROP TRIGGER audit_records_retained;');
  change(db);
  db.close();
}

function verifyFile(file: string, verifyKeys = keys): VerifyResult {
  const store = SqliteAuditStore.open(file, { readonly: true });
  try {
    return store.verify(verifyKeys);
  } finally {
    store.close();
  }
}

function assertBroken(
  result: VerifyResult,
  seq: number,
  problem: string,
  message?: RegExp,
  verifiedBefore = seq - 1,
): void {
  assert.equal(result.ok, false, `expected a broken trail, got ${JSON.stringify(result)}`);
  if (result.ok) return;
  assert.equal(result.firstBroken.seq, seq, result.firstBroken.message);
  assert.equal(result.firstBroken.problem, problem, result.firstBroken.message);
  assert.equal(result.records, verifiedBefore);
  assert.match(result.firstBroken.message, new RegExp(`^record ${seq}: `));
  if (message) assert.match(result.firstBroken.message, message);
}

describe('append and verify', () => {
  test('records are numbered 1, 2, 3…, chained by hash over their canonical JSON and signed', () => {
    const { store } = filled(10);
    const records = store.records();
    assert.deepEqual(
      records.map((record) => record.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    let previous = GENESIS_HASH;
    for (const record of records) {
      const { hash, keyId, signature, ...body } = record;
      assert.equal(record.previousHash, previous);
      assert.equal(hash, createHash('sha256').update(canonicalize(body)).digest('hex'));
      assert.equal(keyId, signer.keyId);
      assert.ok(
        verifySignature(null, Buffer.from(hash, 'hex'), pair.publicKey, Buffer.from(signature, 'base64')),
      );
      assert.equal(record.retainUntil, new Date(Date.parse(record.at) + 2192 * 86_400_000).toISOString());
      previous = hash;
    }
    const progress: number[] = [];
    const result = store.verify(keys, { progressEvery: 3, onProgress: (checked) => progress.push(checked) });
    assert.deepEqual(result, {
      ok: true,
      records: 10,
      lastSeq: 10,
      lastHash: records[9]!.hash,
      keyIds: [signer.keyId],
    });
    assert.deepEqual(progress, [3, 6, 9]);
    assert.deepEqual(store.head(), { seq: 10, hash: records[9]!.hash });
    assert.equal(store.count(), 10);
    assert.equal(store.count({ releaseId: 'rel-a' }), 5);
    assert.deepEqual(
      store.records({ releaseId: 'rel-b', afterSeq: 4, limit: 2 }).map((record) => record.seq),
      [6, 8],
    );
    store.close();
  });

  test('appending an event id again returns the same record and adds no row', async () => {
    const { store } = filled(3);
    const first = store.records({ afterSeq: 1, limit: 1 })[0]!;
    const again = store.append(event(2, { at: '2026-05-05T05:05:05Z', detail: { retried: true } }));
    assert.deepEqual(again, first);
    assert.deepEqual(await store.appendAsync(event(2)), first);
    assert.equal(store.count(), 3);
    const fourth = await store.appendAsync(event(4));
    assert.equal(fourth.seq, 4);
    assert.equal(fourth.previousHash, store.records({ afterSeq: 2, limit: 1 })[0]!.hash);
    assert.equal(store.verify(keys).ok, true);
    store.close();
  });

  test('events are checked and normalised before they are hashed', () => {
    const { store } = filled(0);
    assert.throws(
      () => store.append(event(1, { at: 'yesterday' })),
      /at 'yesterday' is not an ISO 8601 time/,
    );
    assert.throws(() => store.append(event(1, { digests: { model: 'md5:abc' } })), /digest model/);
    assert.throws(() => store.append(event(1, { releaseId: '' })), /releaseId must be a non-empty string/);
    const record = store.append(
      event(1, { at: '2026-03-01T14:00:00+02:00', detail: { when: new Date('2026-03-01T00:00:00Z') } }),
    );
    assert.equal(record.at, '2026-03-01T12:00:00.000Z');
    assert.deepEqual(record.detail, { when: '2026-03-01T00:00:00.000Z' });
    assert.equal(store.count(), 1);
    store.close();
  });

  test('several processes appending to one file at once leave one gapless, verifiable chain', async () => {
    const file = newFile();
    const keyFile = path.join(scratch, 'concurrent', 'audit-ed25519.pem');
    await ensureAuditKey(keyFile);
    SqliteAuditStore.open(file, { signer: loadAuditSigner(keyFile) }).close();
    const workers = 3;
    const perWorker = 150;
    const shared = 40;
    const outputs = await Promise.all(
      Array.from({ length: workers }, async (_, index) => {
        const child = spawn(
          process.execPath,
          [WORKER, file, keyFile, `w${index}`, String(perWorker), String(shared)],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const [code] = (await once(child, 'exit')) as [number | null];
        assert.equal(code, 0, stderr);
        return JSON.parse(stdout) as { appended: number };
      }),
    );
    assert.deepEqual(
      outputs.map((output) => output.appended),
      Array<number>(workers).fill(perWorker + shared),
    );
    const store = SqliteAuditStore.open(file, { readonly: true });
    const total = workers * perWorker + shared;
    assert.equal(store.count(), total);
    assert.equal(store.count({ releaseId: 'release-shared' }), shared);
    const seqs = store.records().map((record) => record.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: total }, (_, index) => index + 1),
    );
    const result = store.verify(loadVerifyKeys([publicKeyFileFor(keyFile)]));
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.ok && result.records, total);
    store.close();
  });
});

describe('tampering is detected at the first broken record', () => {
  test('an edited detail of record 5 is a hash mismatch at 5', () => {
    const { file, store } = filled(10);
    store.close();
    tamper(file, (db) => {
      const { changes } = db
        .prepare(
          `UPDATE audit_records SET content = replace(content, '"index":5,', '"index":55,') WHERE seq = 5`,
        )
        .run();
      assert.equal(changes, 1);
    });
    assertBroken(verifyFile(file), 5, 'hash-mismatch', /edited/);
  });

  test('a deleted record 7 is a sequence gap at 8', () => {
    const { file, store } = filled(10);
    store.close();
    tamper(file, (db) => db.prepare('DELETE FROM audit_records WHERE seq = 7').run());
    assertBroken(verifyFile(file), 8, 'sequence-gap', /record 7 is missing/, 6);
  });

  test('a deleted first record is a sequence gap at 2', () => {
    const { file, store } = filled(4);
    store.close();
    tamper(file, (db) => db.prepare('DELETE FROM audit_records WHERE seq = 1').run());
    assertBroken(verifyFile(file), 2, 'sequence-gap', /record 1 is missing/, 0);
  });

  test('records 3 and 4 with their seq values swapped are out of order at 3', () => {
    const { file, store } = filled(10);
    store.close();
    tamper(file, (db) =>
      db.exec(`UPDATE audit_records SET seq = -3 WHERE seq = 3;
               UPDATE audit_records SET seq = 3 WHERE seq = 4;
               UPDATE audit_records SET seq = 4 WHERE seq = -3;`),
    );
    assertBroken(verifyFile(file), 3, 'out-of-order', /hashed content is record 4/);
  });

  test('an edited release_id column (content untouched) is detected', () => {
    const { file, store } = filled(10);
    store.close();
    tamper(file, (db) => db.prepare(`UPDATE audit_records SET release_id = 'rel-other' WHERE seq = 6`).run());
    assertBroken(verifyFile(file), 6, 'hash-mismatch', /column release_id is "rel-other"/);
  });

  test('a record edited with its hash and the chain after it recomputed (no private key) has a bad signature', () => {
    const { file, store } = filled(10);
    store.close();
    tamper(file, (db) => {
      const rows = db.prepare('SELECT seq, content FROM audit_records WHERE seq >= 5 ORDER BY seq').all() as {
        seq: number;
        content: string;
      }[];
      let previousHash = (
        db.prepare('SELECT hash FROM audit_records WHERE seq = 4').get() as { hash: string }
      ).hash;
      const update = db.prepare('UPDATE audit_records SET content = ?, hash = ? WHERE seq = ?');
      for (const row of rows) {
        const body = JSON.parse(row.content) as Record<string, unknown>;
        if (row.seq === 5) body.detail = { stage: 'production', index: 5, cloud: 'aws' };
        body.previousHash = previousHash;
        const content = canonicalize(body);
        previousHash = createHash('sha256').update(content).digest('hex');
        update.run(content, previousHash, row.seq);
      }
    });
    assertBroken(verifyFile(file), 5, 'bad-signature');
  });

  test('a signature from another key under this key id is a bad signature', () => {
    const { file, store } = filled(5);
    store.close();
    const other = createAuditSigner(generateKeyPairSync('ed25519').privateKey);
    tamper(file, (db) => {
      const { hash } = db.prepare('SELECT hash FROM audit_records WHERE seq = 3').get() as { hash: string };
      db.prepare('UPDATE audit_records SET signature = ? WHERE seq = 3').run(
        other.sign(Buffer.from(hash, 'hex')).toString('base64'),
      );
    });
    assertBroken(verifyFile(file), 3, 'bad-signature');
  });

  test('a record whose key id is unknown is reported', () => {
    const { file, store } = filled(5);
    store.close();
    tamper(file, (db) =>
      db.prepare(`UPDATE audit_records SET key_id = 'ed25519:0000000000000000' WHERE seq = 2`).run(),
    );
    assertBroken(verifyFile(file), 2, 'unknown-key', /ed25519:0000000000000000/);
    const stranger = verifyKeysFrom([generateKeyPairSync('ed25519').publicKey]);
    assertBroken(verifyFile(file, stranger), 1, 'unknown-key');
  });

  test('content that is not a record is malformed', () => {
    const { file, store } = filled(4);
    store.close();
    tamper(file, (db) => db.prepare(`UPDATE audit_records SET content = '{"seq":' WHERE seq = 4`).run());
    assertBroken(verifyFile(file), 4, 'malformed', /not JSON/);
  });

  test('the triggers refuse UPDATE and DELETE of retained records while they are in place', () => {
    const { file, store } = filled(3);
    const db = new Database(file);
    assert.throws(
      () => db.prepare(`UPDATE audit_records SET type = 'release.completed' WHERE seq = 2`).run(),
      /append-only/,
    );
    assert.throws(() => db.prepare('DELETE FROM audit_records WHERE seq = 3').run(), /under retention/);
    db.close();
    assert.equal(store.count(), 3);
    assert.equal(store.verify(keys).ok, true);
    store.close();
  });
});

describe('retention', () => {
  const old = (index: number) =>
    event(index, { at: new Date(Date.UTC(2020, 0, 1, 0, 0, index)).toISOString() });
  const recent = (index: number) => event(index, { at: new Date().toISOString() });

  test('prune removes the expired prefix only, writes a checkpoint, and the chain still verifies', () => {
    const file = newFile();
    const now = new Date();
    const store = SqliteAuditStore.open(file, { signer, retentionDays: 30, clock: () => now });
    for (let index = 1; index <= 5; index += 1) store.append(old(index));
    for (let index = 6; index <= 8; index += 1) store.append(recent(index));
    store.append(old(9)); // expired, but behind retained records: pruning it would leave a hole
    const fifth = store.records({ afterSeq: 4, limit: 1 })[0]!;
    assert.ok(fifth.retainUntil < now.toISOString());

    // The guard refuses removing records still under retention, whatever time prune is given.
    assert.throws(() => store.prune(new Date('2100-01-01T00:00:00Z')), /under retention/);
    assert.equal(store.count(), 9);
    assert.deepEqual(store.checkpoints(), []);

    const result = store.prune();
    assert.equal(result.removed, 5);
    assert.deepEqual(result.anchor, {
      seq: 5,
      hash: fifth.hash,
      removed: 5,
      cutoff: now.toISOString(),
      at: now.toISOString(),
    });
    assert.deepEqual(store.checkpoints(), [result.anchor]);
    assert.deepEqual(
      store.records().map((record) => record.seq),
      [6, 7, 8, 9],
    );
    const verified = store.verify(keys);
    assert.equal(verified.ok, true, JSON.stringify(verified));
    assert.equal(verified.ok && verified.records, 4);
    assert.deepEqual(verified.ok && verified.checkpoint, result.anchor);

    assert.deepEqual(store.prune(), { removed: 0 });
    const tenth = store.append(recent(10));
    assert.equal(tenth.seq, 10);
    assert.equal(store.verify(keys).ok, true);
    store.close();

    // Removing the checkpoint (the records before seq 6 now look deleted) is detected.
    const db = new Database(file);
    db.exec('DROP TRIGGER checkpoints_no_delete; DELETE FROM checkpoints;');
    db.close();
    assertBroken(verifyFile(file), 6, 'sequence-gap', /records 1–5 are missing/, 0);
  });

  test('a store pruned empty continues its chain from the checkpoint', () => {
    const file = newFile();
    const store = SqliteAuditStore.open(file, { signer, retentionDays: 1 });
    for (let index = 1; index <= 3; index += 1) store.append(old(index));
    const last = store.head();
    assert.equal(store.prune(new Date()).removed, 3);
    assert.equal(store.count(), 0);
    assert.deepEqual(store.head(), last);
    const verifiedEmpty = store.verify(keys);
    assert.equal(verifiedEmpty.ok && verifiedEmpty.lastSeq, 3);
    const next = store.append(recent(4));
    assert.equal(next.seq, 4);
    assert.equal(next.previousHash, last.hash);
    const verified = store.verify(keys);
    assert.equal(verified.ok && verified.records, 1);
    store.close();
  });
});

describe('export, rotation and read-only stores', () => {
  test('the JSON Lines export is the records, one canonical line each', async () => {
    const { store } = filled(1200);
    const out = path.join(scratch, 'export.jsonl');
    const stream = createWriteStream(out);
    const written = await store.exportJsonl(stream);
    stream.end();
    await once(stream, 'finish');
    assert.equal(written, 1200);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 1200);
    const records = store.records();
    assert.deepEqual(
      lines.map((line) => JSON.parse(line) as AuditRecord),
      records,
    );
    assert.equal(lines[0], canonicalize(records[0]));

    const filtered = path.join(scratch, 'export-rel-b.jsonl');
    const filteredStream = createWriteStream(filtered);
    assert.equal(await store.exportJsonl(filteredStream, { releaseId: 'rel-b', afterSeq: 990, limit: 7 }), 7);
    filteredStream.end();
    await once(filteredStream, 'finish');
    assert.deepEqual(
      readFileSync(filtered, 'utf8')
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as AuditRecord).seq),
      [992, 994, 996, 998, 1000, 1002, 1004],
    );
    store.close();
  });

  test('after a key rotation both public keys verify; the new key alone stops at the first old record', async () => {
    const file = newFile();
    const first = path.join(scratch, 'rotation', 'audit-2025.pem');
    const second = path.join(scratch, 'rotation', 'audit-2026.pem');
    const created = await ensureAuditKey(first);
    await ensureAuditKey(second);
    let store = SqliteAuditStore.open(file, { signer: loadAuditSigner(first) });
    for (let index = 1; index <= 3; index += 1) store.append(event(index));
    store.close();
    store = SqliteAuditStore.open(file, { signer: loadAuditSigner(second) });
    for (let index = 4; index <= 6; index += 1) store.append(event(index));
    store.close();
    const both = loadVerifyKeys([publicKeyFileFor(first), publicKeyFileFor(second)]);
    const result = verifyFile(file, both);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(result.ok && result.keyIds, both.ids());
    assert.ok(both.ids().includes(created.keyId));
    assertBroken(
      verifyFile(file, loadVerifyKeys([publicKeyFileFor(second)])),
      1,
      'unknown-key',
      new RegExp(created.keyId),
    );
  });

  test('a read-only store or one without a signer refuses to write', () => {
    const { file, store } = filled(2);
    store.close();
    const readonly = SqliteAuditStore.open(file, { readonly: true, signer });
    assert.throws(() => readonly.append(event(3)), /read-only/);
    assert.throws(() => readonly.prune(new Date()), /read-only/);
    assert.equal(readonly.count(), 2);
    readonly.close();
    const unsigned = SqliteAuditStore.open(file);
    assert.throws(() => unsigned.append(event(3)), /without a signer/);
    unsigned.close();
    assert.throws(
      () => SqliteAuditStore.open(path.join(scratch, 'missing.sqlite'), { readonly: true }),
      /cannot open/,
    );
  });
});

describe('audit keys', () => {
  test('ensureAuditKey writes a private key (0600) and its public key (0644) once', async () => {
    const file = path.join(scratch, 'keys', 'audit-ed25519.pem');
    const created = await ensureAuditKey(file);
    assert.equal(created.created, true);
    assert.match(created.keyId, /^ed25519:[0-9a-f]{16}$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const publicFile = path.join(scratch, 'keys', 'audit-ed25519.pub.pem');
    assert.equal(publicKeyFileFor(file), publicFile);
    assert.equal(statSync(publicFile).mode & 0o777, 0o644);
    const before = readFileSync(file, 'utf8');
    assert.deepEqual(await ensureAuditKey(file), { created: false, keyId: created.keyId });
    assert.equal(readFileSync(file, 'utf8'), before);
    const signer = loadAuditSigner(file);
    assert.equal(signer.keyId, created.keyId);
    const verifyKeys = loadVerifyKeys([publicFile]);
    assert.deepEqual(verifyKeys.ids(), [created.keyId]);
    assert.equal(keyIdOf(verifyKeys.get(created.keyId)!), created.keyId);
  });

  test('key files are refused with a message naming the file', async () => {
    const file = path.join(scratch, 'loose', 'audit.pem');
    await ensureAuditKey(file);
    chmodSync(file, 0o644);
    assert.throws(() => loadAuditSigner(file), /readable by others.*chmod 600/);
    assert.throws(() => loadVerifyKeys([path.join(scratch, 'nope.pub.pem')]), /nope\.pub\.pem/);
    assert.throws(() => loadVerifyKeys([file]), /holds a private key/);
    const garbage = path.join(scratch, 'garbage.pub.pem');
    writeFileSync(garbage, 'not a key');
    assert.throws(() => loadVerifyKeys([garbage]), /garbage\.pub\.pem is not a PEM public key/);
    const rsa = path.join(scratch, 'rsa.pub.pem');
    writeFileSync(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }),
    );
    assert.throws(() => loadVerifyKeys([rsa]), /rsa\.pub\.pem holds a rsa key/);
  });
});
