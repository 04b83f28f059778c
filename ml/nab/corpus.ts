// Reading a folder laid out like the Numenta Anomaly Benchmark (NAB): data/<category>/<file>.csv series,
// labels/combined_windows.json anomaly windows and profiles.json cost profiles, and mapping each window
// to the row range [L, R] of the rows whose timestamps equal its start and end (SCORING.md).
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { profilesFromJson, type Profile, type RowRange } from './scoring.js';

export interface SeriesRow {
  /** As written in the file, e.g. "2014-02-14 14:30:00". */
  readonly timestamp: string;
  readonly value: number;
}

export interface Series {
  /** The file's name relative to the data folder ("<category>/<file>.csv"), or its path. */
  readonly name: string;
  readonly rows: readonly SeriesRow[];
}

export interface LabelWindow {
  /** As written in the labels file, e.g. "2014-02-19 00:22:00.000000". */
  readonly start: string;
  readonly end: string;
}

/** Windows per file, keyed like "realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv". */
export type WindowLabels = ReadonlyMap<string, readonly LabelWindow[]>;

/** A window and the rows it covers: left = L, right = R (0-based, inclusive). */
export interface WindowRows extends LabelWindow, RowRange {}

export interface CorpusFile {
  /** Path relative to the data folder with "/" separators, e.g. "artificialNoAnomaly/art_noisy.csv". */
  readonly name: string;
  /** Path on disk. */
  readonly path: string;
}

export interface LabelledSeries {
  readonly series: Series;
  /** Sorted by row. */
  readonly windows: readonly WindowRows[];
}

export interface Corpus {
  readonly dataDir: string;
  readonly labelsFile: string;
  /** Sorted by name. */
  readonly files: readonly LabelledSeries[];
  /** Windows of the files loaded. */
  readonly windowCount: number;
  /** Windows in the whole labels file (differs from windowCount only with allowMissingData). */
  readonly labelWindowCount: number;
  /** Labelled files that are not in the data folder (only with allowMissingData). */
  readonly missingData: readonly string[];
}

export interface LoadCorpusOptions {
  /** Defaults to <root>/data. */
  readonly dataDir?: string;
  /** Defaults to <root>/labels/combined_windows.json. */
  readonly labelsFile?: string;
  /** Accept labels for files absent from the data folder (they are left out); otherwise an error. */
  readonly allowMissingData?: boolean;
}

/** Malformed corpus input; the message names the file and, where there is one, the line. */
export class CorpusError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    detail: string,
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${detail}`);
    this.name = 'CorpusError';
  }
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A timestamp "YYYY-MM-DD HH:MM:SS[.ffffff]" as microseconds since 1970 (read as UTC), so that
 * "2014-02-19 00:22:00" and "2014-02-19 00:22:00.000000" compare equal. Undefined if malformed.
 */
export function timestampMicros(text: string): number | undefined {
  const m = TIMESTAMP.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const micros = Number((m[7] ?? '').padEnd(6, '0'));
  return Date.UTC(year, month - 1, day, hour, minute, second) * 1000 + micros;
}

/** Every .csv file under dataDir, at any depth (any subset of categories), sorted by name. */
export async function listCorpusFiles(dataDir: string): Promise<CorpusFile[]> {
  let entries;
  try {
    entries = await readdir(dataDir, { recursive: true, withFileTypes: true });
  } catch (err) {
    throw new CorpusError(dataDir, undefined, `cannot list data folder: ${(err as Error).message}`);
  }
  return entries
    .filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.csv'))
    .map((e) => {
      const path = join(e.parentPath, e.name);
      return { name: relative(dataDir, path).split(sep).join('/'), path };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Parses a NAB series: header "timestamp,value", then one "timestamp,value" row per line, timestamps
 * never decreasing (a few NAB files repeat a timestamp). `source` names the file in errors.
 */
export function parseSeries(text: string, source: string, name: string = source): Series {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const header = lines[0];
  if (header === undefined)
    throw new CorpusError(source, undefined, 'empty file (expected "timestamp,value")');
  if (header.trim() !== 'timestamp,value') {
    throw new CorpusError(source, 1, `header must be "timestamp,value", got "${header}"`);
  }
  if (lines.length < 2) throw new CorpusError(source, undefined, 'no data rows');
  const rows: SeriesRow[] = [];
  let prev = -Infinity;
  for (let i = 1; i < lines.length; i++) {
    const line = i + 1;
    const fields = (lines[i] ?? '').split(',');
    if (fields.length !== 2) {
      throw new CorpusError(source, line, `expected 2 fields "timestamp,value", got ${fields.length}`);
    }
    const [timestamp, rawValue] = fields.map((f) => f.trim()) as [string, string];
    const micros = timestampMicros(timestamp);
    if (micros === undefined) {
      throw new CorpusError(source, line, `bad timestamp "${timestamp}" (expected YYYY-MM-DD HH:MM:SS)`);
    }
    if (micros < prev)
      throw new CorpusError(source, line, `timestamp ${timestamp} is earlier than the row before`);
    prev = micros;
    const value = DECIMAL.test(rawValue) ? Number(rawValue) : NaN;
    if (!Number.isFinite(value))
      throw new CorpusError(source, line, `bad value "${rawValue}" (expected a number)`);
    rows.push({ timestamp, value });
  }
  return { name, rows };
}

/** Reads and parses one series file; `name` defaults to its path. */
export async function readSeries(file: string, name: string = file): Promise<Series> {
  return parseSeries(await readText(file), file, name);
}

/** Parses a windows JSON: { "<category>/<file>.csv": [[start, end], ...], ... }. */
export function parseWindows(text: string, source: string): WindowLabels {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const position = /position (\d+)/.exec(message)?.[1];
    const line = position === undefined ? undefined : lineAt(text, Number(position));
    throw new CorpusError(source, line, `invalid JSON: ${message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CorpusError(source, 1, 'expected an object mapping file names to lists of windows');
  }
  const labels = new Map<string, LabelWindow[]>();
  for (const [key, list] of Object.entries(json as Record<string, unknown>)) {
    const keyAt = text.indexOf(JSON.stringify(key));
    const fail = (detail: string, near?: string): never => {
      const at = near === undefined ? keyAt : text.indexOf(JSON.stringify(near), Math.max(keyAt, 0));
      throw new CorpusError(source, at < 0 ? undefined : lineAt(text, at), `"${key}": ${detail}`);
    };
    if (!Array.isArray(list)) fail('expected a list of [start, end] windows');
    const windows = (list as unknown[]).map((w, k): LabelWindow => {
      if (!Array.isArray(w) || w.length !== 2 || typeof w[0] !== 'string' || typeof w[1] !== 'string') {
        return fail(`window ${k}: expected [start, end] timestamp strings`);
      }
      const [start, end] = w as [string, string];
      const s = timestampMicros(start);
      const e = timestampMicros(end);
      if (s === undefined) return fail(`window ${k}: bad start timestamp "${start}"`, start);
      if (e === undefined) return fail(`window ${k}: bad end timestamp "${end}"`, end);
      if (e < s) return fail(`window ${k}: end ${end} is before start ${start}`, start);
      return { start, end };
    });
    labels.set(key, windows);
  }
  return labels;
}

/** Reads and parses a windows JSON such as labels/combined_windows.json. */
export async function readWindows(labelsFile: string): Promise<WindowLabels> {
  return parseWindows(await readText(labelsFile), labelsFile);
}

/**
 * Maps windows to row ranges: L is the row whose timestamp equals the window's start and R the row whose
 * timestamp equals its end (the first such row if a timestamp repeats). Errors name the series and the
 * window when a boundary matches no row, or when windows overlap. The result is sorted by row.
 */
export function windowRows(series: Series, windows: readonly LabelWindow[]): WindowRows[] {
  const firstRow = new Map<number, number>();
  series.rows.forEach((row, i) => {
    const micros = timestampMicros(row.timestamp);
    if (micros !== undefined && !firstRow.has(micros)) firstRow.set(micros, i);
  });
  const find = (w: LabelWindow, k: number, which: 'start' | 'end'): number => {
    const micros = timestampMicros(w[which]);
    const row = micros === undefined ? undefined : firstRow.get(micros);
    if (row === undefined) {
      throw new CorpusError(
        series.name,
        undefined,
        `window ${k} [${w.start}, ${w.end}]: no row at its ${which}`,
      );
    }
    return row;
  };
  const mapped = windows.map((w, k) => {
    const left = find(w, k, 'start');
    const right = find(w, k, 'end');
    if (right < left) {
      throw new CorpusError(
        series.name,
        undefined,
        `window ${k} [${w.start}, ${w.end}]: ends before it starts`,
      );
    }
    return { start: w.start, end: w.end, left, right };
  });
  mapped.sort((a, b) => a.left - b.left);
  mapped.forEach((w, k) => {
    const prev = mapped[k - 1];
    if (prev !== undefined && w.left <= prev.right) {
      throw new CorpusError(
        series.name,
        undefined,
        `windows [${prev.start}, ${prev.end}] and [${w.start}, ${w.end}] overlap`,
      );
    }
  });
  return mapped;
}

/** Reads profiles.json (see profilesFromJson in scoring.ts). */
export async function readProfiles(file: string): Promise<Profile[]> {
  const text = await readText(file);
  try {
    return profilesFromJson(JSON.parse(text));
  } catch (err) {
    throw new CorpusError(file, undefined, (err as Error).message);
  }
}

/**
 * Loads a NAB-layout folder: every CSV under the data folder with its windows mapped to rows. Every CSV
 * must have an entry in the labels file (an empty list for no anomalies).
 */
export async function loadCorpus(root: string, options: LoadCorpusOptions = {}): Promise<Corpus> {
  const dataDir = options.dataDir ?? join(root, 'data');
  const labelsFile = options.labelsFile ?? join(root, 'labels', 'combined_windows.json');
  const [list, labels] = await Promise.all([listCorpusFiles(dataDir), readWindows(labelsFile)]);
  const names = new Set(list.map((f) => f.name));
  const missingData = [...labels.keys()].filter((k) => !names.has(k)).sort();
  if (missingData.length > 0 && options.allowMissingData !== true) {
    throw new CorpusError(
      labelsFile,
      undefined,
      `${missingData.length} labelled file(s) not found under ${dataDir}: ${missingData.slice(0, 5).join(', ')}`,
    );
  }
  const files = await Promise.all(
    list.map(async (f): Promise<LabelledSeries> => {
      const windows = labels.get(f.name);
      if (windows === undefined)
        throw new CorpusError(labelsFile, undefined, `no windows entry for ${f.name}`);
      const series = await readSeries(f.path, f.name);
      return { series, windows: windowRows(series, windows) };
    }),
  );
  let labelWindowCount = 0;
  for (const w of labels.values()) labelWindowCount += w.length;
  const windowCount = files.reduce((acc, f) => acc + f.windows.length, 0);
  return { dataDir, labelsFile, files, windowCount, labelWindowCount, missingData };
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CorpusError(file, undefined, `cannot read: ${(err as Error).message}`);
  }
}

/** 1-based line number of a character offset. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
