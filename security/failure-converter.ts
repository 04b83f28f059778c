// The failure converter of every medrelease client and worker: failure messages and stack traces
// travel in an (encrypted) payload, never as plain text on the Temporal server. The SDK takes it as
// a module path only — a Worker require()s it for activities and bundles it into the workflow sandbox
// — so this module is kept tiny: nothing but the converter.
import { DefaultFailureConverter, type FailureConverter } from '@temporalio/common';

export const failureConverter: FailureConverter = new DefaultFailureConverter({
  encodeCommonAttributes: true,
});
