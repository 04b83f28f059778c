// Numenta Anomaly Benchmark (NAB) scorer, as specified in /work/shared/data/nab/SCORING.md: the scaled
// sigmoid, per-row values, per-file and corpus scores at a threshold, the corpus-wide threshold sweep
// (one threshold per profile) and the 0-100 normalisation. Pure: no file IO in this module.
//
// Sums of scores are computed exactly (every double is an integer multiple of a power of two, so a sum
// of doubles is an exact big integer at a common scale) and rounded once to the nearest double. A score
// therefore does not depend on the order in which files or rows are added, and the incremental sweep
// yields bit-for-bit the same score for every candidate threshold as scoring it from scratch, which is
// what makes the spec's "exact floating-point equality when grouping ties" well defined.

/** Cost profile: weights of a true positive, a false positive and a false negative (tn is unused). */
export interface Profile {
  readonly name: string;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
}

export type ProfileName = 'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate';

/** The three NAB profiles (SCORING.md, "Constants"; the same as profiles.json). */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = Object.freeze({
  standard: Object.freeze({ name: 'standard', tp: 1, fp: 0.11, fn: 1 }),
  reward_low_FP_rate: Object.freeze({ name: 'reward_low_FP_rate', tp: 1, fp: 0.22, fn: 1 }),
  reward_low_FN_rate: Object.freeze({ name: 'reward_low_FN_rate', tp: 1, fp: 0.11, fn: 2 }),
});

/** The three profiles in the scoreboard's column order. */
export const PROFILE_LIST: readonly Profile[] = Object.freeze([
  PROFILES.standard,
  PROFILES.reward_low_FP_rate,
  PROFILES.reward_low_FN_rate,
]);

/** Fraction of a file's rows in its probationary period (capped at MAX_PROBATION_ROWS). */
export const PROBATION_FRACTION = 0.15;
export const MAX_PROBATION_ROWS = 750;
/** The candidate threshold at which nothing is detected (scores are in [0, 1]). */
export const NOTHING_DETECTED_THRESHOLD = 1.1;

/** Rows [left, right] (inclusive, 0-based) covered by one anomaly window. */
export interface RowRange {
  readonly left: number;
  readonly right: number;
}

/** One file as the scorer sees it: a detector's score per row and the file's windows. */
export interface DetectorFile {
  /** Unique name of the file, e.g. "realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv". */
  readonly name: string;
  /** Anomaly score in [0, 1] for every row; its length is the file's row count. */
  readonly scores: ArrayLike<number>;
  /** Windows as row ranges, sorted by row and not overlapping. */
  readonly windows: readonly RowRange[];
  /** Rows before this index are not scored. Defaults to probationaryLength(scores.length). */
  readonly probation?: number;
}

/** A file's score at one threshold, with its parts. */
export interface FileScore {
  readonly name: string;
  /** Sum of the window values (-fn when missed) and of the detected false-positive rows' values. */
  readonly score: number;
  readonly windowCount: number;
  readonly detectedWindows: number;
  /** Detected scorable rows outside every window. */
  readonly falsePositives: number;
  /** Value of each window, in window order: -fn if missed, else the best detected row's value. */
  readonly windowValues: readonly number[];
}

export interface CorpusScore {
  readonly threshold: number;
  readonly profile: Profile;
  /** Exact sum of every window value and false-positive value in the corpus, rounded once. */
  readonly score: number;
  readonly windowCount: number;
  readonly detectedWindows: number;
  readonly falsePositives: number;
  readonly files: readonly FileScore[];
}

export interface ThresholdChoice {
  readonly profile: Profile;
  /** The best candidate threshold (the highest one among those with the best score). */
  readonly threshold: number;
  /** The corpus score at that threshold. */
  readonly score: number;
  /** Number of candidate thresholds compared (1.1 and each distinct scorable anomaly score). */
  readonly candidates: number;
}

export interface ProfileResult extends ThresholdChoice {
  /** W in the normalisation. */
  readonly windowCount: number;
  readonly perfectScore: number;
  readonly nullScore: number;
  /** NAB score, 0 (null detector) to 100 (perfect detector). */
  readonly normalizedScore: number;
}

// ---------------------------------------------------------------------------------------------------
// Constants and per-row values

/** min(floor(0.15 n), 750): the number of leading rows of an n-row file that are not scored. */
export function probationaryLength(rowCount: number): number {
  if (!Number.isSafeInteger(rowCount) || rowCount < 0) {
    throw new RangeError(`row count must be a non-negative integer, got ${rowCount}`);
  }
  // floor(15 n / 100) is floor(0.15 n) computed without the rounding of the double 0.15.
  return Math.min(Math.floor((rowCount * 15) / 100), MAX_PROBATION_ROWS);
}

/** ss(y) = 2 / (1 + e^(5y)) - 1 for y <= 3, and -1 for y > 3. */
export function scaledSigmoid(y: number): number {
  if (Number.isNaN(y)) throw new RangeError('scaledSigmoid of NaN');
  if (y > 3) return -1;
  return 2 / (1 + Math.exp(5 * y)) - 1;
}

/** ss(-1) = 0.9866142981514305, the value that makes a detection on a window's first row worth tp. */
export const SS_MINUS_ONE: number = scaledSigmoid(-1);

/**
 * Per-row values before weighting: inside a window ss(-(R - i + 1)/w) / ss(-1) (times tp); after a window
 * ss(|i - R_prev| / (w_prev - 1)) (times fp); before any window -1 (times fp). `window` is the window's
 * index in the file for rows inside one, else -1. Weighting as tp * (ss / ss(-1)) rather than
 * (tp * ss) / ss(-1) makes the first row of a window worth exactly tp for any tp.
 */
function rowUnits(
  rowCount: number,
  windows: readonly RowRange[],
): { unit: Float64Array; window: Int32Array } {
  const unit = new Float64Array(rowCount);
  const window = new Int32Array(rowCount);
  let next = 0;
  let prevRight = -1;
  let prevWidth = 0;
  for (let i = 0; i < rowCount; i++) {
    const w = windows[next];
    if (w !== undefined && i >= w.left) {
      const width = w.right - w.left + 1;
      unit[i] = scaledSigmoid(-(w.right - i + 1) / width) / SS_MINUS_ONE;
      window[i] = next;
      if (i === w.right) {
        prevRight = w.right;
        prevWidth = width;
        next++;
      }
    } else {
      window[i] = -1;
      // A 1-row previous window gives |i - R_prev| / 0 = Infinity, so ss = -1: the value is -fp.
      unit[i] = prevRight < 0 ? -1 : scaledSigmoid(Math.abs(i - prevRight) / (prevWidth - 1));
    }
  }
  return { unit, window };
}

/** Per-row values of one file for a profile, and the window index of each row (-1 outside windows). */
export function rowValues(
  rowCount: number,
  windows: readonly RowRange[],
  profile: Profile,
): { values: Float64Array; window: Int32Array } {
  checkProfile(profile);
  checkWindows('rowValues', rowCount, windows);
  const { unit, window } = rowUnits(rowCount, windows);
  const values = new Float64Array(rowCount);
  for (let i = 0; i < rowCount; i++) {
    values[i] = (at(window, i) >= 0 ? profile.tp : profile.fp) * at(unit, i);
  }
  return { values, window };
}

// ---------------------------------------------------------------------------------------------------
// Scores at a fixed threshold (the definition; also the reference the sweep is tested against)

interface FileParts {
  readonly summary: Omit<FileScore, 'score'>;
  readonly parts: number[];
}

function fileParts(file: DetectorFile, threshold: number, profile: Profile): FileParts {
  const rowCount = file.scores.length;
  const start = checkFile(file);
  const { unit, window } = rowUnits(rowCount, file.windows);
  const best: (number | undefined)[] = file.windows.map(() => undefined);
  const parts: number[] = [];
  let falsePositives = 0;
  for (let i = start; i < rowCount; i++) {
    if (!(at(file.scores, i) >= threshold)) continue;
    const w = at(window, i);
    if (w >= 0) {
      const value = profile.tp * at(unit, i);
      const current = best[w];
      if (current === undefined || value > current) best[w] = value;
    } else {
      parts.push(profile.fp * at(unit, i));
      falsePositives++;
    }
  }
  const windowValues = best.map((v) => v ?? -profile.fn);
  parts.push(...windowValues);
  const detectedWindows = best.filter((v) => v !== undefined).length;
  const summary = {
    name: file.name,
    windowCount: file.windows.length,
    detectedWindows,
    falsePositives,
    windowValues,
  };
  return { summary, parts };
}

/** Raw score of one file at a threshold (a row is detected when its score >= threshold). */
export function scoreFile(file: DetectorFile, threshold: number, profile: Profile): FileScore {
  checkThreshold(threshold);
  checkProfile(profile);
  const { summary, parts } = fileParts(file, threshold, profile);
  return { ...summary, score: exactSum(parts) };
}

/** Raw score of a set of files at one threshold, computed from scratch. */
export function scoreCorpus(
  files: readonly DetectorFile[],
  threshold: number,
  profile: Profile,
): CorpusScore {
  checkThreshold(threshold);
  checkProfile(profile);
  checkUniqueNames(files);
  const all: number[] = [];
  const fileScores: FileScore[] = [];
  for (const file of files) {
    const { summary, parts } = fileParts(file, threshold, profile);
    fileScores.push({ ...summary, score: exactSum(parts) });
    for (const p of parts) all.push(p);
  }
  return {
    threshold,
    profile,
    score: exactSum(all),
    windowCount: sumOf(fileScores, (f) => f.windowCount),
    detectedWindows: sumOf(fileScores, (f) => f.detectedWindows),
    falsePositives: sumOf(fileScores, (f) => f.falsePositives),
    files: fileScores,
  };
}

/** Every candidate threshold of the spec that can change the score: 1.1 and each distinct scorable score. */
export function thresholdCandidates(files: readonly DetectorFile[]): number[] {
  const seen = new Set<number>([NOTHING_DETECTED_THRESHOLD]);
  for (const file of files) {
    const start = checkFile(file);
    for (let i = start; i < file.scores.length; i++) seen.add(at(file.scores, i) + 0);
  }
  return [...seen].sort((a, b) => b - a);
}

// ---------------------------------------------------------------------------------------------------
// Threshold optimisation: one sort of the corpus's scorable rows, then one linear sweep per profile

/** A corpus validated and sorted once, so several profiles can be optimised without re-sorting. */
export interface PreparedCorpus {
  readonly kind: 'nab-prepared-corpus';
  readonly fileCount: number;
  readonly windowCount: number;
  /** Scorable rows' anomaly scores, sorted descending. */
  readonly scores: Float64Array;
  /** For each sorted row: its unweighted value (see rowUnits). */
  readonly units: Float64Array;
  /** For each sorted row: corpus-wide window index, or -1 outside windows. */
  readonly windows: Int32Array;
}

export function prepareCorpus(files: readonly DetectorFile[]): PreparedCorpus {
  checkUniqueNames(files);
  let total = 0;
  const starts = files.map((file) => {
    const start = checkFile(file);
    total += file.scores.length - start;
    return start;
  });
  const rawScores = new Float64Array(total);
  const rawUnits = new Float64Array(total);
  const rawWindows = new Int32Array(total);
  let k = 0;
  let windowBase = 0;
  files.forEach((file, f) => {
    const { unit, window } = rowUnits(file.scores.length, file.windows);
    for (let i = at(starts, f); i < file.scores.length; i++, k++) {
      rawScores[k] = at(file.scores, i) + 0; // + 0 turns -0 into 0
      rawUnits[k] = at(unit, i);
      const w = at(window, i);
      rawWindows[k] = w >= 0 ? windowBase + w : -1;
    }
    windowBase += file.windows.length;
  });
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  order.sort((a, b) => at(rawScores, b) - at(rawScores, a));
  const scores = new Float64Array(total);
  const units = new Float64Array(total);
  const windows = new Int32Array(total);
  for (let i = 0; i < total; i++) {
    const j = at(order, i);
    scores[i] = at(rawScores, j);
    units[i] = at(rawUnits, j);
    windows[i] = at(rawWindows, j);
  }
  return {
    kind: 'nab-prepared-corpus',
    fileCount: files.length,
    windowCount: windowBase,
    scores,
    units,
    windows,
  };
}

function isPrepared(corpus: readonly DetectorFile[] | PreparedCorpus): corpus is PreparedCorpus {
  return !Array.isArray(corpus) && (corpus as PreparedCorpus).kind === 'nab-prepared-corpus';
}

/**
 * The corpus-wide threshold for a profile: candidates are 1.1 and every distinct anomaly score; the one
 * with the highest corpus score wins, the highest threshold on exact ties. Rows are visited in descending
 * score order; lowering the threshold to the next distinct score adds that group's rows: a false positive
 * adds its value, a row in a window raises the window from -fn (or its best value so far) to the row's
 * value if larger. The running sum is exact, so each candidate's score equals scoreCorpus at it.
 * Scores that occur only in probationary rows are not visited: such a threshold detects the same scorable
 * rows as the next higher candidate, so it ties with it and could never be chosen.
 */
export function optimizeThreshold(
  corpus: readonly DetectorFile[] | PreparedCorpus,
  profile: Profile,
): ThresholdChoice {
  checkProfile(profile);
  const prepared = isPrepared(corpus) ? corpus : prepareCorpus(corpus);
  const { scores, units, windows, windowCount } = prepared;
  const n = scores.length;
  const values = new Float64Array(n);
  for (let k = 0; k < n; k++) values[k] = (at(windows, k) >= 0 ? profile.tp : profile.fp) * at(units, k);

  const missed = -profile.fn;
  const scale = Math.min(minExponent(values), minExponent([missed]));
  const missedBig = toScaled(missed, scale);
  const windowBest: bigint[] = new Array<bigint>(windowCount).fill(missedBig);
  const detected = new Uint8Array(windowCount);
  let total = missedBig * BigInt(windowCount);

  let bestThreshold = NOTHING_DETECTED_THRESHOLD;
  let bestScore = fromScaled(total, scale);
  let candidates = 1;
  let k = 0;
  while (k < n) {
    const groupScore = at(scores, k);
    for (; k < n && at(scores, k) === groupScore; k++) {
      const value = toScaled(at(values, k), scale);
      const w = at(windows, k);
      if (w < 0) {
        total += value;
      } else {
        const current = at(windowBest, w);
        if (at(detected, w) === 0 || value > current) {
          total += value - current;
          windowBest[w] = value;
          detected[w] = 1;
        }
      }
    }
    candidates++;
    const score = fromScaled(total, scale);
    // Strictly greater: visiting thresholds from high to low keeps the highest one on ties.
    if (score > bestScore) {
      bestScore = score;
      bestThreshold = groupScore;
    }
  }
  return { profile, threshold: bestThreshold, score: bestScore, candidates };
}

// ---------------------------------------------------------------------------------------------------
// Normalisation and the final NAB score

/** NAB = 100 (S - null) / (perfect - null), perfect = W tp, null = -fn W. */
export function normalizeScore(rawScore: number, windowCount: number, profile: Profile): number {
  checkProfile(profile);
  if (!Number.isSafeInteger(windowCount) || windowCount < 0) {
    throw new RangeError(`window count must be a non-negative integer, got ${windowCount}`);
  }
  const perfect = windowCount * profile.tp;
  const nullScore = -profile.fn * windowCount;
  if (perfect === nullScore) {
    throw new RangeError(
      `cannot normalise with ${windowCount} windows: the perfect and null scores are equal`,
    );
  }
  return (100 * (rawScore - nullScore)) / (perfect - nullScore);
}

export interface NabOptions {
  /** W: the number of windows in the labels file in use. Defaults to the windows of the files given. */
  readonly windowCount?: number;
}

/** Optimise the threshold and normalise, for each profile (by default the three NAB profiles). */
export function nabScores(
  files: readonly DetectorFile[] | PreparedCorpus,
  profiles: readonly Profile[] = PROFILE_LIST,
  options: NabOptions = {},
): ProfileResult[] {
  const prepared = isPrepared(files) ? files : prepareCorpus(files);
  const windowCount = options.windowCount ?? prepared.windowCount;
  if (windowCount < prepared.windowCount) {
    throw new RangeError(
      `window count ${windowCount} is less than the ${prepared.windowCount} windows scored`,
    );
  }
  return profiles.map((profile) => {
    const choice = optimizeThreshold(prepared, profile);
    return {
      ...choice,
      windowCount,
      perfectScore: windowCount * profile.tp,
      nullScore: -profile.fn * windowCount,
      normalizedScore: normalizeScore(choice.score, windowCount, profile),
    };
  });
}

/** Profiles from the contents of NAB's profiles.json ({ name: { CostMatrix: { tpWeight, ... } } }). */
export function profilesFromJson(json: unknown): Profile[] {
  if (!isRecord(json)) throw new TypeError('profiles: expected a JSON object');
  return Object.entries(json).map(([name, entry]) => {
    const matrix = isRecord(entry) ? entry['CostMatrix'] : undefined;
    if (!isRecord(matrix)) throw new TypeError(`profiles: "${name}" has no CostMatrix object`);
    const weight = (key: string): number => {
      const v = matrix[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new TypeError(`profiles: "${name}".CostMatrix.${key} must be a finite number`);
      }
      return v;
    };
    const profile = { name, tp: weight('tpWeight'), fp: weight('fpWeight'), fn: weight('fnWeight') };
    checkProfile(profile);
    return profile;
  });
}

// ---------------------------------------------------------------------------------------------------
// Exact summation of doubles

const bits = new DataView(new ArrayBuffer(8));
const MANTISSA_MASK = (1n << 52n) - 1n;
const HIDDEN_BIT = 1n << 52n;

/** x = m * 2^e with m an integer, |m| < 2^53, e >= -1074. */
function decompose(x: number): { m: bigint; e: number } {
  if (!Number.isFinite(x)) throw new RangeError(`cannot sum a non-finite value (${x})`);
  bits.setFloat64(0, x);
  const raw = bits.getBigUint64(0);
  const biased = Number((raw >> 52n) & 0x7ffn);
  const mantissa = raw & MANTISSA_MASK;
  const m = biased === 0 ? mantissa : mantissa | HIDDEN_BIT;
  const e = biased === 0 ? -1074 : biased - 1075;
  return { m: raw >> 63n === 1n ? -m : m, e };
}

function minExponent(values: ArrayLike<number>): number {
  let min = 0;
  for (let i = 0; i < values.length; i++) {
    const v = at(values, i);
    if (v !== 0) min = Math.min(min, decompose(v).e);
  }
  return min;
}

/** x / 2^scale as an exact big integer (scale <= the exponent of x). */
function toScaled(x: number, scale: number): bigint {
  if (x === 0) return 0n;
  const { m, e } = decompose(x);
  return m << BigInt(e - scale);
}

function pow2(e: number): number {
  if (e >= -1022) {
    bits.setBigUint64(0, BigInt(e + 1023) << 52n);
  } else {
    bits.setBigUint64(0, 1n << BigInt(e + 1074));
  }
  return bits.getFloat64(0);
}

const REDUCE_ABOVE = 1n << 1000n;

/** The double nearest to a * 2^scale (ties to even). */
function fromScaled(a: bigint, scale: number): number {
  if (a === 0n) return 0;
  let mag = a < 0n ? -a : a;
  let e = scale;
  if (mag >= REDUCE_ABOVE) {
    // Keep Number(mag) finite: drop low bits, remembering in a sticky bit whether any was set.
    const shift = mag.toString(2).length - 1000;
    const dropped = mag & ((1n << BigInt(shift)) - 1n);
    mag = (mag >> BigInt(shift)) | (dropped === 0n ? 0n : 1n);
    e += shift;
  }
  // Number(bigint) rounds to nearest; scaling by a power of two is then exact (a subnormal result
  // implies mag < 2^53, which Number() represents exactly).
  const r = Number(mag) * pow2(e);
  return a < 0n ? -r : r;
}

/** The double nearest to the exact sum of the given doubles, independent of their order. */
export function exactSum(values: ArrayLike<number>): number {
  const scale = minExponent(values);
  let total = 0n;
  for (let i = 0; i < values.length; i++) total += toScaled(at(values, i), scale);
  return fromScaled(total, scale);
}

// ---------------------------------------------------------------------------------------------------
// Validation and small helpers

function at<T>(xs: ArrayLike<T>, i: number): T {
  return xs[i] as T;
}

function sumOf<T>(xs: readonly T[], f: (x: T) => number): number {
  return xs.reduce((acc, x) => acc + f(x), 0);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkProfile(profile: Profile): void {
  for (const key of ['tp', 'fp', 'fn'] as const) {
    if (!Number.isFinite(profile[key]) || profile[key] < 0) {
      throw new RangeError(`profile ${profile.name}: ${key} weight must be a finite number >= 0`);
    }
  }
}

function checkThreshold(threshold: number): void {
  if (Number.isNaN(threshold)) throw new RangeError('threshold must be a number, got NaN');
}

function checkUniqueNames(files: readonly DetectorFile[]): void {
  const seen = new Set<string>();
  for (const file of files) {
    if (seen.has(file.name)) throw new RangeError(`file names must be unique: ${file.name} appears twice`);
    seen.add(file.name);
  }
}

function checkWindows(name: string, rowCount: number, windows: readonly RowRange[]): void {
  let prevRight = -1;
  windows.forEach((w, k) => {
    const where = `${name}: window ${k} [${w.left}, ${w.right}]`;
    if (!Number.isSafeInteger(w.left) || !Number.isSafeInteger(w.right) || w.left > w.right) {
      throw new RangeError(`${where}: bounds must be integers with left <= right`);
    }
    if (w.left < 0 || w.right >= rowCount) throw new RangeError(`${where}: outside rows 0..${rowCount - 1}`);
    if (w.left <= prevRight) throw new RangeError(`${where}: windows must be sorted and must not overlap`);
    prevRight = w.right;
  });
}

/** Validates a file and returns its first scorable row. */
function checkFile(file: DetectorFile): number {
  const rowCount = file.scores.length;
  checkWindows(file.name, rowCount, file.windows);
  for (let i = 0; i < rowCount; i++) {
    const s = at(file.scores, i);
    if (typeof s !== 'number' || !(s >= 0 && s <= 1)) {
      throw new RangeError(
        `${file.name}: row ${i}: anomaly score must be a number in [0, 1], got ${String(s)}`,
      );
    }
  }
  const start = file.probation ?? probationaryLength(rowCount);
  if (!Number.isSafeInteger(start) || start < 0 || start > rowCount) {
    throw new RangeError(`${file.name}: probation must be an integer in 0..${rowCount}, got ${start}`);
  }
  return start;
}
