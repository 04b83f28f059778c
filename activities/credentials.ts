// Who is calling: API tokens from the users file (until OpenID Connect replaces them). The same
// verifier serves the API and the credential carried by a sign-off signal, so a person is one
// person whichever way they act. Tokens are compared as SHA-256 digests in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Person } from '../domain/release.js';

const Role = Type.Union([
  Type.Literal('release-manager'),
  Type.Literal('clinical-approver'),
  Type.Literal('operator'),
  Type.Literal('auditor'),
  Type.Literal('viewer'),
  Type.Literal('regulatory-qa'),
  Type.Literal('security'),
]);
const UsersFile = Type.Object({
  users: Type.Array(
    Type.Object({
      id: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{1,62}$' }),
      name: Type.String({ minLength: 1 }),
      roles: Type.Array(Role, { minItems: 1 }),
      token: Type.String({ minLength: 24 }),
    }),
  ),
});
const compiledUsersFile = Compile(UsersFile);

export type Verification = { valid: true; person: Person } | { valid: false; reason: string };

export class TokenVerifier {
  private readonly users: { person: Person; digest: Buffer }[];

  constructor(users: { id: string; name: string; roles: Person['roles']; token: string }[]) {
    this.users = users.map((user) => ({
      person: { id: user.id, name: user.name, roles: user.roles },
      digest: digest(user.token),
    }));
  }

  static fromFile(file: string): TokenVerifier {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`users file ${file} cannot be read: ${(error as Error).message}`);
    }
    const errors = compiledUsersFile.Errors(raw);
    if (errors.length > 0) {
      throw new Error(
        `users file ${file} is invalid: ${errors.map((error) => `${error.instancePath || '/'} ${error.message}`).join('; ')}`,
      );
    }
    return new TokenVerifier(compiledUsersFile.Parse(raw).users);
  }

  verify(token: string | undefined): Verification {
    if (!token) return { valid: false, reason: 'no credential was presented' };
    const presented = digest(token);
    const match = this.users.find((user) => timingSafeEqual(user.digest, presented));
    return match
      ? { valid: true, person: match.person }
      : { valid: false, reason: 'the credential is not valid' };
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
