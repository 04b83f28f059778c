// Saving and loading layers models through ml/model-io.ts's directory handler, on the backend
// tensorflow() picks and on cpu, and the reproducibility of seeded training those round trips rely on.
//
// Reproducibility, as measured here with TensorFlow.js 4.22:
//  - Seeded initialisers are computed in JavaScript (seedrandom), so initial weights are bit-identical
//    on every backend.
//  - With `shuffle: false`, fit() is bit-reproducible on one backend: the wasm backend is
//    single-threaded in Node (WASM_HAS_MULTITHREAD_SUPPORT is forced off there, tfjs issue #3830), and
//    the cpu backend's kernels are plain sequential loops, so every sum runs in a fixed order.
//  - fit()'s default `shuffle: true` is NOT reproducible whatever the seeds: tfjs-layers permutes the
//    rows each epoch with util.shuffle, which draws from the unseeded Math.random. Shuffle rows
//    yourself with a seeded generator if shuffling is wanted.
//  - Across backends the trained weights differ in the last bits: cpu's matMul accumulates in float64
//    JavaScript numbers (in blocks of 48), wasm's XNNPACK kernels in float32 SIMD lanes. Only a
//    tolerance holds there (CROSS_BACKEND_TOLERANCE below).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type * as tfTypes from '@tensorflow/tfjs';
import { directoryHandler, loadModel, MODEL_FILE, saveModel, WEIGHTS_FILE } from '../../ml/model-io.js';
import { tensorflow } from '../../ml/tf.js';
import { mulberry32 } from '../../activities/telemetry/simulated.js';

type TF = typeof tfTypes;

const LAGS = 8;
const HIDDEN = 16;
const SEED = 42;
/** Largest weight difference allowed between a cpu-trained and a wasm-trained model. */
const CROSS_BACKEND_TOLERANCE = 1e-5;

let scratch = '';
let tf: TF;
let defaultBackend = '';

before(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'model-io-test-'));
  const chosen = await tensorflow();
  tf = chosen.tf;
  defaultBackend = chosen.backend;
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let dirCount = 0;
function freshDir(label: string): string {
  dirCount += 1;
  return path.join(scratch, `${dirCount}-${label}`);
}

/** Rows of LAGS inputs in [-1, 1) and a nonlinear target, as plain arrays (no tensors to leak). */
function dataset(rows: number, seed: number): { inputs: Float32Array; targets: Float32Array } {
  const random = mulberry32(seed);
  const inputs = new Float32Array(rows * LAGS);
  const targets = new Float32Array(rows);
  for (let row = 0; row < rows; row += 1) {
    let sum = 0;
    for (let lag = 0; lag < LAGS; lag += 1) {
      const value = random() * 2 - 1;
      inputs[row * LAGS + lag] = value;
      sum += value * (lag + 1);
    }
    targets[row] = Math.tanh(sum / LAGS);
  }
  return { inputs, targets };
}

/** The detector's architecture, small: dense(tanh) → dense, seeded Glorot kernels, Adam. */
function buildModel(seed: number): tfTypes.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [LAGS],
        units: HIDDEN,
        activation: 'tanh',
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
  return model;
}

async function train(
  model: tfTypes.LayersModel,
  options: { rows?: number; epochs?: number; shuffle?: boolean } = {},
): Promise<void> {
  const rows = options.rows ?? 256;
  const { inputs, targets } = dataset(rows, 7);
  const xs = tf.tensor2d(inputs, [rows, LAGS]);
  const ys = tf.tensor2d(targets, [rows, 1]);
  try {
    await model.fit(xs, ys, {
      epochs: options.epochs ?? 5,
      batchSize: 32,
      shuffle: options.shuffle ?? false,
      verbose: 0,
    });
  } finally {
    xs.dispose();
    ys.dispose();
  }
}

async function trainedModel(seed: number): Promise<tfTypes.Sequential> {
  const model = buildModel(seed);
  await train(model);
  return model;
}

/** Predictions on 64 rows the model was not trained on. */
function predictions(model: tfTypes.LayersModel): Float32Array {
  const { inputs } = dataset(64, 99);
  return tf.tidy(() => {
    const output = model.predict(tf.tensor2d(inputs, [64, LAGS])) as tfTypes.Tensor;
    return Float32Array.from(output.dataSync());
  });
}

interface Weight {
  name: string;
  shape: (number | null)[];
  values: Float32Array;
}

function weightsOf(model: tfTypes.LayersModel): Weight[] {
  return model.weights.map((variable) => ({
    name: variable.originalName,
    shape: variable.shape,
    values: Float32Array.from(variable.read().dataSync()),
  }));
}

/** Bit-for-bit equality (so -0 ≠ +0 and every last bit counts), naming the first difference. */
function assertSameBits(actual: Float32Array, expected: Float32Array, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: lengths differ`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  const index = a.findIndex((bits, position) => bits !== b[position]);
  assert.equal(index, -1, `${label}: element ${index} is ${actual[index]}, expected ${expected[index]}`);
}

function assertSameWeights(actual: Weight[], expected: Weight[], label: string): void {
  assert.deepEqual(
    actual.map(({ name, shape }) => ({ name, shape })),
    expected.map(({ name, shape }) => ({ name, shape })),
    `${label}: weight names or shapes differ`,
  );
  actual.forEach((weight, index) =>
    assertSameBits(weight.values, expected[index]!.values, `${label}: ${weight.name}`),
  );
}

function maxDifference(a: Weight[], b: Weight[]): number {
  let max = 0;
  a.forEach((weight, index) => {
    weight.values.forEach((value, position) => {
      max = Math.max(max, Math.abs(value - b[index]!.values[position]!));
    });
  });
  return max;
}

/** Saves a trained model, loads it back, and checks the copy is the same model to the bit. */
async function roundTrip(label: string): Promise<void> {
  const model = await trainedModel(SEED);
  const untrained = buildModel(SEED);
  const dir = freshDir(label);
  try {
    const before = weightsOf(model);
    // The check below is only meaningful if training moved the weights away from the seeded
    // initial ones, which a loader that re-initialised the layers from their config would reproduce.
    assert.ok(maxDifference(before, weightsOf(untrained)) > 1e-3, 'training changed the weights');

    const result = await saveModel(model, dir);
    const parameters = before.reduce((sum, weight) => sum + weight.values.length, 0);
    assert.equal(result.modelArtifactsInfo.modelTopologyType, 'JSON');
    assert.equal(result.modelArtifactsInfo.weightDataBytes, parameters * 4);
    assert.equal((await stat(path.join(dir, WEIGHTS_FILE))).size, parameters * 4);

    const { model: loaded, metadata } = await loadModel(dir);
    try {
      assert.equal(metadata, undefined);
      assertSameWeights(weightsOf(loaded), before, `${label} weights`);
      assertSameBits(predictions(loaded), predictions(model), `${label} predictions`);
    } finally {
      loaded.dispose();
    }
  } finally {
    model.dispose();
    untrained.dispose();
  }
}

describe('model-io round trip', () => {
  test('a trained model saved and loaded on the default backend predicts identically', async () => {
    assert.equal(tf.getBackend(), defaultBackend);
    await roundTrip(defaultBackend);
  });

  test('the same holds on the cpu backend, and its save loads bit-identically on the default one', async () => {
    const previous = tf.getBackend();
    const dir = freshDir('cpu-saved');
    let cpuWeights: Weight[];
    try {
      assert.ok(await tf.setBackend('cpu'), 'the cpu backend starts');
      assert.equal(tf.getBackend(), 'cpu');
      await roundTrip('cpu');
      const model = await trainedModel(SEED);
      cpuWeights = weightsOf(model);
      await saveModel(model, dir);
      model.dispose();
    } finally {
      await tf.setBackend(previous);
    }
    assert.equal(tf.getBackend(), previous);
    // Weights are bytes: what one backend saved, another loads unchanged.
    const { model: loaded } = await loadModel(dir);
    assertSameWeights(weightsOf(loaded), cpuWeights, 'cpu-saved weights loaded on the default backend');
    loaded.dispose();
  });

  test('metadata round-trips and is merged over what the model already carries', async () => {
    const model = buildModel(SEED);
    const dir = freshDir('metadata');
    const metadata = {
      series: 'latency_p99',
      version: 3,
      thresholds: [0.5, 0.8, 0.99],
      normalisation: { center: -1.25, scale: 0.003 },
      flags: { calibrated: true, notes: null },
    };
    try {
      model.setUserDefinedMetadata({ owner: 'detector', version: 1 });
      await saveModel(model, dir, metadata);
      // The model object itself is not modified.
      assert.deepEqual(model.getUserDefinedMetadata(), { owner: 'detector', version: 1 });

      const onDisk = JSON.parse(await readFile(path.join(dir, MODEL_FILE), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.deepEqual(onDisk.userDefinedMetadata, { owner: 'detector', ...metadata });

      const { model: loaded, metadata: loadedMetadata } = await loadModel(dir);
      assert.deepEqual(loadedMetadata, { owner: 'detector', ...metadata });
      loaded.dispose();

      // Metadata JSON would change is refused before anything is written.
      const refused = freshDir('metadata-refused');
      await assert.rejects(saveModel(model, refused, { savedAt: new Date(0) }), /does not survive JSON/);
      await assert.rejects(saveModel(model, refused, { score: Number.NaN }), /does not survive JSON/);
      await assert.rejects(stat(refused), { code: 'ENOENT' });
    } finally {
      model.dispose();
    }
  });
});

describe('model-io saving', () => {
  test('writes model.json and weights.bin in the tfjs layout, with no temporary files left', async () => {
    const model = await trainedModel(SEED);
    const dir = freshDir('layout');
    try {
      await saveModel(model, path.join(dir, 'nested', 'deeper'));
      const target = path.join(dir, 'nested', 'deeper');
      assert.deepEqual((await readdir(target)).sort(), [MODEL_FILE, WEIGHTS_FILE]);
      const json = JSON.parse(await readFile(path.join(target, MODEL_FILE), 'utf8')) as {
        format: string;
        generatedBy: string;
        convertedBy: null;
        modelTopology: { class_name: string };
        weightsManifest: { paths: string[]; weights: { name: string }[] }[];
        weightsIntegrity: { bytes: number; sha256: string };
      };
      assert.equal(json.format, 'layers-model');
      assert.match(json.generatedBy, /^TensorFlow\.js tfjs-layers v4\./);
      assert.equal(json.convertedBy, null);
      assert.equal(json.modelTopology.class_name, 'Sequential');
      assert.equal(json.weightsManifest.length, 1);
      assert.deepEqual(json.weightsManifest[0]!.paths, [WEIGHTS_FILE]);
      assert.deepEqual(
        json.weightsManifest[0]!.weights.map((spec) => spec.name),
        model.weights.map((variable) => variable.originalName),
      );
      assert.equal(json.weightsIntegrity.bytes, (await stat(path.join(target, WEIGHTS_FILE))).size);
    } finally {
      model.dispose();
    }
  });

  test('a second save overwrites the first completely', async () => {
    const first = await trainedModel(SEED);
    const second = await trainedModel(SEED + 100);
    const dir = freshDir('overwrite');
    try {
      await saveModel(first, dir, { generation: 1 });
      await saveModel(second, dir);
      assert.deepEqual((await readdir(dir)).sort(), [MODEL_FILE, WEIGHTS_FILE]);
      const { model: loaded, metadata } = await loadModel(dir);
      assert.equal(metadata, undefined, 'the first save’s metadata is gone');
      assertSameWeights(weightsOf(loaded), weightsOf(second), 'the second model');
      assert.ok(maxDifference(weightsOf(loaded), weightsOf(first)) > 1e-3, 'not the first model');
      loaded.dispose();
    } finally {
      first.dispose();
      second.dispose();
    }
  });

  test('accepts weightData as an array of ArrayBuffers, as tfjs 4.22 allows', async () => {
    const model = await trainedModel(SEED);
    const single = freshDir('single-buffer');
    const sharded = freshDir('sharded');
    try {
      // Capture the artifacts tfjs produces, then hand them on split into uneven shards.
      await model.save({
        save: async (artifacts) => {
          const whole = new Uint8Array(artifacts.weightData as ArrayBuffer);
          const cuts = [0, 3, 100, 101, whole.byteLength];
          const shards = cuts.slice(1).map((end, index) => whole.slice(cuts[index], end).buffer);
          await directoryHandler(single).save!(artifacts);
          return directoryHandler(sharded).save!({ ...artifacts, weightData: shards });
        },
      });
      assert.deepEqual(
        await readFile(path.join(sharded, WEIGHTS_FILE)),
        await readFile(path.join(single, WEIGHTS_FILE)),
      );
      const { model: loaded } = await loadModel(sharded);
      assertSameWeights(weightsOf(loaded), weightsOf(model), 'sharded weights');
      loaded.dispose();
    } finally {
      model.dispose();
    }
  });

  test('a failed save removes its temporary files and leaves the old model.json in place', async () => {
    const model = buildModel(SEED);
    const dir = freshDir('failed');
    try {
      await saveModel(model, dir);
      const before = await readFile(path.join(dir, MODEL_FILE));
      // Artifacts listing weights without their data are refused before anything is written.
      await assert.rejects(
        directoryHandler(dir).save!({
          modelTopology: {},
          weightSpecs: [{ name: 'w', shape: [1], dtype: 'float32' }],
        }),
        /weights\.bin.*no weightData/,
      );
      assert.deepEqual(await readFile(path.join(dir, MODEL_FILE)), before);

      // A rename that fails (model.json is a non-empty directory here) cleans up after itself.
      const blocked = freshDir('blocked');
      await mkdir(path.join(blocked, MODEL_FILE), { recursive: true });
      await writeFile(path.join(blocked, MODEL_FILE, 'occupant'), 'x');
      await assert.rejects(saveModel(model, blocked), /saving the model to .*blocked failed/);
      assert.deepEqual((await readdir(blocked)).sort(), [MODEL_FILE, WEIGHTS_FILE]);
    } finally {
      model.dispose();
    }
  });
});

describe('model-io loading errors', () => {
  test('a directory without model.json fails naming the file', async () => {
    const empty = freshDir('empty');
    await mkdir(empty);
    const expected = path.join(empty, MODEL_FILE);
    await assert.rejects(loadModel(empty), (error: Error) => {
      assert.ok(error.message.includes(expected), error.message);
      assert.match(error.message, /does not exist/);
      return true;
    });
    await assert.rejects(loadModel(freshDir('absent')), /model\.json does not exist/);
  });

  test('a malformed model.json or a missing weights.bin fails naming the file', async () => {
    const model = buildModel(SEED);
    const dir = freshDir('malformed');
    try {
      await saveModel(model, dir);
      const modelPath = path.join(dir, MODEL_FILE);
      const weightsPath = path.join(dir, WEIGHTS_FILE);
      const good = await readFile(modelPath, 'utf8');

      await writeFile(modelPath, good.slice(0, good.length / 2));
      await assert.rejects(loadModel(dir), (error: Error) =>
        error.message.startsWith(`${modelPath} is not valid JSON`),
      );

      const json = JSON.parse(good) as Record<string, unknown>;
      await writeFile(modelPath, JSON.stringify({ ...json, weightsManifest: undefined }));
      await assert.rejects(loadModel(dir), (error: Error) =>
        error.message.startsWith(`${modelPath} is not a TensorFlow.js model: weightsManifest`),
      );

      await writeFile(
        modelPath,
        JSON.stringify({ ...json, weightsManifest: [{ paths: ['../x.bin'], weights: [] }] }),
      );
      await assert.rejects(loadModel(dir), /lists the weights file \.\.\/x\.bin, which is not inside/);

      await writeFile(modelPath, good);
      await rm(weightsPath);
      await assert.rejects(loadModel(dir), (error: Error) =>
        error.message.startsWith(`${weightsPath} does not exist (${modelPath} lists it)`),
      );
    } finally {
      model.dispose();
    }
  });

  test('weights.bin from another save is refused, not silently loaded', async () => {
    const a = await trainedModel(SEED);
    const b = await trainedModel(SEED + 1);
    const dirA = freshDir('torn-a');
    const dirB = freshDir('torn-b');
    try {
      await saveModel(a, dirA);
      await saveModel(b, dirB);
      // Same architecture, same byte length: only the checksum tells the files apart.
      await writeFile(path.join(dirA, WEIGHTS_FILE), await readFile(path.join(dirB, WEIGHTS_FILE)));
      await assert.rejects(loadModel(dirA), /weights\.bin .* does not match .*model\.json .*different saves/);

      // Without the checksum (a model.json written by tfjs-node, say), a wrong size is still caught.
      const modelPath = path.join(dirA, MODEL_FILE);
      const json = JSON.parse(await readFile(modelPath, 'utf8')) as Record<string, unknown>;
      delete json.weightsIntegrity;
      await writeFile(modelPath, JSON.stringify(json));
      await writeFile(path.join(dirA, WEIGHTS_FILE), Buffer.alloc(12));
      await assert.rejects(loadModel(dirA), /holds 12 bytes but the weights .* take \d+/);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('seeded training reproducibility', () => {
  async function twoRuns(seed: number, shuffle = false): Promise<[Weight[], Weight[]]> {
    const runs: Weight[][] = [];
    for (let run = 0; run < 2; run += 1) {
      const model = buildModel(seed);
      await train(model, { shuffle });
      runs.push(weightsOf(model));
      model.dispose();
    }
    return [runs[0]!, runs[1]!];
  }

  function valuesOnly(weights: Weight[]): Weight[] {
    // Layer names carry a per-process counter (dense_Dense3, …); compare the values in order.
    return weights.map((weight, index) => ({ ...weight, name: `weight ${index}` }));
  }

  function initialWeights(): Weight[] {
    const model = buildModel(SEED);
    const weights = weightsOf(model);
    model.dispose();
    return weights;
  }

  async function assertReproducible(label: string): Promise<Weight[]> {
    const [first, second] = await twoRuns(SEED);
    assertSameWeights(valuesOnly(second), valuesOnly(first), `${label}: same seed, same data`);
    // The comparison can tell models apart: another seed trains to other weights.
    const [other] = await twoRuns(SEED + 1);
    assert.ok(maxDifference(other, first) > 1e-3, `${label}: another seed gives other weights`);
    return first;
  }

  test('fit with shuffle: false is bit-reproducible on the default backend', async () => {
    await assertReproducible(defaultBackend);
  });

  test('fit with shuffle: false is bit-reproducible on cpu; across backends only to a tolerance', async (t) => {
    const onDefault = await assertReproducible(defaultBackend);
    const initialDefault = initialWeights();
    const previous = tf.getBackend();
    let onCpu: Weight[];
    let initialCpu: Weight[];
    try {
      await tf.setBackend('cpu');
      onCpu = await assertReproducible('cpu');
      initialCpu = initialWeights();
    } finally {
      await tf.setBackend(previous);
    }
    // Seeded initialisers run in JavaScript: identical initial weights everywhere.
    assertSameWeights(valuesOnly(initialCpu), valuesOnly(initialDefault), 'initial weights, cpu vs default');
    const difference = maxDifference(onCpu, onDefault);
    t.diagnostic(`largest trained-weight difference, cpu vs ${defaultBackend}: ${difference}`);
    assert.ok(
      difference <= CROSS_BACKEND_TOLERANCE,
      `cpu and ${defaultBackend} trained weights differ by ${difference} > ${CROSS_BACKEND_TOLERANCE}`,
    );
  });

  test('fit with the default shuffle: true is not reproducible (unseeded Math.random)', async () => {
    const [first, second] = await twoRuns(SEED, true);
    assert.ok(
      maxDifference(first, second) > 0,
      'shuffled fits agreed: if tfjs now seeds its shuffle, revisit the notes at the top of this file',
    );
  });
});
