// The API's read side of the audit trail: the control worker appends (through an idempotent
// activity); the API opens the same SQLite database read-only to list, verify and export records.
// The database appears with the first record, so it is opened on first use.
import { existsSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { loadVerifyKeys } from '../../activities/audit/keys.js';
import { SqliteAuditStore, type AuditRecord, type VerifyResult } from '../../activities/audit/store.js';
import { ApiError } from '../errors.js';

export interface AuditFilter {
  releaseId?: string;
  afterSeq?: number;
  limit?: number;
}

export class AuditService {
  private store: SqliteAuditStore | undefined;

  constructor(private readonly paths: { database: string; publicKeyFiles: string[] }) {}

  records(filter: AuditFilter): AuditRecord[] {
    return this.open()?.records(filter) ?? [];
  }

  verify(): VerifyResult {
    const store = this.open();
    // The control worker creates the database when it starts: a trail that is missing cannot be vouched for.
    if (!store)
      throw new ApiError('AUDIT_UNAVAILABLE', 'there is no audit database (has the control worker run?)');
    let keys;
    try {
      keys = loadVerifyKeys(this.paths.publicKeyFiles.filter((file) => existsSync(file)));
    } catch (error) {
      throw new ApiError(
        'AUDIT_UNAVAILABLE',
        `the audit public keys cannot be read: ${(error as Error).message}`,
      );
    }
    return store.verify(keys);
  }

  async exportJsonl(out: Writable, filter: AuditFilter): Promise<number> {
    const store = this.open();
    if (!store) {
      out.end();
      return 0;
    }
    return store.exportJsonl(out, filter);
  }

  close(): void {
    this.store?.close();
    this.store = undefined;
  }

  private open(): SqliteAuditStore | undefined {
    if (this.store) return this.store;
    if (!existsSync(this.paths.database)) return undefined;
    try {
      this.store = SqliteAuditStore.open(this.paths.database, { readonly: true });
    } catch (error) {
      throw new ApiError(
        'AUDIT_UNAVAILABLE',
        `the audit database cannot be opened: ${(error as Error).message}`,
      );
    }
    return this.store;
  }
}
