// The compliance gate's sigstore signature check, against bundles from the offline signing lab: keyed,
// keyless and DSSE bundles over the digest verify and report who signed; a different digest, an
// untrusted key, identity or issuer, a tampered signature, a missing, forged or untrusted log entry,
// input that is not a bundle, and a certificate or key outside its validity each fail at the check
// they should; a `verified: true` in the bundle counts for nothing; and no input makes it throw.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import type { SerializedBundle } from '@sigstore/bundle';
import {
  createOfflineSigstore,
  OFFLINE_LAB_KEY_ID,
  type OfflineSigstore,
} from '../../activities/compliance/offline-sigstore.js';
import {
  verifyArtifactSignature,
  type SignatureVerification,
  type SigningTrust,
} from '../../activities/compliance/signature.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const DIGEST = `sha256:${'4f2a9c3b'.repeat(8)}`;
const OTHER_DIGEST = `sha256:${'0123abcd'.repeat(8)}`;
const CI = {
  identity: 'https://ci.example.org/medrelease/build@refs/heads/main',
  issuer: 'https://token.ci.example.org',
};
const RELEASE_MANAGER = { identity: 'release-manager@example.org', issuer: 'https://accounts.example.org' };

const lab = await createOfflineSigstore({
  seed: 'signature-test',
  now: NOW,
  trustedSigners: [CI, RELEASE_MANAGER],
});
const otherLab = await createOfflineSigstore({ seed: 'another-lab', now: NOW, trustedSigners: [CI] });
const keyed = lab.signWithKey(DIGEST);
const keyless = await lab.signKeyless(DIGEST, CI);
const keylessDsse = await lab.signKeyless(DIGEST, CI, { format: 'dsse' });

function verify(bundle: unknown, options: { trust?: SigningTrust; digest?: string; now?: Date } = {}) {
  return verifyArtifactSignature({
    bundle,
    digest: options.digest ?? DIGEST,
    trust: options.trust ?? lab.trust,
    now: options.now ?? NOW,
  });
}

/** Fails, at exactly one check (the last), of that name, with an error matching `pattern`. */
function assertFailsAt(result: SignatureVerification, check: string, pattern: RegExp): void {
  assert.equal(result.verified, false, 'verified');
  const failed = result.checks.filter((entry) => !entry.ok);
  assert.equal(failed.length, 1, JSON.stringify(failed));
  assert.equal(failed[0]?.name, check, result.error);
  assert.equal(result.checks.at(-1)?.ok, false);
  assert.match(result.error ?? '', pattern);
  assert.ok((result.error ?? '').startsWith(`${check}: `), result.error);
  assert.equal(result.signer, undefined);
  assert.equal(result.tlog, undefined);
  assert.equal(result.subjectDigest, undefined);
}

function edit(bundle: SerializedBundle, change: (copy: SerializedBundle) => void): SerializedBundle {
  const copy = structuredClone(bundle);
  change(copy);
  return copy;
}

function entry(bundle: SerializedBundle) {
  const first = bundle.verificationMaterial.tlogEntries[0];
  assert.ok(first);
  return first;
}

/** The same base64 value with one bit of one byte flipped. */
function flip(base64: string, at = 10): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[at % bytes.length] = (bytes[at % bytes.length] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

function withTrust(change: (trust: SigningTrust) => void, from: OfflineSigstore = lab): SigningTrust {
  const trust = structuredClone(from.trust);
  change(trust);
  return trust;
}

describe('artifact signature verification (offline sigstore)', () => {
  test('a keyed bundle verifies against its digest and reports the key, the log entry and the digest', () => {
    const result = verify(keyed);
    assert.equal(result.verified, true, result.error);
    assert.equal(result.error, undefined);
    assert.deepEqual(result.signer, { kind: 'key', keyId: OFFLINE_LAB_KEY_ID });
    assert.equal(result.subjectDigest, DIGEST);
    assert.equal(result.tlog?.integratedTime, NOW.toISOString());
    assert.match(result.tlog?.logId ?? '', /^[0-9a-f]{64}$/);
    assert.match(result.tlog?.logIndex ?? '', /^\d+$/);
    assert.ok(result.checks.every((check) => check.ok));
    const names = result.checks.map((check) => check.name);
    for (const name of [
      'signed subject',
      'signing key',
      'transparency-log inclusion',
      'transparency-log entry matches the signature',
      'signature',
      'signing time',
    ]) {
      assert.ok(names.includes(name), `check '${name}' in ${names.join(', ')}`);
    }
    // The bundle is v0.3 JSON with a hashedrekord entry carrying both a SET and an inclusion proof.
    assert.equal(keyed.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.equal(entry(keyed).kindVersion?.kind, 'hashedrekord');
    assert.ok(entry(keyed).inclusionPromise?.signedEntryTimestamp);
    assert.ok((entry(keyed).inclusionProof?.hashes.length ?? 0) > 0);
  });

  test('a keyless bundle from a trusted identity verifies and reports identity and issuer', async () => {
    const result = verify(keyless);
    assert.equal(result.verified, true, result.error);
    assert.deepEqual(result.signer, { kind: 'certificate', identity: CI.identity, issuer: CI.issuer });
    assert.equal(result.subjectDigest, DIGEST);
    assert.ok(result.checks.some((check) => check.name === 'certificate chain' && check.ok));
    assert.ok(result.checks.some((check) => check.name === 'signer identity' && check.ok));
    // An email identity works the same way.
    const byEmail = verify(await lab.signKeyless(DIGEST, RELEASE_MANAGER));
    assert.equal(byEmail.verified, true, byEmail.error);
    assert.deepEqual(byEmail.signer, { kind: 'certificate', ...RELEASE_MANAGER });
  });

  test('a DSSE in-toto statement naming the digest verifies; for another digest it fails', () => {
    const result = verify(keylessDsse);
    assert.equal(result.verified, true, result.error);
    assert.equal(entry(keylessDsse).kindVersion?.kind, 'dsse');
    assert.match(
      result.checks.find((check) => check.name === 'signed subject')?.detail ?? '',
      /in-toto statement/,
    );
    assertFailsAt(verify(keylessDsse, { digest: OTHER_DIGEST }), 'signed subject', /do not include/);
    const keyedDsse = lab.signWithKey(DIGEST, { format: 'dsse' });
    assert.equal(verify(keyedDsse).verified, true);
  });

  test('the bundle may be JSON text or bytes, and the result is plain JSON evidence', () => {
    assert.equal(verify(JSON.stringify(keyless)).verified, true);
    assert.equal(verify(Buffer.from(JSON.stringify(keyed))).verified, true);
    const result = verify(keyless);
    assert.deepEqual(JSON.parse(JSON.stringify(result)), result);
  });

  test('RFC 3161 timestamps in a bundle are set aside, not trusted', () => {
    const stamped = edit(keyless, (copy) => {
      copy.verificationMaterial.timestampVerificationData = {
        rfc3161Timestamps: [{ signedTimestamp: 'AAAA' }],
      };
    });
    const result = verify(stamped);
    assert.equal(result.verified, true, result.error);
    assert.match(
      result.checks.find((check) => check.name === 'bundle format')?.detail ?? '',
      /1 RFC 3161 timestamp\(s\) ignored/,
    );
  });

  test('a different digest fails at the signed subject', async () => {
    assertFailsAt(verify(keyed, { digest: OTHER_DIGEST }), 'signed subject', /not the digest text/);
    assertFailsAt(verify(keyless, { digest: OTHER_DIGEST }), 'signed subject', /not the digest text/);
    const forOther = await lab.signKeyless(OTHER_DIGEST, CI);
    assertFailsAt(verify(forOther), 'signed subject', /not the digest text/);
    // A messageDigest that is the artifact digest itself signs the artifact's bytes: refused, explained.
    const overImage = edit(keyed, (copy) => {
      copy.messageSignature!.messageDigest!.digest = Buffer.from(DIGEST.slice(7), 'hex').toString('base64');
    });
    assertFailsAt(verify(overImage), 'signed subject', /covers the artifact's bytes/);
  });

  test('an untrusted key fails: an unknown key id, or a trusted key id over another key', () => {
    assertFailsAt(
      verify(lab.signWithKey(DIGEST, { keyId: 'someone-else' })),
      'signing key',
      /'someone-else' is not a trusted public key/,
    );
    // The trust names the lab's key id but with another key: the signature does not verify.
    const swapped = withTrust((trust) => {
      trust.publicKeys = [
        { keyId: OFFLINE_LAB_KEY_ID, publicKeyPem: otherLab.trust.publicKeys![0]!.publicKeyPem },
      ];
    });
    assertFailsAt(verify(keyed, { trust: swapped }), 'signature', /signature verification failed/);
    // No public keys at all.
    assertFailsAt(
      verify(keyed, { trust: withTrust((trust) => delete trust.publicKeys) }),
      'signing key',
      /not a trusted public key/,
    );
  });

  test('a keyless signer not in trustedSigners fails, and regex identities match whole identities', async () => {
    const stranger = await lab.signKeyless(DIGEST, {
      identity: 'https://ci.example.org/fork/build',
      issuer: CI.issuer,
    });
    assertFailsAt(verify(stranger), 'signer identity', /fork\/build .*is not a trusted signer/);
    assertFailsAt(
      verify(keyless, { trust: withTrust((trust) => (trust.trustedSigners = [])) }),
      'signer identity',
      /no trustedSigners/,
    );
    const pattern = (identity: string) =>
      withTrust((trust) => (trust.trustedSigners = [{ identity, issuer: CI.issuer }]));
    assert.equal(
      verify(keyless, { trust: pattern('/https://ci\\.example\\.org/medrelease/.+/') }).verified,
      true,
    );
    // Anchored: a pattern matching only part of the identity does not trust it.
    assertFailsAt(
      verify(keyless, { trust: pattern('/ci\\.example\\.org/') }),
      'signer identity',
      /is not a trusted signer/,
    );
    // An exact identity is not a pattern: '.' is a dot.
    assertFailsAt(
      verify(keyless, { trust: pattern(CI.identity.replace('ci.example', 'ci-example')) }),
      'signer identity',
      /is not a trusted signer/,
    );
    // Another lab's CA is not trusted, whatever the identity.
    assertFailsAt(
      verify(await otherLab.signKeyless(DIGEST, CI), {
        trust: withTrust((trust) => (trust.transparencyLogs = otherLab.trust.transparencyLogs)),
      }),
      'certificate chain',
      /Failed to verify certificate chain/,
    );
  });

  test('a trusted identity from an untrusted OIDC issuer fails', async () => {
    const wrongIssuer = await lab.signKeyless(DIGEST, {
      identity: CI.identity,
      issuer: 'https://token.evil.example',
    });
    assertFailsAt(
      verify(wrongIssuer),
      'signer identity',
      /trusted only when issued by https:\/\/token\.ci\.example\.org, but its certificate was issued by https:\/\/token\.evil\.example/,
    );
  });

  test('a leaf certificate not for code signing fails', async () => {
    const serverCertificate = await lab.signKeyless(DIGEST, CI, { withoutCodeSigning: true });
    assertFailsAt(verify(serverCertificate), 'code-signing certificate', /code-signing extended key usage/);
  });

  test("a log entry that records another key than the signer's fails", async () => {
    const recordedKeyPem = otherLab.trust.publicKeys![0]!.publicKeyPem;
    const keyedEntry = lab.signWithKey(DIGEST, { recordedKeyPem });
    assertFailsAt(verify(keyedEntry), 'transparency-log entry names the signing key', /different public key/);
    const dsseEntry = await lab.signKeyless(DIGEST, CI, { format: 'dsse', recordedKeyPem });
    assertFailsAt(
      verify(dsseEntry),
      'transparency-log entry names the signing key',
      /\(dsse\) records a different/,
    );
  });

  test('a tampered signature or signed payload fails', () => {
    const tamperedSignature = edit(keyed, (copy) => {
      copy.messageSignature!.signature = flip(copy.messageSignature!.signature);
    });
    assertFailsAt(
      verify(tamperedSignature),
      'transparency-log entry matches the signature',
      /signature mismatch/,
    );
    const tamperedKeyless = edit(keyless, (copy) => {
      copy.messageSignature!.signature = flip(copy.messageSignature!.signature, 40);
    });
    assertFailsAt(
      verify(tamperedKeyless),
      'transparency-log entry matches the signature',
      /signature mismatch/,
    );
    const tamperedEnvelope = edit(keylessDsse, (copy) => {
      const signature = copy.dsseEnvelope!.signatures[0]!;
      signature.sig = flip(signature.sig);
    });
    assertFailsAt(
      verify(tamperedEnvelope),
      'transparency-log entry matches the signature',
      /signature mismatch/,
    );
    const tamperedPayload = edit(keylessDsse, (copy) => {
      const statement = Buffer.from(copy.dsseEnvelope!.payload, 'base64').toString('utf8');
      copy.dsseEnvelope!.payload = Buffer.from(statement.replace('model-image', 'model-imagf')).toString(
        'base64',
      );
    });
    assertFailsAt(
      verify(tamperedPayload),
      'transparency-log entry matches the signature',
      /payload hash mismatch/,
    );
  });

  test('a missing, forged or untrusted transparency-log entry fails', () => {
    const noEntries = edit(keyed, (copy) => (copy.verificationMaterial.tlogEntries = []));
    assertFailsAt(
      verify(noEntries),
      'transparency-log entries',
      /has 0 transparency-log entries; .* requires 1/,
    );
    const noSet = edit(keyed, (copy) => (entry(copy).inclusionPromise = undefined));
    assertFailsAt(verify(noSet), 'transparency-log entries', /no signed entry timestamp/);
    const noProof = edit(keyed, (copy) => (entry(copy).inclusionProof = undefined));
    assertFailsAt(verify(noProof), 'bundle format', /inclusionProof/);
    const backdated = edit(keyed, (copy) => {
      entry(copy).integratedTime = String(Number(entry(copy).integratedTime) - 3600);
    });
    assertFailsAt(verify(backdated), 'transparency-log inclusion', /inclusion promise could not be verified/);
    const forgedSet = edit(keyed, (copy) => {
      const promise = entry(copy).inclusionPromise!;
      promise.signedEntryTimestamp = flip(promise.signedEntryTimestamp, 20);
    });
    assertFailsAt(verify(forgedSet), 'transparency-log inclusion', /inclusion promise could not be verified/);
    // The entry of another signature, with its own valid SET and proof, does not match this one.
    const otherEntry = edit(keyed, (copy) => {
      copy.verificationMaterial.tlogEntries = structuredClone(keyless.verificationMaterial.tlogEntries);
    });
    assertFailsAt(verify(otherEntry), 'transparency-log entry matches the signature', /signature mismatch/);
    const forgedProof = edit(keyed, (copy) => {
      const proof = entry(copy).inclusionProof!;
      proof.hashes[0] = flip(proof.hashes[0]!);
    });
    assertFailsAt(verify(forgedProof), 'transparency-log inclusion', /root hash does not match/);
    const forgedCheckpoint = edit(keyed, (copy) => {
      const checkpoint = entry(copy).inclusionProof!.checkpoint;
      const [note, signature] = checkpoint.envelope.split('\n\n') as [string, string];
      const [name, value] = signature.trim().split(' ').slice(1) as [string, string];
      checkpoint.envelope = `${note}\n\n\u2014 ${name} ${flip(value, 30)}\n`;
    });
    assertFailsAt(verify(forgedCheckpoint), 'transparency-log inclusion', /invalid checkpoint signature/);
    const resizedProof = edit(keyed, (copy) => (entry(copy).inclusionProof!.treeSize = '1'));
    assertFailsAt(verify(resizedProof), 'transparency-log entries', /not those of its checkpoint/);
    // A log key the policy does not trust (here: another lab's log in the policy).
    const otherLog = withTrust((trust) => (trust.transparencyLogs = otherLab.trust.transparencyLogs));
    assertFailsAt(
      verify(keyed, { trust: otherLog }),
      'transparency-log entries',
      /not a trusted transparency log/,
    );
    assertFailsAt(
      verify(otherLab.signWithKey(DIGEST)),
      'transparency-log entries',
      /not a trusted transparency log/,
    );
    // A log that was not yet trusted when the entry was made.
    const laterLog = withTrust((trust) => (trust.transparencyLogs[0]!.validFrom = '2026-06-01T00:00:00Z'));
    assertFailsAt(verify(keyed, { trust: laterLog }), 'transparency-log inclusion', /inclusion promise/);
    // More entries required than present.
    assertFailsAt(
      verify(keyed, { trust: withTrust((trust) => (trust.tlogThreshold = 2)) }),
      'transparency-log entries',
      /requires 2/,
    );
    // A checkpoint signer name is used by the library as a regular expression: only plain names pass.
    const regexName = edit(keyed, (copy) => {
      const checkpoint = entry(copy).inclusionProof!.checkpoint;
      checkpoint.envelope = checkpoint.envelope.replace(
        '\u2014 rekor.offline-lab.invalid ',
        '\u2014 (a+)+$ ',
      );
    });
    assertFailsAt(verify(regexName), 'transparency-log entries', /checkpoint signature name/);
  });

  test('a bundle that is not sigstore at all fails at the bundle format', () => {
    const cases: [unknown, RegExp][] = [
      ['definitely not json', /not JSON/],
      ['', /not JSON/],
      [Buffer.from([0xff, 0x00, 0x7b]), /not JSON/],
      [null, /not a JSON object/],
      [undefined, /not a JSON object/],
      [42, /not a JSON object/],
      [[keyed], /not a JSON object/],
      [{}, /mediaType nothing/],
      [
        { mediaType: 'application/json', messageSignature: keyed.messageSignature },
        /mediaType 'application\/json'/,
      ],
      [
        { ...keyed, mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1' },
        /version=0\.1' is not/,
      ],
      [{ ...keyed, mediaType: 'application/vnd.dev.sigstore.bundle.v0.9+json' }, /v0\.9\+json' is not/],
      [{ mediaType: keyed.mediaType }, /not a valid sigstore bundle.*content/],
      [{ ...keyed, verificationMaterial: null }, /not a valid sigstore bundle/],
      [{ ...keyed, verificationMaterial: { tlogEntries: [null] } }, /not a valid sigstore bundle/],
      [
        edit(keyed, (copy) => (copy.messageSignature!.signature = '')),
        /content\.messageSignature\.signature/,
      ],
    ];
    for (const [bundle, pattern] of cases) {
      assertFailsAt(verify(bundle), 'bundle format', pattern);
    }
  });

  test('a malformed digest or trust policy fails, without throwing', () => {
    for (const digest of [
      '',
      'sha256:abc',
      DIGEST.toUpperCase(),
      `sha512:${'ab'.repeat(64)}`,
      DIGEST.slice(7),
    ]) {
      assertFailsAt(verify(keyed, { digest }), 'artifact digest', /expected 'sha256:<64 lowercase hex>'/);
    }
    const trusts: [unknown, RegExp][] = [
      [null, /not an object/],
      ['trust me', /not an object/],
      [{}, /transparencyLogs is not a list/],
      [{ transparencyLogs: [] }, /transparencyLogs is empty/],
      [withTrust((trust) => (trust.transparencyLogs[0]!.publicKeyPem = 'nope')), /not a PEM public key/],
      [
        withTrust(
          (trust) =>
            (trust.transparencyLogs[0]!.publicKeyPem =
              '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'),
        ),
        /not a readable public key/,
      ],
      [
        withTrust((trust) => (trust.certificateAuthorities![0]!.certChainPem = ['x'])),
        /not a PEM certificate/,
      ],
      [withTrust((trust) => (trust.publicKeys![0]!.validTo = 'tomorrow')), /validTo is not a date/],
      [withTrust((trust) => (trust.trustedSigners![0]!.identity = '/(/')), /not a valid regular expression/],
      [withTrust((trust) => (trust.tlogThreshold = 0)), /tlogThreshold must be an integer of at least 1/],
    ];
    for (const [trust, pattern] of trusts) {
      const result = verifyArtifactSignature({
        bundle: keyed,
        digest: DIGEST,
        trust: trust as SigningTrust,
        now: NOW,
      });
      assertFailsAt(result, 'trust material', pattern);
    }
    assert.equal(verifyArtifactSignature(undefined as never).verified, false);
  });

  test('certificate, key and trust validity are judged at the logged signing time, which is not after now', async () => {
    // A leaf certificate that had expired when the log recorded the signature.
    const expired = await lab.signKeyless(DIGEST, CI, {
      notBefore: new Date(NOW.getTime() - 30 * 60_000),
      notAfter: new Date(NOW.getTime() - 20 * 60_000),
    });
    assertFailsAt(
      verify(expired),
      'certificate chain',
      /not valid or expired at the specified date.*2026-03-01T12:00:00/,
    );
    // A leaf certificate not yet valid when logged.
    const early = await lab.signKeyless(DIGEST, CI, { notBefore: new Date(NOW.getTime() + 60_000) });
    assertFailsAt(verify(early), 'certificate chain', /not valid or expired/);
    // Verified before the certificate's (and the log entry's) time: the gate's clock is earlier.
    assertFailsAt(
      verify(keyless, { now: new Date(NOW.getTime() - 24 * 3600_000) }),
      'signing time',
      /after the gate's time 2026-02-28T12:00:00/,
    );
    // Fulcio certificates live ten minutes: a year later the signature logged in time still verifies.
    assert.equal(verify(keyless, { now: new Date('2027-03-01T00:00:00Z') }).verified, true);
    // A certificate authority the policy trusts only until before the signing time.
    const caRetired = withTrust((trust) => {
      trust.certificateAuthorities![0]!.validFrom = '2025-01-01T00:00:00Z';
      trust.certificateAuthorities![0]!.validTo = '2026-02-01T00:00:00Z';
    });
    assertFailsAt(
      verify(keyless, { trust: caRetired }),
      'certificate chain',
      /Failed to verify certificate chain/,
    );
    // A key retired before the signing time fails; one retired after it still verifies.
    const keyRetired = withTrust((trust) => {
      trust.publicKeys![0]!.validFrom = '2025-01-01T00:00:00Z';
      trust.publicKeys![0]!.validTo = '2026-02-01T00:00:00Z';
    });
    assertFailsAt(
      verify(keyed, { trust: keyRetired }),
      'signing key',
      /not valid for timestamp: 2026-03-01T12:00:00/,
    );
    const keyRetiredLater = withTrust((trust) => (trust.publicKeys![0]!.validTo = '2026-03-02T00:00:00Z'));
    assert.equal(
      verify(keyed, { trust: keyRetiredLater, now: new Date('2026-06-01T00:00:00Z') }).verified,
      true,
    );
    const keyNotYet = withTrust((trust) => (trust.publicKeys![0]!.validFrom = '2026-03-01T12:00:01Z'));
    assertFailsAt(verify(keyed, { trust: keyNotYet }), 'signing key', /not valid for timestamp/);
  });

  test('a "verified": true field in the bundle is no evidence: a bad signature still fails', () => {
    const claims = (bundle: SerializedBundle) =>
      Object.assign(structuredClone(bundle) as unknown as Record<string, unknown>, {
        verified: true,
        verification: { verified: true, signer: CI },
      });
    const forged = claims(
      edit(keyless, (copy) => {
        copy.messageSignature!.signature = flip(copy.messageSignature!.signature);
        (copy.verificationMaterial as unknown as Record<string, unknown>).verified = true;
        (entry(copy) as unknown as Record<string, unknown>).verified = true;
      }),
    );
    assertFailsAt(verify(forged), 'transparency-log entry matches the signature', /signature mismatch/);
    const forgedKey = claims(lab.signWithKey(DIGEST, { keyId: 'someone-else' }));
    assertFailsAt(verify(forgedKey), 'signing key', /not a trusted public key/);
    assertFailsAt(
      verify(JSON.stringify(claims(keyed)), { digest: OTHER_DIGEST }),
      'signed subject',
      /not the digest text/,
    );
    // The claim neither helps nor hurts a good bundle.
    assert.equal(verify(claims(keyless)).verified, true);
  });

  test('no change to any field of a bundle makes it throw, and changing any signed value fails', () => {
    let attempts = 0;
    for (const bundle of [keyed, keyless, keylessDsse]) {
      for (const path of leafPaths(bundle)) {
        const original = valueAt(bundle, path);
        const replacements: unknown[] = [null, 'x', 0, {}, []];
        if (typeof original === 'string') replacements.push(changed(original));
        for (const replacement of replacements) {
          const copy = structuredClone(bundle) as unknown;
          setAt(copy, path, replacement);
          let result: SignatureVerification | undefined;
          assert.doesNotThrow(() => (result = verify(copy)), path.join('.'));
          attempts++;
          // Only the unsigned DSSE key id hint and the (ignored) timestamp data may change freely.
          if (result?.verified && !/keyid|timestampVerificationData/.test(path.join('.'))) {
            assert.fail(`changing ${path.join('.')} to ${JSON.stringify(replacement)} still verified`);
          }
        }
      }
    }
    assert.ok(attempts > 100, `${attempts} attempts`);
  });

  test('the lab derives the same keys from the same seed, and other keys from another', async () => {
    const again = await createOfflineSigstore({ seed: 'signature-test', now: NOW });
    assert.equal(again.trust.publicKeys![0]!.publicKeyPem, lab.trust.publicKeys![0]!.publicKeyPem);
    assert.equal(again.trust.transparencyLogs[0]!.publicKeyPem, lab.trust.transparencyLogs[0]!.publicKeyPem);
    // (certificates carry fresh ECDSA signatures, so compare the CA's key)
    const caKey = (from: OfflineSigstore) =>
      new X509Certificate(from.trust.certificateAuthorities![0]!.certChainPem[0]!).publicKey.export({
        format: 'pem',
        type: 'spki',
      });
    assert.equal(caKey(again), caKey(lab));
    assert.notEqual(caKey(otherLab), caKey(lab));
    assert.notEqual(otherLab.trust.publicKeys![0]!.publicKeyPem, lab.trust.publicKeys![0]!.publicKeyPem);
    // A bundle from the re-created lab verifies against the first lab's policy.
    assert.equal(verify(again.signWithKey(DIGEST)).verified, true);
    // The trust policy holds no private key material.
    assert.doesNotMatch(JSON.stringify(lab.trust), /PRIVATE KEY/);
  });
});

type Path = (string | number)[];

function leafPaths(value: unknown, path: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((item, index) => leafPaths(item, [...path, index]));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => leafPaths(item, [...path, key]));
  }
  return [path];
}

function valueAt(value: unknown, path: Path): unknown {
  return path.reduce<unknown>((current, key) => (current as Record<string | number, unknown>)[key], value);
}

function setAt(value: unknown, path: Path, replacement: unknown): void {
  const parent = valueAt(value, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path.at(-1)!] = replacement;
}

/** A different value of the same kind: a bit flipped for base64, a changed character otherwise. */
function changed(value: string): string {
  if (/^[A-Za-z0-9+/]+=*$/.test(value) && value.length >= 8 && value.length % 4 === 0) return flip(value);
  const last = value.at(-1) ?? 'a';
  return value.slice(0, -1) + (last === '1' ? '2' : '1');
}
