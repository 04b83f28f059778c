// The embedded default's identities and keys: the development OpenID Connect issuer with the demo
// users, their tokens (written for `npm run demo` and for curl), and the payload and audit keys made
// at first start. None of this is for production: a deployment names its identity provider and
// provisions its keys (docs/identity-and-keys.md).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureAuditKey } from '../activities/audit/keys.js';
import { auditPaths, payloadKeyFile, type Config } from '../domain/config.js';
import { DevIssuer } from '../security/dev-issuer.js';
import { ensureKeyFile } from '../security/payload-keys.js';

/** Demo users of the embedded default, with the roles the README lists. */
export const DEMO_USERS = [
  { id: 'rm-alice', name: 'Alice Moreau (release manager)', roles: ['release-manager'] },
  { id: 'dr-bob', name: 'Dr Bob Okafor (clinical approver)', roles: ['clinical-approver'] },
  { id: 'dr-carol', name: 'Dr Carol Lindqvist (clinical approver)', roles: ['clinical-approver'] },
  { id: 'op-dave', name: 'Dave Novak (operator)', roles: ['operator'] },
  { id: 'au-erin', name: 'Erin Walsh (auditor)', roles: ['auditor', 'viewer'] },
  { id: 'qa-fatima', name: 'Fatima Haddad (regulatory QA)', roles: ['regulatory-qa'] },
  { id: 'sec-gustav', name: 'Gustav Berg (security)', roles: ['security'] },
];

/** Demo tokens live this long; `npm start` mints new ones at every start. */
const DEMO_TOKEN_TTL_SECONDS = 12 * 3600;

export interface DevTokens {
  issuer: string;
  expiresAt: string;
  users: { id: string; name: string; roles: string[]; token: string }[];
}

export function devTokensFile(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'dev-issuer', 'tokens.json');
}

/** Payload and audit keys of this configuration, made if missing (never overwritten). */
export async function ensureLocalKeys(config: Config): Promise<string[]> {
  const made: string[] = [];
  const payload = payloadKeyFile(config);
  if (!process.env.MEDRELEASE_PAYLOAD_KEYS && (await ensureKeyFile(payload)).created) made.push(payload);
  const { signingKeyFile } = auditPaths(config);
  if ((await ensureAuditKey(signingKeyFile)).created) made.push(signingKeyFile);
  return made;
}

/**
 * Starts the development issuer on loopback (its signing key made at first start under the data
 * directory), points `config.auth` at it and writes the demo users' tokens.
 */
export async function startDevIdentity(
  config: Config,
  options: { port: number; apiPort: number },
): Promise<{ issuer: DevIssuer; tokensFile: string }> {
  if (process.env.NODE_ENV === 'production') {
    throw new Error(
      'NODE_ENV=production: the development issuer does not run in production; set auth.issuer (MEDRELEASE_OIDC_ISSUER) to your identity provider',
    );
  }
  const issuer = await DevIssuer.start({
    users: DEMO_USERS,
    audience: config.auth.audience,
    keyFile: path.join(config.dataDir, 'keys', 'dev-issuer-signing.jwk.json'),
    port: options.port,
    tokenTtlSeconds: DEMO_TOKEN_TTL_SECONDS,
    clients: [
      {
        clientId: config.auth.browserClientId,
        redirectUris: ['127.0.0.1', 'localhost'].map(
          (host) => `http://${host}:${options.apiPort}/auth/callback`,
        ),
      },
    ],
  });
  config.auth.issuer = issuer.issuer;
  config.auth.jwksUri = issuer.jwksUri;
  const tokens: DevTokens = {
    issuer: issuer.issuer,
    expiresAt: new Date(Date.now() + DEMO_TOKEN_TTL_SECONDS * 1000).toISOString(),
    users: await Promise.all(
      DEMO_USERS.map(async (user) => ({ ...user, token: await issuer.mint(user.id) })),
    ),
  };
  const tokensFile = devTokensFile(config);
  await mkdir(path.dirname(tokensFile), { recursive: true, mode: 0o700 });
  await writeFile(tokensFile, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  return { issuer, tokensFile };
}

export async function readDevTokens(file: string): Promise<DevTokens> {
  return JSON.parse(await readFile(file, 'utf8')) as DevTokens;
}
