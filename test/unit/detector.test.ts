// The streaming anomaly detector: no look-ahead, reproducible from its seed, and it flags what it should.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StreamingDetector, rankSurprisal } from '../../ml/detector.js';
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

  test('the windowed-Gaussian baseline scores a far value near 1 and a typical one near 0.5 or below', () => {
    const detector = new WindowedGaussianDetector(200, 10);
    const values = series(300);
    let last = 0;
    for (const value of values) last = detector.next(value);
    assert.ok(last < 0.99);
    assert.ok(detector.next(500) > 0.999);
  });
});
