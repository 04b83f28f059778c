// The anomaly model for canaries: a model of the stable version's telemetry (the baseline), per
// metric, against which the canary's series over an analysis interval is scored.
//
// The streaming detector (ml/detector.ts) reads the baseline's recent history, is fitted on it and
// then frozen: the canary's samples are scored against what the stable version does — its predictive
// model, the distribution of its prediction errors and the range of its values — and nothing the
// canary does becomes normal. There is no refractory period here: every anomalous canary sample counts,
// so the judge can require several of them (ml's anomalyMinHits) before it believes the model.
import { StreamingDetector, type DetectorOptions } from './detector.js';

/** Fewest baseline samples the model is fitted on; with fewer, the canary is not scored. */
export const MIN_BASELINE_SAMPLES = 64;

/**
 * The detector's settings for canaries, chosen on the simulated telemetry's healthy windows (2,400
 * metric windows: none with 3 or more hits) and on bench:canary. The baseline is short (a few hundred
 * samples), so the network is small (8 lags, 4 hidden units): a larger one fits the baseline's noise,
 * its in-sample errors come out too small, and every out-of-sample canary error looks unlikely. Each
 * sample's own error is scored (shortWindow 1): one outlier is one hit, not five, so the judge's "three
 * hits" means three anomalous samples. The spatial rule allows 25 % of the baseline's range.
 */
export const CANARY_SCORER_DEFAULTS: Partial<DetectorOptions> = {
  // Canary telemetry is sampled every few seconds: no daily season inside an analysis interval.
  season: 0,
  lags: 8,
  hidden: 4,
  shortWindow: 1,
  spatialTolerance: 0.25,
  refractory: 0,
  // The prediction error itself, not its rank surprisal, and no seasonal-naive error (no season): the
  // settings above were chosen with these.
  rankWindow: 0,
  seasonalError: 0,
  // Metrics such as restarts are flat at 0 for good: a flat run is not an anomaly here.
  flatRun: 0,
  seasonSearch: 0,
};

/**
 * Scores each canary sample in [0, 1] against a model of the baseline fitted on `baseline` (the
 * stable track's series just before and during the interval, oldest first). Non-finite samples are
 * skipped in the baseline and score NaN in the canary. Returns undefined when the baseline has fewer
 * than MIN_BASELINE_SAMPLES finite samples: too little to learn what normal is.
 * Deterministic for a given seed and TensorFlow.js backend.
 */
export async function scoreCanarySeries(
  baseline: readonly number[],
  canary: readonly number[],
  options: Partial<DetectorOptions> = {},
): Promise<number[] | undefined> {
  const history = baseline.filter((value) => Number.isFinite(value));
  if (history.length < MIN_BASELINE_SAMPLES) return undefined;
  const detector = new StreamingDetector({
    ...CANARY_SCORER_DEFAULTS,
    // Fitted once, on the whole baseline, at the freeze below.
    warmup: history.length + 1,
    ...options,
  });
  try {
    for (const value of history) await detector.next(value);
    await detector.freeze();
    const scores: number[] = [];
    for (const value of canary) scores.push(Number.isFinite(value) ? await detector.next(value) : NaN);
    return scores;
  } finally {
    detector.dispose();
  }
}
