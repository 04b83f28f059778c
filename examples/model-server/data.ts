// SYNTHETIC DATA. A seeded cohort of "patients" for the reference model server's sepsis-risk
// classifier: six vital signs and labs drawn from a documented generative model. Nothing here is
// clinical data or clinical knowledge good enough for care; the numbers only look plausible.
//
// The generative model (README.md, "The data", has the table):
//  1. The latent class: sepsis with probability PREVALENCE (0.3), else no sepsis.
//  2. Each feature, independently given the class: a normal distribution whose mean depends on the
//     class and whose standard deviation does not. Heart rate, respiratory rate, temperature and
//     systolic blood pressure are normal in their own units; white-cell count and lactate are
//     log-normal (normal in the logarithm). Values outside the plausible range the server accepts
//     are redrawn (truncation; with these parameters it almost never happens).
//  3. Label noise: the recorded label is the latent class flipped with probability LABEL_NOISE (0.05),
//     as a chart review would disagree with the truth now and then.
//
// Because step 2 uses a shared standard deviation per feature, the exact posterior of the latent class
// is logistic in the transformed features t(x) (x, or log x for the two log-normal ones):
//   P(sepsis | x) = σ(b + Σ w_i t_i(x)),  w_i = (μ1_i − μ0_i) / s_i²,
//   b = log(π / (1 − π)) − Σ (μ1_i² − μ0_i²) / (2 s_i²),
// which groundTruthLogit() computes. That is the best any classifier can do on this data (the "Bayes
// reference" the training report compares the network with, through the label noise:
// groundTruthProbability()); the label noise then caps accuracy.
import { gaussian, seededRandom } from '../../activities/telemetry/simulated.js';

export const FEATURES = [
  'heart_rate',
  'respiratory_rate',
  'temperature',
  'systolic_bp',
  'wbc',
  'lactate',
] as const;

export type FeatureName = (typeof FEATURES)[number];
export type Features = Record<FeatureName, number>;

export interface FeatureSpec {
  description: string;
  unit: string;
  /** The plausible range: the generator stays inside it and the server refuses values outside it. */
  min: number;
  max: number;
  /** 'log' for the log-normal features: the model and the generator work on log(value). */
  scale: 'linear' | 'log';
  /** Mean (linear) or median (log) for patients without and with sepsis, in the feature's unit. */
  noSepsis: number;
  sepsis: number;
  /** Standard deviation within each class: in the unit (linear), or of the natural log (log). */
  sd: number;
}

export const FEATURE_SPECS: Record<FeatureName, FeatureSpec> = {
  heart_rate: {
    description: 'heart rate',
    unit: 'beats/min',
    min: 20,
    max: 250,
    scale: 'linear',
    noSepsis: 84,
    sepsis: 98,
    sd: 15,
  },
  respiratory_rate: {
    description: 'respiratory rate',
    unit: 'breaths/min',
    min: 4,
    max: 70,
    scale: 'linear',
    noSepsis: 16,
    sepsis: 21,
    sd: 4,
  },
  temperature: {
    description: 'core body temperature',
    unit: '°C',
    min: 30,
    max: 44,
    scale: 'linear',
    noSepsis: 37,
    sepsis: 37.7,
    sd: 0.7,
  },
  systolic_bp: {
    description: 'systolic blood pressure',
    unit: 'mmHg',
    min: 40,
    max: 260,
    scale: 'linear',
    noSepsis: 124,
    sepsis: 110,
    sd: 18,
  },
  wbc: {
    description: 'white blood cell count',
    unit: '10^9/L',
    min: 0.1,
    max: 100,
    scale: 'log',
    noSepsis: 8,
    sepsis: 12,
    sd: 0.4,
  },
  lactate: {
    description: 'serum lactate',
    unit: 'mmol/L',
    min: 0.1,
    max: 30,
    scale: 'log',
    noSepsis: 1.3,
    sepsis: 2.3,
    sd: 0.45,
  },
};

/** Share of the cohort with (latent) sepsis. */
export const PREVALENCE = 0.3;
/** Probability that a recorded label disagrees with the latent class. */
export const LABEL_NOISE = 0.05;

/** A feature in the space the model and the generator work in: the value, or its natural log. */
export function transform(name: FeatureName, value: number): number {
  return FEATURE_SPECS[name].scale === 'log' ? Math.log(value) : value;
}

function untransform(name: FeatureName, value: number): number {
  return FEATURE_SPECS[name].scale === 'log' ? Math.exp(value) : value;
}

/** The class means of a feature in the transformed space. */
function classMeans(name: FeatureName): { noSepsis: number; sepsis: number } {
  const spec = FEATURE_SPECS[name];
  return { noSepsis: transform(name, spec.noSepsis), sepsis: transform(name, spec.sepsis) };
}

/** The exact log-odds of latent sepsis given the features (see the top of this file). */
export function groundTruthLogit(features: Features): number {
  let logit = Math.log(PREVALENCE / (1 - PREVALENCE));
  for (const name of FEATURES) {
    const { noSepsis, sepsis } = classMeans(name);
    const variance = FEATURE_SPECS[name].sd ** 2;
    logit += ((sepsis - noSepsis) / variance) * transform(name, features[name]);
    logit -= (sepsis ** 2 - noSepsis ** 2) / (2 * variance);
  }
  return logit;
}

/**
 * The probability that the recorded label is sepsis: the latent posterior through the label noise,
 * LABEL_NOISE + (1 − 2·LABEL_NOISE)·σ(logit). The best-calibrated prediction any model can make.
 */
export function groundTruthProbability(features: Features): number {
  return LABEL_NOISE + (1 - 2 * LABEL_NOISE) * sigmoid(groundTruthLogit(features));
}

export function sigmoid(value: number): number {
  return 1 / (1 + Math.exp(-value));
}

export interface CohortOptions {
  size: number;
  seed: number;
  /**
   * Input drift, in within-class standard deviations: every feature's class means move this far
   * towards the sepsis profile (heart rate up, blood pressure down, …). 0, the default, is the
   * training distribution.
   */
  drift?: number;
}

export interface Cohort {
  rows: Features[];
  /** The recorded labels (1 = sepsis), label noise included. */
  labels: Uint8Array;
  /** The latent classes before label noise. */
  latent: Uint8Array;
}

/** A stream of patients from the generative model: the same seed gives the same patients. */
export function patientSampler(
  seed: number,
  drift = 0,
): () => { features: Features; label: 0 | 1; latent: 0 | 1 } {
  const random = seededRandom(`sepsis-cohort|${seed}`);
  const normal = gaussian(random);
  const shifted = Object.fromEntries(
    FEATURES.map((name) => {
      const { noSepsis, sepsis } = classMeans(name);
      const step = drift * FEATURE_SPECS[name].sd * Math.sign(sepsis - noSepsis);
      return [name, { noSepsis: noSepsis + step, sepsis: sepsis + step }];
    }),
  ) as Record<FeatureName, { noSepsis: number; sepsis: number }>;
  return () => {
    const latent: 0 | 1 = random() < PREVALENCE ? 1 : 0;
    const features = {} as Features;
    for (const name of FEATURES) {
      const spec = FEATURE_SPECS[name];
      const mean = latent === 1 ? shifted[name].sepsis : shifted[name].noSepsis;
      let value: number;
      let attempts = 0;
      do {
        value = untransform(name, mean + spec.sd * normal());
        attempts += 1;
      } while ((value < spec.min || value > spec.max) && attempts < 100);
      // Only a drift far outside anything sensible gets here: the nearest plausible value then.
      features[name] = round(Math.min(spec.max, Math.max(spec.min, value)), 2);
    }
    const label: 0 | 1 = random() < LABEL_NOISE ? ((1 - latent) as 0 | 1) : latent;
    return { features, label, latent };
  };
}

/** `size` patients from the generative model; reproducible from the seed. */
export function generateCohort(options: CohortOptions): Cohort {
  const next = patientSampler(options.seed, options.drift ?? 0);
  const rows: Features[] = [];
  const labels = new Uint8Array(options.size);
  const latent = new Uint8Array(options.size);
  for (let index = 0; index < options.size; index += 1) {
    const patient = next();
    rows.push(patient.features);
    labels[index] = patient.label;
    latent[index] = patient.latent;
  }
  return { rows, labels, latent };
}

/** Values as a chart records them: two decimals are plenty. */
function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
