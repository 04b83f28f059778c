// `medrelease keys` — the keys a deployment provisions: the payload key ring (AES-256-GCM, every
// Temporal payload) and the audit trail's Ed25519 signing key. Paths come from the configuration
// (MEDRELEASE_CONFIG; defaults under the data directory). Keys are never printed.
//
//   medrelease keys init            make whichever key is missing (never overwrites)
//   medrelease keys rotate-payload  add a new payload key and make it the one that encrypts
//   medrelease keys rotate-audit    retire the audit signing key (its public key is kept) and make a new one
//   medrelease keys show            key ids and files, no key material
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { ensureAuditKey, loadVerifyKeys, publicKeyFileFor } from '../activities/audit/keys.js';
import { auditPaths, ConfigError, loadConfig, payloadKeyFile } from '../domain/config.js';
import { ensureKeyFile, loadKeyRing, rotateKeyFile } from '../security/payload-keys.js';

export const KEYS_USAGE = `usage:
  medrelease keys init             make the payload key ring and the audit signing key if missing
  medrelease keys rotate-payload   add a payload key and make it active (old keys still decrypt)
  medrelease keys rotate-audit     new audit signing key; the old public key is kept for verification
  medrelease keys show             key ids and files (never key material)

The files are those of the configuration (MEDRELEASE_CONFIG): encryption.keyFile, audit.signingKeyFile,
by default under the data directory's keys/. Restart the API and every worker after a rotation.`;

export async function keysMain(argv: string[]): Promise<number> {
  const [command] = argv;
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`medrelease keys: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const payloadFile = payloadKeyFile(config);
  const audit = auditPaths(config);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  switch (command) {
    case 'init': {
      const payload = await ensureKeyFile(payloadFile);
      say(`payload key ring ${payloadFile}: ${payload.created ? 'created' : 'exists, kept'}`);
      const signing = await ensureAuditKey(audit.signingKeyFile);
      say(
        `audit signing key ${audit.signingKeyFile} (${signing.keyId}): ${signing.created ? 'created' : 'exists, kept'}`,
      );
      return 0;
    }
    case 'rotate-payload': {
      const rotated = await rotateKeyFile(payloadFile);
      say(
        `payload key ring ${payloadFile}: ${rotated.active} now encrypts; ${rotated.previous.join(', ')} still decrypt`,
      );
      return 0;
    }
    case 'rotate-audit': {
      if (!existsSync(audit.signingKeyFile)) {
        process.stderr.write(
          `medrelease keys: no audit signing key at ${audit.signingKeyFile}; run 'keys init'\n`,
        );
        return 2;
      }
      const publicFile = publicKeyFileFor(audit.signingKeyFile);
      const [old] = loadVerifyKeys([publicFile]).ids();
      const retired = path.join(
        path.dirname(publicFile),
        `audit-ed25519.${(old ?? 'old').replace(/[^a-z0-9]/gi, '-')}.pub.pem`,
      );
      await rename(publicFile, retired);
      await rename(audit.signingKeyFile, `${audit.signingKeyFile}.retired-${Date.now()}`);
      const fresh = await ensureAuditKey(audit.signingKeyFile);
      say(`audit signing key ${fresh.keyId} now signs; ${old} retired, its public key kept at ${retired}`);
      say(
        `Add ${retired} to audit.publicKeyFiles in the configuration: only the keys you list verify the trail.`,
      );
      say(
        'Delete the retired private key once you have archived it as your policy says; verification needs only the public key.',
      );
      return 0;
    }
    case 'show': {
      const ring = loadKeyRing({ keyFile: payloadFile });
      say(
        `payload keys (${process.env.MEDRELEASE_PAYLOAD_KEYS ? 'MEDRELEASE_PAYLOAD_KEYS' : payloadFile}): active ${ring.active.id}; ${ring.ids().join(', ')}`,
      );
      const keys = loadVerifyKeys(audit.publicKeyFiles.filter((file) => existsSync(file)));
      say(`audit verification keys: ${keys.ids().join(', ') || '(none)'}`);
      return 0;
    }
    default:
      process.stdout.write(`${KEYS_USAGE}\n`);
      return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  }
}
