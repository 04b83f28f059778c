// NAB scorer (ml/nab): every test vector of /work/shared/data/nab/SCORING.md, the probationary period,
// window-to-row mapping, normalisation, the corpus-wide threshold sweep against brute force, and the real
// corpus read through ml/nab/corpus.ts.
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  CorpusError,
  listCorpusFiles,
  loadCorpus,
  parseSeries,
  parseWindows,
  readProfiles,
  timestampMicros,
  windowRows,
  type Corpus,
} from '../../ml/nab/corpus.js';
import {
  NOTHING_DETECTED_THRESHOLD,
  PROFILE_LIST,
  PROFILES,
  SS_MINUS_ONE,
  exactSum,
  nabScores,
  normalizeScore,
  optimizeThreshold,
  prepareCorpus,
  probationaryLength,
  rowValues,
  scaledSigmoid,
  scoreCorpus,
  scoreFile,
  thresholdCandidates,
  type DetectorFile,
  type Profile,
  type RowRange,
} from '../../ml/nab/scoring.js';
import { mulberry32 } from '../../activities/telemetry/simulated.js';

const NAB_DIR = process.env['NAB_DATA_DIR'] ?? '/work/shared/data/nab';
const ONES: Profile = { name: 'tp=fp=fn=1', tp: 1, fp: 1, fn: 1 };
const { standard, reward_low_FP_rate: lowFP, reward_low_FN_rate: lowFN } = PROFILES;

/** A file of n rows scoring 1 at the detected rows and 0 elsewhere. */
function detector(
  n: number,
  windows: RowRange[],
  detected: number[],
  probation?: number,
  name = 'f.csv',
): DetectorFile {
  const scores = new Float64Array(n);
  for (const i of detected) scores[i] = 1;
  return probation === undefined ? { name, scores, windows } : { name, scores, windows, probation };
}

/** Reference threshold choice: score every candidate from scratch; best score, then highest threshold. */
function bruteForce(files: DetectorFile[], profile: Profile): { threshold: number; score: number } {
  let best = { threshold: NaN, score: -Infinity };
  for (const threshold of thresholdCandidates(files)) {
    const { score } = scoreCorpus(files, threshold, profile);
    if (score > best.score || (score === best.score && threshold > best.threshold))
      best = { threshold, score };
  }
  return best;
}

describe('SCORING.md test vectors', () => {
  test('ss(-1) = 0.9866142981514305', () => {
    assert.equal(scaledSigmoid(-1), 0.9866142981514305);
    assert.equal(SS_MINUS_ONE, 0.9866142981514305);
  });

  test('100 rows, windows 30-34 and 65-69, tp=fp=fn=1, θ=0.5, detections 30, 31, 37: -0.9540', () => {
    const file = detector(
      100,
      [
        { left: 30, right: 34 },
        { left: 65, right: 69 },
      ],
      [30, 31, 37],
      0,
    );
    const result = scoreFile(file, 0.5, ONES);
    assert.equal(scaledSigmoid(0.75), -0.9540452601799487);
    assert.equal(result.score, 1.0 - 1.0 + scaledSigmoid(0.75));
    assert.equal(result.score, -0.9540452601799487);
    assert.equal(result.score.toFixed(4), '-0.9540');
    assert.deepEqual(result.windowValues, [1, -1]);
    assert.equal(result.detectedWindows, 1);
    assert.equal(result.falsePositives, 1);
  });

  test('no windows, one detection: -fp', () => {
    for (const profile of PROFILE_LIST) {
      assert.equal(scoreFile(detector(100, [], [50]), 0.5, profile).score, -profile.fp);
    }
    assert.equal(scoreFile(detector(100, [], [50]), 0.5, standard).score, -0.11);
    assert.equal(scoreFile(detector(100, [], [50]), 0.5, lowFP).score, -0.22);
  });

  test('one window, no detection: -fn; four windows, none detected: -4·fn', () => {
    const one = detector(200, [{ left: 100, right: 109 }], []);
    assert.equal(scoreFile(one, 0.5, standard).score, -1);
    assert.equal(scoreFile(one, 0.5, lowFN).score, -2);
    const four = detector(
      400,
      [100, 150, 200, 300].map((left) => ({ left, right: left + 9 })),
      [],
    );
    assert.equal(scoreFile(four, 0.5, standard).score, -4);
    assert.equal(scoreFile(four, 0.5, lowFN).score, -8);
    assert.equal(scoreFile(four, 0.5, lowFN).detectedWindows, 0);
  });

  test('a detection on the first row of a window is worth exactly tp, whatever the width', () => {
    for (const width of [1, 2, 3, 5, 7, 10, 63, 100, 135, 201, 403, 999]) {
      for (const tp of [1, 0.7, 1.3, 3]) {
        const profile = { name: 'p', tp, fp: 0.11, fn: 1 };
        const file = detector(2000, [{ left: 1000, right: 999 + width }], [1000]);
        const result = scoreFile(file, 0.5, profile);
        assert.equal(result.score, tp, `width ${width}, tp ${tp}`);
        assert.equal(rowValues(2000, file.windows, profile).values[1000], tp);
      }
    }
  });

  test('a second detection in the same window changes nothing', () => {
    const windows = [{ left: 1000, right: 1099 }];
    const first = scoreFile(detector(2000, windows, [1000]), 0.5, standard);
    for (const extra of [1001, 1050, 1099]) {
      const both = scoreFile(detector(2000, windows, [1000, extra]), 0.5, standard);
      assert.deepEqual(both, first);
    }
    // The window is worth its best detected row, not the sum and not the latest.
    const late = scoreFile(detector(2000, windows, [1050]), 0.5, standard).score;
    assert.equal(scoreFile(detector(2000, windows, [1050, 1090]), 0.5, standard).score, late);
    assert.ok(late > 0 && late < 1);
  });

  test('100-row window: last row worth 0.025333905068325228; the next row, as an FP, -0.025247158860150054', () => {
    assert.equal(scaledSigmoid(-1 / 100) / scaledSigmoid(-1), 0.025333905068325228);
    assert.equal(scaledSigmoid(1 / 99), -0.025247158860150054);
    const windows = [{ left: 1000, right: 1099 }];
    const { values } = rowValues(2000, windows, ONES);
    assert.equal(values[1099], 0.025333905068325228);
    assert.equal(values[1100], -0.025247158860150054);
    assert.equal(scoreFile(detector(2000, windows, [1099]), 0.5, ONES).score, 0.025333905068325228);
    const after = scoreFile(detector(2000, windows, [1100]), 0.5, ONES);
    assert.deepEqual(after.windowValues, [-1]);
    assert.equal(after.falsePositives, 1);
    assert.equal(after.score, exactSum([-1, -0.025247158860150054]));
  });

  test('published reference: raw 46.6344501971 with W = 116 normalises to 70.101 (standard)', () => {
    const nab = normalizeScore(46.6344501971, 116, standard);
    assert.equal(nab.toFixed(3), '70.101');
    assert.ok(Math.abs(nab - 70.101) < 0.0005);
  });

  test('normalisation: standard = 100(S + W)/(2W), low-FN = 100(S + 2W)/(3W)', () => {
    for (const W of [1, 36, 116]) {
      for (const S of [-2 * W, -W, -1.234, 0, 7.5, 46.6344501971, W]) {
        assert.equal(normalizeScore(S, W, standard), (100 * (S + W)) / (2 * W));
        assert.equal(normalizeScore(S, W, lowFP), (100 * (S + W)) / (2 * W));
        assert.equal(normalizeScore(S, W, lowFN), (100 * (S + 2 * W)) / (3 * W));
      }
    }
    assert.throws(() => normalizeScore(0, 0, standard), /cannot normalise with 0 windows/);
  });
});

describe('profiles and constants', () => {
  test('profile weights match the spec and profiles.json', async () => {
    assert.deepEqual(
      PROFILE_LIST.map((p) => [p.name, p.tp, p.fp, p.fn]),
      [
        ['standard', 1, 0.11, 1],
        ['reward_low_FP_rate', 1, 0.22, 1],
        ['reward_low_FN_rate', 1, 0.11, 2],
      ],
    );
    assert.deepEqual(await readProfiles(join(NAB_DIR, 'profiles.json')), PROFILE_LIST);
  });

  test('scaled sigmoid: 0 at 0, -1 beyond 3, but not quite -1 at 3', () => {
    assert.equal(scaledSigmoid(0), 0);
    assert.equal(scaledSigmoid(3.0000001), -1);
    assert.equal(scaledSigmoid(Infinity), -1);
    assert.ok(scaledSigmoid(3) > -1 && scaledSigmoid(3) < -0.9999);
    assert.ok(scaledSigmoid(-2) < 1 && scaledSigmoid(-2) > 0.9999);
    assert.throws(() => scaledSigmoid(NaN), RangeError);
  });
});

describe('probationary period', () => {
  test('min(floor(0.15 n), 750)', () => {
    const cases: [number, number][] = [
      [0, 0],
      [6, 0],
      [7, 1],
      [20, 3],
      [100, 15],
      [1243, 186],
      [4032, 604],
      [4730, 709],
      [4999, 749],
      [5000, 750],
      [22695, 750],
    ];
    for (const [n, p] of cases) assert.equal(probationaryLength(n), p, `n = ${n}`);
    assert.throws(() => probationaryLength(-1), RangeError);
    assert.throws(() => probationaryLength(2.5), RangeError);
  });

  test('detections in the probationary period are not scored at all', () => {
    // 100 rows: rows 0-14 are probationary. Window [10, 20] straddles the end of the period.
    const windows = [{ left: 10, right: 20 }];
    assert.equal(scoreFile(detector(100, [], [0, 5, 14]), 0.5, standard).score, 0); // no FP
    assert.equal(scoreFile(detector(100, windows, [10, 12]), 0.5, standard).score, -1); // window missed
    const atFifteen = scoreFile(detector(100, windows, [10, 15]), 0.5, standard);
    assert.equal(atFifteen.score, scaledSigmoid(-6 / 11) / SS_MINUS_ONE);
    assert.equal(scoreFile(detector(100, [], [15]), 0.5, standard).score, -0.11);
    // The same rows with the period switched off are scored.
    assert.equal(scoreFile(detector(100, windows, [10, 12], 0), 0.5, standard).score, 1);
    assert.equal(scoreFile(detector(100, [], [0], 0), 0.5, standard).score, -0.11);
  });

  test('a window entirely in the probationary period still counts as -fn', () => {
    const windows = [{ left: 2, right: 5 }];
    const result = scoreFile(detector(100, windows, [2, 3, 4, 5]), 0.5, standard);
    assert.equal(result.score, -1);
    assert.equal(result.detectedWindows, 0);
  });
});

describe('per-row values', () => {
  test('-fp before any window, near 0 just after a window, -fp far after it', () => {
    const windows = [{ left: 30, right: 34 }];
    const { values, window } = rowValues(100, windows, standard);
    assert.equal(values[0], -0.11);
    assert.equal(values[29], -0.11);
    assert.equal(values[35], 0.11 * scaledSigmoid(1 / 4));
    for (let i = 35; i < 47; i++) assert.ok((values[i] ?? NaN) > (values[i + 1] ?? NaN), `row ${i}`);
    assert.ok((values[35] ?? NaN) < 0 && (values[35] ?? NaN) > -0.11 * 0.6);
    assert.equal(values[46], 0.11 * scaledSigmoid(3)); // y = 12/4 = 3: not yet -1
    assert.notEqual(values[46], -0.11);
    assert.equal(values[47], -0.11); // y = 13/4 > 3
    assert.deepEqual([window[29], window[30], window[34], window[35]], [-1, 0, 0, -1]);
  });

  test('inside a window values fall from tp at the first row towards 0 at the last', () => {
    const { values } = rowValues(100, [{ left: 30, right: 34 }], lowFN);
    const inside = [30, 31, 32, 33, 34].map((i) => values[i] ?? NaN);
    assert.equal(inside[0], 1);
    for (let k = 1; k < inside.length; k++) assert.ok((inside[k] ?? NaN) < (inside[k - 1] ?? NaN));
    assert.equal(inside[4], scaledSigmoid(-1 / 5) / SS_MINUS_ONE);
  });

  test('after a second window, values are measured from the most recent one; after a 1-row window, -fp', () => {
    const windows = [
      { left: 10, right: 19 },
      { left: 40, right: 40 },
    ];
    const { values } = rowValues(100, windows, ONES);
    assert.equal(values[25], scaledSigmoid(6 / 9));
    assert.equal(values[40], 1);
    assert.equal(values[41], -1);
  });
});

describe('threshold choice over the whole corpus', () => {
  // File a: its only window is found by a 0.6 row (worth tp) after a 0.9 false positive.
  // File b: no windows, k rows at 0.7. Standard profile.
  const corpus = (k: number): DetectorFile[] => {
    const a = new Float64Array(1000);
    a[100] = 0.9;
    a[500] = 0.6;
    const b = new Float64Array(1000);
    for (let i = 0; i < k; i++) b[200 + i] = 0.7;
    return [
      { name: 'a.csv', scores: a, windows: [{ left: 500, right: 509 }], probation: 0 },
      { name: 'b.csv', scores: b, windows: [], probation: 0 },
    ];
  };

  test('one threshold for all files, not the best threshold per file', () => {
    const files = corpus(20);
    // Alone, file a is best at 0.6 and file b at 1.1 ...
    assert.equal(optimizeThreshold([files[0] as DetectorFile], standard).threshold, 0.6);
    assert.equal(optimizeThreshold([files[1] as DetectorFile], standard).threshold, 1.1);
    // ... but over the corpus 0.6 costs 20 false positives in b: 1.1 (nothing detected) wins.
    const choice = optimizeThreshold(files, standard);
    assert.equal(choice.threshold, NOTHING_DETECTED_THRESHOLD);
    assert.equal(choice.score, -1);
    assert.equal(choice.candidates, 5); // 1.1, 0.9, 0.7, 0.6, 0
    assert.ok(scoreCorpus(files, 0.6, standard).score < -1);
    assert.deepEqual(bruteForce(files, standard), { threshold: choice.threshold, score: choice.score });
  });

  test('with fewer false positives elsewhere, the lower threshold wins', () => {
    const files = corpus(5);
    const choice = optimizeThreshold(files, standard);
    assert.equal(choice.threshold, 0.6);
    assert.equal(choice.score, exactSum([-0.11, -0.11, -0.11, -0.11, -0.11, -0.11, 1]));
    assert.equal(choice.score, scoreCorpus(files, 0.6, standard).score);
    assert.ok(Math.abs(choice.score - 0.34) < 1e-12);
    // reward_low_FP_rate doubles the false-positive cost, but 1 - 6 x 0.22 = -0.32 still beats -1.
    assert.equal(optimizeThreshold(files, lowFP).threshold, 0.6);
    assert.deepEqual(bruteForce(files, lowFP), {
      threshold: 0.6,
      score: optimizeThreshold(files, lowFP).score,
    });
  });

  test('ties go to the highest threshold', () => {
    // Row 510 (0.5) is a second detection in the detected window: 0.6 and 0.5 score the same.
    // Row 3 (0.55) is probationary: a threshold of 0.55 detects what 0.6 does.
    const scores = new Float64Array(1000);
    scores[3] = 0.55;
    scores[500] = 0.6;
    scores[505] = 0.5;
    const files = [{ name: 'a.csv', scores, windows: [{ left: 500, right: 509 }] }];
    assert.equal(scoreCorpus(files, 0.5, standard).score, scoreCorpus(files, 0.6, standard).score);
    assert.equal(scoreCorpus(files, 0.55, standard).score, scoreCorpus(files, 0.6, standard).score);
    const choice = optimizeThreshold(files, standard);
    assert.equal(choice.threshold, 0.6);
    assert.equal(choice.score, 1);
  });

  test('nothing detected is chosen when every detection costs', () => {
    const files = [detector(200, [], [50, 60, 70], 0)];
    assert.deepEqual(optimizeThreshold(files, standard), {
      profile: standard,
      threshold: 1.1,
      score: 0,
      candidates: 3, // 1.1, 1 and 0
    });
  });

  test('the sweep equals brute-force rescoring on random corpora (with ties), for every profile', () => {
    const profiles = [...PROFILE_LIST, ONES, { name: 'odd', tp: 1.7, fp: 0.37, fn: 0.9 }];
    let lowered = 0;
    for (let seed = 1; seed <= 25; seed++) {
      const random = mulberry32(seed);
      const files: DetectorFile[] = [];
      const fileCount = 1 + Math.floor(random() * 4);
      for (let f = 0; f < fileCount; f++) {
        const n = 50 + Math.floor(random() * 300);
        const windows: RowRange[] = [];
        let next = Math.floor(random() * 40);
        while (next < n - 2 && random() < 0.7) {
          const width = 1 + Math.floor(random() * 25);
          const right = Math.min(n - 1, next + width - 1);
          windows.push({ left: next, right });
          next = right + 2 + Math.floor(random() * 60);
        }
        const levels = 2 + Math.floor(random() * 30); // few levels: many exact ties
        const scores = Float64Array.from({ length: n }, () => Math.floor(random() * levels) / levels);
        files.push({ name: `f${f}.csv`, scores, windows, probation: Math.floor(random() * 10) });
      }
      const prepared = prepareCorpus(files);
      for (const profile of profiles) {
        const sweep = optimizeThreshold(prepared, profile);
        const reference = bruteForce(files, profile);
        assert.deepEqual({ threshold: sweep.threshold, score: sweep.score }, reference, `seed ${seed}`);
        assert.equal(sweep.candidates, thresholdCandidates(files).length);
        if (sweep.threshold < 1.1) lowered++;
      }
    }
    assert.ok(lowered > 10, 'the random corpora should not all pick "nothing detected"');
  });
});

describe('normalised score: null detector 0, perfect detector 100', () => {
  const windows = [
    { left: 300, right: 339 },
    { left: 600, right: 600 },
    { left: 800, right: 899 },
  ];
  test('null detector (all zero scores) scores 0 and the perfect detector 100 for every profile', () => {
    const none = [detector(1000, windows, [], undefined, 'a.csv'), detector(500, [], [], undefined, 'b.csv')];
    const perfect = [
      detector(1000, windows, [300, 600, 800], undefined, 'a.csv'),
      detector(500, [], [], undefined, 'b.csv'),
    ];
    for (const result of nabScores(none)) {
      assert.equal(result.normalizedScore, 0);
      assert.equal(result.score, result.nullScore);
      assert.equal(result.threshold, 1.1);
    }
    for (const result of nabScores(perfect)) {
      assert.equal(result.normalizedScore, 100);
      assert.equal(result.score, 3);
      assert.equal(result.threshold, 1);
      assert.equal(result.windowCount, 3);
    }
  });

  test('a late detection scores between 0 and 100; W from the labels file caps a subset', () => {
    const late = [detector(1000, windows, [320, 600, 800], undefined, 'a.csv')];
    const [result] = nabScores(late, [standard]);
    assert.ok(result !== undefined && result.normalizedScore > 50 && result.normalizedScore < 100);
    const [capped] = nabScores(late, [standard], { windowCount: 6 });
    assert.ok(capped !== undefined && capped.normalizedScore < result.normalizedScore);
    assert.equal(capped.normalizedScore, (100 * (capped.score + 6)) / 12);
    assert.throws(() => nabScores(late, [standard], { windowCount: 2 }), /less than the 3 windows/);
  });
});

describe('exact sums', () => {
  test('the sum of doubles is exact and rounded once, whatever the order', () => {
    assert.equal(exactSum([0.1, 0.2, -0.3]), 2 ** -55);
    assert.equal(exactSum([-0.3, 0.1, 0.2]), 2 ** -55);
    assert.notEqual(0.1 + 0.2 - 0.3, 2 ** -55); // what naive summation gives instead
    assert.equal(exactSum([1e16, 1, -1e16]), 1);
    assert.equal(exactSum([1, 1e-30, -1]), 1e-30);
    assert.equal(exactSum([5e-324, 5e-324]), 1e-323);
    assert.equal(exactSum([]), 0);
    assert.equal(exactSum([1, 2 ** -53]), 1); // tie rounds to even
    assert.equal(exactSum([1, 2 ** -53, 2 ** -80]), 1 + 2 ** -52);
  });

  test('a corpus score does not depend on the order of its files', () => {
    const random = mulberry32(7);
    const files = [0, 1, 2, 3].map((f) => ({
      name: `f${f}.csv`,
      scores: Float64Array.from({ length: 400 }, () => random()),
      windows: [{ left: 100 + f * 7, right: 140 + f * 11 }],
    }));
    const forward = scoreCorpus(files, 0.6, standard).score;
    assert.equal(scoreCorpus([...files].reverse(), 0.6, standard).score, forward);
    assert.equal(
      scoreCorpus([files[2], files[0], files[3], files[1]] as DetectorFile[], 0.6, standard).score,
      forward,
    );
  });
});

describe('input validation', () => {
  test('bad scores, windows and names are rejected with the file and row named', () => {
    const scores = new Float64Array(100);
    scores[42] = 1.5;
    assert.throws(() => scoreFile({ name: 'x.csv', scores, windows: [] }, 0.5, standard), /x\.csv: row 42/);
    scores[42] = NaN;
    assert.throws(
      () => optimizeThreshold([{ name: 'x.csv', scores, windows: [] }], standard),
      /x\.csv: row 42/,
    );
    const ok = new Float64Array(100);
    const overlapping = [
      { left: 10, right: 20 },
      { left: 20, right: 30 },
    ];
    assert.throws(
      () => scoreFile({ name: 'y.csv', scores: ok, windows: overlapping }, 0.5, standard),
      /y\.csv/,
    );
    assert.throws(() =>
      scoreFile({ name: 'y.csv', scores: ok, windows: [{ left: 90, right: 100 }] }, 0.5, standard),
    );
    const twice = { name: 'z.csv', scores: ok, windows: [] };
    assert.throws(() => scoreCorpus([twice, twice], 0.5, standard), /z\.csv appears twice/);
  });
});

describe('corpus reading and window-to-row mapping', () => {
  const csv = [
    'timestamp,value',
    '2014-02-14 14:00:00,1.5',
    '2014-02-14 14:05:00,2',
    '2014-02-14 14:10:00,-3e2',
    '2014-02-14 14:10:00,4', // repeated timestamp, as in two NAB files
    '2014-02-14 14:15:00,5',
    '2014-02-14 14:20:00,6',
    '',
  ].join('\r\n');

  test('rows are parsed with their timestamps and values', () => {
    const series = parseSeries(csv, 'mem.csv');
    assert.equal(series.rows.length, 6);
    assert.deepEqual(series.rows[2], { timestamp: '2014-02-14 14:10:00', value: -300 });
    assert.equal(timestampMicros('2014-02-14 14:10:00.000000'), timestampMicros('2014-02-14 14:10:00'));
    assert.equal(
      timestampMicros('2014-02-14 14:10:00.5') ?? NaN,
      (timestampMicros('2014-02-14 14:10:00') ?? 0) + 5e5,
    );
    assert.equal(timestampMicros('2014-02-30 00:00:00'), undefined);
    assert.equal(timestampMicros('2014-02-14'), undefined);
  });

  test('windows map to the rows whose timestamps equal their start and end', () => {
    const series = parseSeries(csv, 'mem.csv');
    const rows = windowRows(series, [
      { start: '2014-02-14 14:15:00.000000', end: '2014-02-14 14:20:00.000000' },
      { start: '2014-02-14 14:05:00.000000', end: '2014-02-14 14:10:00.000000' },
    ]);
    // Sorted by row; a repeated end timestamp maps to its first row.
    assert.deepEqual(
      rows.map((w) => [w.left, w.right]),
      [
        [1, 2],
        [4, 5],
      ],
    );
    assert.equal(rows[0]?.start, '2014-02-14 14:05:00.000000');
    assert.throws(
      () => windowRows(series, [{ start: '2014-02-14 14:07:00.000000', end: '2014-02-14 14:20:00.000000' }]),
      (err: unknown) =>
        err instanceof CorpusError && /mem\.csv: window 0 .*no row at its start/.test(err.message),
    );
    assert.throws(
      () =>
        windowRows(series, [
          { start: '2014-02-14 14:00:00.000000', end: '2014-02-14 14:10:00.000000' },
          { start: '2014-02-14 14:10:00.000000', end: '2014-02-14 14:20:00.000000' },
        ]),
      /overlap/,
    );
  });

  test('malformed series name the file and line', () => {
    const bad = (text: string, pattern: RegExp) => assert.throws(() => parseSeries(text, 'bad.csv'), pattern);
    bad('time,value\n2014-02-14 14:00:00,1\n', /^CorpusError: bad\.csv:1: header/);
    bad('timestamp,value\n2014-02-14 14:00:00,1\n2014-02-14 14:05:00,abc\n', /bad\.csv:3: bad value "abc"/);
    bad('timestamp,value\n2014-02-14 14:00:00,1\n2014-02-14 14:05:00,\n', /bad\.csv:3: bad value ""/);
    bad('timestamp,value\n2014-02-14 14:00:00,1,2\n', /bad\.csv:2: expected 2 fields/);
    bad('timestamp,value\n14/02/2014 14:00,1\n', /bad\.csv:2: bad timestamp/);
    bad('timestamp,value\n2014-02-14 14:05:00,1\n2014-02-14 14:00:00,1\n', /bad\.csv:3: .*earlier/);
    bad('timestamp,value\n2014-02-14 14:00:00,1\n\n2014-02-14 14:05:00,1\n', /bad\.csv:3: expected 2 fields/);
    bad('timestamp,value\n', /bad\.csv: no data rows/);
  });

  test('malformed windows JSON names the file and line', () => {
    const good = parseWindows(
      '{\n  "a/x.csv": [\n    ["2014-01-01 00:00:00.000000", "2014-01-01 01:00:00.000000"]\n  ],\n  "a/y.csv": []\n}',
      'w.json',
    );
    assert.deepEqual([...good.keys()], ['a/x.csv', 'a/y.csv']);
    assert.deepEqual(good.get('a/x.csv'), [
      { start: '2014-01-01 00:00:00.000000', end: '2014-01-01 01:00:00.000000' },
    ]);
    assert.throws(
      () => parseWindows('{\n  "a/x.csv": [\n  ]]\n}', 'w.json'),
      /^CorpusError: w\.json:3: invalid JSON/,
    );
    assert.throws(
      () =>
        parseWindows(
          '{\n  "a/x.csv": [],\n  "a/y.csv": [\n    ["2014-01-01 00:00:00", "tomorrow"]\n  ]\n}',
          'w.json',
        ),
      /w\.json:4: "a\/y\.csv": window 0: bad end timestamp "tomorrow"/,
    );
    assert.throws(
      () => parseWindows('{\n  "a/x.csv": "none"\n}', 'w.json'),
      /w\.json:2: "a\/x\.csv": expected a list/,
    );
    assert.throws(() => parseWindows('[]', 'w.json'), /w\.json:1: expected an object/);
  });

  test('a folder with any subset of categories is listed recursively; labels must cover it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'nab-'));
    try {
      await mkdir(join(root, 'data', 'catA'), { recursive: true });
      await mkdir(join(root, 'data', 'catB', 'deeper'), { recursive: true });
      await mkdir(join(root, 'labels'));
      await writeFile(join(root, 'data', 'catA', 'one.csv'), csv);
      await writeFile(join(root, 'data', 'catB', 'deeper', 'two.csv'), csv);
      await writeFile(join(root, 'data', 'catB', 'notes.txt'), 'not a series');
      const labels = {
        'catA/one.csv': [['2014-02-14 14:05:00.000000', '2014-02-14 14:10:00.000000']],
        'catB/deeper/two.csv': [],
      };
      await writeFile(join(root, 'labels', 'combined_windows.json'), JSON.stringify(labels));
      const listed = await listCorpusFiles(join(root, 'data'));
      assert.deepEqual(
        listed.map((f) => f.name),
        ['catA/one.csv', 'catB/deeper/two.csv'],
      );
      const corpus = await loadCorpus(root);
      assert.equal(corpus.windowCount, 1);
      assert.deepEqual(
        corpus.files[0]?.windows.map((w) => [w.left, w.right]),
        [[1, 2]],
      );

      await writeFile(
        join(root, 'labels', 'combined_windows.json'),
        JSON.stringify({ ...labels, 'catC/three.csv': [['2014-02-14 14:05:00', '2014-02-14 14:10:00']] }),
      );
      await assert.rejects(loadCorpus(root), /1 labelled file\(s\) not found.*catC\/three\.csv/);
      const subset = await loadCorpus(root, { allowMissingData: true });
      assert.deepEqual(subset.missingData, ['catC/three.csv']);
      assert.equal(subset.windowCount, 1);
      assert.equal(subset.labelWindowCount, 2);

      await writeFile(join(root, 'labels', 'combined_windows.json'), JSON.stringify({ 'catA/one.csv': [] }));
      await assert.rejects(loadCorpus(root), /no windows entry for catB\/deeper\/two\.csv/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('the real corpus in /work/shared/data/nab', () => {
  let loaded: Promise<Corpus> | undefined;
  const corpus = (): Promise<Corpus> => (loaded ??= loadCorpus(NAB_DIR));

  test('28 files in three categories, 36 windows, every window maps to rows after the probationary period', async () => {
    const { files, windowCount, labelWindowCount, missingData } = await corpus();
    assert.equal(files.length, 28);
    const byCategory = new Map<string, number>();
    for (const f of files) {
      const category = f.series.name.split('/')[0] ?? '';
      byCategory.set(category, (byCategory.get(category) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(byCategory), {
      artificialNoAnomaly: 5,
      artificialWithAnomaly: 6,
      realAWSCloudwatch: 17,
    });
    assert.equal(windowCount, 36);
    assert.equal(labelWindowCount, 36);
    assert.deepEqual(missingData, []);
    assert.equal(
      files.reduce((acc, f) => acc + f.series.rows.length, 0),
      112092,
    );
    for (const { series, windows } of files) {
      const probation = probationaryLength(series.rows.length);
      for (const w of windows) {
        assert.ok(w.left >= probation && w.left <= w.right && w.right < series.rows.length, series.name);
        assert.equal(timestampMicros(series.rows[w.left]?.timestamp ?? ''), timestampMicros(w.start));
        assert.equal(timestampMicros(series.rows[w.right]?.timestamp ?? ''), timestampMicros(w.end));
      }
    }
    const sample = files.find((f) => f.series.name === 'realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv');
    assert.deepEqual(
      sample?.windows.map((w) => [w.left, w.right]),
      [
        [1171, 1371],
        [2830, 3030],
      ],
    );
    assert.equal(sample?.series.rows.length, 4032);
  });

  test('null and perfect detectors normalise to 0 and 100; the sweep agrees with brute force', async () => {
    const { files } = await corpus();
    const asDetector = (fill: (i: number, f: (typeof files)[number]) => number): DetectorFile[] =>
      files.map((f) => ({
        name: f.series.name,
        windows: f.windows,
        scores: Float64Array.from({ length: f.series.rows.length }, (_, i) => fill(i, f)),
      }));
    const none = asDetector(() => 0);
    const perfect = asDetector((i, f) => (f.windows.some((w) => w.left === i) ? 1 : 0));
    assert.deepEqual(
      nabScores(none).map((r) => r.normalizedScore),
      [0, 0, 0],
    );
    assert.deepEqual(
      nabScores(perfect).map((r) => r.normalizedScore),
      [100, 100, 100],
    );
    // A crude detector: how far the value is from the file's running mean, in 21 levels.
    const crude = files.map((f) => {
      let mean = 0;
      const scores = f.series.rows.map((row, i) => {
        const d = Math.abs(row.value - mean) / (Math.abs(mean) + 1);
        mean += (row.value - mean) / (i + 1);
        return Math.round(Math.min(1, d) * 20) / 20;
      });
      return { name: f.series.name, windows: f.windows, scores };
    });
    const [result] = nabScores(crude, [standard]);
    assert.ok(result !== undefined);
    assert.deepEqual({ threshold: result.threshold, score: result.score }, bruteForce(crude, standard));
    assert.equal(result.score, scoreCorpus(crude, result.threshold, standard).score);
  });
});
