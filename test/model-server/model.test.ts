// The synthetic cohort, the classifier's training (reproducible, and as accurate as the data allows),
// its evaluation helpers and its directory round trip.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  FEATURE_SPECS,
  FEATURES,
  generateCohort,
  groundTruthLogit,
  PREVALENCE,
  type Features,
} from '../../examples/model-server/data.js';
import {
  auc,
  ensureModel,
  evaluate,
  hasModel,
  loadSepsisModel,
  PREPROCESSING_FILE,
  REPORT_FILE,
  saveSepsisModel,
  trainModel,
  type SepsisModel,
  type TrainingReport,
} from '../../examples/model-server/model.js';
import { HIGH_RISK, LOW_RISK, SEED } from './helpers.js';

/** Floors measured with seed 42 on the wasm backend: accuracy 0.866, AUC 0.895 (README.md). */
const ACCURACY_FLOOR = 0.84;
const AUC_FLOOR = 0.87;

let scratch = '';
before(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'model-server-model-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function mean(values: readonly number[]): number {
  return values.reduce((sum, entry) => sum + entry, 0) / values.length;
}

describe('the synthetic cohort', () => {
  test('is reproducible from its seed and different for another seed', () => {
    const first = generateCohort({ size: 300, seed: 7 });
    const again = generateCohort({ size: 300, seed: 7 });
    const other = generateCohort({ size: 300, seed: 8 });
    assert.deepEqual(again.rows, first.rows);
    assert.deepEqual(again.labels, first.labels);
    assert.notDeepEqual(other.rows, first.rows);
  });

  test('follows the documented generative model', () => {
    const cohort = generateCohort({ size: 20_000, seed: 3 });
    const latentShare = mean(Array.from(cohort.latent));
    assert.ok(Math.abs(latentShare - PREVALENCE) < 0.015, `latent prevalence ${latentShare}`);
    const flipped = mean(
      Array.from(cohort.labels, (label, index) => (label === cohort.latent[index] ? 0 : 1)),
    );
    assert.ok(flipped > 0.04 && flipped < 0.06, `label noise ${flipped}`);
    for (const name of FEATURES) {
      const spec = FEATURE_SPECS[name];
      const values = cohort.rows.map((row) => row[name]);
      assert.ok(
        values.every((entry) => entry >= spec.min && entry <= spec.max),
        `${name} leaves its range`,
      );
      for (const [latent, expected] of [
        [0, spec.noSepsis],
        [1, spec.sepsis],
      ] as const) {
        const group = values.filter((_, index) => cohort.latent[index] === latent);
        // Linear features: the mean; log-normal ones: the median.
        const centre =
          spec.scale === 'log'
            ? [...group].sort((a, b) => a - b)[Math.floor(group.length / 2)]!
            : mean(group);
        assert.ok(
          Math.abs(centre - expected) < 0.05 * expected,
          `${name} for latent ${latent}: ${centre} is not near ${expected}`,
        );
      }
    }
  });

  test('input drift moves every feature towards the sepsis profile by about that many standard deviations', () => {
    const base = generateCohort({ size: 5000, seed: 11 });
    const drifted = generateCohort({ size: 5000, seed: 11, drift: 1 });
    const shift = (name: 'heart_rate' | 'systolic_bp') =>
      (mean(drifted.rows.map((row) => row[name])) - mean(base.rows.map((row) => row[name]))) /
      FEATURE_SPECS[name].sd;
    assert.ok(Math.abs(shift('heart_rate') - 1) < 0.1, `heart rate moved ${shift('heart_rate')} sd`);
    assert.ok(Math.abs(shift('systolic_bp') + 1) < 0.1, `blood pressure moved ${shift('systolic_bp')} sd`);
  });

  test('the ground-truth posterior rises with every sign of sepsis', () => {
    const bump: Record<keyof Features, number> = {
      heart_rate: 10,
      respiratory_rate: 3,
      temperature: 0.5,
      systolic_bp: -10,
      wbc: 3,
      lactate: 1,
    };
    for (const name of FEATURES) {
      const changed = { ...LOW_RISK, [name]: LOW_RISK[name] + bump[name] };
      assert.ok(groundTruthLogit(changed) > groundTruthLogit(LOW_RISK), name);
    }
    assert.ok(groundTruthLogit(HIGH_RISK) > 2 && groundTruthLogit(LOW_RISK) < -2);
  });
});

describe('evaluation helpers', () => {
  test('AUC is the share of correctly ordered positive-negative pairs, ties counting half', () => {
    assert.equal(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
    assert.equal(auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
    assert.equal(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
    // Pairs (positive, negative): (0.35, 0.1) ✓ (0.35, 0.4) ✗ (0.8, 0.1) ✓ (0.8, 0.4) ✓ → 3/4.
    assert.equal(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
    // One tie among the four pairs counts half: (0.4, 0.4) → 3.5/4.
    assert.equal(auc([0.1, 0.4, 0.4, 0.8], [0, 0, 1, 1]), 0.875);
    assert.ok(Number.isNaN(auc([0.1, 0.2], [1, 1])));
  });

  test('accuracy, sensitivity, specificity and Brier score by hand', () => {
    const result = evaluate([0.9, 0.6, 0.4, 0.2], [1, 0, 1, 0]);
    assert.equal(result.accuracy, 0.5);
    assert.equal(result.sensitivity, 0.5);
    assert.equal(result.specificity, 0.5);
    assert.equal(result.brier, Number(((0.01 + 0.36 + 0.36 + 0.04) / 4).toFixed(4)));
  });
});

describe('training', () => {
  let first: { model: SepsisModel; report: TrainingReport };
  let second: { model: SepsisModel; report: TrainingReport };
  const dirs = { first: '', second: '' };

  before(async () => {
    first = await trainModel({ seed: SEED, version: '1.0.0' });
    second = await trainModel({ seed: SEED, version: '1.0.0' });
    dirs.first = path.join(scratch, 'first');
    dirs.second = path.join(scratch, 'second');
    await saveSepsisModel(first.model, dirs.first, first.report);
    await saveSepsisModel(second.model, dirs.second, second.report);
  });
  after(() => {
    first?.model.dispose();
    second?.model.dispose();
  });

  test('the same seed gives bit-identical weights', async () => {
    const [a, b] = await Promise.all([
      readFile(path.join(dirs.first, 'weights.bin')),
      readFile(path.join(dirs.second, 'weights.bin')),
    ]);
    assert.ok(a.byteLength > 0);
    assert.ok(a.equals(b), 'weights.bin differs between two trainings with seed 42');
    assert.deepEqual(first.report.heldOut, second.report.heldOut);
    assert.deepEqual(first.model.preprocessing, second.model.preprocessing);
  });

  test('another seed gives other weights', async () => {
    const small = { version: '1.0.0', trainSize: 400, testSize: 200, epochs: 2 };
    const one = await trainModel({ ...small, seed: 1 });
    const two = await trainModel({ ...small, seed: 2 });
    try {
      const weights = (model: SepsisModel) => Array.from(model.network.getWeights()[0]!.dataSync());
      assert.notDeepEqual(weights(one.model), weights(two.model));
    } finally {
      one.model.dispose();
      two.model.dispose();
    }
  });

  test(`held-out accuracy ≥ ${ACCURACY_FLOOR} and AUC ≥ ${AUC_FLOOR}, close to the Bayes reference`, () => {
    const { heldOut, bayesReference, trainingSeconds } = first.report;
    assert.equal(heldOut.rows, 2000);
    assert.ok(heldOut.accuracy >= ACCURACY_FLOOR, `accuracy ${heldOut.accuracy}`);
    assert.ok(heldOut.auc >= AUC_FLOOR, `AUC ${heldOut.auc}`);
    // No model can beat the generative model's own posterior by more than sampling noise, and this
    // one should come close to it.
    assert.ok(
      heldOut.accuracy <= bayesReference.accuracy + 0.015,
      JSON.stringify({ heldOut, bayesReference }),
    );
    assert.ok(bayesReference.auc - heldOut.auc < 0.03, JSON.stringify({ heldOut, bayesReference }));
    assert.ok(heldOut.ece < 0.06, `calibration error ${heldOut.ece}`);
    assert.ok(trainingSeconds < 30, `training took ${trainingSeconds} s`);
  });

  test('a saved model loads back and predicts exactly as trained', async () => {
    const { model: loaded, report } = await loadSepsisModel(dirs.first);
    try {
      assert.equal(report?.seed, SEED);
      assert.match(loaded.weightsSha256 ?? '', /^[0-9a-f]{64}$/);
      const rows = generateCohort({ size: 50, seed: 99 }).rows;
      assert.deepEqual(loaded.predict(rows), first.model.predict(rows));
      const [high, low] = loaded.predict([HIGH_RISK, LOW_RISK]);
      assert.ok(high! > 0.8 && low! < 0.2, `high ${high}, low ${low}`);
    } finally {
      loaded.dispose();
    }
    const preprocessing = JSON.parse(await readFile(path.join(dirs.first, PREPROCESSING_FILE), 'utf8')) as {
      mean: number[];
      transforms: string[];
    };
    assert.equal(preprocessing.mean.length, FEATURES.length);
    assert.deepEqual(preprocessing.transforms, [
      'identity',
      'identity',
      'identity',
      'identity',
      'log',
      'log',
    ]);
    const saved = JSON.parse(await readFile(path.join(dirs.first, REPORT_FILE), 'utf8')) as TrainingReport;
    assert.equal(saved.heldOut.accuracy, first.report.heldOut.accuracy);
  });

  test('ensureModel loads a directory that has a model and refuses a damaged one', async () => {
    assert.equal(await hasModel(dirs.first), true);
    assert.equal(await hasModel(path.join(scratch, 'nothing-here')), false);
    const existing = await ensureModel(dirs.first, { seed: 7, version: 'ignored' });
    existing.model.dispose();
    assert.equal(existing.trained, false);
    assert.equal(existing.report?.seed, SEED);

    await writeFile(path.join(dirs.second, PREPROCESSING_FILE), '{"features":["heart_rate"]}');
    await assert.rejects(
      loadSepsisModel(dirs.second),
      /preprocessing\.json does not describe this model's inputs/,
    );
  });
});
