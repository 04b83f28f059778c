// The NAB series as canary-corpus sources (bench/canary-corpus.ts): values, labelled windows and the
// labelled points of combined_labels.json (next to the windows file) as rows, and rows per day.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadCorpus, timestampMicros } from '../ml/nab/corpus.js';
import type { SourceSeries } from './canary-corpus.js';

export async function loadSources(
  dataDir: string,
  windowsFile: string,
): Promise<{ sources: SourceSeries[]; pointsFile: string | null }> {
  const corpus = await loadCorpus(dataDir, { dataDir, labelsFile: windowsFile, allowMissingData: true });
  const pointsFile = path.join(path.dirname(windowsFile), 'combined_labels.json');
  let points: Record<string, unknown> = {};
  try {
    points = JSON.parse(await readFile(pointsFile, 'utf8')) as Record<string, unknown>;
  } catch {
    return { sources: corpus.files.map((file) => toSource(file, [])), pointsFile: null };
  }
  return {
    sources: corpus.files.map((file) => {
      const listed = points[file.series.name];
      const stamps = Array.isArray(listed)
        ? listed.filter((entry): entry is string => typeof entry === 'string')
        : [];
      return toSource(file, stamps);
    }),
    pointsFile,
  };

  function toSource(file: (typeof corpus.files)[number], stamps: readonly string[]): SourceSeries {
    const rowOf = new Map<number, number>();
    file.series.rows.forEach((row, index) => {
      const micros = timestampMicros(row.timestamp);
      if (micros !== undefined && !rowOf.has(micros)) rowOf.set(micros, index);
    });
    const labels = stamps.flatMap((stamp) => {
      const micros = timestampMicros(stamp);
      const row = micros === undefined ? undefined : rowOf.get(micros);
      return row === undefined ? [] : [row];
    });
    // Rows per day, from the median time between rows.
    const steps = file.series.rows
      .slice(1)
      .map(
        (row, index) =>
          (timestampMicros(row.timestamp) ?? 0) - (timestampMicros(file.series.rows[index]!.timestamp) ?? 0),
      )
      .sort((a, b) => a - b);
    const step = steps[steps.length >> 1] ?? 0;
    return {
      name: file.series.name,
      values: file.series.rows.map((row) => row.value),
      ...(step > 0 ? { period: Math.round(86_400e6 / step) } : {}),
      windows: file.windows.map(({ left, right }) => ({ left, right })),
      labels,
    };
  }
}
