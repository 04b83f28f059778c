// The load forecaster (ml/forecast/forecaster.ts): on a noisy daily pattern its upper quantile covers
// the realised peak about as often as it should and its median beats the last value; reproducible from
// the seed; no look-ahead; the flagged fallback before a fit; never negative; bad options name the
// option; planCapacity's floor, share and bounds. Small networks and few epochs: the file runs in seconds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mulberry32 } from '../../activities/telemetry/simulated.js';
import {
  FALLBACK_MARGIN,
  LoadForecaster,
  forecastPeak,
  planCapacity,
  type Forecast,
  type ForecasterOptions,
} from '../../ml/forecast/forecaster.js';
import { replicasFor } from '../../ml/forecast/provisioning.js';

/** A "day" of 48 samples: 50 ± 20 with uniform noise of ± 4, deterministic from the seed. */
function daily(length: number, seed = 5): number[] {
  const random = mulberry32(seed);
  return Array.from({ length }, (_, t) => 50 + 20 * Math.sin((2 * Math.PI * t) / 48) + 8 * (random() - 0.5));
}

const FAST: Partial<ForecasterOptions> = {
  lags: 8,
  horizon: 3,
  quantile: 0.9,
  period: 48,
  hidden: 8,
  epochs: 30,
  refitEvery: 100,
  maxTrainSamples: 400,
};

/** Every forecast, made after observing each sample in turn. */
async function forecasts(
  series: readonly number[],
  options = FAST,
): Promise<(Forecast & { fallback: boolean })[]> {
  const forecaster = await LoadForecaster.create(options);
  try {
    const out: (Forecast & { fallback: boolean })[] = [];
    for (const value of series) {
      await forecaster.observe(value);
      out.push(forecaster.forecast());
    }
    return out;
  } finally {
    forecaster.dispose();
  }
}

describe('load forecaster', () => {
  test('the 0.9 quantile covers the realised peak about 90 % of the time; the median beats the last value', async () => {
    const series = daily(700);
    const result = await forecasts(series);
    let covered = 0;
    let modelError = 0;
    let naiveError = 0;
    let points = 0;
    for (let t = 300; t + 3 < series.length; t += 1) {
      const peak = Math.max(...series.slice(t + 1, t + 4));
      const forecast = result[t]!;
      assert.equal(forecast.fallback, false);
      if (forecast.peak >= peak) covered += 1;
      modelError += Math.abs(forecast.median - peak);
      naiveError += Math.abs(series[t]! - peak);
      points += 1;
    }
    assert.ok(covered / points >= 0.85, `covered ${covered} of ${points}`);
    assert.ok(
      modelError < 0.7 * naiveError,
      `median error ${modelError} against the last value's ${naiveError}`,
    );
  });

  test('reproducible from the seed', async () => {
    const series = daily(300, 9);
    assert.deepEqual(await forecasts(series), await forecasts(series));
  });

  test('no look-ahead: changing later samples does not change an earlier forecast', async () => {
    const series = daily(300, 2);
    const changed = series.map((value, t) => (t >= 250 ? value * 10 : value));
    const [original, altered] = [await forecasts(series), await forecasts(changed)];
    assert.deepEqual(altered.slice(0, 250), original.slice(0, 250));
    assert.notDeepEqual(altered.slice(250), original.slice(250));
  });

  test('before enough data for a fit: the recent peak × the margin, flagged', async () => {
    const result = await forecasts([5, 9, 7]);
    assert.deepEqual(result[2], {
      peak: 9 * FALLBACK_MARGIN,
      median: 7,
      trainedOn: 0,
      horizon: 3,
      fallback: true,
    });
    const oneShot = await forecastPeak([1, 2, 3], FAST);
    assert.equal(oneShot.fallback, true);
  });

  test('a flat-zero series forecasts zero or more, never negative', async () => {
    const result = await forecasts(Array<number>(200).fill(0));
    const last = result.at(-1)!;
    assert.equal(last.fallback, false);
    assert.ok(last.peak >= 0 && last.median >= 0, JSON.stringify(last));
    assert.ok(last.peak < 1e-3, `peak ${last.peak}`);
  });

  test('bad options are rejected, naming the option', async () => {
    await assert.rejects(LoadForecaster.create({ lags: 0 }), /lags/);
    await assert.rejects(LoadForecaster.create({ quantile: 0 }), /quantile/);
    await assert.rejects(LoadForecaster.create({ quantile: 1 }), /quantile/);
    await assert.rejects(LoadForecaster.create({ horizon: 0 }), /horizon/);
    await assert.rejects(forecastPeak([1, 2, 3], { horizon: 1.5 }), /horizon/);
    const forecaster = await LoadForecaster.create(FAST);
    await assert.rejects(forecaster.observe(-1), /value/);
    assert.throws(() => forecaster.forecast(), /observed samples/);
    forecaster.dispose();
  });
});

describe('planCapacity', () => {
  const history = daily(400, 4);
  const settings = {
    capacityPerReplica: 10,
    minReplicas: 1,
    maxReplicas: 50,
    forecaster: { period: 48, epochs: 20 },
  };

  test('never below the reactive floor, within the bounds, smaller for a smaller share', async () => {
    const full = await planCapacity(history, settings);
    assert.equal(full.fallback, false);
    assert.equal(
      full.reactiveReplicas,
      replicasFor(history.at(-1)!, { ...settings, targetUtilisation: 0.7 }),
    );
    assert.ok(full.replicas >= full.reactiveReplicas && full.replicas <= 50);
    const tenth = await planCapacity(history, { ...settings, share: 0.1 });
    assert.ok(
      Math.abs(tenth.forecastPeak - full.forecastPeak * 0.1) < 1e-9,
      'the same forecast, a tenth of it',
    );
    assert.ok(tenth.replicas < full.replicas);
    const capped = await planCapacity(history, { ...settings, maxReplicas: 3 });
    assert.equal(capped.replicas, 3);
    await assert.rejects(planCapacity(history, { ...settings, share: 1.5 }), /share/);
    await assert.rejects(planCapacity(history, { ...settings, stepMinutes: 0 }), /stepMinutes/);
    await assert.rejects(planCapacity(history, { ...settings, targetUtilisation: 2 }), /targetUtilisation/);
  });
});
