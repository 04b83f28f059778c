// `medrelease audit` as an auditor runs it: a real process of the compiled CLI on a store written by
// the store itself — an intact trail (exit 0), a tampered one (exit 1, naming the record), exports,
// retention, the default paths under MEDRELEASE_DATA_DIR, and usage errors (exit 2, naming the flag).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ensureAuditKey, loadAuditSigner, publicKeyFileFor } from '../../activities/audit/keys.js';
import { SqliteAuditStore, type AuditRecord, type VerifyResult } from '../../activities/audit/store.js';

const CLI = fileURLToPath(new URL('../../cli/medrelease.js', import.meta.url));
const scratch = mkdtempSync(path.join(os.tmpdir(), 'medrelease-audit-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const dataDir = path.join(scratch, 'data');
const db = path.join(dataDir, 'audit', 'audit.sqlite');
const privateKey = path.join(dataDir, 'keys', 'audit-ed25519.pem');
const publicKey = publicKeyFileFor(privateKey);

function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'audit', ...args],
      {
        cwd: scratch,
        env: { ...process.env, MEDRELEASE_DATA_DIR: path.join(scratch, 'no-data'), ...env },
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function events(store: SqliteAuditStore, from: number, to: number, at?: string): void {
  for (let index = from; index <= to; index += 1)
    store.append({
      eventId: `run-${index}/activity-1`,
      releaseId: index % 3 === 0 ? 'rel-cardio-7' : 'rel-derm-2',
      type: index === from ? 'release.created' : 'stage.entered',
      actor: index % 5 === 0 ? 'dr.ng' : 'medrelease',
      at: at ?? new Date(Date.now() - (to - index) * 1000).toISOString(),
      detail: { stage: `stage-${index}`, index },
    });
}

before(async () => {
  mkdirSync(path.dirname(db), { recursive: true });
  await ensureAuditKey(privateKey);
  const store = SqliteAuditStore.open(db, { signer: loadAuditSigner(privateKey) });
  events(store, 1, 30);
  store.close();
});

describe('medrelease audit', () => {
  test('verify on an intact trail: exit 0 and the head of the chain', async () => {
    const result = await run(['verify', '--db', db, '--public-key', publicKey]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^audit trail intact: 30 records, last seq 30, hash [0-9a-f]{64}\n/);
    const json = await run(['verify', '--db', db, '--public-key', publicKey, '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as VerifyResult;
    assert.equal(parsed.ok, true);
    assert.equal(parsed.ok && parsed.lastSeq, 30);
  });

  test('the default database and key are under MEDRELEASE_DATA_DIR', async () => {
    const result = await run(['verify'], { MEDRELEASE_DATA_DIR: dataDir });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /audit trail intact: 30 records/);
  });

  test('verify on a tampered trail: exit 1, naming the record and the event', async () => {
    const tampered = path.join(scratch, 'tampered.sqlite');
    copyFileSync(db, tampered);
    const raw = new Database(tampered);
    raw.exec(`DROP TRIGGER audit_records_no_update;
              UPDATE audit_records SET content = replace(content, '"actor":"medrelease"', '"actor":"dr.evil"') WHERE seq = 7;`);
    raw.close();
    const result = await run(['verify', '--db', tampered, '--public-key', publicKey]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      /^audit trail BROKEN at record 7 \(event run-7\/activity-1\): content hashes to .* \(the record was edited\)/,
    );
    assert.match(result.stdout, /6 records before it verified/);
    const json = await run(['verify', '--db', tampered, '--public-key', publicKey, '--format', 'json']);
    assert.equal(json.code, 1);
    const parsed = JSON.parse(json.stdout) as VerifyResult;
    assert.deepEqual(!parsed.ok && { seq: parsed.firstBroken.seq, problem: parsed.firstBroken.problem }, {
      seq: 7,
      problem: 'hash-mismatch',
    });
  });

  test('export writes JSON Lines to a file or standard output, filtered by release', async () => {
    const out = path.join(scratch, 'export.jsonl');
    const result = await run(['export', '--db', db, '--out', out]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /exported 30 records to/);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 30);
    const store = SqliteAuditStore.open(db, { readonly: true });
    assert.deepEqual(
      lines.map((line) => JSON.parse(line) as AuditRecord),
      store.records(),
    );
    store.close();
    const filtered = await run(['export', '--db', db, '--release', 'rel-cardio-7']);
    assert.equal(filtered.code, 0, filtered.stderr);
    const records = filtered.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditRecord);
    assert.equal(records.length, 10);
    assert.ok(records.every((record) => record.releaseId === 'rel-cardio-7'));
  });

  test('prune needs --yes, removes the expired prefix, and the trail still verifies', async () => {
    const file = path.join(scratch, 'prune.sqlite');
    const store = SqliteAuditStore.open(file, { signer: loadAuditSigner(privateKey), retentionDays: 7 });
    events(store, 1, 4, '2020-06-01T00:00:00Z');
    events(store, 5, 8);
    store.close();
    const refused = await run(['prune', '--db', file, '--public-key', publicKey]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--yes/);
    const pruned = await run(['prune', '--db', file, '--public-key', publicKey, '--yes']);
    assert.equal(pruned.code, 0, pruned.stdout + pruned.stderr);
    assert.match(pruned.stdout, /^pruned 4 records \(up to seq 4,/);
    const verified = await run(['verify', '--db', file, '--public-key', publicKey]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(
      verified.stdout,
      /audit trail intact: 4 records, last seq 8,.*\n {2}records up to seq 4 were pruned/,
    );
  });

  test('usage errors and missing files exit 2 and name the option', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['verify', '--db', path.join(scratch, 'missing.sqlite'), '--public-key', publicKey],
        /--db: no audit database/,
      ],
      [['verify', '--db', db], /--public-key: no public key at the default/],
      [
        ['verify', '--db', db, '--public-key', path.join(scratch, 'nope.pem')],
        /--public-key: no public key file/,
      ],
      [['verify', '--db', db, '--public-key', privateKey], /--public-key: .*holds a private key/],
      [['verify', '--db', db, '--public-key', publicKey, '--format', 'xml'], /--format must be text or json/],
      [['verify', '--bogus'], /--bogus/],
      [['export', '--db', db, '--out', path.join(scratch, 'no-dir', 'x.jsonl')], /--out: the directory/],
      [['verify', '--db', publicKey, '--public-key', publicKey], /--db: .*not a usable audit database/],
      [['frobnicate'], /unknown audit command 'frobnicate'/],
      [[], /audit needs a command/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    for (const [index, [args, message]] of cases.entries()) {
      const result = results[index]!;
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
    }
  });
});
