// The key ring of the payload codec: several AES-256 keys, one of them active. New payloads are
// encrypted with the active key; every key in the ring can still decrypt, so a rotation never makes
// a history written before it unreadable. Keys come from the environment (MEDRELEASE_PAYLOAD_KEYS),
// inline settings or a key file, all in the same JSON shape:
//
//   { "active": "k20261128-3fa2", "keys": [{ "id": "k20261128-3fa2", "key": "<base64 of 32 bytes>", "createdAt": "…" }] }
//
// No message, log line or inspection of a ring ever shows key material.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, type Stats } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

export interface PayloadKey {
  id: string;
  key: Buffer;
}

/** The environment variable that holds a key ring as JSON; it takes precedence over every other source. */
export const PAYLOAD_KEYS_ENV = 'MEDRELEASE_PAYLOAD_KEYS';

const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const KEY_BYTES = 32;
/** Standard base64 with its padding: 32 bytes are exactly 44 characters. */
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class PayloadKeyRing {
  readonly active: PayloadKey;
  readonly #keys: ReadonlyMap<string, PayloadKey>;

  constructor(keys: PayloadKey[], activeId: string) {
    const byId = new Map<string, PayloadKey>();
    for (const key of keys) {
      if (!KEY_ID_PATTERN.test(key.id)) {
        throw new Error(`payload key id ${JSON.stringify(key.id)} must match ${KEY_ID_PATTERN.source}`);
      }
      if (byId.has(key.id)) throw new Error(`payload key id '${key.id}' appears twice`);
      if (key.key.length !== KEY_BYTES) {
        throw new Error(`payload key '${key.id}' has ${key.key.length} bytes; AES-256 needs ${KEY_BYTES}`);
      }
      byId.set(key.id, { id: key.id, key: Buffer.from(key.key) });
    }
    const active = byId.get(activeId);
    if (!active) {
      throw new Error(
        `the active payload key '${activeId}' is not in the ring (keys: ${[...byId.keys()].join(', ') || 'none'})`,
      );
    }
    this.active = active;
    this.#keys = byId;
  }

  get(id: string): PayloadKey | undefined {
    return this.#keys.get(id);
  }

  /** Every key id, in the order the ring was given. */
  ids(): string[] {
    return [...this.#keys.keys()];
  }

  /** JSON.stringify and util.inspect show the ids only, never the keys. */
  toJSON(): { active: string; keyIds: string[] } {
    return { active: this.active.id, keyIds: this.ids() };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PayloadKeyRing { active: '${this.active.id}', keyIds: [${this.ids()
      .map((id) => `'${id}'`)
      .join(', ')}] }`;
  }
}

/**
 * A key ring from its JSON form (already parsed). Every problem is reported at once, each named by
 * `source` and its JSON pointer; the messages never contain key material.
 */
export function parseKeyRing(json: unknown, source: string): PayloadKeyRing {
  const problems: string[] = [];
  const problem = (pointer: string, message: string) => problems.push(`${pointer || '(root)'}: ${message}`);
  if (!isRecord(json)) {
    throw new Error(`${source}: (root): must be an object { "active": "<key id>", "keys": [...] }`);
  }
  const keys: PayloadKey[] = [];
  const firstPointerOf = new Map<string, string>();
  if (!Array.isArray(json.keys) || json.keys.length === 0) {
    problem('/keys', 'must be a non-empty array of { "id", "key", "createdAt" }');
  } else {
    json.keys.forEach((entry: unknown, index) => {
      const at = `/keys/${index}`;
      if (!isRecord(entry)) {
        problem(at, 'must be an object { "id", "key", "createdAt" }');
        return;
      }
      const { id, key, createdAt } = entry;
      let idOk = false;
      if (typeof id !== 'string' || !KEY_ID_PATTERN.test(id)) {
        problem(`${at}/id`, `must be a string matching ${KEY_ID_PATTERN.source}`);
      } else if (firstPointerOf.has(id)) {
        problem(`${at}/id`, `duplicate key id '${id}' (also at ${firstPointerOf.get(id)}/id)`);
      } else {
        firstPointerOf.set(id, at);
        idOk = true;
      }
      let bytes: Buffer | undefined;
      if (typeof key !== 'string' || !BASE64_PATTERN.test(key)) {
        problem(
          `${at}/key`,
          `must be a string: the standard base64 (with padding) of ${KEY_BYTES} random bytes`,
        );
      } else {
        bytes = Buffer.from(key, 'base64');
        if (bytes.length !== KEY_BYTES) {
          problem(`${at}/key`, `must decode to exactly ${KEY_BYTES} bytes (it decodes to ${bytes.length})`);
          bytes = undefined;
        }
      }
      if (createdAt !== undefined && (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt)))) {
        problem(`${at}/createdAt`, 'must be an ISO 8601 date-time when present');
      }
      if (idOk && bytes && typeof id === 'string') keys.push({ id, key: bytes });
    });
  }
  if (typeof json.active !== 'string' || json.active === '') {
    problem('/active', 'must be the id of one of the keys');
  } else if (Array.isArray(json.keys) && !firstPointerOf.has(json.active)) {
    problem(
      '/active',
      `names '${json.active}', which is not one of the keys (${[...firstPointerOf.keys()].join(', ') || 'none'})`,
    );
  }
  if (problems.length > 0) {
    throw new Error(`${source}: invalid payload key ring: ${problems.join('; ')}`);
  }
  return new PayloadKeyRing(keys, json.active as string);
}

/**
 * The key ring from the first source that is set: the environment variable MEDRELEASE_PAYLOAD_KEYS,
 * then `inline` (the JSON value, or a string of it), then `keyFile` (which must be readable by its
 * owner only).
 */
export function loadKeyRing(options: {
  keyFile?: string;
  inline?: unknown;
  env?: NodeJS.ProcessEnv;
}): PayloadKeyRing {
  const env = options.env ?? process.env;
  const fromEnv = env[PAYLOAD_KEYS_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const source = `the environment variable ${PAYLOAD_KEYS_ENV}`;
    return parseKeyRing(parseJson(fromEnv, source), source);
  }
  if (options.inline !== undefined && options.inline !== null) {
    const source = 'the inline payload key settings';
    const value = typeof options.inline === 'string' ? parseJson(options.inline, source) : options.inline;
    return parseKeyRing(value, source);
  }
  if (options.keyFile) return readKeyFileSync(options.keyFile).ring;
  throw new Error(
    'no payload encryption keys are configured. Give them one of three ways: ' +
      `(1) the environment variable ${PAYLOAD_KEYS_ENV} holding the key ring as JSON ` +
      '{"active": "<id>", "keys": [{"id": "<id>", "key": "<base64 of 32 random bytes>"}]}; ' +
      '(2) the same JSON inline in the settings; ' +
      '(3) a key file with that JSON, mode 0600 (ensureKeyFile creates one with a fresh key).',
  );
}

/** Creates a key file with one fresh key, unless the file exists; never overwrites. */
export async function ensureKeyFile(file: string): Promise<{ created: boolean }> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  const id = newKeyId([]);
  const content = serialize({ active: id, keys: [newKeyEntry(id)] });
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { created: false };
    throw error;
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => {});
    // A half-written ring would only be refused later; better no file than that one.
    await unlink(file).catch(() => {});
    throw error;
  }
  return { created: true };
}

/**
 * Adds a fresh key to a key file and makes it the active one; the older keys stay, so payloads they
 * encrypted still decrypt. The new file is written beside the old one (mode 0600) and renamed over it.
 * Every process that decodes payloads must load the new ring before the new key's payloads reach it.
 */
export async function rotateKeyFile(file: string): Promise<{ active: string; previous: string[] }> {
  const { raw, ring } = await readKeyFile(file);
  const previous = ring.ids();
  const id = newKeyId(previous);
  const updated = { ...raw, active: id, keys: [...(raw.keys as unknown[]), newKeyEntry(id)] };
  // The result must load as a ring before it replaces one.
  parseKeyRing(updated, `the rotated key ring for ${file}`);
  const temporary = path.join(
    path.dirname(path.resolve(file)),
    `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(serialize(updated));
    await handle.sync();
    await handle.close();
    await rename(temporary, file);
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temporary).catch(() => {});
    throw error;
  }
  await syncDirectory(path.dirname(path.resolve(file)));
  return { active: id, previous };
}

function readKeyFileSync(file: string): { raw: Record<string, unknown>; ring: PayloadKeyRing } {
  let stats: Stats;
  let text: string;
  try {
    stats = statSync(file);
    checkKeyFileMode(file, stats);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw keyFileError(file, error);
  }
  return parseKeyFile(file, text);
}

async function readKeyFile(file: string): Promise<{ raw: Record<string, unknown>; ring: PayloadKeyRing }> {
  let text: string;
  try {
    checkKeyFileMode(file, await stat(file));
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw keyFileError(file, error);
  }
  return parseKeyFile(file, text);
}

function checkKeyFileMode(file: string, stats: Stats): void {
  if (!stats.isFile()) throw new Error(`the payload key file ${file} is not a regular file`);
  if ((stats.mode & 0o077) !== 0) {
    throw new Error(
      `the payload key file ${file} is accessible by group or others (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}); ` +
        `it holds encryption keys: run \`chmod 600 ${file}\` and keep it owned by the user that runs medrelease`,
    );
  }
}

function keyFileError(file: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new Error(`the payload key file ${file} does not exist`);
  if (code === 'EACCES') return new Error(`the payload key file ${file} cannot be read by this user`);
  return error instanceof Error ? error : new Error(String(error));
}

function parseKeyFile(file: string, text: string): { raw: Record<string, unknown>; ring: PayloadKeyRing } {
  const source = `the payload key file ${file}`;
  const raw = parseJson(text, source);
  const ring = parseKeyRing(raw, source);
  return { raw: raw as Record<string, unknown>, ring };
}

/** JSON.parse whose error never quotes the text (V8's messages include an excerpt of it). */
function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
    throw new Error(`${source} is not valid JSON${position ? ` (at character ${position})` : ''}`);
  }
}

/** `k` + the UTC date + `-` + 4 random hex digits, e.g. k20261128-3fa2; unique within `taken`. */
function newKeyId(taken: string[]): string {
  const date = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  for (;;) {
    const id = `k${date}-${randomBytes(2).toString('hex')}`;
    if (!taken.includes(id)) return id;
  }
}

function newKeyEntry(id: string): { id: string; key: string; createdAt: string } {
  return { id, key: randomBytes(KEY_BYTES).toString('base64'), createdAt: new Date().toISOString() };
}

function serialize(ring: object): string {
  return `${JSON.stringify(ring, null, 2)}\n`;
}

/** Makes a rename durable; best effort (not every file system lets a directory be opened for it). */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The rename itself has happened; only its durability across a power loss is not confirmed.
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
