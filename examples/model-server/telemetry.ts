// The model server's Prometheus metrics (prom-client, one Registry per server so several servers in
// one process never collide). Every series carries model, version, cloud and track as default labels,
// the process metrics included (process_start_time_seconds counts restarts).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FEATURES, type FeatureName } from './data.js';
import type { Track } from './config.js';

export const PREDICTED_CLASSES = ['sepsis', 'no-sepsis'] as const;
export type PredictedClass = (typeof PREDICTED_CLASSES)[number];

/** 1 ms … 5 s: a fast model, injected latency and a slow node all land inside. */
export const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5,
];
/** 0.05, 0.10, …, 1.00. */
export const PROBABILITY_BUCKETS = Array.from({ length: 20 }, (_, index) =>
  Number(((index + 1) * 0.05).toFixed(2)),
);

export interface MetricLabels {
  model: string;
  version: string;
  cloud: string;
  track: Track;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'status'>;
  readonly duration: Histogram;
  readonly confidence: Histogram;
  readonly predictions: Counter<'class'>;
  readonly drift: Gauge<'feature'>;
  readonly driftMax: Gauge;
  readonly driftSamples: Gauge;
  readonly modelLoaded: Gauge;
  private readonly window: DriftWindow;

  constructor(labels: MetricLabels, driftWindow: number) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ ...labels });
    collectDefaultMetrics({ register: this.registry });
    // nodejs_version_info has a label of its own named version (Node's), which would override the
    // model version here: a query for version="1.0.0" must not meet "v20.x".
    this.registry.removeSingleMetric('nodejs_version_info');
    this.requests = new Counter({
      name: 'inference_requests_total',
      help: 'Requests to /predict, by HTTP status code.',
      labelNames: ['status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'inference_request_duration_seconds',
      help: 'Time to answer a /predict request (injected latency included), in seconds.',
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.confidence = new Histogram({
      name: 'inference_prediction_confidence',
      help: 'The predicted probability of the positive class (sepsis) of each prediction served.',
      buckets: PROBABILITY_BUCKETS,
      registers,
    });
    this.predictions = new Counter({
      name: 'inference_predictions_total',
      help: 'Predictions served, by predicted class.',
      labelNames: ['class'],
      registers,
    });
    this.drift = new Gauge({
      name: 'inference_input_drift',
      help:
        'Input drift per feature: |mean of the last N standardised inputs| = |rolling mean - training mean| / training std ' +
        '(in the model input space: log for wbc and lactate).',
      labelNames: ['feature'],
      registers,
    });
    this.driftMax = new Gauge({
      name: 'inference_input_drift_max',
      help: 'The largest inference_input_drift over the features.',
      registers,
    });
    this.driftSamples = new Gauge({
      name: 'inference_input_drift_window_size',
      help: 'Inputs in the rolling window the drift gauges are computed over (at most the window size).',
      registers,
    });
    this.modelLoaded = new Gauge({
      name: 'inference_model_loaded',
      help: '1 once the model is loaded and /predict serves, else 0.',
      registers,
    });
    // Series a dashboard divides by or alerts on exist from the start, at 0.
    for (const status of ['200', '500']) this.requests.inc({ status }, 0);
    for (const predicted of PREDICTED_CLASSES) this.predictions.inc({ class: predicted }, 0);
    for (const feature of FEATURES) this.drift.set({ feature }, 0);
    this.driftMax.set(0);
    this.driftSamples.set(0);
    this.modelLoaded.set(0);
    this.window = new DriftWindow(driftWindow);
  }

  /** Records one standardised input row (FEATURES order) and updates the drift gauges. */
  observeInput(standardised: readonly number[]): void {
    const drift = this.window.add(standardised);
    let max = 0;
    FEATURES.forEach((feature, index) => {
      const value = drift[index]!;
      this.drift.set({ feature }, value);
      max = Math.max(max, value);
    });
    this.driftMax.set(max);
    this.driftSamples.set(this.window.size);
  }

  /** The current drift of each feature. */
  currentDrift(): Record<FeatureName, number> {
    const drift = this.window.drift();
    return Object.fromEntries(FEATURES.map((feature, index) => [feature, drift[index]!])) as Record<
      FeatureName,
      number
    >;
  }
}

/**
 * The last `capacity` standardised inputs (a ring buffer) and, per feature, the absolute mean of the
 * window: the distance of the rolling mean from the training mean in training standard deviations.
 * Under no drift it is about sqrt(2/π)/sqrt(N) (≈ 0.056 for N = 200); a shift of the whole input
 * distribution by d standard deviations moves it to about |d|.
 */
export class DriftWindow {
  private readonly rows: number[][] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.rows.length;
  }

  add(row: readonly number[]): number[] {
    if (this.rows.length < this.capacity) this.rows.push([...row]);
    else this.rows[this.next] = [...row];
    this.next = (this.next + 1) % this.capacity;
    return this.drift();
  }

  drift(): number[] {
    const sums = new Array<number>(FEATURES.length).fill(0);
    // Summed afresh each time (N × 6 additions): no running sum to accumulate rounding errors.
    for (const row of this.rows)
      for (let index = 0; index < sums.length; index += 1) sums[index]! += row[index]!;
    return sums.map((sum) => (this.rows.length === 0 ? 0 : Math.abs(sum / this.rows.length)));
  }
}
