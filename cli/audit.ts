// `medrelease audit` — the audit trail on the command line: verify its chain and signatures, export
// it as JSON Lines, apply retention.
//
//   medrelease audit verify [--db FILE] [--public-key FILE ...] [--format text|json]
//   medrelease audit export [--db FILE] [--release ID] [--out FILE]
//   medrelease audit prune  [--db FILE] [--public-key FILE ...] --yes
//
// Exit status: 0 done (verify: the trail is intact), 1 the trail is broken (or the export failed),
// 2 bad usage or a missing or unreadable file (the message names the option).
import { createWriteStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AuditKeyError, loadVerifyKeys, type AuditVerifyKeys } from '../activities/audit/keys.js';
import { AuditStoreError, SqliteAuditStore, type VerifyResult } from '../activities/audit/store.js';

const EXIT = { ok: 0, broken: 1, invalid: 2 } as const;
const PROGRESS_EVERY = 50_000;

export const AUDIT_USAGE = `usage:
  medrelease audit verify [--db FILE] [--public-key FILE ...] [--format text|json]
  medrelease audit export [--db FILE] [--release ID] [--out FILE]
  medrelease audit prune  [--db FILE] [--public-key FILE ...] --yes

options:
  --db <file>          the audit database (default <data>/audit/audit.sqlite)
  --public-key <file>  an Ed25519 public key (SPKI PEM) the records were signed with; repeat it for the
                       keys of earlier rotations (default <data>/keys/audit-ed25519.pub.pem)
  --format <f>         verify: text (default) or json (the verification result)
  --release <id>       export: only this release's records
  --out <file>         export: write JSON Lines there instead of standard output
  --yes                prune: confirm removing the records past their retention (the trail is
                       verified first; a broken trail is not pruned)

<data> is $MEDRELEASE_DATA_DIR or .data in the current directory.
exit status: 0 ok / intact, 1 broken, 2 bad usage or missing file`;

class UsageError extends Error {}

export interface AuditIo {
  stdout: NodeJS.WritableStream;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const processIo: AuditIo = {
  stdout: process.stdout,
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

function dataDir(env: NodeJS.ProcessEnv): string {
  return path.resolve(env.MEDRELEASE_DATA_DIR || '.data');
}

function databaseFile(value: string | undefined, env: NodeJS.ProcessEnv): string {
  const file = value ?? path.join(dataDir(env), 'audit', 'audit.sqlite');
  if (!existsSync(file))
    throw new UsageError(
      value === undefined
        ? `--db: no audit database at the default ${file}; give --db FILE`
        : `--db: no audit database at ${file}`,
    );
  return file;
}

function verifyKeys(
  values: string[] | undefined,
  env: NodeJS.ProcessEnv,
): AuditVerifyKeys & { ids(): string[] } {
  const files =
    values && values.length > 0 ? values : [path.join(dataDir(env), 'keys', 'audit-ed25519.pub.pem')];
  for (const file of files)
    if (!existsSync(file))
      throw new UsageError(
        values === undefined
          ? `--public-key: no public key at the default ${file}; give --public-key FILE`
          : `--public-key: no public key file ${file}`,
      );
  try {
    return loadVerifyKeys(files);
  } catch (error) {
    if (error instanceof AuditKeyError) throw new UsageError(`--public-key: ${error.message}`);
    throw error;
  }
}

function openStore(file: string, readonly: boolean): SqliteAuditStore {
  try {
    return SqliteAuditStore.open(file, { readonly });
  } catch (error) {
    if (error instanceof AuditStoreError) throw new UsageError(`--db: ${error.message}`);
    throw error;
  }
}

function brokenLine(result: Extract<VerifyResult, { ok: false }>): string {
  const { seq, eventId, message } = result.firstBroken;
  const prefix = `record ${seq}: `;
  const what = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  return `audit trail BROKEN at record ${seq} (event ${eventId ?? 'unknown'}): ${what}`;
}

function runVerify(
  store: SqliteAuditStore,
  keys: AuditVerifyKeys,
  io: AuditIo,
): VerifyResult | { ok: false; unreadable: string } {
  try {
    return store.verify(keys, {
      progressEvery: PROGRESS_EVERY,
      onProgress: (checked) =>
        io.stderr(`audit verify: ${checked.toLocaleString('en-US')} records checked…\n`),
    });
  } catch (error) {
    // A database SQLite itself cannot read (corrupted pages, a dropped table) is a broken trail too.
    return { ok: false, unreadable: (error as Error).message };
  }
}

function verify(argv: string[], io: AuditIo): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      db: { type: 'string' },
      'public-key': { type: 'string', multiple: true },
      format: { type: 'string', default: 'text' },
    },
  });
  if (values.format !== 'text' && values.format !== 'json')
    throw new UsageError(`--format must be text or json (got '${values.format}')`);
  const file = databaseFile(values.db, io.env);
  const keys = verifyKeys(values['public-key'], io.env);
  const store = openStore(file, true);
  let result: ReturnType<typeof runVerify>;
  try {
    result = runVerify(store, keys, io);
  } finally {
    store.close();
  }
  if ('unreadable' in result) {
    io.stdout.write(
      values.format === 'json'
        ? `${JSON.stringify({ ok: false, records: 0, unreadable: result.unreadable }, null, 2)}\n`
        : `audit trail BROKEN: the database cannot be read: ${result.unreadable}\n`,
    );
    return EXIT.broken;
  }
  if (values.format === 'json') io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else if (result.ok) {
    io.stdout.write(
      `audit trail intact: ${result.records} records, last seq ${result.lastSeq}, hash ${result.lastHash}\n` +
        (result.checkpoint
          ? `  records up to seq ${result.checkpoint.seq} were pruned at ${result.checkpoint.at}; the chain continues from that checkpoint\n`
          : '') +
        (result.keyIds.length > 0 ? `  signed with ${result.keyIds.join(', ')}\n` : ''),
    );
  } else io.stdout.write(`${brokenLine(result)}\n  ${result.records} records before it verified\n`);
  return result.ok ? EXIT.ok : EXIT.broken;
}

async function exportRecords(argv: string[], io: AuditIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { db: { type: 'string' }, release: { type: 'string' }, out: { type: 'string' } },
  });
  if (values.release === '') throw new UsageError('--release needs a release id');
  const file = databaseFile(values.db, io.env);
  if (values.out !== undefined && !existsSync(path.dirname(path.resolve(values.out))))
    throw new UsageError(`--out: the directory of ${values.out} does not exist`);
  const store = openStore(file, true);
  const filter = values.release === undefined ? {} : { releaseId: values.release };
  try {
    if (values.out === undefined) {
      const count = await store.exportJsonl(io.stdout, filter);
      io.stderr(`exported ${count} records\n`);
      return EXIT.ok;
    }
    const out = createWriteStream(values.out);
    const failed = once(out, 'error').then(([error]) => Promise.reject(error as Error));
    failed.catch(() => undefined); // observed below through Promise.race
    const count = await Promise.race([store.exportJsonl(out, filter), failed]);
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
    io.stderr(`exported ${count} records to ${values.out}\n`);
    return EXIT.ok;
  } catch (error) {
    io.stderr(`medrelease audit: export failed: ${(error as Error).message}\n`);
    return EXIT.broken;
  } finally {
    store.close();
  }
}

function prune(argv: string[], io: AuditIo): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      db: { type: 'string' },
      'public-key': { type: 'string', multiple: true },
      yes: { type: 'boolean', default: false },
    },
  });
  if (!values.yes)
    throw new UsageError('prune removes the records past their retention for good: add --yes to confirm');
  const file = databaseFile(values.db, io.env);
  const keys = verifyKeys(values['public-key'], io.env);
  const store = openStore(file, false);
  try {
    const result = runVerify(store, keys, io);
    if (!result.ok) {
      io.stdout.write(
        `${'unreadable' in result ? `audit trail BROKEN: the database cannot be read: ${result.unreadable}` : brokenLine(result)}\n` +
          '  not pruning a broken trail: that would remove the evidence\n',
      );
      return EXIT.broken;
    }
    const { removed, anchor } = store.prune(new Date());
    io.stdout.write(
      anchor
        ? `pruned ${removed} records (up to seq ${anchor.seq}, retained until before ${anchor.cutoff}); checkpoint seq ${anchor.seq}, hash ${anchor.hash}\n`
        : 'nothing to prune: the first record is still under retention\n',
    );
    return EXIT.ok;
  } finally {
    store.close();
  }
}

/** Runs `medrelease audit …`: verify and prune finish synchronously, export returns a promise. */
export function audit(argv: string[], io: AuditIo = processIo): number | Promise<number> {
  const [command, ...rest] = argv;
  const invalid = (error: unknown): number => {
    if (error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`medrelease audit: ${(error as Error).message}\n`);
      return EXIT.invalid;
    }
    throw error;
  };
  try {
    switch (command) {
      case 'verify':
        return verify(rest, io);
      case 'export':
        return exportRecords(rest, io).catch(invalid);
      case 'prune':
        return prune(rest, io);
      case '-h':
      case '--help':
      case 'help':
        io.stdout.write(`${AUDIT_USAGE}\n`);
        return EXIT.ok;
      case undefined:
        throw new UsageError(`audit needs a command: verify, export or prune\n${AUDIT_USAGE}`);
      default:
        throw new UsageError(`unknown audit command '${command}'\n${AUDIT_USAGE}`);
    }
  } catch (error) {
    return invalid(error);
  }
}

/**
 * For the synchronous `main` of cli/medrelease.ts: returns the exit status of verify and prune; an
 * export is still running when this returns 0, and it sets process.exitCode when it ends.
 */
export function auditMain(argv: string[]): number {
  const result = audit(argv);
  if (typeof result === 'number') return result;
  result.then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `medrelease audit: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = EXIT.broken;
    },
  );
  return EXIT.ok;
}
