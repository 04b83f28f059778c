// Verification of the audit chain, record by record in sequence order. Nothing stored is trusted:
// every record's hash is recomputed from its stored canonical content, the indexed columns are
// compared with that content, each record must name the hash of the one before it (or of the latest
// retention checkpoint), and the Ed25519 signature over the hash must verify with a known public
// key. The first record that fails any check is reported, with what is wrong with it.
import { createHash, verify as verifySignature, type KeyObject } from 'node:crypto';
import { canonicalize } from '../../domain/canonical-json.js';
import type { AuditVerifyKeys } from './keys.js';

/** previousHash of record 1. */
export const GENESIS_HASH = '0'.repeat(64);

export type AuditProblem =
  | 'hash-mismatch'
  | 'chain-break'
  | 'sequence-gap'
  | 'out-of-order'
  | 'bad-signature'
  | 'unknown-key'
  | 'malformed';

export interface BrokenRecord {
  seq: number;
  eventId?: string;
  problem: AuditProblem;
  message: string;
}

/** What a prune left behind: the last removed record's seq and hash, which the chain continues from. */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  /** Records removed by this prune. */
  removed: number;
  /** Records whose retainUntil was before this time were eligible. */
  cutoff: string;
  /** When the prune ran. */
  at: string;
}

export type VerifyResult =
  | {
      ok: true;
      /** Records checked (those after the latest checkpoint). */
      records: number;
      /** seq and hash of the last record: anchor them elsewhere to detect a truncated tail later. */
      lastSeq: number;
      lastHash: string;
      keyIds: string[];
      /** The retention checkpoint verification started from, if records were pruned. */
      checkpoint?: AuditCheckpoint;
    }
  | {
      ok: false;
      /** Records that verified before the first broken one. */
      records: number;
      firstBroken: BrokenRecord;
    };

export interface VerifyOptions {
  /** Called with the number of records checked so far, every `progressEvery` records. */
  onProgress?: (checked: number) => void;
  /** Default 10,000. */
  progressEvery?: number;
}

/** One row as stored. Any column may have been tampered with, so every value is checked. */
export interface StoredRow {
  seq: unknown;
  event_id: unknown;
  release_id: unknown;
  type: unknown;
  at: unknown;
  retain_until: unknown;
  hash: unknown;
  key_id: unknown;
  signature: unknown;
  content: unknown;
}

/** The hashed fields of a record, in canonical (sorted) order. */
export const BODY_FIELDS = [
  'actor',
  'at',
  'detail',
  'digests',
  'eventId',
  'previousHash',
  'releaseId',
  'retainUntil',
  'seq',
  'type',
] as const;

/** Indexed columns and the content fields they copy. */
const COLUMNS = [
  ['event_id', 'eventId'],
  ['release_id', 'releaseId'],
  ['type', 'type'],
  ['at', 'at'],
  ['retain_until', 'retainUntil'],
] as const;

const HEX64 = /^[0-9a-f]{64}$/;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function short(hash: unknown): string {
  return typeof hash === 'string' ? `${hash.slice(0, 16)}…` : String(hash);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why the parsed content is not a record body, or undefined if it is one. */
function bodyProblem(body: unknown): string | undefined {
  if (!isPlainObject(body)) return 'content is not a JSON object';
  const keys = Object.keys(body).sort();
  if (keys.length !== BODY_FIELDS.length || keys.some((key, index) => key !== BODY_FIELDS[index]))
    return `content has fields ${keys.join(', ')}; expected ${BODY_FIELDS.join(', ')}`;
  if (typeof body.seq !== 'number' || !Number.isSafeInteger(body.seq) || body.seq < 1)
    return 'seq in the content is not a positive integer';
  for (const field of ['eventId', 'releaseId', 'type', 'actor', 'at', 'retainUntil'] as const)
    if (typeof body[field] !== 'string') return `${field} in the content is not a string`;
  if (typeof body.previousHash !== 'string' || !HEX64.test(body.previousHash))
    return 'previousHash in the content is not a hex SHA-256';
  if (!isPlainObject(body.detail)) return 'detail in the content is not an object';
  if (!isPlainObject(body.digests) || Object.values(body.digests).some((value) => typeof value !== 'string'))
    return 'digests in the content is not an object of strings';
  return undefined;
}

/**
 * Walks the rows (which must come in ascending seq order) from the checkpoint (or from the genesis)
 * and stops at the first broken record.
 */
export function verifyRows(
  rows: Iterable<StoredRow>,
  checkpoint: AuditCheckpoint | undefined,
  keys: AuditVerifyKeys,
  options: VerifyOptions = {},
): VerifyResult {
  const every = Math.max(1, options.progressEvery ?? 10_000);
  const keyIds = new Set<string>();
  const keyCache = new Map<string, KeyObject | undefined>();
  let previousSeq = checkpoint?.seq ?? 0;
  let previousHash = checkpoint?.hash ?? GENESIS_HASH;
  let checked = 0;
  const after = (seq: number) =>
    checkpoint && seq === checkpoint.seq
      ? `the checkpoint (seq ${seq})`
      : seq === 0
        ? 'the start'
        : `record ${seq}`;

  for (const row of rows) {
    const seq = typeof row.seq === 'number' ? row.seq : Number(row.seq);
    const broken = (problem: AuditProblem, message: string): VerifyResult => ({
      ok: false,
      records: checked,
      firstBroken: {
        seq,
        ...(typeof row.event_id === 'string' ? { eventId: row.event_id } : {}),
        problem,
        message: `record ${seq}: ${message}`,
      },
    });
    const expected = previousSeq + 1;
    if (seq !== expected) {
      if (seq > expected)
        return broken(
          'sequence-gap',
          `expected seq ${expected} after ${after(previousSeq)}; record${seq - expected > 1 ? `s ${expected}–${seq - 1} are` : ` ${expected} is`} missing`,
        );
      return broken('out-of-order', `seq ${seq} does not follow ${after(previousSeq)}`);
    }
    if (typeof row.content !== 'string') return broken('malformed', 'the record has no content');
    let body: unknown;
    try {
      body = JSON.parse(row.content);
    } catch (error) {
      return broken('malformed', `content is not JSON (${(error as Error).message})`);
    }
    const problem = bodyProblem(body);
    if (problem) return broken('malformed', problem);
    const content = body as Record<(typeof BODY_FIELDS)[number], unknown>;
    if (canonicalize(content) !== row.content)
      return broken('malformed', 'content is not in canonical JSON form (RFC 8785)');
    if (content.seq !== seq)
      return broken(
        'out-of-order',
        `stored at seq ${seq} but its hashed content is record ${String(content.seq)} (rows reordered or renumbered)`,
      );
    const hash = sha256Hex(row.content);
    if (hash !== row.hash)
      return broken(
        'hash-mismatch',
        `content hashes to ${short(hash)} but the stored hash is ${short(row.hash)} (the record was edited)`,
      );
    for (const [column, field] of COLUMNS)
      if (row[column] !== content[field])
        return broken(
          'hash-mismatch',
          `column ${column} is ${JSON.stringify(row[column])} but the hashed content says ${JSON.stringify(content[field])} (the column was edited)`,
        );
    if (content.previousHash !== previousHash)
      return broken(
        'chain-break',
        `previousHash ${short(content.previousHash)} is not the hash of ${after(previousSeq)} (${short(previousHash)})`,
      );
    if (typeof row.key_id !== 'string') return broken('malformed', 'the record names no key id');
    let key = keyCache.get(row.key_id);
    if (!keyCache.has(row.key_id)) {
      key = keys.get(row.key_id);
      keyCache.set(row.key_id, key);
    }
    if (!key)
      return broken('unknown-key', `signed with key ${row.key_id}, which is not among the verification keys`);
    const signature =
      typeof row.signature === 'string' ? Buffer.from(row.signature, 'base64') : Buffer.alloc(0);
    let valid = false;
    try {
      valid = signature.length === 64 && verifySignature(null, Buffer.from(hash, 'hex'), key, signature);
    } catch {
      valid = false;
    }
    if (!valid)
      return broken(
        'bad-signature',
        `the signature does not verify with key ${row.key_id} (the hash was recomputed without the private key, or the signature was edited)`,
      );
    keyIds.add(row.key_id);
    previousSeq = seq;
    previousHash = hash;
    checked += 1;
    if (options.onProgress && checked % every === 0) options.onProgress(checked);
  }
  return {
    ok: true,
    records: checked,
    lastSeq: previousSeq,
    lastHash: previousHash,
    keyIds: [...keyIds].sort(),
    ...(checkpoint ? { checkpoint } : {}),
  };
}
