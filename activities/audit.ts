// The audit trail: one append-only JSON-lines file per release, each record chained to the one
// before by a SHA-256 hash so that an edited or deleted line is detectable. Appends are idempotent
// by event id, so a retried activity never records the same event twice.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface AuditEvent {
  eventId: string;
  releaseId: string;
  type: string;
  actor: string;
  at: string;
  detail: unknown;
}

export interface AuditRecord extends AuditEvent {
  sequence: number;
  previousHash: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);

export class FileAuditStore {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly directory: string) {}

  async append(event: AuditEvent): Promise<AuditRecord> {
    const previous = this.queues.get(event.releaseId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.appendNow(event));
    this.queues.set(event.releaseId, next);
    try {
      return await next;
    } finally {
      if (this.queues.get(event.releaseId) === next) this.queues.delete(event.releaseId);
    }
  }

  async read(releaseId: string): Promise<AuditRecord[]> {
    let text: string;
    try {
      text = await readFile(this.file(releaseId), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as AuditRecord);
  }

  /** Recomputes the chain; returns the sequence number of the first broken record, or null if intact. */
  static verify(records: AuditRecord[]): number | null {
    let previousHash = GENESIS;
    for (const [index, record] of records.entries()) {
      if (record.sequence !== index || record.previousHash !== previousHash || hashOf(record) !== record.hash)
        return index;
      previousHash = record.hash;
    }
    return null;
  }

  private async appendNow(event: AuditEvent): Promise<AuditRecord> {
    const records = await this.read(event.releaseId);
    const existing = records.find((record) => record.eventId === event.eventId);
    if (existing) return existing;
    const last = records.at(-1);
    const unsigned = { ...event, sequence: records.length, previousHash: last?.hash ?? GENESIS };
    const record: AuditRecord = { ...unsigned, hash: hashOf(unsigned) };
    await mkdir(this.directory, { recursive: true });
    await appendFile(this.file(event.releaseId), `${JSON.stringify(record)}\n`);
    return record;
  }

  private file(releaseId: string): string {
    return path.join(this.directory, `${releaseId}.jsonl`);
  }
}

function hashOf(record: Omit<AuditRecord, 'hash'>): string {
  const { eventId, releaseId, type, actor, at, detail, sequence, previousHash } = record;
  return createHash('sha256')
    .update(JSON.stringify({ eventId, releaseId, type, actor, at, detail, sequence, previousHash }))
    .digest('hex');
}
