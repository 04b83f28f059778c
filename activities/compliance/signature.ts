// The compliance gate's own check of a model image's sigstore signature, fully offline. A bundle passes
// when it signs the image digest, by a trusted key or by a certificate from a trusted CA whose signer
// identity and OIDC issuer are trusted, and is recorded in a trusted transparency log at a time when
// all of that was valid. The cryptography (certificate chain, signature, signed entry timestamp, Merkle
// inclusion proof, signed checkpoint) is @sigstore/verify's; this file turns the gate's trust policy
// into its trust material, binds the bundle to the digest and the signer to the policy, and reports
// every check in words as evidence. Pure: no network, no files, no clock unless `now` is omitted.
//
// What a bundle must sign, given only the image digest (the gate never has the image's bytes):
// - a message signature whose signed message is the digest text itself, the UTF-8 bytes of
//   'sha256:<hex>' (so messageDigest = sha256('sha256:<hex>')), as `cosign sign-blob --bundle` or
//   sigstore-js make for a file holding exactly that text; or
// - a DSSE envelope with an in-toto statement (application/vnd.in-toto+json) whose subject list has
//   the digest, as `cosign attest` or GitHub artifact attestations make.
// A message signature whose messageDigest is the image digest itself signs the image's bytes; checking
// it needs those bytes (Node's crypto has no ECDSA verification of a pre-hashed digest), so such a
// bundle is refused with that explanation rather than half-checked.
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { bundleFromJSON, ValidationError, type Bundle, type TransparencyLogEntry } from '@sigstore/bundle';
import {
  HashAlgorithm,
  PublicKeyDetails,
  type TransparencyLogInstance,
  type TrustedRoot,
} from '@sigstore/protobuf-specs';
import {
  toSignedEntity,
  toTrustMaterial,
  VerificationError,
  Verifier,
  type KeyFinderFunc,
  type Signer,
  type TrustMaterial,
} from '@sigstore/verify';

/** Trust policy for artifact signatures: plain data (PEM strings), JSON/YAML-serialisable, no private keys. */
export interface SigningTrust {
  /** Keyless (Fulcio-style): certificate authorities whose leaf certificates carry the signer identity */
  certificateAuthorities?: { name?: string; certChainPem: string[]; validFrom?: string; validTo?: string }[];
  /** Keyed signing (cosign --key style): public keys by key id (the bundle's publicKey hint) */
  publicKeys?: { keyId: string; publicKeyPem: string; validFrom?: string; validTo?: string }[];
  /** Transparency logs (Rekor-style) whose signed entry timestamps / checkpoints are trusted */
  transparencyLogs: {
    name?: string;
    baseUrl: string;
    publicKeyPem: string;
    validFrom?: string;
    validTo?: string;
  }[];
  /** Certificate-transparency logs (Fulcio's CT log) whose SCTs embedded in leaf certificates are checked.
   * SCTs are not required, but an embedded SCT must verify against one of these: real Fulcio leaf
   * certificates all embed one, so keyless bundles from a real Fulcio need its CT log listed here. */
  ctLogs?: { name?: string; baseUrl: string; publicKeyPem: string; validFrom?: string; validTo?: string }[];
  /** Trusted signer identities for keyless signatures: exact SAN identity (or a regex when it starts and ends with '/') and OIDC issuer */
  trustedSigners?: { identity: string; issuer: string }[];
  /** minimum number of verified transparency-log entries; default 1 */
  tlogThreshold?: number;
}

export interface SignatureVerification {
  verified: boolean;
  /** what was checked, in words, each with outcome — for the gate's evidence */
  checks: { name: string; ok: boolean; detail: string }[];
  signer?: { kind: 'certificate'; identity: string; issuer: string } | { kind: 'key'; keyId: string };
  tlog?: { logIndex: string; integratedTime: string; logId: string };
  /** sha256 digest the signature covers, as 'sha256:<hex>' */
  subjectDigest?: string;
  error?: string;
}

/** Bundle media types the gate accepts: v0.3 and v0.2, both of which carry a Merkle inclusion proof. */
export const ACCEPTED_BUNDLE_MEDIA_TYPES: readonly string[] = [
  'application/vnd.dev.sigstore.bundle.v0.3+json',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
];
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const IN_TOTO_STATEMENT_TYPES = ['https://in-toto.io/Statement/v1', 'https://in-toto.io/Statement/v0.1'];
const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
const CODE_SIGNING_EKU = '1.3.6.1.5.5.7.3.3';
/** How far the log's integrated time may be ahead of the gate's clock. */
const MAX_CLOCK_SKEW_MS = 60_000;
/** Checkpoint signer names are used by @sigstore/verify as a regular expression against the log's base
 * URL; only these characters (no quantifiers or groups) are let through, so a bundle cannot hang it. */
const SAFE_CHECKPOINT_NAME = /^[A-Za-z0-9._:/-]+$/;

/** The message a message-signature bundle signs for an artifact: the digest text 'sha256:<hex>'. */
export function artifactDigestMessage(digest: string): Buffer {
  return Buffer.from(digest, 'utf8');
}

type Check = SignatureVerification['checks'][number];

class Evidence {
  readonly checks: Check[] = [];

  ok(name: string, detail: string): void {
    this.checks.push({ name, ok: true, detail });
  }

  fail(name: string, detail: string): SignatureVerification {
    this.checks.push({ name, ok: false, detail });
    return { verified: false, checks: this.checks, error: `${name}: ${detail}` };
  }
}

/**
 * Verifies a sigstore bundle over the artifact `digest` against `trust`, offline. Never throws: any
 * problem is `verified: false` with `error` and the failing check. Nothing in the bundle is taken on
 * its word (a `verified` field or the like is ignored); only what is checked here counts.
 */
export function verifyArtifactSignature(input: {
  bundle: unknown;
  digest: string /* 'sha256:<64 hex>' */;
  trust: SigningTrust;
  now?: Date;
}): SignatureVerification {
  const evidence = new Evidence();
  try {
    return verify(input, evidence);
  } catch (error) {
    return evidence.fail('verification', `unexpected error: ${messageOf(error)}`);
  }
}

function verify(
  input: { bundle: unknown; digest: string; trust: SigningTrust; now?: Date },
  evidence: Evidence,
): SignatureVerification {
  const digest: unknown = isRecord(input) ? input.digest : undefined;
  if (typeof digest !== 'string' || !DIGEST_PATTERN.test(digest)) {
    return evidence.fail('artifact digest', `expected 'sha256:<64 lowercase hex>', got ${preview(digest)}`);
  }
  evidence.ok('artifact digest', `the artifact is ${digest}`);
  const now = input.now instanceof Date && !Number.isNaN(input.now.getTime()) ? input.now : new Date();

  let trust: ParsedTrust;
  try {
    trust = parseTrust(input.trust);
  } catch (error) {
    return evidence.fail('trust material', messageOf(error));
  }
  evidence.ok(
    'trust material',
    `${trust.logs.length} transparency log(s), ${trust.caCount} certificate authority(ies), ` +
      `${trust.keys.size} public key(s), ${trust.signers.length} trusted signer(s); ` +
      `at least ${trust.tlogThreshold} transparency-log entry(ies) required; ` +
      `certificate transparency not required (SCTs a certificate embeds are checked against ${trust.ctLogCount} CT log(s))`,
  );

  // Bundle: JSON (text or parsed) in an accepted media type, structurally valid.
  const parsed = parseBundle(input.bundle);
  if ('error' in parsed) return evidence.fail('bundle format', parsed.error);
  // RFC 3161 timestamps are set aside, not trusted: the policy names no timestamp authority, so the
  // transparency log's signed entry timestamp is the only signing time (and the library would
  // otherwise refuse a timestamp it has no authority for).
  const ignoredTimestamps =
    parsed.bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.length ?? 0;
  const bundle: Bundle = {
    ...parsed.bundle,
    verificationMaterial: { ...parsed.bundle.verificationMaterial, timestampVerificationData: undefined },
  };
  const material = bundle.verificationMaterial.content;
  const keyDescription =
    material.$case === 'publicKey' ? `public key hint '${material.publicKey.hint}'` : 'signing certificate';
  evidence.ok(
    'bundle format',
    `${bundle.mediaType}, ${bundle.content.$case} signed with a ${keyDescription}` +
      (ignoredTimestamps > 0
        ? `; ${ignoredTimestamps} RFC 3161 timestamp(s) ignored (the trust policy has no timestamp authority)`
        : ''),
  );

  // What the bundle signs must be this artifact's digest.
  const subject = checkSubject(bundle, digest);
  if ('error' in subject) return evidence.fail('signed subject', subject.error);
  evidence.ok('signed subject', subject.detail);

  // Transparency-log entries: enough of them, from trusted logs, each with a signed entry timestamp
  // (the only trusted signing time: the gate trusts no timestamp authority) and a consistent proof.
  // bundleFromJSON has checked that every entry has a logId and kindVersion.
  const entries = bundle.verificationMaterial.tlogEntries as TransparencyLogEntry[];
  const entryProblem = checkEntries(entries, trust);
  if (entryProblem) return evidence.fail('transparency-log entries', entryProblem);
  const loggedAt = entries.map((entry) => new Date(Number(entry.integratedTime) * 1000));
  evidence.ok(
    'transparency-log entries',
    entries
      .map(
        (entry, index) =>
          `log index ${entry.logIndex} in ${logName(trust, entry)} at ${isoOf(loggedAt[index])}`,
      )
      .join('; '),
  );

  // The signer's key must be one the policy knows of before any cryptography is attempted.
  if (material.$case === 'publicKey') {
    if (!trust.keys.has(material.publicKey.hint)) {
      return evidence.fail(
        'signing key',
        `key '${material.publicKey.hint}' is not a trusted public key (trusted key ids: ${[...trust.keys.keys()].join(', ') || 'none'})`,
      );
    }
  } else {
    if (trust.caCount === 0) {
      return evidence.fail(
        'certificate chain',
        'the bundle is signed with a certificate but the trust policy lists no certificate authorities',
      );
    }
    if (trust.signers.length === 0) {
      return evidence.fail(
        'signer identity',
        'the bundle is signed with a certificate but the trust policy lists no trustedSigners',
      );
    }
  }

  // The cryptography, by @sigstore/verify: the key or certificate chain valid at the logged time(s),
  // every entry's signed entry timestamp and inclusion proof against a signed checkpoint, each entry's
  // body recording this very signature and digest, and the signature itself.
  let signer: Signer;
  try {
    const entity = toSignedEntity(bundle, subject.artifact);
    // ctlogThreshold 0: certificate transparency is not required (no SCT needs to be present) and is
    // not counted; transparency-log entries (tlogThreshold) are required instead. Note that
    // @sigstore/verify still checks every SCT a leaf certificate does embed against the trust's ctLogs
    // and fails when it cannot, so a real Fulcio certificate needs Fulcio's CT log in ctLogs.
    const verifier = new Verifier(trust.material, {
      tlogThreshold: trust.tlogThreshold,
      ctlogThreshold: 0,
      timestampThreshold: 1,
    });
    signer = verifier.verify(entity);
  } catch (error) {
    const failure = describeLibraryError(error, loggedAt);
    return evidence.fail(failure.name, failure.detail);
  }
  const when = loggedAt.map(isoOf).join(', ');
  if (material.$case === 'publicKey') {
    evidence.ok('signing key', `trusted key '${material.publicKey.hint}', within its validity at ${when}`);
  } else {
    evidence.ok(
      'certificate chain',
      `the leaf certificate chains to a trusted certificate authority; leaf, chain and authority valid at ${when}`,
    );
  }
  evidence.ok(
    'transparency-log inclusion',
    entries
      .map(
        (entry) =>
          `log index ${entry.logIndex}: signed entry timestamp and Merkle inclusion proof ` +
          `(tree size ${entry.inclusionProof?.treeSize ?? '?'}) against the log's signed checkpoint verified`,
      )
      .join('; '),
  );
  evidence.ok(
    'transparency-log entry matches the signature',
    entries
      .map((entry) => `${entry.kindVersion.kind} ${entry.kindVersion.version} entry records this signature`)
      .join('; '),
  );
  evidence.ok('signature', `${subject.signed} verifies with the signer's key`);

  // Each entry must name the key that signed (the log checked the signature against that key).
  const keyProblem = checkLoggedKeys(entries, signer.key);
  if (keyProblem) return evidence.fail('transparency-log entry names the signing key', keyProblem);
  evidence.ok(
    'transparency-log entry names the signing key',
    'each entry records the signer key of the bundle',
  );

  // The signing time is the log's integrated time; it cannot be later than now.
  const latest = Math.max(...loggedAt.map((date) => date.getTime()));
  if (latest > now.getTime() + MAX_CLOCK_SKEW_MS) {
    return evidence.fail(
      'signing time',
      `the transparency log recorded the signature at ${isoOf(new Date(latest))}, after the gate's time ${now.toISOString()}`,
    );
  }
  evidence.ok(
    'signing time',
    `logged at ${when}, not after ${now.toISOString()}; certificate, key and trust validity are judged at the logged time`,
  );

  // Who signed.
  let signerResult: NonNullable<SignatureVerification['signer']>;
  if (material.$case === 'publicKey') {
    signerResult = { kind: 'key', keyId: material.publicKey.hint };
  } else {
    const leaf =
      material.$case === 'certificate'
        ? material.certificate.rawBytes
        : material.x509CertificateChain.certificates[0]?.rawBytes;
    const usages = leaf ? (new X509Certificate(leaf).keyUsage as string[] | undefined) : undefined;
    if (!usages?.includes(CODE_SIGNING_EKU)) {
      return evidence.fail(
        'code-signing certificate',
        'the leaf certificate does not have the code-signing extended key usage',
      );
    }
    evidence.ok('code-signing certificate', 'the leaf certificate is for code signing');
    const identity = signer.identity?.subjectAlternativeName;
    const issuer = signer.identity?.extensions?.issuer;
    if (!identity) {
      return evidence.fail('signer identity', 'the certificate has no email or URI subject alternative name');
    }
    if (!issuer) {
      return evidence.fail(
        'signer identity',
        `the certificate of ${identity} has no OIDC issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1)`,
      );
    }
    const byIdentity = trust.signers.filter((trusted) => trusted.matches(identity));
    if (byIdentity.length === 0) {
      return evidence.fail('signer identity', `${identity} (issuer ${issuer}) is not a trusted signer`);
    }
    if (!byIdentity.some((trusted) => trusted.issuer === issuer)) {
      return evidence.fail(
        'signer identity',
        `${identity} is trusted only when issued by ${byIdentity.map((trusted) => trusted.issuer).join(' or ')}, ` +
          `but its certificate was issued by ${issuer}`,
      );
    }
    evidence.ok('signer identity', `${identity}, issued by ${issuer}, is a trusted signer`);
    signerResult = { kind: 'certificate', identity, issuer };
  }

  const first = entries[0];
  return {
    verified: true,
    checks: evidence.checks,
    signer: signerResult,
    ...(first
      ? {
          tlog: {
            logIndex: first.logIndex,
            integratedTime: isoOf(loggedAt[0]),
            logId: first.logId.keyId.toString('hex'),
          },
        }
      : {}),
    subjectDigest: digest,
  };
}

// ---------------------------------------------------------------------------------------------------
// Trust policy → @sigstore/verify trust material

interface ParsedTrust {
  material: TrustMaterial;
  tlogThreshold: number;
  logs: { name: string; logId: Buffer }[];
  ctLogCount: number;
  keys: Map<string, { key: KeyObject; validFrom?: Date; validTo?: Date }>;
  caCount: number;
  signers: { issuer: string; matches: (identity: string) => boolean }[];
}

function parseTrust(raw: unknown): ParsedTrust {
  if (!isRecord(raw)) throw new Error('the trust policy is not an object');
  const logs = listOf(raw.transparencyLogs, 'transparencyLogs');
  if (logs.length === 0)
    throw new Error('transparencyLogs is empty: at least one trusted transparency log is needed');
  const ctLogs = listOf(raw.ctLogs ?? [], 'ctLogs');
  const cas = listOf(raw.certificateAuthorities ?? [], 'certificateAuthorities');
  const publicKeys = listOf(raw.publicKeys ?? [], 'publicKeys');
  const signers = listOf(raw.trustedSigners ?? [], 'trustedSigners');
  const threshold = raw.tlogThreshold ?? 1;
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 1) {
    throw new Error(
      `tlogThreshold must be an integer of at least 1 (got ${preview(threshold)}): the transparency log is the only trusted signing time`,
    );
  }

  const root: TrustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
  const logInstance = (log: Record<string, unknown>, where: string) => {
    const baseUrl = stringField(log, 'baseUrl', where);
    const spki = publicKeyDer(stringField(log, 'publicKeyPem', where), `${where}.publicKeyPem`);
    // A log's id is the sha256 of its DER public key (RFC 6962, Rekor).
    const logId = createHash('sha256').update(spki).digest();
    const instance: TransparencyLogInstance = {
      baseUrl,
      hashAlgorithm: HashAlgorithm.SHA2_256,
      publicKey: {
        rawBytes: spki,
        keyDetails: PublicKeyDetails.PUBLIC_KEY_DETAILS_UNSPECIFIED,
        validFor: validity(log, where),
      },
      logId: { keyId: logId },
      checkpointKeyId: undefined,
      operator: '',
    };
    return { instance, name: optionalString(log, 'name', where) ?? baseUrl, logId };
  };
  const parsedLogs = logs.map((log, index) => logInstance(log, `transparencyLogs[${index}]`));
  root.tlogs = parsedLogs.map((log) => log.instance);
  root.ctlogs = ctLogs.map((log, index) => logInstance(log, `ctLogs[${index}]`).instance);
  cas.forEach((ca, index) => {
    const where = `certificateAuthorities[${index}]`;
    const chain = listOf(ca.certChainPem, `${where}.certChainPem`, true).flatMap((pem, position) =>
      certificatesDer(pem, `${where}.certChainPem[${position}]`),
    );
    if (chain.length === 0) throw new Error(`${where}.certChainPem has no certificate`);
    root.certificateAuthorities.push({
      subject: undefined,
      uri: '',
      certChain: { certificates: chain.map((rawBytes) => ({ rawBytes })) },
      validFor: validity(ca, where),
      operator: '',
    });
  });
  const keys: ParsedTrust['keys'] = new Map();
  publicKeys.forEach((entry, index) => {
    const where = `publicKeys[${index}]`;
    const keyId = stringField(entry, 'keyId', where);
    if (keys.has(keyId)) throw new Error(`${where}.keyId '${keyId}' is listed twice`);
    const der = publicKeyDer(stringField(entry, 'publicKeyPem', where), `${where}.publicKeyPem`);
    const window = validity(entry, where);
    keys.set(keyId, {
      key: createPublicKey({ key: der, format: 'der', type: 'spki' }),
      ...(window.start ? { validFrom: window.start } : {}),
      ...(window.end ? { validTo: window.end } : {}),
    });
  });
  const parsedSigners = signers.map((entry, index) => {
    const where = `trustedSigners[${index}]`;
    const identity = stringField(entry, 'identity', where);
    const issuer = stringField(entry, 'issuer', where);
    return { issuer, matches: identityMatcher(identity, `${where}.identity`) };
  });

  // Keys are looked up by the bundle's hint in a Map (never an object, so a hint like '__proto__'
  // finds nothing); validity is judged at the transparency log's integrated time.
  const findKey: KeyFinderFunc = (hint) => {
    const key = keys.get(hint);
    if (!key) throw new VerificationError({ code: 'PUBLIC_KEY_ERROR', message: `key not found: ${hint}` });
    return {
      publicKey: key.key,
      validFor: (date: Date) =>
        (!key.validFrom || key.validFrom <= date) && (!key.validTo || date <= key.validTo),
    };
  };
  return {
    material: toTrustMaterial(root, findKey),
    tlogThreshold: threshold,
    logs: parsedLogs.map(({ name, logId }) => ({ name, logId })),
    ctLogCount: root.ctlogs.length,
    keys,
    caCount: root.certificateAuthorities.length,
    signers: parsedSigners,
  };
}

/** Exact identity, or a regular expression between slashes, anchored to the whole identity. */
function identityMatcher(identity: string, where: string): (candidate: string) => boolean {
  if (identity.length > 2 && identity.startsWith('/') && identity.endsWith('/')) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(?:${identity.slice(1, -1)})$`, 'u');
    } catch (error) {
      throw new Error(`${where} is not a valid regular expression: ${messageOf(error)}`);
    }
    return (candidate) => pattern.test(candidate);
  }
  return (candidate) => candidate === identity;
}

function validity(entry: Record<string, unknown>, where: string): { start: Date | undefined; end?: Date } {
  const start = optionalDate(entry, 'validFrom', where);
  const end = optionalDate(entry, 'validTo', where);
  if (start && end && end < start) throw new Error(`${where}.validTo is before its validFrom`);
  return { start, ...(end ? { end } : {}) };
}

function optionalDate(entry: Record<string, unknown>, field: string, where: string): Date | undefined {
  const value = entry[field];
  if (value === undefined || value === null) return undefined;
  // A YAML loader may already have turned a timestamp into a Date.
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new Error(`${where}.${field} is not a date (got ${preview(value)})`);
  }
  return date;
}

function publicKeyDer(pem: string, where: string): Buffer {
  if (!pem.includes('-----BEGIN')) throw new Error(`${where} is not a PEM public key`);
  try {
    return createPublicKey(pem).export({ format: 'der', type: 'spki' });
  } catch (error) {
    throw new Error(`${where} is not a readable public key: ${messageOf(error)}`);
  }
}

function certificatesDer(pem: string, where: string): Buffer[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${where} is not a PEM certificate`);
  return blocks.map((block) => {
    try {
      return new X509Certificate(block).raw;
    } catch (error) {
      throw new Error(`${where} is not a readable certificate: ${messageOf(error)}`);
    }
  });
}

function listOf(value: unknown, where: string, strings: true): string[];
function listOf(value: unknown, where: string): Record<string, unknown>[];
function listOf(value: unknown, where: string, strings?: true): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where} is not a list`);
  const list: unknown[] = value;
  list.forEach((item, index) => {
    if (strings ? typeof item !== 'string' : !isRecord(item)) {
      throw new Error(`${where}[${index}] is not ${strings ? 'a string' : 'an object'}`);
    }
  });
  return list;
}

function stringField(entry: Record<string, unknown>, field: string, where: string): string {
  const value = entry[field];
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${where}.${field} is missing`);
  return value;
}

function optionalString(entry: Record<string, unknown>, field: string, where: string): string | undefined {
  const value = entry[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`${where}.${field} is not a string`);
  return value;
}

// ---------------------------------------------------------------------------------------------------
// Bundle and subject

function parseBundle(raw: unknown): { bundle: Bundle } | { error: string } {
  let json = raw;
  if (typeof raw === 'string' || raw instanceof Uint8Array) {
    try {
      json = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
    } catch (error) {
      return { error: `the bundle is not JSON: ${messageOf(error)}` };
    }
  }
  if (!isRecord(json)) return { error: `the bundle is not a JSON object (got ${preview(json)})` };
  const mediaType = json.mediaType;
  if (typeof mediaType !== 'string' || !ACCEPTED_BUNDLE_MEDIA_TYPES.includes(mediaType)) {
    return {
      error: `mediaType ${preview(mediaType)} is not a sigstore bundle media type the gate accepts (${ACCEPTED_BUNDLE_MEDIA_TYPES.join(', ')})`,
    };
  }
  try {
    return { bundle: bundleFromJSON(json) };
  } catch (error) {
    const fields = error instanceof ValidationError ? ` (${error.fields.join(', ')})` : '';
    return { error: `not a valid sigstore bundle: ${messageOf(error)}${fields}` };
  }
}

function checkSubject(
  bundle: Bundle,
  digest: string,
): { artifact?: Buffer; signed: string; detail: string } | { error: string } {
  const hex = digest.slice('sha256:'.length);
  const content = bundle.content;
  if (content.$case === 'messageSignature') {
    const { messageDigest } = content.messageSignature;
    if (messageDigest.algorithm !== HashAlgorithm.SHA2_256) {
      return {
        error: `the message digest algorithm is ${HashAlgorithm[messageDigest.algorithm]}, not SHA2_256`,
      };
    }
    const message = artifactDigestMessage(digest);
    const expected = createHash('sha256').update(message).digest();
    if (messageDigest.digest.equals(expected)) {
      return {
        artifact: message,
        signed: `the message signature over the text '${digest}'`,
        detail: `a message signature over the digest text '${digest}' (messageDigest sha256:${expected.toString('hex')})`,
      };
    }
    if (messageDigest.digest.equals(Buffer.from(hex, 'hex'))) {
      return {
        error:
          `the bundle's messageDigest is ${digest} itself, so its signature covers the artifact's bytes, ` +
          `which the gate does not have and cannot check from the digest alone; sign the digest text ` +
          `'${digest}' instead, or attest the digest in a DSSE in-toto statement`,
      };
    }
    return {
      error:
        `the bundle signs a message with digest sha256:${messageDigest.digest.toString('hex')}, not the digest ` +
        `text of ${digest} (whose sha256 is ${expected.toString('hex')})`,
    };
  }

  const envelope = content.dsseEnvelope;
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return {
      error: `the DSSE payload type is ${preview(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`,
    };
  }
  let statement: unknown;
  try {
    statement = JSON.parse(envelope.payload.toString('utf8'));
  } catch (error) {
    return { error: `the DSSE payload is not JSON: ${messageOf(error)}` };
  }
  if (
    !isRecord(statement) ||
    typeof statement._type !== 'string' ||
    !IN_TOTO_STATEMENT_TYPES.includes(statement._type)
  ) {
    return { error: 'the DSSE payload is not an in-toto statement' };
  }
  const subjects = Array.isArray(statement.subject) ? statement.subject.filter(isRecord) : [];
  const sha256Of = (subjectEntry: Record<string, unknown>) =>
    isRecord(subjectEntry.digest) && typeof subjectEntry.digest.sha256 === 'string'
      ? subjectEntry.digest.sha256.toLowerCase()
      : undefined;
  const named = subjects.find((subjectEntry) => sha256Of(subjectEntry) === hex);
  const predicateType = typeof statement.predicateType === 'string' ? statement.predicateType : 'none';
  if (!named) {
    const listed = subjects.map((subjectEntry) => `sha256:${sha256Of(subjectEntry) ?? '?'}`).join(', ');
    return { error: `the in-toto statement's subjects (${listed || 'none'}) do not include ${digest}` };
  }
  const name = typeof named.name === 'string' ? `'${named.name}' ` : '';
  return {
    signed: 'the DSSE envelope signature over the statement',
    detail: `a DSSE in-toto statement (predicateType ${predicateType}) naming subject ${name}${digest}`,
  };
}

function checkEntries(entries: TransparencyLogEntry[], trust: ParsedTrust): string | undefined {
  if (entries.length < trust.tlogThreshold) {
    return `the bundle has ${entries.length} transparency-log entr${entries.length === 1 ? 'y' : 'ies'}; the trust policy requires ${trust.tlogThreshold}`;
  }
  const logsSeen = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const what = `entry ${index} (log index ${entry.logIndex || '?'})`;
    const logId = entry.logId.keyId.toString('hex');
    if (!trust.logs.some((log) => log.logId.equals(entry.logId.keyId))) {
      return `${what} was recorded by log ${logId || '(none)'}, which is not a trusted transparency log (trusted: ${trust.logs.map((log) => `${log.name} ${log.logId.toString('hex')}`).join(', ')})`;
    }
    logsSeen.add(logId);
    if (!entry.inclusionPromise || entry.inclusionPromise.signedEntryTimestamp.length === 0) {
      return `${what} has no signed entry timestamp (inclusion promise), which is the gate's only trusted signing time`;
    }
    if (!/^[1-9][0-9]*$/.test(entry.integratedTime)) {
      return `${what} has no integrated time`;
    }
    const proof = entry.inclusionProof;
    const envelope = proof?.checkpoint?.envelope;
    if (!proof || !envelope) return `${what} has no inclusion proof with a checkpoint`;
    for (const match of envelope.matchAll(/\u2014 (\S+) (\S+)\n/g)) {
      if (!SAFE_CHECKPOINT_NAME.test(match[1] ?? '')) {
        return `${what} has a checkpoint signature name with characters the gate does not accept: ${preview(match[1])}`;
      }
    }
    // The proof's tree size and root must be those of the checkpoint the log signed.
    const [, size, root] = envelope.split('\n');
    if (size !== proof.treeSize || root !== proof.rootHash.toString('base64')) {
      return `${what}: the inclusion proof's tree size and root hash are not those of its checkpoint`;
    }
  }
  if (logsSeen.size < trust.tlogThreshold) {
    return `the entries come from ${logsSeen.size} distinct transparency log(s); the trust policy requires ${trust.tlogThreshold}`;
  }
  return undefined;
}

/** The public key each log entry records for the signature (Rekor checked the signature with it). */
function checkLoggedKeys(entries: TransparencyLogEntry[], signerKey: KeyObject): string | undefined {
  const expected = signerKey.export({ format: 'der', type: 'spki' });
  for (const [index, entry] of entries.entries()) {
    const body: unknown = JSON.parse(entry.canonicalizedBody.toString('utf8'));
    const spec = isRecord(body) && isRecord(body.spec) ? body.spec : {};
    let encoded: unknown;
    const kind = entry.kindVersion.kind;
    if (kind === 'hashedrekord') {
      const signature = isRecord(spec.signature) ? spec.signature : {};
      encoded = isRecord(signature.publicKey) ? signature.publicKey.content : undefined;
    } else if (kind === 'dsse') {
      const signatures = Array.isArray(spec.signatures) ? (spec.signatures as unknown[]) : [];
      encoded = isRecord(signatures[0]) ? signatures[0].verifier : undefined;
    } else if (kind === 'intoto') {
      const content = isRecord(spec.content) ? spec.content : {};
      const envelope = isRecord(content.envelope) ? content.envelope : {};
      const signatures = Array.isArray(envelope.signatures) ? (envelope.signatures as unknown[]) : [];
      encoded = isRecord(signatures[0]) ? signatures[0].publicKey : undefined;
    }
    if (typeof encoded !== 'string') return `entry ${index} (${kind}) records no public key`;
    const pem = Buffer.from(encoded, 'base64').toString('utf8');
    let logged: Buffer;
    try {
      logged = pem.includes('BEGIN CERTIFICATE')
        ? new X509Certificate(pem).publicKey.export({ format: 'der', type: 'spki' })
        : createPublicKey(pem).export({ format: 'der', type: 'spki' });
    } catch (error) {
      return `entry ${index} (${kind}) records an unreadable public key: ${messageOf(error)}`;
    }
    if (!logged.equals(expected))
      return `entry ${index} (${kind}) records a different public key than the bundle's`;
  }
  return undefined;
}

function describeLibraryError(error: unknown, loggedAt: Date[]): { name: string; detail: string } {
  const code = isRecord(error) && typeof error.code === 'string' ? error.code : undefined;
  const cause = isRecord(error) && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  const at = ` (signing time ${loggedAt.map(isoOf).join(', ')})`;
  const detail = `${messageOf(error)}${cause}`;
  switch (code) {
    case 'CERTIFICATE_ERROR':
      if (detail.includes('SCT')) {
        return {
          name: 'certificate transparency',
          detail: `${detail}: the leaf certificate embeds a signed certificate timestamp that no CT log of the trust policy (ctLogs) verifies; list the CA's CT log there`,
        };
      }
      return { name: 'certificate chain', detail: detail + at };
    case 'PUBLIC_KEY_ERROR':
      return { name: 'signing key', detail: detail + at };
    case 'TIMESTAMP_ERROR':
      return { name: 'signing time', detail };
    case 'TLOG_BODY_ERROR':
      return { name: 'transparency-log entry matches the signature', detail };
    case 'TLOG_ERROR':
    case 'TLOG_INCLUSION_PROMISE_ERROR':
    case 'TLOG_INCLUSION_PROOF_ERROR':
    case 'TLOG_MISSING_INCLUSION_ERROR':
      return { name: 'transparency-log inclusion', detail };
    case 'SIGNATURE_ERROR':
      return { name: 'signature', detail };
    default:
      return { name: 'sigstore verification', detail };
  }
}

function logName(trust: ParsedTrust, entry: TransparencyLogEntry): string {
  return trust.logs.find((log) => log.logId.equals(entry.logId.keyId))?.name ?? 'an unknown log';
}

function isoOf(date: Date | undefined): string {
  return date && !Number.isNaN(date.getTime()) ? date.toISOString() : 'an invalid time';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function preview(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text =
    typeof value === 'string'
      ? `'${value}'`
      : ((JSON.stringify(value) as string | undefined) ?? typeof value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
