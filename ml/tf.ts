// TensorFlow.js with the fastest backend this machine has: @tensorflow/tfjs-node (native libtensorflow,
// an optional dependency that cannot install everywhere) when it loads, else the WebAssembly backend,
// else the plain JavaScript cpu backend. The choice is made once per process and reported.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export type Backend = 'tensorflow' | 'wasm' | 'cpu';

let ready: Promise<{ tf: typeof tf; backend: Backend }> | undefined;

/**
 * Initialises TensorFlow.js once. `prefer` (or MEDRELEASE_TF_BACKEND) forces a backend, e.g. for
 * tests that must be reproducible across machines; the log receives one line naming the one in use.
 */
export function tensorflow(
  options: { prefer?: Backend; log?: (line: string) => void } = {},
): Promise<{ tf: typeof tf; backend: Backend }> {
  ready ??= choose(
    options.prefer ?? (process.env.MEDRELEASE_TF_BACKEND as Backend | undefined),
    options.log ?? (() => {}),
  );
  return ready;
}

async function choose(prefer: Backend | undefined, log: (line: string) => void) {
  const order: Backend[] = prefer ? [prefer] : ['tensorflow', 'wasm', 'cpu'];
  const failures: string[] = [];
  for (const backend of order) {
    try {
      if (backend === 'tensorflow') {
        // Registers the 'tensorflow' backend when the native binding is installed.
        // A variable, so TypeScript does not need the optional package's types to compile.
        const nativePackage = '@tensorflow/tfjs-node';
        await import(nativePackage);
      }
      if (backend === 'wasm') {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        // In Node the .wasm files are read from the package's dist folder.
        const require = createRequire(import.meta.url);
        const dist = path.dirname(
          require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'),
        );
        wasm.setWasmPaths(`${dist}${path.sep}`);
      }
      if (await tf.setBackend(backend)) {
        await tf.ready();
        log(
          `TensorFlow.js ${tf.version.tfjs} on the ${backend} backend${failures.length ? ` (${failures.join('; ')})` : ''}`,
        );
        return { tf, backend };
      }
      failures.push(`${backend}: not available`);
    } catch (error) {
      failures.push(`${backend}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${failures.join('; ')}`);
}
