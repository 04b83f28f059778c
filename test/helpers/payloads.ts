// Reading what tests need out of raw histories, which hold ciphertext: payloads are decrypted with the
// client's own codecs, as the Temporal UI's codec endpoint would.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';

/** Decodes one stored payload with the client's codecs (last applied, first undone). */
export async function decodePayload<T>(client: Client, payload: Payload): Promise<T> {
  let payloads = [payload];
  for (const codec of [...client.options.loadedDataConverter.payloadCodecs].reverse()) {
    payloads = await codec.decode(payloads);
  }
  return defaultPayloadConverter.fromPayload<T>(payloads[0]!);
}

/** Decodes, in place, every payload in `value` (a history or part of one), keeping its message classes. */
export async function decodeInPlace<T>(client: Client, value: T): Promise<T> {
  const visit = async (node: unknown): Promise<void> => {
    if (!node || typeof node !== 'object' || node instanceof Uint8Array) return;
    if (Array.isArray(node)) {
      for (const entry of node) await visit(entry);
      return;
    }
    const record = node as Record<string, unknown>;
    const metadata = record.metadata as Record<string, unknown> | undefined;
    if (metadata && typeof metadata === 'object' && metadata.encoding instanceof Uint8Array) {
      let payloads = [record as Payload];
      for (const codec of [...client.options.loadedDataConverter.payloadCodecs].reverse()) {
        payloads = await codec.decode(payloads);
      }
      record.metadata = payloads[0]!.metadata;
      record.data = payloads[0]!.data;
      return;
    }
    for (const entry of Object.values(record)) await visit(entry);
  };
  await visit(value);
  return value;
}
