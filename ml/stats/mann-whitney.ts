// Mann-Whitney U test, Hodges-Lehmann shift and its distribution-free confidence interval: the statistics
// behind a Kayenta-style canary judge that compares canary metric samples (x) against baseline ones (y).
// The U test reproduces scipy.stats.mannwhitneyu(x, y, method='asymptotic') to within rounding.

export type Alternative = 'two-sided' | 'less' | 'greater';

export interface MannWhitneyOptions {
  /** Alternative hypothesis about x relative to y (as in SciPy). Default 'two-sided'. */
  alternative?: Alternative;
  /** Subtract 0.5 from |U - mean| before standardizing (SciPy's `use_continuity`). Default true. */
  continuity?: boolean;
}

export interface MannWhitneyResult {
  /** U statistic of x: #{(i, j): x_i > y_j} + #{(i, j): x_i = y_j} / 2. SciPy's `statistic`. */
  u1: number;
  /** U statistic of y: n1 * n2 - u1. */
  u2: number;
  /**
   * The standardized statistic the p-value is read from, exactly as SciPy forms it:
   * z = (U - n1 * n2 / 2 - c) / sigma, where U is u1 for 'greater', u2 for 'less' and max(u1, u2) for
   * 'two-sided', c is 0.5 with continuity correction and 0 without, and sigma is the tie-corrected
   * standard deviation of U. It is therefore oriented towards the alternative, not signed by direction:
   * use u1 (or rankBiserial) for the direction. 0 when every value is equal (see mannWhitneyU).
   */
  z: number;
  /** min(1, f * (1 - Phi(z))) with f = 2 for 'two-sided' and 1 otherwise. */
  pValue: number;
  n1: number;
  n2: number;
}

export interface ShiftConfidenceInterval {
  /** The k-th smallest pairwise difference x_i - y_j, or -Infinity when k < 1. */
  lower: number;
  /** The (n1 * n2 + 1 - k)-th smallest pairwise difference, or +Infinity when k < 1. */
  upper: number;
  /** k, the 1-based order statistic used for `lower`; 0 when the confidence is not attainable. */
  lowerRank: number;
  /** n1 * n2 + 1 - k, the 1-based order statistic used for `upper`; n1 * n2 + 1 when not attainable. */
  upperRank: number;
  confidence: number;
}

/** Beyond this many pairwise differences (512 MiB of Float64Array) the pairwise functions refuse. */
export const MAX_PAIRWISE_DIFFERENCES = 2 ** 26;

const SQRT_2PI = Math.sqrt(2 * Math.PI);

/**
 * Two-sample Mann-Whitney U test with the normal approximation, matching
 * `scipy.stats.mannwhitneyu(x, y, alternative, use_continuity, method='asymptotic')`:
 *
 * - ranks of the pooled sample, ties receiving their average rank; U1 = R1 - n1 (n1 + 1) / 2;
 * - sigma^2 = n1 n2 / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1))), t the size of each tie group;
 * - z and p as documented on MannWhitneyResult ('greater': x tends to be larger than y; 'less': smaller).
 *
 * Runs in O(n log n) with n = n1 + n2 (two sorts and a merge). Degenerate cases:
 * - an empty sample throws a RangeError naming it ('x' or 'y'), as does a NaN (SciPy raises too);
 *   infinities are ordinary values for a rank test;
 * - every value of both samples equal: sigma = 0, so there is no evidence either way and the result is
 *   z = 0, p = 1 (SciPy also reports p = 1 with continuity correction, but NaN without it).
 */
export function mannWhitneyU(
  x: readonly number[],
  y: readonly number[],
  options: MannWhitneyOptions = {},
): MannWhitneyResult {
  const alternative = options.alternative ?? 'two-sided';
  const continuity = options.continuity ?? true;
  if (alternative !== 'two-sided' && alternative !== 'less' && alternative !== 'greater') {
    throw new RangeError(`mannWhitneyU: unknown alternative ${String(alternative)}`);
  }
  const xs = sortedCopy(x, 'x', 'mannWhitneyU', false);
  const ys = sortedCopy(y, 'y', 'mannWhitneyU', false);
  const n1 = xs.length;
  const n2 = ys.length;

  // Merge the two sorted samples one tie group at a time. The group's members occupy ranks
  // position + 1 .. position + t, so each gets the average rank position + (t + 1) / 2. Every rank is a
  // multiple of 1/2, so R1 (and hence U1) is exact, like SciPy's sum of average ranks.
  let i = 0;
  let j = 0;
  let position = 0;
  let rankSumX = 0;
  let tieTerm = 0;
  let groups = 0;
  while (i < n1 || j < n2) {
    const value = j >= n2 || (i < n1 && xs[i]! <= ys[j]!) ? xs[i]! : ys[j]!;
    let inX = 0;
    while (i < n1 && xs[i] === value) {
      inX++;
      i++;
    }
    let inY = 0;
    while (j < n2 && ys[j] === value) {
      inY++;
      j++;
    }
    const t = inX + inY;
    rankSumX += inX * (position + (t + 1) / 2);
    tieTerm += t ** 3 - t;
    position += t;
    groups++;
  }

  const u1 = rankSumX - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  if (groups === 1) return { u1, u2, z: 0, pValue: 1, n1, n2 };

  // Same operations in the same order as SciPy's _get_mwu_z, so z agrees bit for bit.
  const mean = (n1 * n2) / 2;
  const n = n1 + n2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  const u = alternative === 'greater' ? u1 : alternative === 'less' ? u2 : Math.max(u1, u2);
  const numerator = continuity ? u - mean - 0.5 : u - mean;
  const z = numerator / sigma;
  const factor = alternative === 'two-sided' ? 2 : 1;
  const pValue = Math.min(1, Math.max(0, factor * normalSf(z)));
  return { u1, u2, z, pValue, n1, n2 };
}

/**
 * Rank-biserial correlation r = 2 U1 / (n1 n2) - 1, in [-1, 1]: +1 when every x exceeds every y, -1 when
 * every x is below every y, 0 for complete overlap. It equals P(x > y) - P(x < y) over all pairs.
 */
export function rankBiserial(u1: number, n1: number, n2: number): number {
  if (!Number.isInteger(n1) || n1 < 1) throw new RangeError(`rankBiserial: n1 must be a positive integer`);
  if (!Number.isInteger(n2) || n2 < 1) throw new RangeError(`rankBiserial: n2 must be a positive integer`);
  if (!(u1 >= 0 && u1 <= n1 * n2)) throw new RangeError(`rankBiserial: u1 must lie in [0, n1 * n2]`);
  return (2 * u1) / (n1 * n2) - 1;
}

/**
 * Hodges-Lehmann estimate of the shift of x relative to y: the median of the n1 n2 pairwise differences
 * x_i - y_j (the mean of the two middle ones when n1 n2 is even). Positive when x tends to be larger.
 * O(n1 n2) time and one Float64Array of n1 n2 differences (selection, not a full sort). Throws a
 * RangeError naming the sample when one is empty or holds a non-finite value.
 */
export function hodgesLehmannShift(x: readonly number[], y: readonly number[]): number {
  const differences = pairwiseDifferences(x, y, 'hodgesLehmannShift');
  const count = differences.length;
  const upperMiddle = count >> 1;
  if (count % 2 === 1) return select(differences, upperMiddle, 0, count - 1);
  const lowerValue = select(differences, upperMiddle - 1, 0, count - 1);
  // After selection every element past the selected index is >= it: the next order statistic is their min.
  let upperValue = Infinity;
  for (let index = upperMiddle; index < count; index++) {
    if (differences[index]! < upperValue) upperValue = differences[index]!;
  }
  return (lowerValue + upperValue) / 2;
}

/**
 * Distribution-free confidence interval for the shift (Moses; Hollander & Wolfe, section 4.3), the
 * interval a Kayenta-style judge compares with the allowed effect-size bounds. With D(1) <= ... <= D(N)
 * the sorted pairwise differences x_i - y_j, N = n1 n2, and z = Phi^-1(1 - (1 - confidence) / 2):
 *
 *   k = floor(N / 2 + 1/2 - z * sqrt(n1 n2 (n1 + n2 + 1) / 12)),   interval = [D(k), D(N + 1 - k)].
 *
 * k is the normal approximation (with continuity correction, i.e. the integer nearest to
 * N / 2 - z sigma) of the largest k with P(U <= k - 1) <= (1 - confidence) / 2 under the null
 * hypothesis, using the tie-free variance of U; the interval then has coverage of about `confidence`
 * for continuous data. When k < 1 the samples are too small for the requested confidence and the
 * interval is (-Infinity, +Infinity). O(n1 n2) time and memory; throws like hodgesLehmannShift, and a
 * RangeError when confidence is not strictly between 0 and 1.
 */
export function confidenceIntervalShift(
  x: readonly number[],
  y: readonly number[],
  confidence = 0.95,
): ShiftConfidenceInterval {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidenceIntervalShift: confidence must lie strictly between 0 and 1`);
  }
  const differences = pairwiseDifferences(x, y, 'confidenceIntervalShift');
  const count = differences.length;
  const zCritical = normalIsf((1 - confidence) / 2);
  const sigma = Math.sqrt((x.length * y.length * (x.length + y.length + 1)) / 12);
  const k = Math.floor(count / 2 + 0.5 - zCritical * sigma);
  if (k < 1) {
    return { lower: -Infinity, upper: Infinity, lowerRank: 0, upperRank: count + 1, confidence };
  }
  const lower = select(differences, k - 1, 0, count - 1);
  // Everything from index k on is >= lower, so the upper order statistic can be selected there.
  const upper = select(differences, count - k, k - 1, count - 1);
  return { lower, upper, lowerRank: k, upperRank: count + 1 - k, confidence };
}

/**
 * Upper tail of the standard normal distribution, 1 - Phi(z), to within a few units in the last place
 * (SciPy's `ndtr(-z)`). Power series of Phi for |z| < 2, Laplace's continued fraction for the Mills
 * ratio beyond, with exp(-z^2 / 2) split so that the tail keeps its relative accuracy down to 1e-308.
 */
export function normalSf(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z < -2) return 1 - normalSf(-z);
  if (z < 2) {
    // Phi(z) - 1/2 = phi(z) * sum_{n >= 0} z^(2n+1) / (1 * 3 * ... * (2n+1)), all terms of z's sign.
    const z2 = z * z;
    let term = z;
    let sum = z;
    for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= z2 / (2 * n + 1);
      sum += term;
    }
    return 0.5 - (Math.exp(-z2 / 2) / SQRT_2PI) * sum;
  }
  if (z > 40) return 0; // 1 - Phi(40) < 1e-349 underflows.
  // 1 - Phi(z) = phi(z) / (z + 1 / (z + 2 / (z + 3 / (z + ...)))), evaluated backwards; 100 levels are
  // ample for z >= 2 (the fraction converges faster as z grows).
  let fraction = z;
  for (let level = 100; level >= 1; level--) fraction = z + level / fraction;
  return gaussianDensity(z) / fraction;
}

/** Inverse of normalSf for p in (0, 1): the z with 1 - Phi(z) = p. */
export function normalIsf(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalIsf: p must lie strictly between 0 and 1`);
  if (p > 0.5) return -normalIsf(1 - p);
  if (p === 0.5) return 0;
  // Abramowitz & Stegun 26.2.23 (error < 4.5e-4) as a start, then Halley steps on normalSf(z) - p.
  const t = Math.sqrt(-2 * Math.log(p));
  let z =
    t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1 + t * (1.432788 + t * (0.189269 + t * 0.001308)));
  for (let iteration = 0; iteration < 8; iteration++) {
    const u = (normalSf(z) - p) / gaussianDensity(z);
    const step = u / (1 + (z * u) / 2);
    z += step;
    if (Math.abs(step) <= 1e-15 * Math.abs(z)) break;
  }
  return z;
}

/** exp(-z^2 / 2) / sqrt(2 pi), with z^2 split into an exactly representable part and a small remainder. */
function gaussianDensity(z: number): number {
  const head = Math.round(z * 16) / 16;
  return (Math.exp((-head * head) / 2) * Math.exp((-(z - head) * (z + head)) / 2)) / SQRT_2PI;
}

function sortedCopy(
  values: readonly number[],
  name: string,
  caller: string,
  finiteOnly: boolean,
): Float64Array {
  if (values.length === 0) throw new RangeError(`${caller}: sample ${name} is empty`);
  const copy = Float64Array.from(values);
  checkValues(copy, name, caller, finiteOnly);
  return copy.sort();
}

function checkValues(values: Float64Array, name: string, caller: string, finiteOnly: boolean): void {
  for (const value of values) {
    if (finiteOnly ? !Number.isFinite(value) : Number.isNaN(value)) {
      throw new RangeError(`${caller}: sample ${name} contains ${finiteOnly ? 'a non-finite value' : 'NaN'}`);
    }
  }
}

function pairwiseDifferences(x: readonly number[], y: readonly number[], caller: string): Float64Array {
  if (x.length === 0) throw new RangeError(`${caller}: sample x is empty`);
  if (y.length === 0) throw new RangeError(`${caller}: sample y is empty`);
  const xs = Float64Array.from(x);
  const ys = Float64Array.from(y);
  checkValues(xs, 'x', caller, true);
  checkValues(ys, 'y', caller, true);
  const count = xs.length * ys.length;
  if (count > MAX_PAIRWISE_DIFFERENCES) {
    throw new RangeError(`${caller}: ${count} pairwise differences exceed ${MAX_PAIRWISE_DIFFERENCES}`);
  }
  const differences = new Float64Array(count);
  let index = 0;
  for (const xi of xs) {
    for (const yj of ys) differences[index++] = xi - yj;
  }
  return differences;
}

/**
 * Returns the value of 0-based rank k within values[lo..hi] (lo <= k <= hi), partially reordering that
 * range so that everything before k is <= values[k] and everything after it is >=. Quickselect with a
 * median-of-three pivot; a range that does not shrink fast enough is sorted instead, bounding the worst
 * case by O(m log m).
 */
function select(values: Float64Array, k: number, lo: number, hi: number): number {
  let budget = 2 * Math.ceil(Math.log2(hi - lo + 2)) + 8;
  while (hi > lo) {
    if (hi - lo < 16 || budget-- === 0) {
      values.subarray(lo, hi + 1).sort();
      return values[k]!;
    }
    const a = values[lo]!;
    const b = values[lo + ((hi - lo) >> 1)]!;
    const c = values[hi]!;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const swap = values[i]!;
        values[i] = values[j]!;
        values[j] = swap;
        i++;
        j--;
      }
    }
    // Now values[lo..j] <= pivot, values[i..hi] >= pivot, and anything strictly between equals pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return pivot;
  }
  return values[k]!;
}
