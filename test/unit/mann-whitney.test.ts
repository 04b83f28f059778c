// Mann-Whitney U, Hodges-Lehmann shift and its confidence interval against reference values computed once
// with SciPy 1.17.1 / NumPy 2.4.6 (pasted below as literals), plus hand-checkable and closed-form cases.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  confidenceIntervalShift,
  hodgesLehmannShift,
  mannWhitneyU,
  normalIsf,
  normalSf,
  rankBiserial,
  type Alternative,
} from '../../ml/stats/mann-whitney.js';
import { gaussian, openUniform } from '../../activities/telemetry/simulated.js';

const REL = 1e-12;

function assertClose(actual: number, expected: number, relTol: number, label: string): void {
  if (actual === expected) return;
  assert.ok(
    Math.abs(actual - expected) <= relTol * Math.abs(expected),
    `${label}: got ${actual}, expected ${expected} (relative tolerance ${relTol})`,
  );
}

/** Deterministic PRNG (mulberry32) and Box-Muller normals, so the simulated samples never change. */
function normalGenerator(seed: number): () => number {
  return gaussian(openUniform(seed));
}

const range = (length: number, f: (index: number) => number): number[] =>
  Array.from({ length }, (_, i) => f(i));

// [alternative, use_continuity, p-value]
type PRow = readonly [Alternative, boolean, number];
interface ScipyCase {
  name: string;
  x: number[];
  y: number[];
  u1: number;
  rows: readonly PRow[];
}

// p-values from scipy 1.17.1: mannwhitneyu(x, y, alternative=..., use_continuity=..., method='asymptotic');
// u1 is its `statistic`.
const scipyCases: ScipyCase[] = [
  {
    name: 'no ties (n1 = 10, n2 = 12)',
    x: [7.731, 11.2607, 9.295, 12.8925, 8.5631, 13.659, 9.8344, 10.1663, 9.3808, 9.9891],
    y: [8.5309, 11.1628, 9.6318, 8.9726, 9.1067, 7.7305, 12.8971, 9.2461, 11.7655, 9.5239, 11.943, 9.4352],
    u1: 69,
    rows: [
      ['two-sided', true, 0.5751565767276567],
      ['two-sided', false, 0.5528851028695372],
      ['less', true, 0.7344774492670937],
      ['less', false, 0.7235574485652314],
      ['greater', true, 0.28757828836382837],
      ['greater', false, 0.2764425514347686],
    ],
  },
  {
    name: 'many ties (Likert scores 1..5, n1 = 15, n2 = 20)',
    x: [4, 2, 3, 4, 2, 4, 4, 1, 5, 3, 2, 1, 3, 1, 5],
    y: [5, 4, 2, 4, 1, 1, 4, 5, 1, 5, 3, 5, 2, 5, 2, 4, 5, 3, 1, 4],
    u1: 126.5,
    rows: [
      ['two-sided', true, 0.4329465778871342],
      ['two-sided', false, 0.4230121925592868],
      ['less', true, 0.2164732889435671],
      ['less', false, 0.2115060962796434],
      ['greater', true, 0.7933937166915972],
      ['greater', false, 0.7884939037203567],
    ],
  },
  {
    name: 'unequal sizes (n1 = 4, n2 = 31, a few ties)',
    x: [1.78, 2.02, -3.25, -0.94],
    y: [
      -1.34, 1.05, 1.04, 0.05, 0.9, 0.42, 1.54, 1.03, 0.25, -0.53, -0.19, -0.69, 0.0, 1.16, 0.78, -0.72,
      -0.86, -2.43, -0.43, 1.0, 0.34, 1.03, 0.82, 2.0, -1.78, 0.95, 1.72, -0.36, 1.82, 0.69, 1.59,
    ],
    u1: 63,
    rows: [
      ['two-sided', true, 0.9793166747179509],
      ['two-sided', false, 0.9586472460180387],
      ['less', true, 0.5309972087607852],
      ['less', false, 0.5206763769909806],
      ['greater', true, 0.48965833735897546],
      ['greater', false, 0.4793236230090194],
    ],
  },
  {
    name: 'identical samples',
    x: [1, 2, 3, 4, 5],
    y: [1, 2, 3, 4, 5],
    u1: 12.5,
    rows: [
      ['two-sided', true, 1],
      ['two-sided', false, 1],
      ['less', true, 0.5422350133116141],
      ['less', false, 0.5],
      ['greater', true, 0.5422350133116141],
      ['greater', false, 0.5],
    ],
  },
  {
    name: 'clear shift (every x above every y, n1 = n2 = 50)',
    x: [
      20.83, 19.795, 22.083, 20.276, 19.542, 19.273, 21.006, 19.546, 19.759, 20.084, 20.358, 19.579, 21.287,
      18.164, 21.006, 20.317, 21.32, 19.977, 20.737, 19.284, 21.58, 17.56, 19.931, 19.72, 20.482, 18.398,
      19.159, 20.407, 19.562, 20.523, 19.032, 21.183, 19.199, 18.383, 21.493, 20.485, 20.815, 20.773, 19.679,
      18.0, 18.809, 16.863, 21.016, 20.01, 19.571, 19.301, 20.844, 21.934, 19.493, 22.376,
    ],
    y: [
      9.382, 8.778, 10.575, 9.53, 9.471, 9.643, 11.177, 10.389, 10.385, 10.081, 9.411, 11.434, 11.442, 11.238,
      9.555, 9.99, 9.649, 9.213, 9.751, 11.395, 10.217, 10.818, 10.488, 11.087, 10.637, 9.789, 10.533, 10.203,
      9.661, 7.885, 9.649, 9.125, 9.916, 10.486, 10.735, 9.908, 8.069, 10.854, 10.398, 9.998, 9.655, 9.785,
      10.82, 9.74, 8.429, 9.052, 10.137, 11.076, 7.973, 9.445,
    ],
    u1: 2500,
    rows: [
      ['two-sided', true, 7.062885236832336e-18],
      ['two-sided', false, 6.8535467605419316e-18],
      ['less', true, 1],
      ['less', false, 1],
      ['greater', true, 3.531442618416168e-18],
      ['greater', false, 3.4267733802709658e-18],
    ],
  },
  {
    name: 'very strong shift, far normal tail (x_i = i + 1000, y_j = 3j mod 301, n = 300 each)',
    x: range(300, (i) => i + 1000),
    y: range(300, (j) => (j * 3) % 301),
    u1: 90000,
    rows: [
      ['two-sided', true, 1.0549641486892856e-99],
      ['two-sided', false, 1.0496996430563973e-99],
      ['less', true, 1],
      ['less', false, 1],
      ['greater', true, 5.274820743446428e-100],
      ['greater', false, 5.248498215281987e-100],
    ],
  },
  {
    name: 'one value each',
    x: [1],
    y: [2],
    u1: 0,
    rows: [
      ['two-sided', true, 1],
      ['two-sided', false, 0.31731050786291415],
      ['less', true, 0.5],
      ['less', false, 0.15865525393145707],
      ['greater', true, 0.9772498680518208],
      ['greater', false, 0.8413447460685429],
    ],
  },
  {
    name: 'infinities are ordinary ranks',
    x: [-Infinity, 1, 2, 2],
    y: [Infinity, 0, 2],
    u1: 4,
    rows: [
      ['two-sided', true, 0.5820796519295022],
      ['two-sided', false, 0.463071015014588],
      ['less', true, 0.2910398259647511],
      ['less', false, 0.231535507507294],
      ['greater', true, 0.8204939731067853],
      ['greater', false, 0.768464492492706],
    ],
  },
  {
    name: 'larger, heavily tied (x_i = 37i mod 101, i < 300; y_j = 53j mod 97 + 3, j < 250)',
    x: range(300, (i) => (i * 37) % 101),
    y: range(250, (j) => ((j * 53) % 97) + 3),
    u1: 37042,
    rows: [
      ['two-sided', true, 0.8052600435329966],
      ['two-sided', false, 0.8050514973380232],
      ['less', true, 0.4026300217664983],
      ['less', false, 0.4025257486690116],
      ['greater', true, 0.5975785174941369],
      ['greater', false, 0.5974742513309884],
    ],
  },
  {
    name: '2000 x 2000, no ties (x_i = 7919i mod 2000 + 0.25, y_j = j), continuity on',
    x: range(2000, (i) => ((i * 7919) % 2000) + 0.25),
    y: range(2000, (j) => j),
    u1: 2001000,
    rows: [
      ['two-sided', true, 0.9781654123134519],
      ['less', true, 0.5109282138673971],
      ['greater', true, 0.48908270615672594],
    ],
  },
];

// z from scipy 1.17.1's own scipy.stats._mannwhitneyu._get_mwu_z (the value mannwhitneyu feeds to ndtr(-z)).
const scipyZ: Record<string, Record<Alternative, readonly [number, number]>> = {
  'no ties (n1 = 10, n2 = 12)': {
    greater: [0.560473402386419, 0.5934424260562083],
    less: [-0.6264114497259976, -0.5934424260562083],
    'two-sided': [0.560473402386419, 0.5934424260562083],
  },
  'many ties (Likert scores 1..5, n1 = 15, n2 = 20)': {
    greater: [-0.818253299130814, -0.801206355398922],
    less: [0.7841594116670301, 0.801206355398922],
    'two-sided': [0.7841594116670301, 0.801206355398922],
  },
  'clear shift (every x above every y, n1 = n2 = 50)': {
    greater: [8.613879622985326, 8.61732655360677],
    less: [-8.620773484228213, -8.61732655360677],
    'two-sided': [8.613879622985326, 8.61732655360677],
  },
  'very strong shift, far normal tail (x_i = i + 1000, y_j = 3j mod 301, n = 300 each)': {
    greater: [21.19531232642094, 21.195547832507966],
    less: [-21.195783338594996, -21.195547832507966],
    'two-sided': [21.19531232642094, 21.195547832507966],
  },
  'larger, heavily tied (x_i = 37i mod 101, i < 300; y_j = 53j mod 97 + 3, j < 250)': {
    greater: [-0.24708432439336483, -0.24681487583895548],
    less: [0.24654542728454615, 0.24681487583895548],
    'two-sided': [0.24654542728454615, 0.24681487583895548],
  },
};

const caseNamed = (name: string): ScipyCase => {
  const found = scipyCases.find((c) => c.name === name);
  assert.ok(found, name);
  return found;
};

describe('mannWhitneyU against scipy.stats.mannwhitneyu(method="asymptotic")', () => {
  for (const c of scipyCases) {
    test(c.name, () => {
      for (const [alternative, continuity, pValue] of c.rows) {
        const label = `${c.name}, ${alternative}, continuity ${continuity}`;
        const result = mannWhitneyU(c.x, c.y, { alternative, continuity });
        // U is a sum of half-integer ranks: exact.
        assert.equal(result.u1, c.u1, label);
        assert.equal(result.u2, c.x.length * c.y.length - c.u1, label);
        assert.equal(result.n1, c.x.length, label);
        assert.equal(result.n2, c.y.length, label);
        assertClose(result.pValue, pValue, REL, `${label}: p`);
      }
    });
  }

  test('z is bit-for-bit SciPy`s standardized statistic (same operations in the same order)', () => {
    for (const [name, byAlternative] of Object.entries(scipyZ)) {
      const c = caseNamed(name);
      for (const alternative of ['two-sided', 'less', 'greater'] as const) {
        const [withContinuity, without] = byAlternative[alternative];
        const zWith = mannWhitneyU(c.x, c.y, { alternative, continuity: true }).z;
        const zWithout = mannWhitneyU(c.x, c.y, { alternative, continuity: false }).z;
        assert.equal(zWith, withContinuity, `${name}, ${alternative}, continuity`);
        assert.equal(zWithout, without, `${name}, ${alternative}, no continuity`);
      }
    }
  });

  test('defaults are two-sided with continuity correction', () => {
    const c = caseNamed('no ties (n1 = 10, n2 = 12)');
    assert.deepEqual(
      mannWhitneyU(c.x, c.y),
      mannWhitneyU(c.x, c.y, { alternative: 'two-sided', continuity: true }),
    );
  });

  test('swapping the samples swaps U1 and U2 and the one-sided alternatives', () => {
    const c = caseNamed('many ties (Likert scores 1..5, n1 = 15, n2 = 20)');
    for (const continuity of [true, false]) {
      const forward = mannWhitneyU(c.x, c.y, { alternative: 'less', continuity });
      const swapped = mannWhitneyU(c.y, c.x, { alternative: 'greater', continuity });
      assert.equal(swapped.u1, forward.u2);
      assert.equal(swapped.u2, forward.u1);
      assert.equal(swapped.pValue, forward.pValue);
      assert.equal(
        mannWhitneyU(c.y, c.x, { continuity }).pValue,
        mannWhitneyU(c.x, c.y, { continuity }).pValue,
      );
    }
  });

  test('the order of the observations does not matter', () => {
    const c = caseNamed('unequal sizes (n1 = 4, n2 = 31, a few ties)');
    assert.deepEqual(mannWhitneyU([...c.x].reverse(), [...c.y].reverse()), mannWhitneyU(c.x, c.y));
  });

  test('every value equal: z = 0 and p = 1 for every alternative (SciPy gives NaN without continuity)', () => {
    // scipy 1.17.1 on x = [3, 3, 3], y = [3, 3]: statistic 3.0; p = 1.0 with continuity, nan without.
    for (const alternative of ['two-sided', 'less', 'greater'] as const) {
      for (const continuity of [true, false]) {
        assert.deepEqual(mannWhitneyU([3, 3, 3], [3, 3], { alternative, continuity }), {
          u1: 3,
          u2: 3,
          z: 0,
          pValue: 1,
          n1: 3,
          n2: 2,
        });
      }
    }
  });

  test('a clear shift gives a tiny p-value in the right direction only', () => {
    const c = caseNamed('clear shift (every x above every y, n1 = n2 = 50)');
    assert.ok(mannWhitneyU(c.x, c.y, { alternative: 'greater' }).pValue < 1e-17);
    assert.ok(mannWhitneyU(c.x, c.y).pValue < 1e-16);
    assert.equal(mannWhitneyU(c.x, c.y, { alternative: 'less' }).pValue, 1);
    assert.ok(mannWhitneyU(c.y, c.x, { alternative: 'less' }).pValue < 1e-17);
  });

  test('empty samples, NaN and unknown alternatives are RangeErrors naming the problem', () => {
    assert.throws(() => mannWhitneyU([], [1, 2]), { name: 'RangeError', message: /sample x is empty/ });
    assert.throws(() => mannWhitneyU([1, 2], []), { name: 'RangeError', message: /sample y is empty/ });
    assert.throws(() => mannWhitneyU([], []), { name: 'RangeError', message: /sample x is empty/ });
    assert.throws(() => mannWhitneyU([1, NaN], [1]), {
      name: 'RangeError',
      message: /sample x contains NaN/,
    });
    assert.throws(() => mannWhitneyU([1], [NaN]), { name: 'RangeError', message: /sample y contains NaN/ });
    assert.throws(() => mannWhitneyU([1], [2], { alternative: 'sideways' as Alternative }), RangeError);
  });
});

describe('normal distribution helpers against scipy.stats.norm', () => {
  test('normalSf matches norm.sf', () => {
    // scipy 1.17.1 norm.sf(z)
    const reference: [number, number][] = [
      [0, 0.5],
      [1, 0.15865525393145707],
      [-1, 0.8413447460685429],
      [1.5, 0.06680720126885807],
      [2, 0.022750131948179195],
      [2.5, 0.006209665325776132],
      [5, 2.866515718791933e-7],
      [10, 7.61985302416047e-24],
      [20, 2.7536241186061556e-89],
      [37, 5.7255712225239266e-300],
    ];
    for (const [z, expected] of reference) assertClose(normalSf(z), expected, REL, `normalSf(${z})`);
    assert.equal(normalSf(Infinity), 0);
    assert.equal(normalSf(-Infinity), 1);
    assert.ok(Number.isNaN(normalSf(NaN)));
  });

  test('normalIsf matches norm.isf', () => {
    // scipy 1.17.1 norm.isf(p)
    const reference: [number, number][] = [
      [0.025, 1.9599639845400545],
      [0.05, 1.6448536269514729],
      [0.005, 2.575829303548901],
      [1e-10, 6.361340902404056],
    ];
    for (const [p, expected] of reference) {
      assertClose(normalIsf(p), expected, REL, `normalIsf(${p})`);
      // 1 - p is rounded, which moves the quantile by about 1e-16 / phi(z): only compare where that is tiny.
      if (p >= 0.005) assertClose(normalIsf(1 - p), -expected, REL, `normalIsf(1 - ${p})`);
    }
    assert.equal(normalIsf(0.5), 0);
    assert.throws(() => normalIsf(0), RangeError);
    assert.throws(() => normalIsf(1), RangeError);
  });
});

describe('rank-biserial correlation', () => {
  test('bounds and midpoint are exact', () => {
    assert.equal(rankBiserial(0, 4, 5), -1);
    assert.equal(rankBiserial(20, 4, 5), 1);
    assert.equal(rankBiserial(10, 4, 5), 0);
  });

  test('matches 2 U1 / (n1 n2) - 1 on the SciPy cases and always lies in [-1, 1]', () => {
    const shift = caseNamed('clear shift (every x above every y, n1 = n2 = 50)');
    const { u1, n1, n2 } = mannWhitneyU(shift.x, shift.y);
    assert.equal(rankBiserial(u1, n1, n2), 1);
    const swapped = mannWhitneyU(shift.y, shift.x);
    assert.equal(rankBiserial(swapped.u1, swapped.n1, swapped.n2), -1);
    // no ties: U1 = 69 of 120 pairs.
    assertClose(rankBiserial(69, 10, 12), 0.15, 1e-15, 'no ties');
    for (const c of scipyCases) {
      const r = rankBiserial(c.u1, c.x.length, c.y.length);
      assert.ok(r >= -1 && r <= 1, c.name);
    }
  });

  test('rejects impossible inputs', () => {
    assert.throws(() => rankBiserial(-1, 2, 2), RangeError);
    assert.throws(() => rankBiserial(5, 2, 2), RangeError);
    assert.throws(() => rankBiserial(NaN, 2, 2), RangeError);
    assert.throws(() => rankBiserial(1, 0, 2), RangeError);
    assert.throws(() => rankBiserial(1, 2, 1.5), RangeError);
  });
});

describe('Hodges-Lehmann shift', () => {
  test('small hand-checkable inputs', () => {
    // differences 1, 2, 3 -> 2
    assert.equal(hodgesLehmannShift([1, 2, 3], [0]), 2);
    // differences -1, -2, 3, 2 -> sorted -2, -1, 2, 3 -> (-1 + 2) / 2
    assert.equal(hodgesLehmannShift([1, 5], [2, 3]), 0.5);
    assert.equal(hodgesLehmannShift([5], [5]), 0);
    assert.equal(hodgesLehmannShift([-4], [6]), -10);
    // Kayenta's own MannWhitney unit test: control 1..4, experiment 10..40 -> estimate 22.5
    assert.equal(hodgesLehmannShift([10, 20, 30, 40], [1, 2, 3, 4]), 22.5);
    // an integer shift of a sample against itself is recovered exactly
    const base = [3, 8, 1, 9, 4, 4, 12];
    assert.equal(
      hodgesLehmannShift(
        base.map((v) => v + 7),
        base,
      ),
      7,
    );
  });

  test('matches numpy.median(numpy.subtract.outer(x, y))', () => {
    // numpy 2.4.6
    const reference: [string, number][] = [
      ['no ties (n1 = 10, n2 = 12)', 0.31645000000000056],
      ['many ties (Likert scores 1..5, n1 = 15, n2 = 20)', 0],
      ['unequal sizes (n1 = 4, n2 = 31, a few ties)', 0.040000000000000036],
      ['clear shift (every x above every y, n1 = n2 = 50)', 10.031500000000001],
      ['larger, heavily tied (x_i = 37i mod 101, i < 300; y_j = 53j mod 97 + 3, j < 250)', -1],
    ];
    for (const [name, expected] of reference) {
      const c = caseNamed(name);
      assertClose(hodgesLehmannShift(c.x, c.y), expected, REL, name);
    }
  });

  test('selection agrees with a full sort of the differences (Hodges-Lehmann and CI bounds, with ties)', () => {
    const normal = normalGenerator(7);
    for (let trial = 0; trial < 500; trial++) {
      const n1 = 1 + (trial % 37);
      const n2 = 1 + ((trial * 7) % 41);
      const x = range(n1, () => Math.round(normal() * 3) + (trial % 2 ? normal() : 0));
      const y = range(n2, () => Math.round(normal() * 3));
      const sorted = x.flatMap((a) => y.map((b) => a - b)).sort((a, b) => a - b);
      const count = sorted.length;
      const median = count % 2 ? sorted[(count - 1) / 2]! : (sorted[count / 2 - 1]! + sorted[count / 2]!) / 2;
      assert.equal(hodgesLehmannShift(x, y), median, `trial ${trial}`);
      const ci = confidenceIntervalShift(x, y, 0.9);
      if (ci.lowerRank >= 1) {
        assert.equal(ci.lower, sorted[ci.lowerRank - 1], `trial ${trial}`);
        assert.equal(ci.upper, sorted[ci.upperRank - 1], `trial ${trial}`);
      }
    }
  });

  test('empty or non-finite samples are RangeErrors naming the sample', () => {
    assert.throws(() => hodgesLehmannShift([], [1]), { name: 'RangeError', message: /sample x is empty/ });
    assert.throws(() => hodgesLehmannShift([1], []), { name: 'RangeError', message: /sample y is empty/ });
    assert.throws(() => hodgesLehmannShift([1, Infinity], [1]), {
      name: 'RangeError',
      message: /sample x contains a non-finite value/,
    });
    assert.throws(() => hodgesLehmannShift([1], [NaN]), {
      name: 'RangeError',
      message: /sample y contains a non-finite value/,
    });
  });
});

describe('confidence interval for the shift', () => {
  test('matches the order statistics D(k), D(N + 1 - k) computed with NumPy/SciPy', () => {
    // k = floor(N/2 + 1/2 - norm.isf((1 - conf)/2) * sqrt(n1 n2 (n1 + n2 + 1) / 12)) with scipy 1.17.1,
    // bounds from numpy.sort(numpy.subtract.outer(x, y).ravel()).
    const reference: [string, number, number, number, number, number][] = [
      ['no ties (n1 = 10, n2 = 12)', 0.95, 30, 91, -1.5151000000000003, 1.716000000000001],
      ['no ties (n1 = 10, n2 = 12)', 0.9, 35, 86, -1.0686999999999998, 1.4581999999999997],
      ['no ties (n1 = 10, n2 = 12)', 0.99, 21, 100, -1.9008000000000003, 2.2881],
      ['many ties (Likert scores 1..5, n1 = 15, n2 = 20)', 0.95, 91, 210, -1, 1],
      ['many ties (Likert scores 1..5, n1 = 15, n2 = 20)', 0.9, 101, 200, -1, 0],
      ['many ties (Likert scores 1..5, n1 = 15, n2 = 20)', 0.99, 73, 228, -2, 1],
      ['unequal sizes (n1 = 4, n2 = 31, a few ties)', 0.95, 24, 101, -2.89, 1.77],
      ['unequal sizes (n1 = 4, n2 = 31, a few ties)', 0.9, 30, 95, -2.5300000000000002, 1.44],
      ['unequal sizes (n1 = 4, n2 = 31, a few ties)', 0.99, 12, 113, -4.2, 2.5],
      ['clear shift (every x above every y, n1 = n2 = 50)', 0.95, 966, 1535, 9.646, 10.440999999999999],
      ['clear shift (every x above every y, n1 = n2 = 50)', 0.9, 1011, 1490, 9.728000000000002, 10.368],
      ['clear shift (every x above every y, n1 = n2 = 50)', 0.99, 876, 1625, 9.541, 10.598],
      [
        'larger, heavily tied (x_i = 37i mod 101, i < 300; y_j = 53j mod 97 + 3, j < 250)',
        0.95,
        33863,
        41138,
        -6,
        4,
      ],
      [
        'larger, heavily tied (x_i = 37i mod 101, i < 300; y_j = 53j mod 97 + 3, j < 250)',
        0.9,
        34448,
        40553,
        -5,
        4,
      ],
      [
        'larger, heavily tied (x_i = 37i mod 101, i < 300; y_j = 53j mod 97 + 3, j < 250)',
        0.99,
        32720,
        42281,
        -7,
        6,
      ],
    ];
    for (const [name, confidence, lowerRank, upperRank, lower, upper] of reference) {
      const c = caseNamed(name);
      const ci = confidenceIntervalShift(c.x, c.y, confidence);
      const label = `${name} at ${confidence}`;
      assert.equal(ci.lowerRank, lowerRank, label);
      assert.equal(ci.upperRank, upperRank, label);
      assert.equal(ci.confidence, confidence, label);
      assertClose(ci.lower, lower, REL, `${label}: lower`);
      assertClose(ci.upper, upper, REL, `${label}: upper`);
    }
  });

  test('defaults to 95% and reproduces Kayenta`s own unit test ([6, 39] for 10..40 vs 1..4)', () => {
    assert.deepEqual(confidenceIntervalShift([10, 20, 30, 40], [1, 2, 3, 4]), {
      lower: 6,
      upper: 39,
      lowerRank: 1,
      upperRank: 16,
      confidence: 0.95,
    });
  });

  test('too few observations for the requested confidence give an unbounded interval', () => {
    assert.deepEqual(confidenceIntervalShift([1, 2], [3, 4]), {
      lower: -Infinity,
      upper: Infinity,
      lowerRank: 0,
      upperRank: 5,
      confidence: 0.95,
    });
  });

  test('contains the true shift and the Hodges-Lehmann estimate for a shifted sample', () => {
    const c = caseNamed('clear shift (every x above every y, n1 = n2 = 50)');
    const ci = confidenceIntervalShift(c.x, c.y);
    assert.ok(ci.lower <= 10 && 10 <= ci.upper, `${ci.lower}..${ci.upper}`);
    assert.ok(ci.lower > 0, 'excludes no shift');
    const estimate = hodgesLehmannShift(c.x, c.y);
    assert.ok(ci.lower <= estimate && estimate <= ci.upper);
  });

  test('covers the true shift about 95% of the time on simulated normal samples', () => {
    const normal = normalGenerator(42);
    const trueShift = 0.7;
    const replicates = 400;
    let covered = 0;
    for (let replicate = 0; replicate < replicates; replicate++) {
      const baseline = range(25, () => normal());
      const canary = range(25, () => normal() + trueShift);
      const ci = confidenceIntervalShift(canary, baseline);
      const estimate = hodgesLehmannShift(canary, baseline);
      assert.ok(ci.lower <= estimate && estimate <= ci.upper);
      if (ci.lower <= trueShift && trueShift <= ci.upper) covered++;
    }
    const coverage = covered / replicates;
    assert.ok(coverage >= 0.92 && coverage <= 0.98, `coverage ${coverage}`);
  });

  test('rejects bad confidence levels and empty or non-finite samples', () => {
    for (const confidence of [0, 1, -0.5, 1.5, NaN]) {
      assert.throws(() => confidenceIntervalShift([1, 2, 3], [4, 5, 6], confidence), RangeError);
    }
    assert.throws(() => confidenceIntervalShift([], [1]), {
      name: 'RangeError',
      message: /sample x is empty/,
    });
    assert.throws(() => confidenceIntervalShift([1], []), {
      name: 'RangeError',
      message: /sample y is empty/,
    });
    assert.throws(() => confidenceIntervalShift([1], [-Infinity]), {
      name: 'RangeError',
      message: /sample y contains a non-finite value/,
    });
  });
});

describe('pairwise functions at n1 = n2 = 2000 (4 million differences)', () => {
  // x_i = 7919 i mod 2000 + 1/4 is a permutation of 0..1999 shifted by 1/4, y_j = j; the differences are
  // exact, so the answers are known in closed form (and agree with NumPy): median 0.25; at 95%,
  // k = 1928423, D(k) = -35.75 and D(N + 1 - k) = 36.25.
  const x = range(2000, (i) => ((i * 7919) % 2000) + 0.25);
  const y = range(2000, (j) => j);

  test('hodgesLehmannShift returns the exact median', () => {
    assert.equal(hodgesLehmannShift(x, y), 0.25);
  });

  test('confidenceIntervalShift returns the exact order statistics', () => {
    assert.deepEqual(confidenceIntervalShift(x, y), {
      lower: -35.75,
      upper: 36.25,
      lowerRank: 1928423,
      upperRank: 2071578,
      confidence: 0.95,
    });
  });

  test('sorted and reverse-sorted inputs (adversarial for quickselect) return too', () => {
    const ascending = range(2000, (i) => i);
    const descending = [...ascending].reverse();
    assert.equal(hodgesLehmannShift(ascending, descending), 0);
    const ci = confidenceIntervalShift(descending, ascending);
    assert.equal(ci.lower, -ci.upper);
  });
});
