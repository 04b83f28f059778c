// The audit trail's signing keys: one Ed25519 key pair signs every record's hash, so that someone who
// can write the database but does not hold the private key cannot rewrite history and recompute the
// chain. The private key lives in a PKCS#8 PEM file readable by its owner only; the public key (SPKI
// PEM) sits next to it and is all that verification needs. Rotation: a new key signs new records,
// verification is given every public key that ever signed (records name their key by id).
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';

export interface AuditSigner {
  /** 'ed25519:' + the first 16 hex digits of the SHA-256 of the public key's SPKI DER. */
  keyId: string;
  /** The Ed25519 signature (64 bytes) of a record's hash (the 32 raw bytes). */
  sign(hash: Buffer): Buffer;
}

/** The public keys verification accepts, by key id (several during and after a rotation). */
export interface AuditVerifyKeys {
  get(keyId: string): KeyObject | undefined;
}

export class AuditKeyError extends Error {}

export function keyIdOf(publicKey: KeyObject): string {
  const key = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  if (key.asymmetricKeyType !== 'ed25519')
    throw new AuditKeyError(`audit keys are Ed25519 keys, not ${key.asymmetricKeyType ?? key.type}`);
  const der = key.export({ type: 'spki', format: 'der' });
  return `ed25519:${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
}

/** `keys/audit-ed25519.pem` → `keys/audit-ed25519.pub.pem` (a `.pem` or `.key` extension is replaced). */
export function publicKeyFileFor(privateKeyFile: string): string {
  const extension = path.extname(privateKeyFile);
  const stem = ['.pem', '.key'].includes(extension)
    ? privateKeyFile.slice(0, -extension.length)
    : privateKeyFile;
  return `${stem}.pub.pem`;
}

/** A signer over a private key held in memory (tests, benchmarks); files go through loadAuditSigner. */
export function createAuditSigner(privateKey: KeyObject): AuditSigner {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519')
    throw new AuditKeyError('an audit signer needs an Ed25519 private key');
  const keyId = keyIdOf(privateKey);
  return { keyId, sign: (hash) => sign(null, hash, privateKey) };
}

/** Verification keys from public KeyObjects (tests, benchmarks); files go through loadVerifyKeys. */
export function verifyKeysFrom(publicKeys: KeyObject[]): AuditVerifyKeys & { ids(): string[] } {
  const byId = new Map<string, KeyObject>();
  for (const key of publicKeys) {
    const publicKey = key.type === 'private' ? createPublicKey(key) : key;
    byId.set(keyIdOf(publicKey), publicKey);
  }
  return { get: (keyId) => byId.get(keyId), ids: () => [...byId.keys()].sort() };
}

/**
 * Creates the audit signing key unless the file exists: the private key as PKCS#8 PEM (mode 0600),
 * the public key as SPKI PEM next to it (`<name>.pub.pem`, mode 0644). The private key is written
 * to a temporary file opened 'wx' and then hard-linked to its name, which fails rather than replace
 * an existing file: two processes racing here end up with one key, and nobody ever reads a
 * half-written one. A missing public key file of an existing private key is written again.
 */
export async function ensureAuditKey(privateKeyFile: string): Promise<{ created: boolean; keyId: string }> {
  const publicFile = publicKeyFileFor(privateKeyFile);
  await mkdir(path.dirname(path.resolve(privateKeyFile)), { recursive: true, mode: 0o700 });
  let created = false;
  let privateKey: KeyObject;
  if (existsSync(privateKeyFile)) privateKey = readPrivateKey(privateKeyFile);
  else {
    const fresh = generateKeyPairSync('ed25519');
    const temporary = `${privateKeyFile}.${process.pid}.${Date.now()}.tmp`;
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(fresh.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      await handle.chmod(0o600);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temporary, privateKeyFile);
      created = true;
      privateKey = fresh.privateKey;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      privateKey = readPrivateKey(privateKeyFile); // another process won the race
    } finally {
      await unlink(temporary);
    }
  }
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  let existingPublic: string | undefined;
  try {
    existingPublic = await readFile(publicFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (existingPublic === undefined) {
    const publicHandle = await open(publicFile, 'wx', 0o644).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return undefined; // another process wrote it meanwhile
      throw error;
    });
    if (publicHandle) {
      try {
        await publicHandle.writeFile(publicPem);
        await publicHandle.sync();
      } finally {
        await publicHandle.close();
      }
      await chmod(publicFile, 0o644);
    }
  } else if (existingPublic.trim() !== publicPem.trim()) {
    throw new AuditKeyError(
      `the public key ${publicFile} does not belong to the private key ${privateKeyFile}; move it away`,
    );
  }
  return { created, keyId: keyIdOf(privateKey) };
}

function readPrivateKey(file: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new AuditKeyError(`cannot read the audit private key ${file}: ${(error as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new AuditKeyError(`${file} is not a PEM private key: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new AuditKeyError(`${file} holds a ${key.asymmetricKeyType} key; the audit key is Ed25519`);
  return key;
}

/** The signer of the private key file; refuses a file that its group or others may read. */
export function loadAuditSigner(privateKeyFile: string): AuditSigner {
  let mode: number;
  try {
    mode = statSync(privateKeyFile).mode;
  } catch (error) {
    throw new AuditKeyError(
      `cannot read the audit private key ${privateKeyFile}: ${(error as Error).message}`,
    );
  }
  if ((mode & 0o077) !== 0)
    throw new AuditKeyError(
      `the audit private key ${privateKeyFile} is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); ` +
        `run chmod 600 ${privateKeyFile}`,
    );
  return createAuditSigner(readPrivateKey(privateKeyFile));
}

/** The public keys in these SPKI PEM files, by key id; errors name the file. */
export function loadVerifyKeys(publicKeyFiles: string[]): AuditVerifyKeys & { ids(): string[] } {
  const keys: KeyObject[] = [];
  for (const file of publicKeyFiles) {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (error) {
      throw new AuditKeyError(`cannot read the audit public key ${file}: ${(error as Error).message}`);
    }
    if (pem.includes('PRIVATE KEY'))
      throw new AuditKeyError(`${file} holds a private key; give the public key (.pub.pem) for verification`);
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (error) {
      throw new AuditKeyError(`${file} is not a PEM public key: ${(error as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519')
      throw new AuditKeyError(`${file} holds a ${key.asymmetricKeyType} key; audit keys are Ed25519`);
    keys.push(key);
  }
  return verifyKeysFrom(keys);
}
