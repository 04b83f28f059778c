// Who is calling: OpenID Connect access tokens (signed JWTs) from the hospital's identity provider.
// The verifier checks the signature against the issuer's published keys (JWKS, discovered from the
// issuer when not configured, refetched when an unknown key id appears so key rotation just works),
// then the issuer, audience and validity window, and maps the provider's role claim onto
// medrelease's roles. The same verifier serves the API and the credential carried by a sign-off
// signal. Refusals carry a short reason for the caller and the log; a reason never contains the token.
// In development and tests the tokens come from security/dev-issuer.ts, which must never be used in
// production: there, the issuer is the hospital's identity provider.
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Person, Role } from '../domain/release.js';

/** Every medrelease role, in the order of domain/release.ts. */
export const ROLES: readonly Role[] = [
  'release-manager',
  'clinical-approver',
  'operator',
  'auditor',
  'viewer',
  'regulatory-qa',
  'security',
];

export interface OidcSettings {
  /** The exact `iss` expected, e.g. https://login.example.org/realms/hospital. */
  issuer: string;
  /** The `aud` required (the token's aud is this string or an array containing it). */
  audience: string;
  /** The issuer's JWKS; when absent, discovered from `${issuer}/.well-known/openid-configuration`. */
  jwksUri?: string;
  /** Dot path to the roles in the claims ('roles', 'realm_access.roles'): an array of strings, or one space or comma separated string. */
  rolesClaim: string;
  /** Identity provider value -> medrelease roles; an unmapped value counts as itself if it is a medrelease role. */
  roleMap: Record<string, string[]>;
  /** The claim naming the person ('preferred_username'); `sub` when the token lacks it. */
  userClaim: string;
  /** The claim with the display name ('name'); the person id when the token lacks it. */
  nameClaim: string;
  /** Clock skew tolerated for exp, nbf and iat, in seconds (at most 300). */
  clockToleranceSeconds: number;
  /** The JWS algorithms accepted; 'none' and the HMAC algorithms (HS*) are refused at construction. */
  algorithms: string[];
}

export type Verification =
  { valid: true; person: Person; expiresAt: string } | { valid: false; reason: string };

export interface CredentialVerifier {
  verify(token: string | undefined): Promise<Verification>;
}

export interface OidcVerifierOptions {
  /** Timeout of each discovery or JWKS request; default 5000 ms. */
  fetchTimeoutMs?: number;
  /** The clock (tests); default the system clock. */
  now?: () => Date;
  /** How long after a JWKS fetch an unknown key id may trigger another fetch; default 10 s. */
  jwksCooldownMs?: number;
}

const MAX_TOKEN_LENGTH = 16_384;
const PERSON_ID = /^[^\s\p{C}]{1,128}$/u;

/** The claim at a dot path ('realm_access.roles'); a claim whose own name is the whole path wins. */
export function claimAt(claims: Record<string, unknown>, dotPath: string): unknown {
  if (Object.hasOwn(claims, dotPath)) return claims[dotPath];
  let value: unknown = claims;
  for (const segment of dotPath.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    if (!Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** The issuer's keys could not be obtained (discovery or JWKS fetch failed). */
class KeysUnavailable extends Error {}

export class OidcVerifier implements CredentialVerifier {
  private readonly settings: OidcSettings;
  private readonly roleMap: Map<string, Role[]>;
  private readonly fetchTimeoutMs: number;
  private readonly cooldownMs: number;
  private readonly now: () => Date;
  private keySet: Promise<JWTVerifyGetKey> | undefined;

  constructor(settings: OidcSettings, options: OidcVerifierOptions = {}) {
    const problem = settingsProblem(settings);
    if (problem) throw new Error(`OIDC settings: ${problem}`);
    this.settings = { ...settings, algorithms: [...settings.algorithms] };
    this.roleMap = new Map(
      Object.entries(settings.roleMap).map(([value, roles]) => [value, roles as Role[]] as const),
    );
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5000;
    this.cooldownMs = options.jwksCooldownMs ?? 10_000;
    this.now = options.now ?? (() => new Date());
    if (!Number.isInteger(this.fetchTimeoutMs) || this.fetchTimeoutMs <= 0) {
      throw new Error('OIDC settings: fetchTimeoutMs must be a positive integer');
    }
  }

  async verify(token: string | undefined): Promise<Verification> {
    if (!token) return refuse('no credential was presented');
    if (token.length > MAX_TOKEN_LENGTH) return refuse('the token is too long');
    if (token.split('.').length !== 3) return refuse('the token is not a signed JWT');
    let alg: unknown;
    let kid: unknown;
    try {
      ({ alg, kid } = decodeProtectedHeader(token));
    } catch {
      return refuse('the token is not a signed JWT');
    }
    if (typeof alg !== 'string' || !this.settings.algorithms.includes(alg)) {
      return refuse(`the algorithm ${printable(alg)} is not accepted`);
    }
    const currentDate = this.now();
    let claims: JWTPayload;
    try {
      const getKey = await this.keys();
      ({ payload: claims } = await jwtVerify(token, getKey, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: this.settings.algorithms,
        clockTolerance: this.settings.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
        currentDate,
      }));
    } catch (error) {
      return refuse(this.describe(error, kid));
    }
    const nowSeconds = Math.floor(currentDate.getTime() / 1000);
    if (typeof claims.iat === 'number' && claims.iat > nowSeconds + this.settings.clockToleranceSeconds) {
      return refuse('the token was issued in the future (iat)');
    }
    if (typeof claims.sub !== 'string' || !PERSON_ID.test(claims.sub)) {
      return refuse('the token has no valid sub claim');
    }
    const idClaim = claimAt(claims, this.settings.userClaim) === undefined ? 'sub' : this.settings.userClaim;
    const id = claimAt(claims, idClaim);
    if (typeof id !== 'string' || !PERSON_ID.test(id)) {
      return refuse(`the token's ${idClaim} claim is not a valid person id`);
    }
    const name = claimAt(claims, this.settings.nameClaim);
    const person: Person = {
      id,
      name: typeof name === 'string' && /^[^\p{C}]{1,256}$/u.test(name.trim()) ? name.trim() : id,
      roles: this.rolesOf(claimAt(claims, this.settings.rolesClaim)),
    };
    return { valid: true, person, expiresAt: new Date((claims.exp as number) * 1000).toISOString() };
  }

  private rolesOf(claim: unknown): Role[] {
    const values =
      typeof claim === 'string'
        ? claim.split(/[\s,]+/)
        : Array.isArray(claim)
          ? claim.filter((value): value is string => typeof value === 'string')
          : [];
    const roles = new Set<Role>();
    for (const value of values) {
      const mapped = this.roleMap.get(value) ?? (ROLES.includes(value as Role) ? [value as Role] : []);
      for (const role of mapped) roles.add(role);
    }
    return ROLES.filter((role) => roles.has(role));
  }

  /** The key resolver, created at the first verification (after discovery, when needed). */
  private keys(): Promise<JWTVerifyGetKey> {
    if (!this.keySet) {
      const keySet = this.jwksUri().then((uri) => {
        const remote = createRemoteJWKSet(new URL(uri), {
          timeoutDuration: this.fetchTimeoutMs,
          cooldownDuration: this.cooldownMs,
          cacheMaxAge: 10 * 60_000,
        });
        const getKey: JWTVerifyGetKey = async (header, token) => {
          try {
            return await remote(header, token);
          } catch (error) {
            // A key that is not there or does not fit is the token's problem; the rest (network,
            // timeout, not 200, not a JWKS) means the issuer's keys are out of reach.
            const tokenProblem =
              error instanceof errors.JWKSNoMatchingKey ||
              error instanceof errors.JWKSMultipleMatchingKeys ||
              error instanceof errors.JOSENotSupported ||
              error instanceof errors.JWKInvalid;
            if (tokenProblem) throw error;
            throw new KeysUnavailable(`${uri}: ${errorText(error)}`);
          }
        };
        return getKey;
      });
      // A failed discovery is not remembered: the next verification tries again.
      void keySet.catch(() => {
        if (this.keySet === keySet) this.keySet = undefined;
      });
      this.keySet = keySet;
    }
    return this.keySet;
  }

  private async jwksUri(): Promise<string> {
    if (this.settings.jwksUri) return this.settings.jwksUri;
    const url = `${this.settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let document: unknown;
    try {
      const response = await fetch(url, {
        headers: { accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(this.fetchTimeoutMs),
      });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      document = await response.json();
    } catch (error) {
      throw new KeysUnavailable(`discovery at ${url} failed: ${errorText(error)}`);
    }
    const { issuer, jwks_uri: jwksUri } = (document ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
    if (issuer !== this.settings.issuer) {
      throw new KeysUnavailable(`the discovery document at ${url} names the issuer ${printable(issuer)}`);
    }
    if (typeof jwksUri !== 'string' || !isHttpUrl(jwksUri)) {
      throw new KeysUnavailable(`the discovery document at ${url} has no valid jwks_uri`);
    }
    return jwksUri;
  }

  private describe(error: unknown, kid: unknown): string {
    if (error instanceof KeysUnavailable) return `the issuer's keys cannot be fetched: ${error.message}`;
    if (error instanceof errors.JWTExpired) return 'the token has expired';
    if (error instanceof errors.JWTClaimValidationFailed) {
      if (error.reason === 'missing') return `the token has no ${error.claim} claim`;
      if (error.claim === 'nbf' && error.reason === 'check_failed') return 'the token is not yet valid';
      if (error.claim === 'iss') {
        return `the token was issued by ${printable(error.payload.iss)}, not ${this.settings.issuer}`;
      }
      if (error.claim === 'aud') return `the token is not for this audience (${this.settings.audience})`;
      return `the token's ${printable(error.claim)} claim is not valid`;
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
    if (error instanceof errors.JWKSNoMatchingKey) {
      return `no key ${kid === undefined ? '(the token names none)' : printable(kid)} at the issuer's JWKS`;
    }
    if (error instanceof errors.JWKSMultipleMatchingKeys) {
      return "the token names no key id and several keys at the issuer's JWKS match";
    }
    if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
      return 'the token algorithm or key type is not accepted';
    }
    if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
      return 'the token is not a signed JWT';
    }
    return 'the token cannot be verified';
  }
}

function refuse(reason: string): Verification {
  return { valid: false, reason };
}

function settingsProblem(settings: OidcSettings): string | undefined {
  if (!isHttpUrl(settings.issuer)) return `issuer ${printable(settings.issuer)} is not an http(s) URL`;
  if (!settings.audience) return 'audience is empty';
  if (settings.jwksUri !== undefined && !isHttpUrl(settings.jwksUri)) {
    return `jwksUri ${printable(settings.jwksUri)} is not an http(s) URL`;
  }
  for (const name of ['rolesClaim', 'userClaim', 'nameClaim'] as const) {
    if (!settings[name]) return `${name} is empty`;
  }
  const tolerance = settings.clockToleranceSeconds;
  if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance > 300) {
    return 'clockToleranceSeconds must be between 0 and 300';
  }
  if (settings.algorithms.length === 0) return 'algorithms is empty';
  const refused = settings.algorithms.find((alg) => alg.toLowerCase() === 'none' || /^hs/i.test(alg));
  if (refused !== undefined) return `the algorithm ${refused} must never be accepted`;
  for (const [value, roles] of Object.entries(settings.roleMap)) {
    const unknown = roles.find((role) => !ROLES.includes(role as Role));
    if (unknown !== undefined) return `roleMap maps ${value} to ${unknown}, which is not a medrelease role`;
  }
  return undefined;
}

function isHttpUrl(value: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** An untrusted value, shortened and stripped of control characters, for a reason text. */
function printable(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const clean = text.replace(/\p{C}/gu, '?');
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}

function errorText(error: unknown): string {
  if (error instanceof errors.JWKSTimeout) return 'timed out';
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'timed out';
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
