// Saving and loading TensorFlow.js layers models to a local directory, on every backend.
//
// TensorFlow.js only has a `file://` handler when @tensorflow/tfjs-node is installed; the wasm and cpu
// backends have none. This module is that handler, in the same on-disk layout as tfjs-node's and the
// converter's (so either side can read the other's output):
//   <dir>/model.json   topology, training config, weight specs (as a one-group weightsManifest),
//                      format/generatedBy/convertedBy and userDefinedMetadata (our metadata);
//   <dir>/weights.bin  every weight's bytes, in the order of the specs, little-endian as tfjs encodes them.
// model.json also records the byte length and SHA-256 of weights.bin (`weightsIntegrity`, a key
// TensorFlow.js ignores), which load() checks.
//
// Atomicity: each file is written to a temporary file in the same directory, fsynced, then renamed
// over its target, so neither file is ever seen half-written. The pair is replaced by two renames
// (weights.bin, then model.json as the commit), which POSIX cannot make one atomic step; a reader
// racing a writer (or a crash between the two renames) could see a new weights.bin with the old
// model.json. The recorded checksum turns that into a load error naming both files, never a model
// silently built from another save's weights.
//
// Runtime imports: the handler only needs TensorFlow.js's pure io helpers (no tensors, no backend),
// and it must be synchronous to construct, because model.save() and tf.loadLayersModel() take an
// IOHandler, not a promise of one; so it imports `io` from @tensorflow/tfjs directly (the same module
// instance ml/tf.ts imports, so there is one engine). saveModel() and loadModel() create tensors, so
// they go through tensorflow() first: the backend is chosen and initialised once, by the project's rule.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { io } from '@tensorflow/tfjs';
import type * as tfTypes from '@tensorflow/tfjs';
import { tensorflow } from './tf.js';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

/** What model.json holds besides TensorFlow.js's own ModelJSON fields. */
interface WeightsIntegrity {
  bytes: number;
  sha256: string;
}

/** An IOHandler reading and writing `<dir>/model.json` and `<dir>/weights.bin`. */
export function directoryHandler(dir: string): tfTypes.io.IOHandler {
  const root = path.resolve(dir);
  return {
    save: (artifacts) => saveArtifacts(root, artifacts),
    load: () => loadArtifacts(root),
  };
}

/**
 * Saves `model` to `dir` (created if needed), replacing any model there. `metadata` (a JSON object)
 * is stored as the model's userDefinedMetadata, merged over what the model already carries; the
 * model itself is not modified.
 */
export async function saveModel(
  model: tfTypes.LayersModel,
  dir: string,
  metadata?: Record<string, unknown>,
): Promise<tfTypes.io.SaveResult> {
  await tensorflow();
  if (metadata === undefined) return model.save(directoryHandler(dir));
  const root = path.resolve(dir);
  assertJson(metadata, `the metadata for the model saved to ${root}`);
  const extra = metadata as NonNullable<tfTypes.io.ModelArtifacts['userDefinedMetadata']>;
  return model.save({
    save: (artifacts) =>
      saveArtifacts(root, {
        ...artifacts,
        userDefinedMetadata: { ...artifacts.userDefinedMetadata, ...extra },
      }),
  });
}

/** Loads the model saved in `dir`, with its metadata (undefined when it was saved without any). */
export async function loadModel(
  dir: string,
): Promise<{ model: tfTypes.LayersModel; metadata: Record<string, unknown> | undefined }> {
  const { tf } = await tensorflow();
  const model = await tf.loadLayersModel(directoryHandler(dir));
  const metadata = model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
  return { model, metadata };
}

async function saveArtifacts(
  dir: string,
  artifacts: tfTypes.io.ModelArtifacts,
): Promise<tfTypes.io.SaveResult> {
  const target = path.join(dir, MODEL_FILE);
  const topology = artifacts.modelTopology;
  if (topology === undefined || topology === null) {
    throw new Error(`cannot save ${target}: the model artifacts have no modelTopology`);
  }
  if (topology instanceof ArrayBuffer) {
    throw new Error(`cannot save ${target}: only JSON model topologies are supported, not binary ones`);
  }
  const specs = artifacts.weightSpecs ?? [];
  if (specs.length > 0 && artifacts.weightData === undefined) {
    throw new Error(
      `cannot save ${path.join(dir, WEIGHTS_FILE)}: the model artifacts list ${specs.length} weights but carry no weightData`,
    );
  }
  const chunks = toChunks(artifacts.weightData);
  const hash = createHash('sha256');
  let bytes = 0;
  for (const chunk of chunks) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  const integrity: WeightsIntegrity = { bytes, sha256: hash.digest('hex') };

  const modelJson: tfTypes.io.ModelJSON & { weightsIntegrity: WeightsIntegrity } = {
    modelTopology: topology,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }],
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsIntegrity: integrity,
  };
  if (artifacts.trainingConfig !== undefined) modelJson.trainingConfig = artifacts.trainingConfig;
  if (artifacts.signature !== undefined) modelJson.signature = artifacts.signature;
  if (artifacts.userDefinedMetadata !== undefined) {
    modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
  }
  if (artifacts.modelInitializer !== undefined) modelJson.modelInitializer = artifacts.modelInitializer;
  if (artifacts.initializerSignature !== undefined) {
    modelJson.initializerSignature = artifacts.initializerSignature;
  }
  const json = Buffer.from(`${JSON.stringify(modelJson)}\n`, 'utf8');

  await mkdir(dir, { recursive: true });
  const suffix = `${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const weightsTemp = path.join(dir, `.${WEIGHTS_FILE}.${suffix}`);
  const modelTemp = path.join(dir, `.${MODEL_FILE}.${suffix}`);
  try {
    await writeDurably(weightsTemp, chunks);
    await writeDurably(modelTemp, [json]);
    await rename(weightsTemp, path.join(dir, WEIGHTS_FILE));
    await rename(modelTemp, target);
  } catch (error) {
    await Promise.all([rm(weightsTemp, { force: true }), rm(modelTemp, { force: true })]);
    throw new Error(`saving the model to ${dir} failed: ${(error as Error).message}`, { cause: error });
  }
  await syncDirectory(dir);
  return { modelArtifactsInfo: io.getModelArtifactsInfoForJSON(artifacts) };
}

async function loadArtifacts(dir: string): Promise<tfTypes.io.ModelArtifacts> {
  const modelPath = path.join(dir, MODEL_FILE);
  let text: string;
  try {
    text = await readFile(modelPath, 'utf8');
  } catch (error) {
    throw new Error(
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? `cannot load a model from ${dir}: ${modelPath} does not exist`
        : `cannot read ${modelPath}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${modelPath} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const modelJson = checkModelJson(parsed, modelPath);
  const integrity = (parsed as { weightsIntegrity?: WeightsIntegrity }).weightsIntegrity;

  return io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const specs: tfTypes.io.WeightsManifestEntry[] = [];
    const parts: Buffer[] = [];
    const files: string[] = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const relative of group.paths) {
        const file = resolveInside(dir, relative, modelPath);
        files.push(file);
        try {
          parts.push(await readFile(file));
        } catch (error) {
          throw new Error(
            (error as NodeJS.ErrnoException).code === 'ENOENT'
              ? `${file} does not exist (${modelPath} lists it)`
              : `cannot read ${file}: ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
    }
    const data = Buffer.concat(parts);
    const where = files.join(', ') || 'the weights';
    if (integrity !== undefined) {
      const sha256 = createHash('sha256').update(data).digest('hex');
      if (data.byteLength !== integrity.bytes || sha256 !== integrity.sha256) {
        throw new Error(
          `${where} (${data.byteLength} bytes, sha256 ${sha256}) does not match ${modelPath} ` +
            `(${integrity.bytes} bytes, sha256 ${integrity.sha256}): the files come from different saves or are damaged`,
        );
      }
    }
    const expected = expectedBytes(specs);
    if (expected !== undefined && expected !== data.byteLength) {
      throw new Error(
        `${where} holds ${data.byteLength} bytes but the weights ${modelPath} describes take ${expected}`,
      );
    }
    // A standalone ArrayBuffer: a Buffer's underlying one may be larger or shared.
    const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    return [specs, weightData];
  });
}

/** Checks what the loader relies on, so a malformed model.json fails here with its name. */
function checkModelJson(value: unknown, file: string): tfTypes.io.ModelJSON {
  const fail = (what: string): never => {
    throw new Error(`${file} is not a TensorFlow.js model: ${what}`);
  };
  if (!isObject(value)) return fail('it is not a JSON object');
  if (!isObject(value.modelTopology)) fail('modelTopology is missing or not an object');
  const manifest = value.weightsManifest;
  if (!Array.isArray(manifest)) return fail('weightsManifest is missing or not an array');
  for (const [index, group] of (manifest as unknown[]).entries()) {
    if (!isObject(group)) return fail(`weightsManifest[${index}] is not an object`);
    const { paths, weights } = group;
    if (!Array.isArray(paths) || !paths.every((entry) => typeof entry === 'string')) {
      fail(`weightsManifest[${index}].paths is not a list of file names`);
    }
    if (!Array.isArray(weights)) return fail(`weightsManifest[${index}].weights is not an array`);
    for (const [position, spec] of (weights as unknown[]).entries()) {
      const ok =
        isObject(spec) &&
        typeof spec.name === 'string' &&
        typeof spec.dtype === 'string' &&
        Array.isArray(spec.shape) &&
        (spec.shape as unknown[]).every((size) => Number.isInteger(size) && (size as number) >= 0);
      if (!ok) fail(`weightsManifest[${index}].weights[${position}] is not a weight spec`);
    }
  }
  const integrity = value.weightsIntegrity;
  if (integrity !== undefined && !isIntegrity(integrity)) {
    fail('weightsIntegrity is not { bytes, sha256 }');
  }
  return value as unknown as tfTypes.io.ModelJSON;
}

/** Bytes the specs take, or undefined when that cannot be known in advance (string weights). */
function expectedBytes(specs: readonly tfTypes.io.WeightsManifestEntry[]): number | undefined {
  const sizes: Record<string, number> = {
    float32: 4,
    int32: 4,
    bool: 1,
    complex64: 8,
    uint8: 1,
    uint16: 2,
    float16: 2,
  };
  let total = 0;
  for (const spec of specs) {
    const size = sizes[spec.quantization?.dtype ?? spec.dtype];
    if (size === undefined) return undefined;
    total += spec.shape.reduce((product, dimension) => product * dimension, 1) * size;
  }
  return total;
}

function resolveInside(dir: string, relative: string, modelPath: string): string {
  const file = path.resolve(dir, relative);
  const inside = path.relative(dir, file);
  if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) {
    throw new Error(`${modelPath} lists the weights file ${relative}, which is not inside ${dir}`);
  }
  return file;
}

function toChunks(weightData: tfTypes.io.WeightData | undefined): Uint8Array[] {
  if (weightData === undefined) return [];
  const buffers = Array.isArray(weightData) ? weightData : [weightData];
  return buffers.map((buffer) => new Uint8Array(buffer));
}

/** Writes `chunks` to a new file and flushes it to disk before returning. */
async function writeDurably(file: string, chunks: readonly Uint8Array[]): Promise<void> {
  const handle = await open(file, 'wx', 0o644);
  try {
    for (const chunk of chunks) {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
        offset += bytesWritten;
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes the renames durable; best effort, as some platforms cannot fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The files themselves were synced; only the directory entry's durability is not guaranteed.
  }
}

function assertJson(value: Record<string, unknown>, what: string): void {
  let copy: unknown;
  try {
    copy = JSON.parse(JSON.stringify(value)) as unknown;
  } catch (error) {
    throw new Error(`${what} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!isDeepStrictEqual(copy, value)) {
    throw new Error(
      `${what} does not survive JSON unchanged (undefined, NaN, Infinity, Dates, class instances or functions in it?)`,
    );
  }
}

function isIntegrity(value: unknown): value is WeightsIntegrity {
  return isObject(value) && typeof value.bytes === 'number' && typeof value.sha256 === 'string';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
