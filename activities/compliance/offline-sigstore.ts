// OFFLINE SIGNING LAB — a SIMULATION of sigstore's Fulcio (a certificate authority issuing short-lived
// signer certificates for an OIDC identity) and Rekor (a transparency log with signed entry timestamps,
// a Merkle tree and signed checkpoints), in one process, for the tests and the shipped examples only.
// It makes sigstore bundles (v0.3 JSON) that `verifyArtifactSignature` accepts, from throwaway ECDSA
// P-256 keys that never leave memory. The compliance gate never uses it: real releases are signed in
// CI against the real Fulcio/Rekor (or with your own keys and log) and checked against a trust policy.
import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  sign as signData,
  webcrypto,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import {
  BUNDLE_V03_MEDIA_TYPE,
  bundleToJSON,
  type Bundle,
  type SerializedBundle,
  type TransparencyLogEntry,
} from '@sigstore/bundle';
import { dsse, json } from '@sigstore/core';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { artifactDigestMessage, IN_TOTO_PAYLOAD_TYPE, type SigningTrust } from './signature.js';

export interface OfflineSignOptions {
  /** when the lab's log records the signature (its integrated time); default the lab's clock */
  signedAt?: Date;
  /** 'messageSignature' (default): a signature over the digest text, logged as hashedrekord 0.0.1;
   * 'dsse': an in-toto statement naming the digest, in a DSSE envelope, logged as dsse 0.0.1 */
  format?: 'messageSignature' | 'dsse';
  /** simulate a faulty log entry that records this public key (PEM) instead of the signer's */
  recordedKeyPem?: string;
}

export interface OfflineKeylessOptions extends OfflineSignOptions {
  /** the leaf certificate's validity; default one minute before signedAt to leafValidityMs after it */
  notBefore?: Date;
  notAfter?: Date;
  /** leave the code-signing extended key usage out of the leaf certificate (default: include it) */
  withoutCodeSigning?: boolean;
}

export interface OfflineSigstore {
  /** the lab's trust policy: public keys and certificates only */
  trust: SigningTrust;
  /** a bundle signed with the lab's long-lived key (cosign --key style), hinted by keyId (default the lab's) */
  signWithKey(digest: string, options?: OfflineSignOptions & { keyId?: string }): SerializedBundle;
  /** a bundle signed with a fresh key whose leaf certificate from the lab CA names the identity and issuer
   * (async: @peculiar/x509 makes the certificate with WebCrypto) */
  signKeyless(
    digest: string,
    identity: { identity: string; issuer: string },
    options?: OfflineKeylessOptions,
  ): Promise<SerializedBundle>;
}

export interface OfflineSigstoreOptions {
  /** derive the lab's CA, signing and log keys from this seed (same seed, same keys); default random */
  seed?: string;
  /** the lab's clock: certificate validity and integrated times; default the current time at each use */
  now?: Date;
  /** written into the lab's trust policy */
  trustedSigners?: { identity: string; issuer: string }[];
  /** lifetime of the keyless leaf certificates; default 10 minutes (as Fulcio's) */
  leafValidityMs?: number;
  /** lifetime of the lab's root CA certificate; default 10 years */
  caValidityMs?: number;
}

export const OFFLINE_LAB_KEY_ID = 'offline-lab-signing-key';
export const OFFLINE_LAB_LOG_URL = 'https://rekor.offline-lab.invalid';
const LOG_NAME = 'rekor.offline-lab.invalid';
const ORIGIN = `${LOG_NAME} - offline-lab`;
const DAY_MS = 24 * 60 * 60 * 1000;
const YEAR_MS = 365 * DAY_MS;
const OID_FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

export async function createOfflineSigstore(options: OfflineSigstoreOptions = {}): Promise<OfflineSigstore> {
  const x509 = await loadX509();
  const clock = () => options.now ?? new Date();
  const leafValidityMs = options.leafValidityMs ?? 10 * 60 * 1000;
  const created = clock();
  const caNotBefore = new Date(created.getTime() - DAY_MS);

  const caKey = labKey(options.seed, 'fulcio-root');
  const signingKey = labKey(options.seed, 'signing-key');
  const log = new OfflineLog(labKey(options.seed, 'rekor'));
  const caCrypto = await cryptoKeys(caKey);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialFor(options.seed, 'fulcio-root'),
    name: 'CN=medrelease offline signing lab root (simulated Fulcio), O=medrelease offline signing lab',
    notBefore: caNotBefore,
    notAfter: new Date(created.getTime() + (options.caValidityMs ?? 10 * YEAR_MS)),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys: caCrypto,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caCrypto.publicKey),
    ],
  });
  const rootPem = new X509Certificate(Buffer.from(root.rawData)).toString();
  const validFrom = caNotBefore.toISOString();

  const trust: SigningTrust = {
    certificateAuthorities: [{ name: 'offline-lab-fulcio (simulated)', certChainPem: [rootPem], validFrom }],
    publicKeys: [{ keyId: OFFLINE_LAB_KEY_ID, publicKeyPem: signingKey.publicKeyPem, validFrom }],
    transparencyLogs: [
      {
        name: 'offline-lab-rekor (simulated)',
        baseUrl: OFFLINE_LAB_LOG_URL,
        publicKeyPem: log.key.publicKeyPem,
        validFrom,
      },
    ],
    trustedSigners: (options.trustedSigners ?? []).map((signer) => ({ ...signer })),
  };

  const signed = (
    digest: string,
    key: LabKey,
    verifierPem: string,
    verificationMaterial: Bundle['verificationMaterial']['content'],
    signOptions: OfflineSignOptions,
  ): SerializedBundle => {
    const integratedTime = Math.floor((signOptions.signedAt ?? clock()).getTime() / 1000);
    const recordedPem = signOptions.recordedKeyPem ?? verifierPem;
    let content: Bundle['content'];
    let body: object;
    let kind: string;
    if (signOptions.format === 'dsse') {
      const payload = Buffer.from(
        JSON.stringify({
          _type: 'https://in-toto.io/Statement/v1',
          subject: [{ name: 'model-image', digest: { sha256: digest.slice('sha256:'.length) } }],
          predicateType: 'https://sigstore.dev/cosign/sign/v1',
          predicate: {},
        }),
      );
      const sig = signData('sha256', dsse.preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload), key.privateKey);
      const envelope = { payloadType: IN_TOTO_PAYLOAD_TYPE, payload, signatures: [{ sig, keyid: '' }] };
      content = { $case: 'dsseEnvelope', dsseEnvelope: envelope };
      kind = 'dsse';
      body = {
        apiVersion: '0.0.1',
        kind,
        spec: {
          envelopeHash: {
            algorithm: 'sha256',
            value: sha256Hex(
              JSON.stringify({
                payload: payload.toString('base64'),
                payloadType: IN_TOTO_PAYLOAD_TYPE,
                signatures: [{ sig: sig.toString('base64') }],
              }),
            ),
          },
          payloadHash: { algorithm: 'sha256', value: sha256Hex(payload) },
          signatures: [{ signature: sig.toString('base64'), verifier: base64(recordedPem) }],
        },
      };
    } else {
      const message = artifactDigestMessage(digest);
      const signature = signData('sha256', message, key.privateKey);
      const messageDigest = createHash('sha256').update(message).digest();
      content = {
        $case: 'messageSignature',
        messageSignature: {
          messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest: messageDigest },
          signature,
        },
      };
      kind = 'hashedrekord';
      body = {
        apiVersion: '0.0.1',
        kind,
        spec: {
          data: { hash: { algorithm: 'sha256', value: messageDigest.toString('hex') } },
          signature: { content: signature.toString('base64'), publicKey: { content: base64(recordedPem) } },
        },
      };
    }
    const bundle: Bundle = {
      mediaType: BUNDLE_V03_MEDIA_TYPE,
      verificationMaterial: {
        content: verificationMaterial,
        tlogEntries: [log.append(Buffer.from(json.canonicalize(body)), kind, integratedTime)],
        timestampVerificationData: { rfc3161Timestamps: [] },
      },
      content,
    };
    return bundleToJSON(bundle);
  };

  return {
    trust,
    signWithKey(digest, signOptions = {}) {
      assertDigest(digest);
      const hint = signOptions.keyId ?? OFFLINE_LAB_KEY_ID;
      return signed(
        digest,
        signingKey,
        signingKey.publicKeyPem,
        { $case: 'publicKey', publicKey: { hint } },
        signOptions,
      );
    },
    async signKeyless(digest, identity, signOptions = {}) {
      assertDigest(digest);
      const signedAt = signOptions.signedAt ?? clock();
      const ephemeral = labKey(undefined, 'ephemeral');
      const ephemeralCrypto = await cryptoKeys(ephemeral);
      const uri = /^[a-z][a-z0-9+.-]*:/i.test(identity.identity);
      const leaf = await x509.X509CertificateGenerator.create({
        subject: '',
        issuer: root.subject,
        notBefore: signOptions.notBefore ?? new Date(signedAt.getTime() - 60_000),
        notAfter: signOptions.notAfter ?? new Date(signedAt.getTime() + leafValidityMs),
        signingAlgorithm: SIGNING_ALGORITHM,
        publicKey: ephemeralCrypto.publicKey,
        signingKey: caCrypto.privateKey,
        extensions: [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension(
            signOptions.withoutCodeSigning
              ? [x509.ExtendedKeyUsage.serverAuth]
              : [x509.ExtendedKeyUsage.codeSigning],
          ),
          new x509.SubjectAlternativeNameExtension(
            [{ type: uri ? 'url' : 'email', value: identity.identity }],
            true,
          ),
          await x509.AuthorityKeyIdentifierExtension.create(caCrypto.publicKey),
          await x509.SubjectKeyIdentifierExtension.create(ephemeralCrypto.publicKey),
          new x509.Extension(OID_FULCIO_ISSUER_V1, false, Buffer.from(identity.issuer, 'utf8')),
          new x509.Extension(OID_FULCIO_ISSUER_V2, false, derUtf8String(identity.issuer)),
        ],
      });
      const der = Buffer.from(leaf.rawData);
      const leafPem = new X509Certificate(der).toString();
      return signed(
        digest,
        ephemeral,
        leafPem,
        { $case: 'certificate', certificate: { rawBytes: der } },
        {
          ...signOptions,
          signedAt,
        },
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The simulated transparency log: RFC 6962 Merkle tree, signed entry timestamps, signed checkpoints

class OfflineLog {
  readonly logId: Buffer;
  private readonly leafHashes: Buffer[] = [];

  constructor(readonly key: LabKey) {
    this.logId = createHash('sha256').update(key.spki).digest();
    // Two filler leaves so that every real entry's inclusion proof has hashes to check.
    for (const filler of ['offline lab genesis entry 0', 'offline lab genesis entry 1']) {
      this.leafHashes.push(leafHash(Buffer.from(filler)));
    }
  }

  append(body: Buffer, kind: string, integratedTime: number): TransparencyLogEntry {
    const logIndex = this.leafHashes.length;
    this.leafHashes.push(leafHash(body));
    const treeSize = this.leafHashes.length;
    const rootHash = treeHash(this.leafHashes);
    const signedEntryTimestamp = signData(
      'sha256',
      Buffer.from(
        json.canonicalize({
          body: body.toString('base64'),
          integratedTime,
          logIndex,
          logID: this.logId.toString('hex'),
        }),
      ),
      this.key.privateKey,
    );
    const note = `${ORIGIN}\n${treeSize}\n${rootHash.toString('base64')}\n`;
    const noteSignature = signData('sha256', Buffer.from(note), this.key.privateKey);
    const signatureLine = `\u2014 ${LOG_NAME} ${Buffer.concat([this.logId.subarray(0, 4), noteSignature]).toString('base64')}\n`;
    return {
      logIndex: String(logIndex),
      logId: { keyId: this.logId },
      kindVersion: { kind, version: '0.0.1' },
      integratedTime: String(integratedTime),
      inclusionPromise: { signedEntryTimestamp },
      inclusionProof: {
        logIndex: String(logIndex),
        rootHash,
        treeSize: String(treeSize),
        hashes: auditPath(logIndex, this.leafHashes),
        checkpoint: { envelope: `${note}\n${signatureLine}` },
      },
      canonicalizedBody: body,
    };
  }
}

function leafHash(leaf: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0]))
    .update(leaf)
    .digest();
}

function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from([1]))
    .update(left)
    .update(right)
    .digest();
}

/** Largest power of two below n (n > 1). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function treeHash(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0]!;
  const k = split(leaves.length);
  return nodeHash(treeHash(leaves.slice(0, k)), treeHash(leaves.slice(k)));
}

/** RFC 6962 PATH(m, D[n]), from the leaf's sibling up to the root's child. */
function auditPath(index: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return index < k
    ? [...auditPath(index, leaves.slice(0, k)), treeHash(leaves.slice(k))]
    : [...auditPath(index - k, leaves.slice(k)), treeHash(leaves.slice(0, k))];
}

// ---------------------------------------------------------------------------------------------------
// Keys and certificates

interface LabKey {
  privateKey: KeyObject;
  spki: Buffer;
  publicKeyPem: string;
}

/** An ECDSA P-256 key: derived from seed and label when there is a seed, random otherwise. */
function labKey(seed: string | undefined, label: string): LabKey {
  let privateKey: KeyObject;
  if (seed === undefined) {
    privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  } else {
    let scalar: Buffer | undefined;
    for (let counter = 0; !scalar; counter++) {
      const candidate = Buffer.from(
        hkdfSync('sha256', seed, 'medrelease-offline-sigstore', `${label}#${counter}`, 32),
      );
      const value = BigInt(`0x${candidate.toString('hex')}`);
      if (value > 0n && value < P256_ORDER) scalar = candidate;
    }
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(scalar);
    const point = ecdh.getPublicKey();
    privateKey = createPrivateKey({
      format: 'jwk',
      key: {
        kty: 'EC',
        crv: 'P-256',
        d: scalar.toString('base64url'),
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33, 65).toString('base64url'),
      },
    });
  }
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    spki: publicKey.export({ format: 'der', type: 'spki' }),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

async function cryptoKeys(key: LabKey): Promise<webcrypto.CryptoKeyPair> {
  const pkcs8 = key.privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, EC_P256, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', key.spki, EC_P256, true, ['verify']),
  };
}

function serialFor(seed: string | undefined, label: string): string | undefined {
  if (seed === undefined) return undefined;
  // A positive DER INTEGER: clear the top bit.
  const bytes = createHash('sha256').update(`${seed}/${label}`).digest().subarray(0, 16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

/** DER UTF8String, the value of Fulcio's v2 issuer extension. */
function derUtf8String(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length =
    bytes.length < 0x80
      ? Buffer.from([bytes.length])
      : bytes.length < 0x100
        ? Buffer.from([0x81, bytes.length])
        : Buffer.from([0x82, bytes.length >> 8, bytes.length & 0xff]);
  return Buffer.concat([Buffer.from([0x0c]), length, bytes]);
}

/**
 * @peculiar/x509 (a dev dependency, loaded only here) resolves its algorithms through tsyringe, which
 * needs the Reflect metadata API. This installs the three functions tsyringe uses, in memory, when no
 * polyfill (reflect-metadata, core-js) is present; then loads the library.
 */
async function loadX509(): Promise<typeof X509> {
  const reflect = Reflect as unknown as Record<string, unknown>;
  if (typeof reflect.getMetadata !== 'function') {
    const store = new WeakMap<object, Map<string, unknown>>();
    const slot = (key: unknown, property: unknown) => `${String(property)}\u0000${String(key)}`;
    const own = (key: unknown, target: object, property?: unknown) =>
      store.get(target)?.get(slot(key, property));
    reflect.defineMetadata = (key: unknown, value: unknown, target: object, property?: unknown) => {
      const entries = store.get(target) ?? new Map<string, unknown>();
      entries.set(slot(key, property), value);
      store.set(target, entries);
    };
    reflect.getOwnMetadata = own;
    reflect.getMetadata = (key: unknown, target: object, property?: unknown) => {
      for (
        let current: object | null = target;
        current;
        current = Object.getPrototypeOf(current) as object | null
      ) {
        const value = own(key, current, property);
        if (value !== undefined) return value;
      }
      return undefined;
    };
  }
  return import('@peculiar/x509');
}

function assertDigest(digest: string): void {
  if (!DIGEST_PATTERN.test(digest)) throw new Error(`offline lab: not a sha256 digest: ${digest}`);
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
