// The streaming anomaly detector: no look-ahead, reproducible from its seed, and it flags what it should.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StreamingDetector, estimateSeason, rankSurprisal } from '../../ml/detector.js';
import { WindowedGaussianDetector } from '../../ml/baselines.js';

/** A daily-like pattern with small deterministic noise, and a spike at `spikeAt`. */
function series(length: number, spikeAt?: number): number[] {
  return Array.from({ length }, (_, index) => {
    const base = 50 + 20 * Math.sin((2 * Math.PI * index) / 96) + 2 * Math.sin(index * 12.9898);
    return index === spikeAt ? base + 60 : base;
  });
}

async function scores(values: readonly number[], seed = 42): Promise<number[]> {
  const detector = new StreamingDetector({ seed, season: 96 });
  const out: number[] = [];
  for (const value of values) out.push(await detector.next(value));
  detector.dispose();
  return out;
}

describe('streaming anomaly detector', () => {
  test('a spike far outside the pattern scores at the top, the quiet part stays low', async () => {
    const values = series(700, 650);
    const result = await scores(values);
    assert.ok(
      result.every((score) => score >= 0 && score <= 1),
      'scores in [0, 1]',
    );
    assert.ok(
      result.slice(0, 150).every((score) => score === 0),
      'nothing is scored during the warm-up',
    );
    assert.ok(result[650]! >= 0.9, `spike scored ${result[650]}`);
    const quiet = result.slice(400, 640);
    assert.ok(Math.max(...quiet) < result[650]!, 'the spike stands out from the normal part');
  });

  test('no look-ahead: the scores of a prefix do not depend on what comes after it', async () => {
    const full = await scores(series(700, 650));
    const prefix = await scores(series(640));
    assert.deepEqual(full.slice(0, 640), prefix);
  });

  test('reproducible from the seed', async () => {
    const values = series(500, 450);
    assert.deepEqual(await scores(values, 7), await scores(values, 7));
  });

  test('rank surprisal: a typical error is about log 2, a record one log(n + 1), ties count half', () => {
    assert.equal(rankSurprisal(0, 0, 0), Math.log(2));
    assert.ok(Math.abs(rankSurprisal(500, 0, 1000) - Math.log(2)) < 0.01);
    assert.ok(Math.abs(rankSurprisal(1000, 0, 1000) - Math.log(1001)) < 1e-9);
    assert.equal(rankSurprisal(400, 200, 1000), rankSurprisal(500, 0, 1000));
  });

  test('a burst of noise inside the range seen stands out from the quiet part (no spatial rule)', async () => {
    const values = series(1200).map((value, index) =>
      index >= 1000 && index < 1040 ? value + 6 * Math.sin(index * 78.233) : value,
    );
    const detector = new StreamingDetector({ season: 96, spatialTolerance: 1e9 });
    const result: number[] = [];
    for (const value of values) result.push(await detector.next(value));
    detector.dispose();
    const quiet = Math.max(...result.slice(400, 1000));
    const burst = Math.max(...result.slice(1000, 1040));
    assert.ok(burst > 2 * quiet, `burst ${burst}, quiet ${quiet}`);
  });

  test('frozen, the errors new ones are ranked against stay the baseline ones', async () => {
    const detector = new StreamingDetector({
      season: 0,
      lags: 8,
      hidden: 4,
      shortWindow: 1,
      spatialTolerance: 1e9,
      refractory: 0,
      warmup: 401,
      rankWindow: 400,
    });
    const values = series(1000);
    for (const value of values.slice(0, 400)) await detector.next(value);
    await detector.freeze();
    const result: number[] = [];
    // A canary off by ±8 all along: it must not become the canary's own normal.
    for (const value of values.slice(400)) {
      result.push(await detector.next(value + (Math.sin(value * 7.3) > 0 ? 8 : -8)));
    }
    detector.dispose();
    const late = result.slice(500).reduce((sum, score) => sum + score, 0) / 100;
    assert.ok(late > 0.25, `mean late score ${late}`);
  });

  test('a series going quiet for longer than ever before is flagged once, when the run becomes a record', async () => {
    // Bursty writes: mostly zero with short bursts, quiet runs of 9 samples; from 891 on, silent.
    const values = Array.from({ length: 1100 }, (_, index) =>
      index < 900 && index % 12 < 3 ? 100 + 50 * Math.sin(index * 12.9898) : 0,
    );
    const run = async (flatRun: number) => {
      const detector = new StreamingDetector({ season: 96, refractory: 0, flatRun });
      const out: number[] = [];
      for (const value of values) out.push(await detector.next(value));
      detector.dispose();
      return out;
    };
    const flagged = await run(48);
    // The last burst is 888–890: the silent run starts at 891 (earlier quiet runs are 9 samples long).
    const start = 891;
    assert.equal(flagged[start + 47], 1, `score ${flagged[start + 47]} when the run reaches 48`);
    assert.ok(
      flagged.slice(200, start + 47).every((score) => score < 1),
      'shorter quiet runs are not flagged',
    );
    const off = await run(0);
    assert.ok(off[start + 47]! < 0.5, `without the rule ${off[start + 47]}`);
    assert.deepEqual(off.slice(0, start + 47), flagged.slice(0, start + 47));
  });

  test('season estimate: the autocorrelation peak past the short lags, or the fallback without one', () => {
    // Period 96 with noise and a slow trend: short lags correlate best, but the season is 96.
    const seasonal = series(1000).map((value, index) => value + index / 100);
    assert.equal(estimateSeason(seasonal, 17, 400, 288), 96);
    // A different period in samples (an hourly series' day) is found just as well.
    const hourly = Array.from({ length: 600 }, (_, index) => Math.sin((2 * Math.PI * index) / 24));
    assert.equal(estimateSeason(hourly, 17, 400, 288), 24);
    // Noise: no lag correlates, the fallback stays; too few samples for any lag, too.
    let state = 1;
    const noise = Array.from({ length: 1000 }, () => {
      state = (state * 48271) % 2147483647;
      return state / 2147483647;
    });
    assert.equal(estimateSeason(noise, 17, 400, 288), 288);
    assert.equal(estimateSeason(seasonal.slice(0, 30), 17, 400, 288), 288);
  });

  test('with seasonSearch, a detector given the wrong season finds the series own and still flags a spike', async () => {
    const values = series(1400, 1350);
    const run = async (seasonSearch: number) => {
      const detector = new StreamingDetector({ season: 288, seasonSearch });
      const out: number[] = [];
      for (const value of values) out.push(await detector.next(value));
      detector.dispose();
      return out;
    };
    const searched = await run(400);
    assert.ok(searched[1350]! >= 0.9, `spike scored ${searched[1350]}`);
    assert.ok(Math.max(...searched.slice(1000, 1340)) < 0.5, 'the normal part stays low');
    // Up to the first refit after warm-up the season is the given one: the same scores as without it.
    const fixed = await run(0);
    assert.deepEqual(searched.slice(0, 151), fixed.slice(0, 151));
    assert.notDeepEqual(searched, fixed);
  });

  test('the windowed-Gaussian baseline scores a far value near 1 and a typical one near 0.5 or below', () => {
    const detector = new WindowedGaussianDetector(200, 10);
    const values = series(300);
    let last = 0;
    for (const value of values) last = detector.next(value);
    assert.ok(last < 0.99);
    assert.ok(detector.next(500) > 0.999);
  });
});
