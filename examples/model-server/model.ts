// The sepsis-risk classifier: a small TensorFlow.js MLP (6 → 16 → 8 → 1, sigmoid) trained on the
// synthetic cohort of data.ts, its preprocessing, its evaluation on a held-out split, and saving and
// loading it as one directory:
//   <dir>/model.json, <dir>/weights.bin   the network (ml/model-io.ts's layout);
//   <dir>/preprocessing.json              feature order, transforms, the training mean and std;
//   <dir>/training-report.json            seed, version, data sizes, held-out metrics, timings.
// model.json is written last: a directory with a model.json has the other two files as well.
//
// Reproducibility: seeded initialisers, no dropout, and fit() with shuffle: false (TensorFlow.js
// shuffles with the unseeded Math.random); the cohort is drawn in random order already. On one backend
// the same seed gives bit-identical weights (test/unit/model-io.test.ts explains why).
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { loadModel, MODEL_FILE, saveModel } from '../../ml/model-io.js';
import { tensorflow, type Backend } from '../../ml/tf.js';
import {
  FEATURE_SPECS,
  FEATURES,
  generateCohort,
  groundTruthProbability,
  LABEL_NOISE,
  PREVALENCE,
  transform,
  type FeatureName,
  type Features,
} from './data.js';

export const PREPROCESSING_FILE = 'preprocessing.json';
export const REPORT_FILE = 'training-report.json';

/** Probability at or above which the prediction is 'sepsis'. */
export const DECISION_THRESHOLD = 0.5;

export const TRAINING_DEFAULTS = {
  trainSize: 4000,
  testSize: 2000,
  epochs: 20,
  batchSize: 64,
  learningRate: 0.01,
};

export interface Preprocessing {
  features: FeatureName[];
  /** Per feature: 'log' when the model sees log(value). */
  transforms: ('identity' | 'log')[];
  /** Training mean and standard deviation of each (transformed) feature. */
  mean: number[];
  std: number[];
}

export interface Evaluation {
  rows: number;
  accuracy: number;
  auc: number;
  /** Mean squared difference between probability and label. */
  brier: number;
  /** Expected calibration error over 10 equal-width probability bins. */
  ece: number;
  sensitivity: number;
  specificity: number;
  /** Share of labels that are 1, and the mean predicted probability. */
  prevalence: number;
  meanProbability: number;
}

export interface TrainingReport {
  model: string;
  version: string;
  seed: number;
  backend: Backend;
  tfjs: string;
  trainedAt: string;
  trainingSeconds: number;
  architecture: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  finalLoss: number;
  data: {
    description: string;
    trainRows: number;
    testRows: number;
    prevalence: number;
    labelNoise: number;
  };
  /** The network on the held-out split. */
  heldOut: Evaluation;
  /**
   * The generative model's own probability of a sepsis label (data.ts, groundTruthProbability) on the
   * same split: what no model can beat, up to the sampling noise of the split.
   */
  bayesReference: Evaluation;
}

export interface TrainOptions {
  seed: number;
  version: string;
  model?: string;
  trainSize?: number;
  testSize?: number;
  epochs?: number;
  log?: (line: string) => void;
}

/** A loaded (or freshly trained) classifier, ready to predict. */
export class SepsisModel {
  constructor(
    private readonly tf: typeof tfTypes,
    readonly network: tfTypes.LayersModel,
    readonly preprocessing: Preprocessing,
    /** SHA-256 of weights.bin when loaded from a directory. */
    readonly weightsSha256?: string,
  ) {}

  /** The standardised input row the network sees. */
  standardise(features: Features): number[] {
    return standardise(features, this.preprocessing);
  }

  /** The probability of sepsis for each row, in order. */
  predict(rows: readonly Features[]): number[] {
    if (rows.length === 0) return [];
    const input = rows.flatMap((row) => this.standardise(row));
    return this.predictStandardised(input, rows.length);
  }

  /** Probabilities for `count` rows already standardised, row-major. */
  predictStandardised(input: readonly number[], count: number): number[] {
    const output = this.tf.tidy(() => {
      const tensor = this.tf.tensor2d(input as number[], [count, FEATURES.length]);
      return this.network.predict(tensor) as tfTypes.Tensor;
    });
    try {
      return Array.from(output.dataSync());
    } finally {
      output.dispose();
    }
  }

  dispose(): void {
    this.network.dispose();
  }
}

export function standardise(features: Features, preprocessing: Preprocessing): number[] {
  return preprocessing.features.map((name, index) => {
    const value = transform(name, features[name]);
    return (value - preprocessing.mean[index]!) / preprocessing.std[index]!;
  });
}

/** Mean and (population) standard deviation of each transformed feature over `rows`. */
export function fitPreprocessing(rows: readonly Features[]): Preprocessing {
  const mean = FEATURES.map(
    (name) => rows.reduce((sum, row) => sum + transform(name, row[name]), 0) / rows.length,
  );
  const std = FEATURES.map((name, index) => {
    const centre = mean[index]!;
    const variance =
      rows.reduce((sum, row) => sum + (transform(name, row[name]) - centre) ** 2, 0) / rows.length;
    return Math.sqrt(variance) || 1;
  });
  return {
    features: [...FEATURES],
    transforms: FEATURES.map((name) => (FEATURE_SPECS[name].scale === 'log' ? 'log' : 'identity')),
    mean,
    std,
  };
}

function buildNetwork(tf: typeof tfTypes, seed: number, learningRate: number): tfTypes.Sequential {
  const network = tf.sequential({
    name: 'sepsis_risk_mlp',
    layers: [
      tf.layers.dense({
        inputShape: [FEATURES.length],
        units: 16,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.dense({
        units: 8,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      }),
      tf.layers.dense({
        units: 1,
        activation: 'sigmoid',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }),
      }),
    ],
  });
  network.compile({ optimizer: tf.train.adam(learningRate), loss: 'binaryCrossentropy' });
  return network;
}

/**
 * Trains the classifier on a fresh synthetic cohort drawn with `seed` (the first trainSize rows) and
 * evaluates it on the rest. Nothing is written to disk.
 */
export async function trainModel(
  options: TrainOptions,
): Promise<{ model: SepsisModel; report: TrainingReport }> {
  const { tf, backend } = await tensorflow({ log: options.log });
  const trainSize = options.trainSize ?? TRAINING_DEFAULTS.trainSize;
  const testSize = options.testSize ?? TRAINING_DEFAULTS.testSize;
  const epochs = options.epochs ?? TRAINING_DEFAULTS.epochs;
  const { batchSize, learningRate } = TRAINING_DEFAULTS;
  const cohort = generateCohort({ size: trainSize + testSize, seed: options.seed });
  const trainRows = cohort.rows.slice(0, trainSize);
  const testRows = cohort.rows.slice(trainSize);
  const trainLabels = Array.from(cohort.labels.subarray(0, trainSize));
  const testLabels = Array.from(cohort.labels.subarray(trainSize));
  const preprocessing = fitPreprocessing(trainRows);

  const started = performance.now();
  const network = buildNetwork(tf, options.seed, learningRate);
  const inputs = tf.tensor2d(
    trainRows.flatMap((row) => standardise(row, preprocessing)),
    [trainSize, FEATURES.length],
  );
  const targets = tf.tensor2d(trainLabels, [trainSize, 1]);
  let history: tfTypes.History;
  try {
    history = await network.fit(inputs, targets, { epochs, batchSize, shuffle: false, verbose: 0 });
  } finally {
    inputs.dispose();
    targets.dispose();
  }
  const trainingSeconds = (performance.now() - started) / 1000;
  const losses = history.history.loss ?? [];
  const finalLoss = Number(losses[losses.length - 1] ?? Number.NaN);

  const model = new SepsisModel(tf, network, preprocessing);
  const probabilities = model.predict(testRows);
  const report: TrainingReport = {
    model: options.model ?? 'sepsis-risk',
    version: options.version,
    seed: options.seed,
    backend,
    tfjs: tf.version.tfjs,
    trainedAt: new Date().toISOString(),
    trainingSeconds: Number(trainingSeconds.toFixed(3)),
    architecture: 'dense 6→16 relu → 8 relu → 1 sigmoid (Glorot-uniform, seeded), Adam, binary cross-entropy',
    epochs,
    batchSize,
    learningRate,
    finalLoss: Number(finalLoss.toFixed(5)),
    data: {
      description:
        'SYNTHETIC cohort from the generative model in examples/model-server/data.ts: not clinical data',
      trainRows: trainSize,
      testRows: testSize,
      prevalence: PREVALENCE,
      labelNoise: LABEL_NOISE,
    },
    heldOut: evaluate(probabilities, testLabels),
    bayesReference: evaluate(
      testRows.map((row) => groundTruthProbability(row)),
      testLabels,
    ),
  };
  return { model, report };
}

/** Accuracy, AUC and calibration of `probabilities` against 0/1 `labels`. */
export function evaluate(probabilities: readonly number[], labels: readonly number[]): Evaluation {
  const rows = labels.length;
  let correct = 0;
  let truePositive = 0;
  let trueNegative = 0;
  let positives = 0;
  let brier = 0;
  for (let index = 0; index < rows; index += 1) {
    const probability = probabilities[index]!;
    const label = labels[index]!;
    const predicted = probability >= DECISION_THRESHOLD ? 1 : 0;
    if (predicted === label) correct += 1;
    if (label === 1) {
      positives += 1;
      if (predicted === 1) truePositive += 1;
    } else if (predicted === 0) {
      trueNegative += 1;
    }
    brier += (probability - label) ** 2;
  }
  const precision = (value: number) => Number(value.toFixed(4));
  return {
    rows,
    accuracy: precision(correct / rows),
    auc: precision(auc(probabilities, labels)),
    brier: precision(brier / rows),
    ece: precision(expectedCalibrationError(probabilities, labels, 10)),
    sensitivity: precision(truePositive / positives),
    specificity: precision(trueNegative / (rows - positives)),
    prevalence: precision(positives / rows),
    meanProbability: precision(probabilities.reduce((sum, value) => sum + value, 0) / rows),
  };
}

/**
 * The area under the ROC curve: the probability that a random positive scores above a random
 * negative, ties counting half (the Mann-Whitney U statistic over n₊·n₋). NaN without both classes.
 */
export function auc(scores: readonly number[], labels: readonly number[]): number {
  const order = scores.map((score, index) => ({ score, label: labels[index]! }));
  order.sort((a, b) => a.score - b.score);
  let positives = 0;
  let rankSum = 0;
  // Ranks from 1; a run of tied scores shares the mean of its ranks.
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && order[end + 1]!.score === order[start]!.score) end += 1;
    const meanRank = (start + end) / 2 + 1;
    for (let index = start; index <= end; index += 1) {
      if (order[index]!.label === 1) {
        positives += 1;
        rankSum += meanRank;
      }
    }
    start = end + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Σ over bins of (rows in bin / rows) · |mean probability − share of positives|. */
export function expectedCalibrationError(
  probabilities: readonly number[],
  labels: readonly number[],
  bins: number,
): number {
  const count = new Array<number>(bins).fill(0);
  const probabilitySum = new Array<number>(bins).fill(0);
  const labelSum = new Array<number>(bins).fill(0);
  probabilities.forEach((probability, index) => {
    const bin = Math.min(bins - 1, Math.floor(probability * bins));
    count[bin]! += 1;
    probabilitySum[bin]! += probability;
    labelSum[bin]! += labels[index]!;
  });
  let error = 0;
  for (let bin = 0; bin < bins; bin += 1) {
    const rows = count[bin]!;
    if (rows > 0)
      error += (rows / probabilities.length) * Math.abs((probabilitySum[bin]! - labelSum[bin]!) / rows);
  }
  return error;
}

/** Writes the model directory: the two JSON files first, model.json last (see the top of the file). */
export async function saveSepsisModel(
  model: SepsisModel,
  dir: string,
  report: TrainingReport,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeJsonAtomically(path.join(dir, PREPROCESSING_FILE), model.preprocessing);
  await writeJsonAtomically(path.join(dir, REPORT_FILE), report);
  await saveModel(model.network, dir, { model: report.model, version: report.version, seed: report.seed });
}

/** Loads a model directory written by saveSepsisModel. */
export async function loadSepsisModel(
  dir: string,
): Promise<{ model: SepsisModel; report: TrainingReport | undefined }> {
  const { tf } = await tensorflow();
  const preprocessing = checkPreprocessing(
    await readJson(path.join(dir, PREPROCESSING_FILE)),
    path.join(dir, PREPROCESSING_FILE),
  );
  let report: TrainingReport | undefined;
  try {
    report = (await readJson(path.join(dir, REPORT_FILE))) as TrainingReport;
  } catch {
    report = undefined;
  }
  const modelJson = (await readJson(path.join(dir, MODEL_FILE))) as {
    weightsIntegrity?: { sha256?: string };
  };
  const { model: network } = await loadModel(dir);
  return { model: new SepsisModel(tf, network, preprocessing, modelJson.weightsIntegrity?.sha256), report };
}

/** Whether `dir` holds a saved model (its model.json, which is written last). */
export async function hasModel(dir: string): Promise<boolean> {
  try {
    await access(path.join(dir, MODEL_FILE));
    return true;
  } catch {
    return false;
  }
}

/**
 * The model in `dir`, training and saving one there first when the directory has none. `trained`
 * says which happened.
 */
export async function ensureModel(
  dir: string,
  options: TrainOptions,
): Promise<{ model: SepsisModel; report: TrainingReport | undefined; trained: boolean }> {
  if (await hasModel(dir)) return { ...(await loadSepsisModel(dir)), trained: false };
  const { model: trainedModel, report } = await trainModel(options);
  try {
    await saveSepsisModel(trainedModel, dir, report);
  } finally {
    trainedModel.dispose();
  }
  // Serve what is on disk, exactly as a later start would.
  const loaded = await loadSepsisModel(dir);
  return { model: loaded.model, report: loaded.report ?? report, trained: true };
}

function checkPreprocessing(value: unknown, file: string): Preprocessing {
  const candidate = value as Partial<Preprocessing> | null;
  const sameFeatures =
    Array.isArray(candidate?.features) &&
    candidate.features.length === FEATURES.length &&
    candidate.features.every((name, index) => name === FEATURES[index]);
  const numbers = (list: unknown) =>
    Array.isArray(list) &&
    list.length === FEATURES.length &&
    list.every((entry) => typeof entry === 'number' && Number.isFinite(entry));
  if (!sameFeatures || !numbers(candidate?.mean) || !numbers(candidate?.std)) {
    throw new Error(
      `${file} does not describe this model's inputs: it needs features [${FEATURES.join(', ')}] in that order and a finite mean and std for each`,
    );
  }
  const preprocessing = candidate as Preprocessing;
  if (preprocessing.std.some((value) => value <= 0)) throw new Error(`${file}: every std must be positive`);
  return preprocessing;
}

async function readJson(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

async function writeJsonAtomically(file: string, value: unknown): Promise<void> {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`, 'utf8');
  await rename(temporary, file);
}
