// Encryption of every Temporal payload (workflow and activity inputs and results, signals, updates,
// queries, memos, and — through the failure converter — failure messages and stack traces) with
// AES-256-GCM before it leaves the process, so the Temporal server and its database only ever hold
// ciphertext. An encrypted payload:
//
//   metadata: encoding = "binary/encrypted", encryption-cipher = "AES256-GCM", encryption-key-id = <key id>
//   data:     12-byte random IV || ciphertext || 16-byte tag   of the protobuf encoding of the original payload
//
// The key id is also the additional authenticated data, so moving a payload under another key's id
// fails authentication. Payloads that are not encrypted (histories written before encryption was
// turned on) decode unchanged.
//
// This module is also part of the workflow bundle (data-converter.ts is the bundle's failure
// converter and imports it), where Node built-ins are not allowed: the cipher is the WebCrypto API on
// `globalThis.crypto`, which only runs outside the sandbox, and payload-keys.ts is imported for its
// types only.
import type { webcrypto } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { PayloadKey, PayloadKeyRing } from './payload-keys.js';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const ENCRYPTION_CIPHER = 'AES256-GCM';
export const METADATA_ENCODING = 'encoding';
export const METADATA_CIPHER = 'encryption-cipher';
export const METADATA_KEY_ID = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const ProtoPayload = proto.temporal.api.common.v1.Payload;
type ProtoPayload = proto.temporal.api.common.v1.Payload;

/** A payload that cannot be decoded: unknown key, tampered data, or not this codec's format. */
export class PayloadDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadDecodeError';
  }
}

export const AUTHENTICATION_FAILED =
  'payload authentication failed (tampered, or encrypted with a different key under the same id)';

export class AesGcmPayloadCodec implements PayloadCodec {
  readonly #ring: PayloadKeyRing;
  readonly #cryptoKeys = new Map<string, Promise<webcrypto.CryptoKey>>();

  constructor(ring: PayloadKeyRing) {
    this.#ring = ring;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((payload) => this.#encrypt(payload)));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((payload) => this.#decrypt(payload)));
  }

  async #encrypt(payload: Payload): Promise<Payload> {
    const key = this.#ring.active;
    const plaintext = ProtoPayload.encode(payload).finish();
    const iv = subtle().getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = await subtle().subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: utf8(key.id), tagLength: TAG_BYTES * 8 },
      await this.#cryptoKey(key),
      plaintext,
    );
    const data = new Uint8Array(IV_BYTES + sealed.byteLength);
    data.set(iv, 0);
    data.set(new Uint8Array(sealed), IV_BYTES);
    return {
      metadata: {
        [METADATA_ENCODING]: utf8(ENCRYPTED_ENCODING),
        [METADATA_CIPHER]: utf8(ENCRYPTION_CIPHER),
        [METADATA_KEY_ID]: utf8(key.id),
      },
      data,
    };
  }

  async #decrypt(payload: Payload): Promise<Payload> {
    const metadata = payload.metadata ?? {};
    if (text(metadata[METADATA_ENCODING]) !== ENCRYPTED_ENCODING) return payload;
    const cipher = text(metadata[METADATA_CIPHER]);
    if (cipher !== ENCRYPTION_CIPHER) {
      throw new PayloadDecodeError(
        `payload is encrypted with ${cipher === undefined ? 'no named cipher' : `the cipher '${cipher}'`}; this codec decrypts ${ENCRYPTION_CIPHER} only`,
      );
    }
    const keyId = text(metadata[METADATA_KEY_ID]);
    if (!keyId) throw new PayloadDecodeError(`encrypted payload has no ${METADATA_KEY_ID} metadata`);
    const key = this.#ring.get(keyId);
    if (!key) {
      throw new PayloadDecodeError(
        `payload was encrypted with the key '${keyId}', which is not loaded (loaded keys: ${this.#ring.ids().join(', ')})`,
      );
    }
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new PayloadDecodeError(
        `encrypted payload is too short (${data.length} bytes) to hold an IV and a tag`,
      );
    }
    let plaintext: Uint8Array;
    try {
      plaintext = new Uint8Array(
        await subtle().subtle.decrypt(
          {
            name: 'AES-GCM',
            iv: data.subarray(0, IV_BYTES),
            additionalData: utf8(keyId),
            tagLength: TAG_BYTES * 8,
          },
          await this.#cryptoKey(key),
          data.subarray(IV_BYTES),
        ),
      );
    } catch {
      throw new PayloadDecodeError(AUTHENTICATION_FAILED);
    }
    let decoded: ProtoPayload;
    try {
      decoded = ProtoPayload.decode(plaintext);
    } catch (error) {
      throw new PayloadDecodeError(
        `decrypted payload is not a protobuf Payload: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return {
      metadata: Object.fromEntries(
        Object.entries(decoded.metadata).map(([name, value]) => [name, bytes(value)]),
      ),
      data: bytes(decoded.data),
      ...(decoded.externalPayloads.length > 0 ? { externalPayloads: decoded.externalPayloads } : {}),
    };
  }

  /** Each key is imported into WebCrypto once, as a non-extractable key. */
  #cryptoKey(key: PayloadKey): Promise<webcrypto.CryptoKey> {
    let cryptoKey = this.#cryptoKeys.get(key.id);
    if (!cryptoKey) {
      cryptoKey = subtle().subtle.importKey('raw', key.key, { name: 'AES-GCM' }, false, [
        'encrypt',
        'decrypt',
      ]);
      this.#cryptoKeys.set(key.id, cryptoKey);
    }
    return cryptoKey;
  }
}

/** protobufjs gives Buffers, or a plain array for an absent bytes field's default. */
function bytes(value: Uint8Array | number[] | null | undefined): Uint8Array {
  return value instanceof Uint8Array ? value : Uint8Array.from(value ?? []);
}

function subtle(): webcrypto.Crypto {
  const crypto = (globalThis as { crypto?: webcrypto.Crypto }).crypto;
  if (!crypto?.subtle)
    throw new Error('the payload codec needs the WebCrypto API (globalThis.crypto.subtle)');
  return crypto;
}

// Created on first use: nothing runs when the workflow sandbox loads this module.
let encoder: InstanceType<typeof TextEncoder> | undefined;
let decoder: InstanceType<typeof TextDecoder> | undefined;

function utf8(value: string): Uint8Array {
  encoder ??= new TextEncoder();
  return encoder.encode(value);
}

function text(bytes: Uint8Array | null | undefined): string | undefined {
  if (!bytes) return undefined;
  decoder ??= new TextDecoder();
  return decoder.decode(bytes);
}
