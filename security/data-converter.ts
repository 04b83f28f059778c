// The data converter of every medrelease Temporal client and worker: the default payload converter,
// the AES-256-GCM payload codec (payload-codec.ts) and a failure converter that moves failure
// messages and stack traces into an (encrypted) payload, so neither plaintext data nor plaintext
// error text reaches the Temporal server.
//
// The SDK takes a failure converter only as a module path (`failureConverterPath`): a Worker loads
// it with require() for activities, and bundles it into the workflow sandbox for workflow failures.
// That module is failure-converter.ts, which holds nothing else. Consequences:
// - A workflow bundle made ahead of time (bundleWorkflowCode) must be made with
//   `failureConverterPath: failureConverterPath()`, or workflow failures stay plaintext.
// - require() of an ES module needs Node ≥ 20.19 (or 22.12), where require(esm) is on by default.
import { fileURLToPath } from 'node:url';
import type { DataConverter, FailureConverter, PayloadCodec } from '@temporalio/common';
import { failureConverter } from './failure-converter.js';
import { AesGcmPayloadCodec } from './payload-codec.js';
import type { PayloadKeyRing } from './payload-keys.js';

export { failureConverter };

/** The failure converter's module file: the `failureConverterPath` for Client, Worker and bundleWorkflowCode. */
export function failureConverterPath(): string {
  return fileURLToPath(new URL('./failure-converter.js', import.meta.url));
}

export interface MedreleaseDataConverter extends DataConverter {
  payloadCodecs: PayloadCodec[];
  failureConverterPath: string;
  /** The same converter the SDK loads from failureConverterPath, for code that converts failures itself. */
  failureConverter: FailureConverter;
}

/** The `dataConverter` option of `new Client(...)` and `Worker.create(...)`. */
export function medreleaseDataConverter(ring: PayloadKeyRing): MedreleaseDataConverter {
  return {
    payloadCodecs: [new AesGcmPayloadCodec(ring)],
    failureConverterPath: failureConverterPath(),
    failureConverter,
  };
}

/** For logs: which keys are loaded and which one encrypts; never key material. */
export function describeKeyRing(ring: PayloadKeyRing): { active: string; keyIds: string[] } {
  return { active: ring.active.id, keyIds: ring.ids() };
}
