// The streaming anomaly detector for one metric time series. It reads one sample at a time and
// returns an anomaly score in [0, 1] computed from that sample and the ones before it only.
//
// Design, after what leads the Numenta Anomaly Benchmark:
//  1. A predictive model of the series: a small TensorFlow.js network predicting the next value from
//     the last `lags` values, refitted now and then (at growing intervals) on everything seen so far
//     (at most `trainWindow` samples). Until its first fit the prediction is the previous value.
//  2. The raw anomaly of a sample is its prediction error: the network's, or (`seasonalError`) the
//     smaller of it and the seasonal-naive error (the value one season before), so a pattern that
//     repeats the last season exactly is not an error even where the network misses it. With
//     `rankWindow` > 0 the error is turned into its surprisal, −log(1 − p), p its rank among the last
//     `rankWindow` errors: bounded, free of the series' units and of the scale changes at refits, and
//     not dominated by a few huge errors (like HTM's raw anomaly, the fraction of unpredicted columns).
//     With `rankWindow` 0 it is the plain error in units of the series' scale.
//  3. The score is not the raw error but its likelihood (as Numenta's HTM detector does): how unusual
//     the recent average error (`shortWindow`) is against the distribution of average errors over the
//     long history, as a Gaussian tail probability, then log-scaled so that the top of the range
//     separates 1-in-1000 from 1-in-a-million events.
//  4. A value beyond the range seen so far (by more than `spatialTolerance` of it) is anomalous at
//     once, whatever the model predicted.
//  5. With `flatRun`, a series holding one value for longer than it ever has before (a stalled or
//     silent metric, which no prediction error shows: its errors become the smallest ever) is anomalous
//     once, when the run first becomes a record.
//  6. After a confident detection the detector stays quiet for `refractory` samples: one event is
//     reported once, not on every sample of it.
import type * as tfTypes from '@tensorflow/tfjs';
import { normalSf } from './stats/mann-whitney.js';
import { tensorflow } from './tf.js';

export interface DetectorOptions {
  lags: number;
  /**
   * Samples per season (a day of 5-minute samples is 288): the values one season before the predicted
   * one are inputs too, so a missing daily pattern is a prediction error. 0 turns it off.
   */
  season: number;
  hidden: number;
  /** Samples before the first fit; scores are 0 until then (the series' probation). */
  warmup: number;
  /** The model is refitted when the number of samples seen reaches warmup·growth^k. */
  refitGrowth: number;
  /** Most recent samples a refit trains on. */
  trainWindow: number;
  epochs: number;
  learningRate: number;
  shortWindow: number;
  longWindow: number;
  spatialTolerance: number;
  refractory: number;
  /** A score at or above this starts the refractory period. */
  refractoryAbove: number;
  /**
   * > 0: the raw anomaly of a sample is the surprisal of its error's rank among the last `rankWindow`
   * errors (in the series' units); 0: the error in units of the series' scale at the last fit.
   */
  rankWindow: number;
  /**
   * 1: a sample's error is the smaller of the network's and the seasonal-naive one (with season > 0);
   * 0: the network's only.
   */
  seasonalError: number;
  /**
   * > 0: a run of identical values (the sample and the ones just before it) scores 1 when it becomes
   * longer than any run the series held before and is at least `flatRun` samples long; 0: off.
   */
  flatRun: number;
  /**
   * > 0 (with season > 0): at each refit the season is re-estimated from the autocorrelation of the training samples (see estimateSeason) at lags in
   * (lags, seasonSearch], kept while none reaches 0.3; 0: `season` throughout.
   */
  seasonSearch: number;
  seed: number;
}

export const DETECTOR_DEFAULTS: DetectorOptions = {
  lags: 16,
  season: 288,
  hidden: 16,
  warmup: 150,
  refitGrowth: 2,
  trainWindow: 3000,
  epochs: 12,
  learningRate: 0.01,
  shortWindow: 10,
  longWindow: 1000,
  spatialTolerance: 0.05,
  refractory: 200,
  refractoryAbove: 0.8,
  rankWindow: 2000,
  seasonalError: 1,
  flatRun: 48,
  seasonSearch: 0,
  seed: 42,
};

/** log-likelihood scaling of Numenta's detector: 1 − likelihood of 1e-10 maps to 1. */
const LOG_SCALE = Math.log(1e-10);

export class StreamingDetector {
  readonly options: DetectorOptions;
  private readonly values: number[] = [];
  private readonly errors: number[] = [];
  /** The last `rankWindow` errors in the series' units, which a new error is ranked against. */
  private rankHistory: RankWindow;
  private readonly averages: number[] = [];
  private model: tfTypes.Sequential | undefined;
  private tf: typeof tfTypes | undefined;
  private nextFitAt: number;
  private center = 0;
  private scale = 1;
  private min = Infinity;
  private max = -Infinity;
  private quietUntil = -1;
  /** Length of the run of identical values ending at the latest sample, and the longest one before it. */
  private run = 0;
  private longestRun = 0;
  private frozen = false;
  /** The season in use: `season`, or the estimate of the last refit (see `seasonSearch`). */
  private season: number;

  constructor(options: Partial<DetectorOptions> = {}) {
    this.options = { ...DETECTOR_DEFAULTS, ...options };
    this.nextFitAt = this.options.warmup;
    this.season = this.options.season;
    this.rankHistory = new RankWindow(this.options.rankWindow);
  }

  /** Scores the next sample of the series. */
  async next(value: number): Promise<number> {
    const index = this.values.length;
    const o = this.options;
    const prediction = this.predict();
    this.values.push(value);

    // Range seen so far, before this sample: a value far outside it is anomalous by itself.
    const range = this.max - this.min;
    const scoring = this.frozen || index >= o.warmup;
    const spatial =
      scoring &&
      range > 0 &&
      (value > this.max + o.spatialTolerance * range || value < this.min - o.spatialTolerance * range);
    const previous = this.values[index - 1];
    if (previous !== undefined && value === previous) {
      this.run += 1;
    } else {
      if (!this.frozen) this.longestRun = Math.max(this.longestRun, this.run);
      this.run = 1;
    }
    const flat = scoring && o.flatRun > 0 && this.run === Math.max(o.flatRun, this.longestRun + 1);
    if (!this.frozen) {
      this.min = Math.min(this.min, value);
      this.max = Math.max(this.max, value);
    }

    const absolute = this.absoluteError(index, prediction);
    const error = this.rawAnomaly(absolute, this.rankHistory);
    if (!this.frozen) this.rankHistory.push(absolute);
    this.errors.push(error);
    if (this.errors.length > o.longWindow) this.errors.shift();
    const average = this.shortAverage(this.errors);

    let score = 0;
    if (scoring) {
      score = spatial || flat ? 1 : likelihoodScore(average, this.averages);
    }
    if (!this.frozen) {
      this.averages.push(average);
      if (this.averages.length > o.longWindow) this.averages.shift();
    }

    if (!this.frozen && index >= this.nextFitAt) {
      await this.fit();
      this.nextFitAt = Math.ceil(this.nextFitAt * o.refitGrowth);
    }
    if (index <= this.quietUntil) return 0;
    if (score >= o.refractoryAbove) this.quietUntil = index + o.refractory;
    return score;
  }

  /**
   * Fits the model now, on everything seen, and fixes it: from here on, samples are scored against
   * the model and the error history learnt so far, and neither changes (for a canary scored against
   * its baseline: what the canary does must not become the canary's own normal), and the range of
   * the spatial rule is the range seen so far. Scoring starts at once, even inside the warm-up.
   */
  async freeze(): Promise<void> {
    if (this.frozen) return;
    if (this.values.length >= this.options.lags + 16) {
      await this.fit();
      this.recalibrate();
    }
    this.frozen = true;
  }

  /**
   * Recomputes the error history with the current model over the samples seen (at most longWindow,
   * plus rankWindow for the errors new ones are ranked against), so that errors scored from now on
   * are compared with errors of the same model and scale.
   */
  private recalibrate(): void {
    const { model, tf } = this;
    if (!model || !tf) return;
    const o = this.options;
    const first = Math.max(
      o.lags,
      this.values.length - o.longWindow - o.shortWindow - Math.max(0, o.rankWindow),
    );
    const rows = this.values.length - first;
    if (rows <= 0) return;
    const width = o.lags + (o.season > 0 ? 3 : 0);
    const inputs = new Float32Array(rows * width);
    for (let row = 0; row < rows; row += 1) inputs.set(this.features(first + row), row * width);
    const predictions = tf.tidy(() =>
      (model.predict(tf.tensor2d(inputs, [rows, width])) as tfTypes.Tensor).dataSync(),
    );
    const errors: number[] = [];
    const averages: number[] = [];
    const ranked = new RankWindow(o.rankWindow);
    for (let row = 0; row < rows; row += 1) {
      const absolute = this.absoluteError(first + row, predictions[row]! * this.scale + this.center);
      errors.push(this.rawAnomaly(absolute, ranked));
      ranked.push(absolute);
      averages.push(this.shortAverage(errors));
    }
    this.errors.splice(0, this.errors.length, ...errors.slice(-o.longWindow));
    this.averages.splice(0, this.averages.length, ...averages.slice(-o.longWindow));
    this.rankHistory = ranked;
  }

  /** The mean of the last `shortWindow` raw anomalies: what the likelihood judges. */
  private shortAverage(errors: readonly number[]): number {
    const short = errors.slice(-this.options.shortWindow);
    return short.reduce((sum, entry) => sum + entry, 0) / short.length;
  }

  /**
   * |values[index] − prediction| in the series' units; with `seasonalError`, the seasonal-naive error
   * |values[index] − values[index − season]| instead when it is smaller.
   */
  private absoluteError(index: number, prediction: number): number {
    const o = this.options;
    const value = this.values[index]!;
    const error = Math.abs(value - prediction);
    const season = this.season;
    if (o.seasonalError <= 0 || season <= 0 || index < season) return error;
    return Math.min(error, Math.abs(value - this.values[index - season]!));
  }

  /** The raw anomaly of an error (see `rankWindow`): its rank surprisal against `history`, or error/scale. */
  private rawAnomaly(absolute: number, history: RankWindow): number {
    if (this.options.rankWindow <= 0) return absolute / this.scale;
    return history.surprisal(absolute);
  }

  /** The network's prediction of the next value (the last value until the first fit). */
  private predict(): number {
    const count = this.values.length;
    if (count === 0) return 0;
    const last = this.values[count - 1]!;
    if (!this.model || !this.tf || count < this.options.lags) return last;
    const tf = this.tf;
    const model = this.model;
    const input = this.features(count);
    const output = tf.tidy(() =>
      (model.predict(tf.tensor2d(input, [1, input.length])) as tfTypes.Tensor).dataSync(),
    );
    return output[0]! * this.scale + this.center;
  }

  /** Inputs for predicting values[t]: the last `lags` values and three around one season before. */
  private features(t: number): number[] {
    const o = this.options;
    const normal = (index: number) => (this.values[index]! - this.center) / this.scale;
    const inputs: number[] = [];
    for (let lag = o.lags; lag >= 1; lag -= 1) inputs.push(normal(t - lag));
    if (o.season > 0) {
      for (const offset of [-1, 0, 1]) {
        const index = t - this.season + offset;
        // Before a whole season has been seen, the latest value stands in.
        inputs.push(index >= 0 && index < t ? normal(index) : normal(t - 1));
      }
    }
    return inputs;
  }

  private async fit(): Promise<void> {
    const o = this.options;
    const { tf } = await tensorflow();
    this.tf = tf;
    const recent = this.values.slice(-o.trainWindow);
    const mean = recent.reduce((sum, entry) => sum + entry, 0) / recent.length;
    const spread = Math.sqrt(recent.reduce((sum, entry) => sum + (entry - mean) ** 2, 0) / recent.length);
    this.center = mean;
    this.scale = spread > 1e-9 ? spread : 1;
    if (o.season > 0 && o.seasonSearch > 0)
      this.season = estimateSeason(recent, o.lags + 1, o.seasonSearch, this.season);
    const first = Math.max(o.lags, this.values.length - o.trainWindow);
    const rows = this.values.length - first;
    if (rows < 16) return;
    const width = o.lags + (o.season > 0 ? 3 : 0);
    const inputs = new Float32Array(rows * width);
    const targets = new Float32Array(rows);
    for (let row = 0; row < rows; row += 1) {
      inputs.set(this.features(first + row), row * width);
      targets[row] = (this.values[first + row]! - this.center) / this.scale;
    }
    this.model?.dispose();
    const model = tf.sequential({
      layers: [
        tf.layers.dense({
          inputShape: [width],
          units: o.hidden,
          activation: 'tanh',
          kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed }),
        }),
        tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed + 1 }) }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(o.learningRate), loss: 'meanSquaredError' });
    const xs = tf.tensor2d(inputs, [rows, width]);
    const ys = tf.tensor2d(targets, [rows, 1]);
    try {
      await model.fit(xs, ys, { epochs: o.epochs, batchSize: 64, shuffle: false, verbose: 0 });
    } finally {
      xs.dispose();
      ys.dispose();
    }
    this.model = model;
  }

  dispose(): void {
    this.model?.dispose();
    this.model = undefined;
  }
}

/**
 * −log(1 − p + 1/(n + 1)) with p the mid-rank of `value` among n others (the fraction below it, ties
 * counting half): about 0.69 for a typical value, log(n + 1) for a new record.
 */
export function rankSurprisal(below: number, equal: number, count: number): number {
  if (count === 0) return Math.log(2);
  const rank = (below + 0.5 * equal) / count;
  return -Math.log(1 - rank + 1 / (count + 1));
}

/** The last `size` values (none when size <= 0), in arrival order and sorted, for ranking new values. */
class RankWindow {
  private readonly arrivals: number[] = [];
  private readonly sorted: number[] = [];

  constructor(private readonly size: number) {}

  push(value: number): void {
    if (this.size <= 0) return;
    this.arrivals.push(value);
    this.sorted.splice(this.lowerBound(value), 0, value);
    if (this.arrivals.length > this.size) this.sorted.splice(this.lowerBound(this.arrivals.shift()!), 1);
  }

  /** rankSurprisal of `value` among the values held. */
  surprisal(value: number): number {
    const below = this.lowerBound(value);
    const equal = this.upperBound(value) - below;
    return rankSurprisal(below, equal, this.sorted.length);
  }

  /** First index whose value is >= `value`. */
  private lowerBound(value: number): number {
    let low = 0;
    let high = this.sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.sorted[middle]! < value) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** First index whose value is > `value`. */
  private upperBound(value: number): number {
    let low = 0;
    let high = this.sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.sorted[middle]! <= value) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/**
 * The season of `values`: the first lag in [first, last] (at most half the samples) after the
 * autocorrelation first falls below 0 whose autocorrelation peaks within 10 % of the highest there,
 * or `fallback` when no lag fits or none reaches 0.3.
 */
export function estimateSeason(
  values: readonly number[],
  first: number,
  last: number,
  fallback: number,
): number {
  const n = values.length;
  const top = Math.min(last, Math.floor(n / 2));
  if (top < first) return fallback;
  const mean = values.reduce((sum, entry) => sum + entry, 0) / n;
  const centred = values.map((entry) => entry - mean);
  const energy = centred.reduce((sum, entry) => sum + entry * entry, 0);
  if (energy <= 0) return fallback;
  // Normalised by the overlap, so long lags are not penalised for their shorter overlap.
  const correlation = (lag: number) => {
    let sum = 0;
    for (let t = lag; t < n; t += 1) sum += centred[t]! * centred[t - lag]!;
    return ((sum / (n - lag)) * n) / energy;
  };
  // A persistent series correlates best at the shortest lags: the season is the highest peak after
  // the autocorrelation's first fall below zero.
  let lag = 1;
  while (lag <= top && correlation(lag) > 0) lag += 1;
  const start = Math.max(lag, first);
  const correlations: number[] = [];
  for (lag = start; lag <= top; lag += 1) correlations.push(correlation(lag));
  const highest = Math.max(0.3, ...correlations);
  // Multiples of the season correlate about as well: the first peak within 10 % of the highest.
  for (let index = 0; index < correlations.length; index += 1) {
    const value = correlations[index]!;
    const isPeak =
      value >= (correlations[index - 1] ?? -Infinity) && value >= (correlations[index + 1] ?? -Infinity);
    if (isPeak && value >= 0.9 * highest) return start + index;
  }
  return fallback;
}

/** How unlikely `average` is against the history of averages (Gaussian tail), log-scaled to [0, 1]. */
export function likelihoodScore(average: number, history: readonly number[]): number {
  if (history.length < 10) return 0;
  let mean = 0;
  for (const entry of history) mean += entry;
  mean /= history.length;
  let variance = 0;
  for (const entry of history) variance += (entry - mean) ** 2;
  variance /= history.length;
  const deviation = Math.max(Math.sqrt(variance), 1e-6);
  const tail = normalSf((average - mean) / deviation);
  // likelihood = 1 − tail; score = log(1 − likelihood) / log(1e-10), clipped.
  return Math.min(1, Math.max(0, Math.log(Math.max(tail, 1e-300) + 1e-10) / LOG_SCALE));
}
