// The audit trail: one global, tamper-evident chain of records (all releases) in one SQLite
// database. Each record holds the canonical JSON (RFC 8785) of its fields, the SHA-256 of that JSON,
// which the next record names as its previousHash, and an Ed25519 signature of the hash. Appends are
// idempotent by event id and serialised across processes by `BEGIN IMMEDIATE`, so several workers
// may write the same file. Triggers refuse UPDATE and DELETE of records under retention (an honest
// guard: someone with the file can drop them, which is why `verify` recomputes everything).
// Retention removes an expired prefix of the chain and leaves a checkpoint the rest continues from.
//
// What the chain cannot show on its own: that records were cut off its end, or that a prefix was
// removed together with a forged checkpoint (checkpoints are not signed). Keep the `lastSeq`/`lastHash`
// of `verify` (or exports) somewhere else to catch those.
import Database from 'better-sqlite3';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { canonicalize } from '../../domain/canonical-json.js';
import type { AuditSigner, AuditVerifyKeys } from './keys.js';
import {
  GENESIS_HASH,
  sha256Hex,
  verifyRows,
  type AuditCheckpoint,
  type StoredRow,
  type VerifyOptions,
  type VerifyResult,
} from './verify.js';

export type { AuditSigner, AuditVerifyKeys } from './keys.js';
export {
  GENESIS_HASH,
  type AuditCheckpoint,
  type AuditProblem,
  type BrokenRecord,
  type VerifyOptions,
  type VerifyResult,
} from './verify.js';

export interface AuditEvent {
  /** Idempotency key: appending an event id that exists returns the existing record. */
  eventId: string;
  releaseId: string;
  /** release.created, stage.entered, canary.verdict, signoff.approve, compliance.waiver, … */
  type: string;
  /** A person's id or 'medrelease'. */
  actor: string;
  /** ISO 8601 time with a zone; stored normalised to UTC (`toISOString`). */
  at: string;
  detail: Record<string, unknown>;
  /** Artifact name → 'sha256:<64 hex>'. */
  digests?: Record<string, string>;
}

export interface AuditRecord extends Required<AuditEvent> {
  seq: number;
  retainUntil: string;
  previousHash: string;
  hash: string;
  keyId: string;
  signature: string;
}

export interface AuditFilter {
  releaseId?: string;
  /** Only records with a greater seq. */
  afterSeq?: number;
  limit?: number;
}

export interface AuditStoreOptions {
  /** Needed to append. */
  signer?: AuditSigner;
  /** How long records are kept; default 2192 days (6 years, HIPAA §164.316(b)(2)). */
  retentionDays?: number;
  readonly?: boolean;
  /** Default prune time and the time stamped on checkpoints. */
  clock?: () => Date;
}

export interface PruneResult {
  removed: number;
  /** The checkpoint written, when records were removed. */
  anchor?: AuditCheckpoint;
}

export class AuditStoreError extends Error {}

export const DEFAULT_RETENTION_DAYS = 2192;
const DAY_MS = 86_400_000;
const SCHEMA_VERSION = 1;
const BUSY_TIMEOUT_MS = 5000;
const EXPORT_PAGE = 1000;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_records (
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  release_id TEXT NOT NULL,
  type TEXT NOT NULL,
  at TEXT NOT NULL,
  retain_until TEXT NOT NULL,
  hash TEXT NOT NULL,
  key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  content TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS audit_records_release ON audit_records (release_id);
CREATE TABLE IF NOT EXISTS checkpoints (
  id INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  removed INTEGER NOT NULL,
  cutoff TEXT NOT NULL,
  at TEXT NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit records are append-only: UPDATE is not allowed'); END;
CREATE TRIGGER IF NOT EXISTS audit_records_retained BEFORE DELETE ON audit_records
WHEN OLD.retain_until >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
BEGIN SELECT RAISE(ABORT, 'audit record under retention: DELETE is not allowed before its retainUntil'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only: UPDATE is not allowed'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only: DELETE is not allowed'); END;
`;

const ROW_COLUMNS = 'seq, event_id, release_id, type, at, retain_until, hash, key_id, signature, content';

interface RecordRow {
  seq: number;
  hash: string;
  key_id: string;
  signature: string;
  content: string;
}

type Body = Omit<AuditRecord, 'hash' | 'keyId' | 'signature'>;

function recordOf(body: Body, hash: string, keyId: string, signature: string): AuditRecord {
  return {
    seq: body.seq,
    eventId: body.eventId,
    releaseId: body.releaseId,
    type: body.type,
    actor: body.actor,
    at: body.at,
    detail: body.detail,
    digests: body.digests,
    retainUntil: body.retainUntil,
    previousHash: body.previousHash,
    hash,
    keyId,
    signature,
  };
}

function recordOfRow(row: RecordRow): AuditRecord {
  return recordOf(JSON.parse(row.content) as Body, row.hash, row.key_id, row.signature);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function nonEmpty(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new AuditStoreError(`audit event: ${field} must be a non-empty string`);
  return value;
}

/** Checks an event and brings it to the form that is hashed (detail through JSON, time in UTC). */
function normalizeEvent(event: AuditEvent): Omit<Body, 'seq' | 'retainUntil' | 'previousHash'> {
  const eventId = nonEmpty(event.eventId, 'eventId');
  const at = nonEmpty(event.at, 'at');
  const time = Date.parse(at);
  if (!ISO_TIME.test(at) || Number.isNaN(time))
    throw new AuditStoreError(`audit event ${eventId}: at '${at}' is not an ISO 8601 time with a zone`);
  let detail: unknown;
  try {
    detail = JSON.parse(JSON.stringify(event.detail ?? {}));
  } catch (error) {
    throw new AuditStoreError(`audit event ${eventId}: detail is not JSON (${(error as Error).message})`);
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
    throw new AuditStoreError(`audit event ${eventId}: detail must be a JSON object`);
  const digests: Record<string, string> = {};
  for (const [name, digest] of Object.entries(event.digests ?? {})) {
    if (typeof digest !== 'string' || !DIGEST.test(digest))
      throw new AuditStoreError(`audit event ${eventId}: digest ${name} is not 'sha256:<64 hex digits>'`);
    digests[name] = digest;
  }
  return {
    eventId,
    releaseId: nonEmpty(event.releaseId, 'releaseId'),
    type: nonEmpty(event.type, 'type'),
    actor: nonEmpty(event.actor, 'actor'),
    at: new Date(time).toISOString(),
    detail: detail as Record<string, unknown>,
    digests,
  };
}

export class SqliteAuditStore {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly appendTransaction?: Database.Transaction<
    (event: ReturnType<typeof normalizeEvent>, signer: AuditSigner) => AuditRecord
  >;
  private readonly pruneTransaction?: Database.Transaction<(cutoff: string) => PruneResult>;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
    private readonly options: AuditStoreOptions & { retentionDays: number; clock: () => Date },
  ) {
    if (!options.readonly) {
      this.appendTransaction = db.transaction((event, signer) => this.appendNow(event, signer));
      this.pruneTransaction = db.transaction((cutoff) => this.pruneNow(cutoff));
    }
  }

  static open(file: string, options: AuditStoreOptions = {}): SqliteAuditStore {
    const retentionDays = options.retentionDays ?? DEFAULT_RETENTION_DAYS;
    if (!Number.isFinite(retentionDays) || retentionDays < 0)
      throw new AuditStoreError(`retentionDays must be a number of days ≥ 0 (got ${retentionDays})`);
    let db: Database.Database;
    try {
      if (options.readonly)
        db = new Database(file, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
      else {
        mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
        db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
      }
    } catch (error) {
      throw new AuditStoreError(`cannot open the audit database ${file}: ${(error as Error).message}`);
    }
    try {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      if (options.readonly) {
        const tables = db
          .prepare(
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('audit_records', 'checkpoints')",
          )
          .get() as { n: number };
        if (tables.n !== 2) throw new AuditStoreError('it has no audit_records and checkpoints tables');
      } else {
        SqliteAuditStore.prepareSchema(db);
      }
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION)
        throw new AuditStoreError(
          `its schema version ${version} is newer than this program's (${SCHEMA_VERSION})`,
        );
    } catch (error) {
      db.close();
      throw new AuditStoreError(`${file} is not a usable audit database: ${(error as Error).message}`);
    }
    return new SqliteAuditStore(db, file, {
      ...options,
      retentionDays,
      clock: options.clock ?? (() => new Date()),
    });
  }

  private static prepareSchema(db: Database.Database): void {
    // Switching to WAL needs a moment of exclusive access; a first open racing another may see BUSY.
    for (let attempt = 0; ; attempt += 1) {
      const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
      if (mode === 'wal') break;
      if (attempt >= 50) throw new AuditStoreError(`cannot switch the journal to WAL (it stays ${mode})`);
      sleepSync(100);
    }
    db.pragma('synchronous = FULL');
    db.transaction(() => {
      db.exec(SCHEMA);
      if ((db.pragma('user_version', { simple: true }) as number) === 0)
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Appends the event as the next record, or returns the record of its event id if there is one
   * (unchanged: a retried activity records its event once). One `BEGIN IMMEDIATE` transaction.
   */
  append(event: AuditEvent): AuditRecord {
    if (this.options.readonly || !this.appendTransaction)
      throw new AuditStoreError(`the audit store ${this.file} is open read-only; it cannot append`);
    const signer = this.options.signer;
    if (!signer)
      throw new AuditStoreError(`the audit store ${this.file} was opened without a signer; it cannot append`);
    return this.appendTransaction.immediate(normalizeEvent(event), signer);
  }

  /** append for async callers (the work itself is synchronous). */
  appendAsync(event: AuditEvent): Promise<AuditRecord> {
    return Promise.resolve().then(() => this.append(event));
  }

  private appendNow(event: ReturnType<typeof normalizeEvent>, signer: AuditSigner): AuditRecord {
    const existing = this.statement(
      'SELECT seq, hash, key_id, signature, content FROM audit_records WHERE event_id = ?',
    ).get(event.eventId) as RecordRow | undefined;
    if (existing) return recordOfRow(existing);
    const last = this.head();
    const body: Body = {
      ...event,
      seq: last.seq + 1,
      retainUntil: new Date(Date.parse(event.at) + this.options.retentionDays * DAY_MS).toISOString(),
      previousHash: last.hash,
    };
    const content = canonicalize(body);
    const hash = sha256Hex(content);
    const signature = signer.sign(Buffer.from(hash, 'hex')).toString('base64');
    this.statement(
      `INSERT INTO audit_records (${ROW_COLUMNS}) VALUES (@seq, @event_id, @release_id, @type, @at, @retain_until, @hash, @key_id, @signature, @content)`,
    ).run({
      seq: body.seq,
      event_id: body.eventId,
      release_id: body.releaseId,
      type: body.type,
      at: body.at,
      retain_until: body.retainUntil,
      hash,
      key_id: signer.keyId,
      signature,
      content,
    });
    return recordOf(body, hash, signer.keyId, signature);
  }

  /** seq and hash of the last record (or of the latest checkpoint, or the genesis), as stored. */
  head(): { seq: number; hash: string } {
    const last = this.statement('SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1').get() as
      { seq: number; hash: string } | undefined;
    if (last) return last;
    const checkpoint = this.latestCheckpoint();
    return checkpoint ? { seq: checkpoint.seq, hash: checkpoint.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  private latestCheckpoint(): AuditCheckpoint | undefined {
    return this.statement(
      'SELECT seq, hash, removed, cutoff, at FROM checkpoints ORDER BY seq DESC, id DESC LIMIT 1',
    ).get() as AuditCheckpoint | undefined;
  }

  checkpoints(): AuditCheckpoint[] {
    return this.statement(
      'SELECT seq, hash, removed, cutoff, at FROM checkpoints ORDER BY id',
    ).all() as AuditCheckpoint[];
  }

  private where(filter: AuditFilter): { sql: string; params: (string | number)[] } {
    const afterSeq = filter.afterSeq ?? 0;
    if (!Number.isSafeInteger(afterSeq))
      throw new AuditStoreError(`afterSeq must be an integer (got ${afterSeq})`);
    const clauses = ['seq > ?'];
    const params: (string | number)[] = [afterSeq];
    if (filter.releaseId !== undefined) {
      clauses.push('release_id = ?');
      params.push(filter.releaseId);
    }
    return { sql: clauses.join(' AND '), params };
  }

  /** Records in seq order. */
  records(filter: AuditFilter = {}): AuditRecord[] {
    const limit = filter.limit ?? -1;
    if (!Number.isSafeInteger(limit) || (filter.limit !== undefined && limit < 0))
      throw new AuditStoreError(`limit must be an integer ≥ 0 (got ${filter.limit})`);
    const { sql, params } = this.where(filter);
    const rows = this.statement(
      `SELECT seq, hash, key_id, signature, content FROM audit_records WHERE ${sql} ORDER BY seq LIMIT ?`,
    ).all(...params, limit) as RecordRow[];
    return rows.map(recordOfRow);
  }

  /** Number of records matching releaseId/afterSeq (a limit caps it). */
  count(filter: AuditFilter = {}): number {
    const { sql, params } = this.where(filter);
    const { n } = this.statement(`SELECT count(*) AS n FROM audit_records WHERE ${sql}`).get(...params) as {
      n: number;
    };
    return filter.limit === undefined ? n : Math.min(n, filter.limit);
  }

  /**
   * Checks the whole chain from the latest checkpoint, in seq order, in one read transaction (a
   * consistent snapshot while other processes append), streaming the rows.
   */
  verify(keys: AuditVerifyKeys, options: VerifyOptions = {}): VerifyResult {
    return this.db
      .transaction(() =>
        verifyRows(
          this.statement(
            `SELECT ${ROW_COLUMNS} FROM audit_records ORDER BY seq`,
          ).iterate() as Iterable<StoredRow>,
          this.latestCheckpoint(),
          keys,
          options,
        ),
      )
      .deferred();
  }

  /**
   * Writes the records as JSON Lines, each record's canonical JSON (sorted fields) on one line, page
   * by page (memory stays flat, the connection stays free between pages), waiting for the stream to
   * drain. Does not end the stream. Returns the number of records written.
   */
  async exportJsonl(out: NodeJS.WritableStream, filter: AuditFilter = {}): Promise<number> {
    let afterSeq = filter.afterSeq ?? 0;
    let remaining = filter.limit ?? Number.POSITIVE_INFINITY;
    let written = 0;
    while (remaining > 0) {
      const limit = Math.min(EXPORT_PAGE, remaining);
      const page = this.records({ ...filter, afterSeq, limit });
      for (const record of page) {
        if (!out.write(`${canonicalize(record)}\n`)) await once(out, 'drain');
        written += 1;
      }
      if (page.length < limit) break;
      afterSeq = page[page.length - 1]!.seq;
      remaining -= page.length;
    }
    return written;
  }

  /**
   * Removes the records whose retainUntil is before `now` and that form a prefix of the chain (it
   * stops at the first record still retained, so never leaves a hole), after writing a checkpoint
   * with the last removed record's seq and hash; one `BEGIN IMMEDIATE` transaction. Pruning does not
   * sign. The delete trigger still refuses records whose retainUntil is after the real time.
   */
  prune(now: Date = this.options.clock()): PruneResult {
    if (this.options.readonly || !this.pruneTransaction)
      throw new AuditStoreError(`the audit store ${this.file} is open read-only; it cannot prune`);
    if (Number.isNaN(now.getTime())) throw new AuditStoreError('prune: now is not a valid time');
    return this.pruneTransaction.immediate(now.toISOString());
  }

  private pruneNow(cutoff: string): PruneResult {
    const kept = this.statement(
      'SELECT seq FROM audit_records WHERE retain_until >= ? ORDER BY seq LIMIT 1',
    ).get(cutoff) as { seq: number } | undefined;
    const bound = kept?.seq ?? Number.MAX_SAFE_INTEGER;
    const last = this.statement(
      'SELECT seq, hash FROM audit_records WHERE seq < ? ORDER BY seq DESC LIMIT 1',
    ).get(bound) as { seq: number; hash: string } | undefined;
    if (!last) return { removed: 0 };
    const { n: removed } = this.statement('SELECT count(*) AS n FROM audit_records WHERE seq < ?').get(
      bound,
    ) as {
      n: number;
    };
    const anchor: AuditCheckpoint = {
      seq: last.seq,
      hash: last.hash,
      removed,
      cutoff,
      at: this.options.clock().toISOString(),
    };
    this.statement(
      'INSERT INTO checkpoints (seq, hash, removed, cutoff, at) VALUES (@seq, @hash, @removed, @cutoff, @at)',
    ).run(anchor);
    const { changes } = this.statement('DELETE FROM audit_records WHERE seq < ?').run(bound);
    if (changes !== removed)
      throw new AuditStoreError(`prune removed ${changes} records, expected ${removed}`);
    return { removed, anchor };
  }

  close(): void {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}
