// The two people every benchmark needs: one who requests releases and one clinical approver, written
// to a users file with fresh random tokens (the control worker verifies sign-offs against it).
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Person } from '../domain/release.js';

export async function writeBenchUsers(
  dataDir: string,
): Promise<{ requester: Person; approver: Person; usersFile: string }> {
  const requester: Person = { id: 'rm-bench', name: 'Bench Release-Manager', roles: ['release-manager'] };
  const approver: Person = { id: 'dr-bench', name: 'Dr Bench Approver', roles: ['clinical-approver'] };
  const usersFile = path.join(dataDir, 'users.json');
  const users = [requester, approver].map((person) => ({
    ...person,
    token: randomBytes(24).toString('base64url'),
  }));
  await writeFile(usersFile, JSON.stringify({ users }));
  return { requester, approver, usersFile };
}
