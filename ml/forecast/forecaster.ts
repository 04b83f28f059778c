// The load forecaster for predictive scaling: from a request-rate series (one value per sample, a
// fixed sample period, any unit, oldest first) it forecasts the peak load over the next `horizon`
// samples — its upper `quantile` (what capacity must cover) and its median.
//
// Design:
//  - Scale-free: every value enters as log(1 + x / s), s a robust scale of the training samples (their
//    median; their mean when the median is 0). Request rates are multiplicative and heavy-tailed
//    (bursts of 10–10,000 × the usual rate in NAB's CloudWatch series): in log space a burst is a few
//    units, not millions, and the loss is not dominated by it. Quantiles survive the transform (it is
//    monotone), so the network's log-space quantile, mapped back, is the quantile of the peak.
//  - Inputs for the forecast at sample t: the last `lags` transformed values, and with a `period`
//    (samples per day) the time of day as sin/cos of 2π t / period and the transformed peak of the
//    same horizon one period earlier. The target is the transformed peak of samples t+1 … t+horizon.
//  - A small dense network (one hidden layer of `hidden` ReLU units) with two outputs, the median and
//    the `quantile`, trained jointly with the pinball (quantile) loss of each; the upper output is
//    never reported below the median. Outputs are mapped back to the series' unit and clamped ≥ 0.
//  - Online: observe() appends a sample and refits every `refitEvery` samples on the last
//    `maxTrainSamples`, continuing from the weights of the previous fit (a few epochs adapt it). Rows
//    are built only from samples already observed, so a forecast at t uses samples ≤ t only.
//  - Before the first fit (fewer than MIN_TRAIN_ROWS training rows) forecast() falls back to the
//    highest of the recent samples × FALLBACK_MARGIN, and says so.
//  - Reproducible: seeded initialisers and unshuffled batches; the same samples and options give the
//    same forecasts on the same backend.
import type * as tfTypes from '@tensorflow/tfjs';
import { predictiveReplicas, replicasFor, PREDICTIVE_DEFAULTS, REACTIVE_DEFAULTS } from './provisioning.js';
import { tensorflow } from '../tf.js';

export interface ForecasterOptions {
  /** Recent samples the network reads (integer ≥ 1). */
  lags: number;
  /** Samples ahead whose peak is forecast (integer ≥ 1). */
  horizon: number;
  /** The upper quantile forecast, in (0, 1). */
  quantile: number;
  /** Samples per day (288 for 5-minute samples): adds time-of-day and yesterday's peak; none without. */
  period?: number;
  /** Epochs per fit (integer ≥ 1). */
  epochs: number;
  /** Hidden units (integer ≥ 1). */
  hidden: number;
  seed: number;
  learningRate: number;
  /** Samples between refits (integer ≥ 1). */
  refitEvery: number;
  /** Most recent samples a fit trains on (integer ≥ lags + horizon + MIN_TRAIN_ROWS − 1). */
  maxTrainSamples: number;
}

export const FORECASTER_DEFAULTS: ForecasterOptions = {
  lags: 12,
  horizon: 1,
  quantile: 0.9,
  epochs: 20,
  hidden: 16,
  seed: 1,
  learningRate: 0.01,
  refitEvery: 288,
  maxTrainSamples: 2016,
};

/**
 * The forecaster's settings for the predictive scaling policy (planCapacity, bench/scaling.ts): the
 * 0.7 quantile of the next sample's load, which the policy serves at 90 % utilisation
 * (PREDICTIVE_DEFAULTS). Chosen once on bench:scaling (its header has the settings tried): the 0.9
 * quantile (served at 100 %) halves the HPA's under-provisioned minutes but costs a fifth more
 * replica-minutes; the 0.7 one cuts them by a quarter at slightly fewer replica-minutes.
 */
export const PREDICTIVE_FORECASTER: Partial<ForecasterOptions> = { quantile: 0.7 };

export interface Forecast {
  /** The `quantile` of the peak load over the next `horizon` samples, in the series' unit, ≥ 0. */
  peak: number;
  /** The median of that peak. */
  median: number;
  /** Samples the model was trained on (0 for a fallback). */
  trainedOn: number;
  horizon: number;
}

/** Fewest training rows (samples with `lags` before them and `horizon` after) for a fit. */
export const MIN_TRAIN_ROWS = 64;
/** The fallback forecast: the highest of the last lags + horizon samples times this. */
export const FALLBACK_MARGIN = 1.5;
const BATCH_SIZE = 128;

function check(condition: boolean, field: string, rule: string, value: unknown): void {
  if (!condition) throw new RangeError(`${field} must be ${rule} (got ${String(value)})`);
}

/** The options with defaults filled in; throws a RangeError naming the first option out of range. */
export function validateForecasterOptions(options: Partial<ForecasterOptions> = {}): ForecasterOptions {
  const o = { ...FORECASTER_DEFAULTS, ...options };
  const integer = (field: keyof ForecasterOptions, min: number) =>
    check(Number.isInteger(o[field]) && (o[field] as number) >= min, field, `an integer ≥ ${min}`, o[field]);
  integer('lags', 1);
  integer('horizon', 1);
  check(o.quantile > 0 && o.quantile < 1, 'quantile', 'in (0, 1)', o.quantile);
  if (o.period !== undefined) integer('period', 2);
  integer('epochs', 1);
  integer('hidden', 1);
  check(Number.isInteger(o.seed), 'seed', 'an integer', o.seed);
  check(
    Number.isFinite(o.learningRate) && o.learningRate > 0,
    'learningRate',
    'a number > 0',
    o.learningRate,
  );
  integer('refitEvery', 1);
  integer('maxTrainSamples', o.lags + o.horizon + MIN_TRAIN_ROWS - 1);
  return o;
}

/** Forecasts the peak load of the next horizon from the samples observed so far (file comment). */
export class LoadForecaster {
  readonly options: ForecasterOptions;
  private readonly values: number[] = [];
  private model: tfTypes.LayersModel | undefined;
  /** The loss's quantile per output: 0.5 and `quantile`. */
  private quantiles: tfTypes.Tensor | undefined;
  private tf: typeof tfTypes | undefined;
  private scale = 1;
  private trainedOn = 0;
  private fittedAt = 0;

  private constructor(options: ForecasterOptions) {
    this.options = options;
  }

  /** A forecaster with `options` over FORECASTER_DEFAULTS; throws a RangeError naming a bad option. */
  static async create(options: Partial<ForecasterOptions> = {}): Promise<LoadForecaster> {
    const forecaster = new LoadForecaster(validateForecasterOptions(options));
    forecaster.tf = (await tensorflow()).tf;
    return forecaster;
  }

  /**
   * Appends one observed sample (finite, ≥ 0); refits when refitEvery samples have come since the
   * last fit, or at the first moment there are enough rows for one.
   */
  async observe(value: number): Promise<void> {
    this.append([value]);
    const due = this.model ? this.values.length - this.fittedAt >= this.options.refitEvery : this.canFit();
    if (due) await this.refit();
  }

  /** Appends samples without refitting (a history to fit once with refit()). */
  append(values: readonly number[]): void {
    for (const value of values) {
      check(Number.isFinite(value) && value >= 0, 'value', 'a finite number ≥ 0', value);
      this.values.push(value);
    }
  }

  /** Fits now on the last maxTrainSamples samples; does nothing while there are too few for a fit. */
  async refit(): Promise<void> {
    if (!this.canFit()) return;
    const tf = this.tf!;
    const o = this.options;
    const recent = this.values.slice(-o.maxTrainSamples);
    this.scale = robustScale(recent);
    const first = this.values.length - recent.length + o.lags - 1;
    const last = this.values.length - 1 - o.horizon;
    const rows = last - first + 1;
    const width = this.width();
    const inputs = new Float32Array(rows * width);
    const targets = new Float32Array(rows * 2);
    for (let row = 0; row < rows; row += 1) {
      const t = first + row;
      inputs.set(this.features(t), row * width);
      const target = this.normal(peakOf(this.values, t + 1, t + o.horizon));
      targets[row * 2] = target;
      targets[row * 2 + 1] = target;
    }
    this.model ??= this.build(tf, width);
    const xs = tf.tensor2d(inputs, [rows, width]);
    const ys = tf.tensor2d(targets, [rows, 2]);
    try {
      await this.model.fit(xs, ys, { epochs: o.epochs, batchSize: BATCH_SIZE, shuffle: false, verbose: 0 });
    } finally {
      xs.dispose();
      ys.dispose();
    }
    this.trainedOn = recent.length;
    this.fittedAt = this.values.length;
  }

  /**
   * The forecast of the peak over the next horizon from every sample observed so far; before the
   * first fit, the highest of the last lags + horizon samples × FALLBACK_MARGIN (median: the latest
   * sample), flagged as a fallback. Throws when nothing has been observed.
   */
  forecast(): Forecast & { fallback: boolean } {
    const o = this.options;
    const count = this.values.length;
    check(count > 0, 'observed samples', '≥ 1 before a forecast', count);
    if (!this.model) {
      const recent = this.values.slice(-(o.lags + o.horizon));
      return {
        peak: Math.max(...recent) * FALLBACK_MARGIN,
        median: this.values[count - 1]!,
        trainedOn: 0,
        horizon: o.horizon,
        fallback: true,
      };
    }
    const tf = this.tf!;
    const model = this.model;
    const input = this.features(count - 1);
    const output = tf.tidy(() =>
      (model.predict(tf.tensor2d(input, [1, input.length])) as tfTypes.Tensor).dataSync(),
    );
    const median = this.denormal(output[0]!);
    return {
      peak: Math.max(median, this.denormal(output[1]!)),
      median,
      trainedOn: this.trainedOn,
      horizon: o.horizon,
      fallback: false,
    };
  }

  dispose(): void {
    this.model?.dispose();
    this.model = undefined;
    this.quantiles?.dispose();
    this.quantiles = undefined;
  }

  private canFit(): boolean {
    const o = this.options;
    const rows = Math.min(this.values.length, o.maxTrainSamples) - o.lags - o.horizon + 1;
    return rows >= MIN_TRAIN_ROWS;
  }

  private width(): number {
    return this.options.lags + (this.options.period === undefined ? 0 : 3);
  }

  private normal(value: number): number {
    return Math.log1p(value / this.scale);
  }

  private denormal(output: number): number {
    return Math.max(0, Math.expm1(output) * this.scale);
  }

  /** The network's inputs for a forecast made at sample t (uses samples ≤ t only). */
  private features(t: number): number[] {
    const o = this.options;
    const inputs: number[] = [];
    for (let lag = o.lags - 1; lag >= 0; lag -= 1) inputs.push(this.normal(this.values[t - lag]!));
    if (o.period !== undefined) {
      const angle = (2 * Math.PI * (t % o.period)) / o.period;
      inputs.push(Math.sin(angle), Math.cos(angle));
      // The same horizon one period earlier, or the latest sample before a whole period is seen.
      const start = t + 1 - o.period;
      inputs.push(
        this.normal(
          start >= 0 ? peakOf(this.values, start, Math.min(t, start + o.horizon - 1)) : this.values[t]!,
        ),
      );
    }
    return inputs;
  }

  private build(tf: typeof tfTypes, width: number): tfTypes.LayersModel {
    const o = this.options;
    const model = tf.sequential({
      layers: [
        tf.layers.dense({
          inputShape: [width],
          units: o.hidden,
          activation: 'relu',
          kernelInitializer: tf.initializers.heNormal({ seed: o.seed }),
        }),
        tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed + 1 }) }),
      ],
    });
    this.quantiles ??= tf.tensor1d([0.5, o.quantile]);
    const quantiles = this.quantiles;
    model.compile({
      optimizer: tf.train.adam(o.learningRate),
      loss: (yTrue: tfTypes.Tensor, yPred: tfTypes.Tensor) => pinballLoss(tf, yTrue, yPred, quantiles),
    });
    return model;
  }
}

/** The pinball loss of each output column at its quantile, averaged over rows and columns. */
function pinballLoss(
  tf: typeof tfTypes,
  yTrue: tfTypes.Tensor,
  yPred: tfTypes.Tensor,
  quantiles: tfTypes.Tensor,
): tfTypes.Scalar {
  const error = tf.sub(yTrue, yPred);
  return tf.mean(tf.maximum(tf.mul(quantiles, error), tf.mul(tf.sub(quantiles, 1), error)));
}

/** The highest of values[from … to] (both included). */
function peakOf(values: readonly number[], from: number, to: number): number {
  let peak = -Infinity;
  for (let index = from; index <= to; index += 1) peak = Math.max(peak, values[index]!);
  return peak;
}

/** The median of the values, their mean when the median is 0, and 1 when they are all 0. */
function robustScale(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  if (median > 0) return median;
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  return mean > 0 ? mean : 1;
}

/**
 * One-shot: fits a forecaster on `history` (oldest first) and forecasts the peak of the next horizon;
 * a fallback (flagged) when the history is too short to fit on.
 */
export async function forecastPeak(
  history: readonly number[],
  options: Partial<ForecasterOptions> = {},
): Promise<Forecast & { fallback: boolean }> {
  const forecaster = await LoadForecaster.create(options);
  try {
    forecaster.append(history);
    await forecaster.refit();
    return forecaster.forecast();
  } finally {
    forecaster.dispose();
  }
}

export interface CapacitySettings {
  /** Load one replica serves at 100 % utilisation, in the history's unit. */
  capacityPerReplica: number;
  minReplicas: number;
  maxReplicas: number;
  /** Target utilisation of the forecast peak (default PREDICTIVE_DEFAULTS.targetUtilisation). */
  targetUtilisation?: number;
  /**
   * Samples ahead to provision for: until the next decision plus the pods' start-up (default
   * FORECASTER_DEFAULTS.horizon, one sample).
   */
  horizon?: number;
  /** Share of the load the track serves, in [0, 1] (default 1). */
  share?: number;
  /** Minutes between the history's samples (default 5): the forecaster's period is a day of them. */
  stepMinutes?: number;
  /** Other forecaster options over PREDICTIVE_FORECASTER and that period (seed, lags, …). */
  forecaster?: Partial<ForecasterOptions>;
}

/**
 * The replicas a track serving `share` of the load needs for the next horizon, by the predictive
 * policy (ml/forecast/provisioning.ts) with PREDICTIVE_FORECASTER: replicas for the forecast peak ×
 * share at targetUtilisation, never below what the reactive policy's target needs for the latest
 * sample × share (reactiveReplicas). `history` is the cloud's request rate for the model, oldest
 * first, one finite value ≥ 0 per sample (gaps filled by the caller); a history too short to fit on
 * (MIN_TRAIN_ROWS + lags + horizon − 1 samples) gives the flagged fallback forecast. The settings are
 * bench:scaling's, where a 5-minute step and a horizon of one sample were measured.
 */
export async function planCapacity(
  history: readonly number[],
  settings: CapacitySettings,
): Promise<{ replicas: number; forecastPeak: number; reactiveReplicas: number; fallback: boolean }> {
  check(history.length > 0, 'history', 'non-empty', history.length);
  const share = settings.share ?? 1;
  check(share >= 0 && share <= 1, 'share', 'in [0, 1]', share);
  const stepMinutes = settings.stepMinutes ?? 5;
  check(stepMinutes > 0 && stepMinutes <= 720, 'stepMinutes', 'in (0, 720]', stepMinutes);
  const forecast = await forecastPeak(history, {
    ...PREDICTIVE_FORECASTER,
    period: Math.round(1440 / stepMinutes),
    ...settings.forecaster,
    ...(settings.horizon === undefined ? {} : { horizon: settings.horizon }),
  });
  const bounds = {
    capacityPerReplica: settings.capacityPerReplica,
    minReplicas: settings.minReplicas,
    maxReplicas: settings.maxReplicas,
  };
  const current = history[history.length - 1]! * share;
  const forecastLoad = forecast.peak * share;
  return {
    replicas: predictiveReplicas(forecastLoad, current, bounds, {
      ...PREDICTIVE_DEFAULTS,
      targetUtilisation: settings.targetUtilisation ?? PREDICTIVE_DEFAULTS.targetUtilisation,
    }),
    forecastPeak: forecastLoad,
    reactiveReplicas: replicasFor(current, {
      ...bounds,
      targetUtilisation: REACTIVE_DEFAULTS.targetUtilisation,
    }),
    fallback: forecast.fallback,
  };
}
