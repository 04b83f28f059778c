// The two people every benchmark needs: one who requests releases and one clinical approver, with
// a development issuer of the benchmark's own (ephemeral keys) that the workers trust, and the
// benchmark's own payload and audit keys in its data folder.
import { ensureAuditKey } from '../activities/audit/keys.js';
import { auditPaths, payloadKeyFile, type Config } from '../domain/config.js';
import type { Person } from '../domain/release.js';
import { DevIssuer } from '../security/dev-issuer.js';
import { ensureKeyFile } from '../security/payload-keys.js';

export interface BenchIdentity {
  requester: Person;
  approver: Person;
  issuer: DevIssuer;
  /** The approver's access token, which the release verifies before a sign-off counts. */
  approverToken: string;
  /** For the benchmark's configuration (`auth`). */
  auth: { issuer: string; jwksUri: string };
}

export async function startBenchIdentity(): Promise<BenchIdentity> {
  const requester: Person = { id: 'rm-bench', name: 'Bench Release-Manager', roles: ['release-manager'] };
  const approver: Person = { id: 'dr-bench', name: 'Dr Bench Approver', roles: ['clinical-approver'] };
  const issuer = await DevIssuer.start({ users: [requester, approver], audience: 'medrelease-api' });
  // Long enough for the longest benchmark run.
  const approverToken = await issuer.mint(approver.id, { ttlSeconds: 12 * 3600 });
  return {
    requester,
    approver,
    issuer,
    approverToken,
    auth: { issuer: issuer.issuer, jwksUri: issuer.jwksUri },
  };
}

/** Payload and audit keys of the benchmark's configuration. */
export async function ensureBenchKeys(config: Config): Promise<void> {
  await ensureKeyFile(payloadKeyFile(config));
  await ensureAuditKey(auditPaths(config).signingKeyFile);
}
