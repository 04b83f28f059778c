// The release risk model: the probability that a release is bad (its canary will fail, or it would
// harm patients if promoted) from what is known before its canary starts. It chooses the canary plan
// (domain/pacing.ts): a release that looks safe moves fast, one that looks risky moves in more,
// smaller, longer steps.
//
// The model is a logistic regression in TensorFlow.js over eight features (RiskFeatures below), each
// measured against a typical release (REFERENCE), so that a coefficient reads as "logit points per
// unit above typical" and a contribution as "how much this feature moved the risk". It starts from a
// documented prior (PRIOR: the engineers' judgement, written down where a safety officer can read and
// challenge it) and is refitted from the release history this system records: each release's
// features when it was assessed and how its canary ended. The refit is the posterior mode under a
// Gaussian prior centred on PRIOR (L2 towards the prior, strength PRIOR_STRENGTH pseudo-releases): with
// few releases the prior dominates, with hundreds the data do, and no refit can swing the model on a
// handful of outcomes. Training is full-batch and starts from the prior, so it is deterministic.
//
// A prediction carries its reasons: the features' contributions (coefficient × distance from typical),
// largest first, each as a sentence with the measured value.
import { createHash } from 'node:crypto';
import type { Scalar } from '@tensorflow/tfjs';
import { tensorflow } from '../tf.js';

/** What the model reads, all known before the canary starts. */
export interface RiskFeatures {
  /** Worst relative drop of a staging metric below the cleared baseline (0.03 = 3 % below; 0 when none is below). */
  validationDrop: number;
  /** How far the version moves from the one deployed: 0 patch, 0.5 minor, 1 major — or a model's first release. */
  versionChange: number;
  /** Inputs that changed besides the weights (deployment manifests, SBOM, risk file, labeling, validation set), 0–5. */
  artifactChanges: number;
  /** (100 − compliance score) / 100. */
  complianceDeficit: number;
  /** Failed minor controls, warnings and waivers of the compliance report (capped at 10). */
  complianceFindings: number;
  /** Share of the model's recent releases whose canary failed, smoothed towards 0.1 (Beta(1, 9) prior). */
  modelFailureRate: number;
  /** The worst such share among the target clouds (all models). */
  cloudFailureRate: number;
  /** Current request rate / its typical level (median of the recent history), the busiest target cloud; 1 = typical, at most 10. */
  trafficLoad: number;
}

export const FEATURES = [
  'validationDrop',
  'versionChange',
  'artifactChanges',
  'complianceDeficit',
  'complianceFindings',
  'modelFailureRate',
  'cloudFailureRate',
  'trafficLoad',
] as const satisfies readonly (keyof RiskFeatures)[];
export type FeatureName = (typeof FEATURES)[number];

/** A typical release: contributions are measured from here. */
export const REFERENCE: Readonly<RiskFeatures> = Object.freeze({
  validationDrop: 0,
  versionChange: 0,
  artifactChanges: 0,
  complianceDeficit: 0,
  complianceFindings: 0,
  modelFailureRate: 0.1,
  cloudFailureRate: 0.1,
  trafficLoad: 1,
});

/**
 * The prior: a typical release is bad with probability 0.07 (intercept −2.6), and per unit above typical:
 *  - validationDrop 40: a 2 % drop of a validation metric below its cleared baseline adds 0.8 logit
 *    points (×2.2 odds) — offline regressions are the best single predictor of online ones;
 *  - versionChange 1.2: a major version (new architecture, new inputs) ×3.3 odds, a minor ×1.8;
 *  - artifactChanges 0.4 per changed input: changes besides the weights are where surprises come from;
 *  - complianceDeficit 4: a score of 90 instead of 100 adds 0.4;
 *  - complianceFindings 0.15 per finding the gate let through;
 *  - modelFailureRate 4: a model whose recent canaries failed a third of the time (0.33 vs 0.1) ×2.5;
 *  - cloudFailureRate 2: a cloud whose recent canaries fail often;
 *  - trafficLoad 0.4 per unit above typical: a release at twice the usual load exposes more patients
 *    and stresses the new version more (×1.5).
 */
export const PRIOR: Readonly<{ intercept: number; weights: Readonly<Record<FeatureName, number>> }> =
  Object.freeze({
    intercept: -2.6,
    weights: Object.freeze({
      validationDrop: 40,
      versionChange: 1.2,
      artifactChanges: 0.4,
      complianceDeficit: 4,
      complianceFindings: 0.15,
      modelFailureRate: 4,
      cloudFailureRate: 2,
      trafficLoad: 0.4,
    }),
  });

/** How many releases' worth of evidence the prior is worth. */
export const PRIOR_STRENGTH = 20;
/** The history needs this many outcomes, with at least one of each kind, before a refit replaces the prior. */
export const MIN_TRAINING_RELEASES = 10;

export interface RiskExample {
  features: RiskFeatures;
  /** The canary failed (or the release was found bad); false: the release completed. */
  bad: boolean;
}

export interface RiskReason {
  feature: FeatureName;
  /** Logit points this feature adds (negative: lowers the risk). */
  contribution: number;
  text: string;
}

export interface RiskPrediction {
  probability: number;
  features: RiskFeatures;
  /** Largest contributions first (only those of at least 0.05 logit points either way). */
  reasons: RiskReason[];
  model: RiskModelInfo;
}

export interface RiskModelInfo {
  source: 'prior' | 'trained';
  /** Outcomes it was refitted on (0 for the prior) and how many of them were bad. */
  trainedOn: number;
  bad: number;
  /** sha256 of its coefficients: which model made a prediction. */
  digest: string;
  intercept: number;
  weights: Record<FeatureName, number>;
}

/** Problems of a feature vector (empty when valid): every feature finite and in its range. */
export function featureProblems(features: RiskFeatures): string[] {
  const problems: string[] = [];
  const ranges: Record<FeatureName, [number, number]> = {
    validationDrop: [0, 1],
    versionChange: [0, 1],
    artifactChanges: [0, 5],
    complianceDeficit: [0, 1],
    complianceFindings: [0, 10],
    modelFailureRate: [0, 1],
    cloudFailureRate: [0, 1],
    trafficLoad: [0, 10],
  };
  for (const name of FEATURES) {
    const value = features[name];
    const [low, high] = ranges[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < low || value > high)
      problems.push(`${name}: must be a number in [${low}, ${high}] (got ${String(value)})`);
  }
  return problems;
}

export class RiskModel {
  private constructor(readonly info: RiskModelInfo) {}

  /** The documented prior, untrained. */
  static prior(): RiskModel {
    return new RiskModel(infoOf('prior', 0, 0, PRIOR.intercept, { ...PRIOR.weights }));
  }

  /**
   * The posterior mode given the history (see the file comment); the prior itself when the history
   * has fewer than MIN_TRAINING_RELEASES outcomes or only one kind of outcome.
   */
  static async train(
    history: readonly RiskExample[],
    options: { iterations?: number } = {},
  ): Promise<RiskModel> {
    const usable = history.filter((example) => featureProblems(example.features).length === 0);
    const bad = usable.filter((example) => example.bad).length;
    if (usable.length < MIN_TRAINING_RELEASES || bad === 0 || bad === usable.length) return RiskModel.prior();
    const { tf } = await tensorflow();
    const iterations = options.iterations ?? 400;
    // The problem is solved in standard units (each feature divided by its typical spread, each
    // coefficient multiplied by it): the prior's penalty is then on how much a typical change of a
    // feature may move the logit, the same for every feature, and the optimiser sees one scale.
    const scale = FEATURES.map((name) => FEATURE_SCALE[name]);
    const x = tf.tensor2d(
      usable.map((example) => centred(example.features).map((value, index) => value / scale[index]!)),
    );
    const y = tf.tensor2d(usable.map((example) => [example.bad ? 1 : 0]));
    const priorWeights = tf.tensor2d(FEATURES.map((name, index) => [PRIOR.weights[name] * scale[index]!]));
    const weights = tf.variable(priorWeights.clone());
    const intercept = tf.variable(tf.scalar(PRIOR.intercept));
    const optimizer = tf.train.adam(0.05);
    const penalty = PRIOR_STRENGTH / usable.length;
    try {
      for (let iteration = 0; iteration < iterations; iteration++) {
        optimizer.minimize(() => {
          const logits = tf.add(tf.matMul(x, weights), intercept);
          const loss = tf.losses.sigmoidCrossEntropy(y, logits);
          const prior = tf.mul(penalty / FEATURES.length, tf.sum(tf.square(tf.sub(weights, priorWeights))));
          const priorIntercept = tf.mul(
            penalty / FEATURES.length,
            tf.square(tf.sub(intercept, PRIOR.intercept)),
          );
          return tf.add<Scalar>(tf.add(loss, prior), priorIntercept);
        });
      }
      const learned = (await weights.data()) as Float32Array;
      const learnedIntercept = ((await intercept.data()) as Float32Array)[0]!;
      const table = Object.fromEntries(
        FEATURES.map((name, index) => [name, round6(learned[index]! / scale[index]!)]),
      ) as Record<FeatureName, number>;
      return new RiskModel(infoOf('trained', usable.length, bad, round6(learnedIntercept), table));
    } finally {
      tf.dispose([x, y, priorWeights, weights, intercept]);
      optimizer.dispose();
    }
  }

  /** Rebuilds a model from the coefficients a prediction recorded. */
  static fromInfo(info: RiskModelInfo): RiskModel {
    return new RiskModel(infoOf(info.source, info.trainedOn, info.bad, info.intercept, { ...info.weights }));
  }

  predict(features: RiskFeatures): RiskPrediction {
    const problems = featureProblems(features);
    if (problems.length > 0) throw new RangeError(`risk features: ${problems.join('; ')}`);
    const centredValues = centred(features);
    const contributions = FEATURES.map((name, index) => ({
      feature: name,
      contribution: this.info.weights[name] * centredValues[index]!,
    }));
    const logit = this.info.intercept + contributions.reduce((sum, entry) => sum + entry.contribution, 0);
    const reasons = contributions
      .filter((entry) => Math.abs(entry.contribution) >= 0.05)
      .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
      .map((entry) => ({
        feature: entry.feature,
        contribution: round6(entry.contribution),
        text: describe(entry.feature, features, entry.contribution),
      }));
    return { probability: round6(sigmoid(logit)), features: { ...features }, reasons, model: this.info };
  }
}

/** Typical spread of each feature: the unit of the prior's penalty (see train). */
const FEATURE_SCALE: Record<FeatureName, number> = {
  validationDrop: 0.02,
  versionChange: 0.5,
  artifactChanges: 1,
  complianceDeficit: 0.1,
  complianceFindings: 2,
  modelFailureRate: 0.2,
  cloudFailureRate: 0.2,
  trafficLoad: 0.5,
};

function centred(features: RiskFeatures): number[] {
  return FEATURES.map((name) => features[name] - REFERENCE[name]);
}

function infoOf(
  source: RiskModelInfo['source'],
  trainedOn: number,
  bad: number,
  intercept: number,
  weights: Record<FeatureName, number>,
): RiskModelInfo {
  const digest = createHash('sha256')
    .update(JSON.stringify([intercept, FEATURES.map((name) => weights[name])]))
    .digest('hex');
  return Object.freeze({
    source,
    trainedOn,
    bad,
    digest: `sha256:${digest}`,
    intercept,
    weights: Object.freeze(weights),
  });
}

function sigmoid(value: number): number {
  return 1 / (1 + Math.exp(-value));
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

function describe(feature: FeatureName, features: RiskFeatures, contribution: number): string {
  const value = features[feature];
  const effect = `${contribution >= 0 ? '+' : '−'}${Math.abs(contribution).toFixed(2)} logit`;
  switch (feature) {
    case 'validationDrop':
      return `a staging metric ${percent(value)} below its cleared baseline (${effect})`;
    case 'versionChange':
      return `${value >= 1 ? 'a major' : value >= 0.5 ? 'a minor' : 'a patch'} version change (${effect})`;
    case 'artifactChanges':
      return `${value} input${value === 1 ? '' : 's'} changed besides the weights (${effect})`;
    case 'complianceDeficit':
      return `compliance score ${Math.round((1 - value) * 100)} (${effect})`;
    case 'complianceFindings':
      return `${value} compliance finding${value === 1 ? '' : 's'} let through (minor, warning or waived) (${effect})`;
    case 'modelFailureRate':
      return `the model's recent canaries failed ${percent(value)} of the time (smoothed; typical 10 %) (${effect})`;
    case 'cloudFailureRate':
      return `a target cloud's recent canaries failed ${percent(value)} of the time (smoothed) (${effect})`;
    case 'trafficLoad':
      return `traffic at ${value.toFixed(2)}× its typical level (${effect})`;
  }
}
