// `npm run bench:nab -- --data <dir> --labels <windows.json> --out <dir>`: the project's anomaly
// detector on the Numenta Anomaly Benchmark, against NAB's baselines (the null detector and a windowed
// Gaussian), scored by ml/nab/scoring.ts (SCORING.md).
//
// Every CSV under --data (NAB layout: <category>/<file>.csv, any subset of categories) is streamed
// through each detector one row at a time. Results are written in NAB's format,
// <out>/<detector>/<category>/<detector>_<file>.csv with timestamp,value,anomaly_score,label (label 1
// inside a window); the labels are read only to write that column and to score, never by a detector.
// One threshold per profile is chosen over the whole run. Prints a table with the machine and wall
// time, the detector's throughput and peak memory, and ends with one JSON line.
// Flags: --detectors medrelease,windowedGaussian,null (default all), --limit N (first N files, for a
// quick look), --options JSON (detector settings, applied to every file alike), --json-only.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { NullDetector, WindowedGaussianDetector, type SeriesDetector } from '../ml/baselines.js';
import { DETECTOR_DEFAULTS, StreamingDetector, type DetectorOptions } from '../ml/detector.js';
import { loadCorpus, type LabelledSeries } from '../ml/nab/corpus.js';
import { nabScores, type DetectorFile, type ProfileResult } from '../ml/nab/scoring.js';
import { tensorflow } from '../ml/tf.js';
import { cpuModel, describeLoad, fixed, machineLoad } from './report.js';

const DETECTORS: Record<string, () => SeriesDetector> = {
  medrelease: () => new StreamingDetector(detectorOptions()),
  windowedGaussian: () => new WindowedGaussianDetector(),
  null: () => new NullDetector(),
};

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    labels: { type: 'string' },
    out: { type: 'string', default: '.data/bench/nab' },
    detectors: { type: 'string', default: Object.keys(DETECTORS).join(',') },
    limit: { type: 'string' },
    options: { type: 'string' },
    'json-only': { type: 'boolean', default: false },
  },
});
const started = performance.now();
const note = (line: string) =>
  process.stderr.write(`[nab ${((performance.now() - started) / 1000).toFixed(0).padStart(5)}s] ${line}\n`);
const out = (line = '') => {
  if (!values['json-only']) console.log(line);
};

/** --options '{"refractory":100}': one setting for every file (the detector is never tuned per file). */
function detectorOptions(): Partial<DetectorOptions> {
  if (!values.options) return {};
  const parsed = JSON.parse(values.options) as Record<string, unknown>;
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in DETECTOR_DEFAULTS) || typeof value !== 'number')
      usage(`--options: ${key} is not a numeric detector option`);
  }
  return parsed;
}

function usage(problem: string): never {
  console.error(`${problem}\nusage: npm run bench:nab -- --data <dir> --labels <windows.json> --out <dir>`);
  process.exit(2);
}

interface DetectorRun {
  detector: string;
  results: ProfileResult[];
  samples: number;
  seconds: number;
}

async function runDetector(
  name: string,
  files: readonly LabelledSeries[],
  outDir: string,
): Promise<DetectorRun> {
  const scored: DetectorFile[] = [];
  let samples = 0;
  const begin = performance.now();
  for (const [index, file] of files.entries()) {
    const detector = DETECTORS[name]!();
    const scores = new Float64Array(file.series.rows.length);
    const fileStart = performance.now();
    for (const [row, entry] of file.series.rows.entries()) {
      scores[row] = await detector.next(entry.value);
    }
    detector.dispose?.();
    samples += scores.length;
    scored.push({ name: file.series.name, scores, windows: file.windows });
    await writeResults(outDir, name, file, scores);
    note(
      `${name}: ${index + 1}/${files.length} ${file.series.name} (${scores.length} rows, ${fixed((performance.now() - fileStart) / 1000, 1)} s)`,
    );
  }
  const seconds = (performance.now() - begin) / 1000;
  return { detector: name, results: nabScores(scored), samples, seconds };
}

async function writeResults(outDir: string, detector: string, file: LabelledSeries, scores: Float64Array) {
  const [category, base] = file.series.name.includes('/')
    ? [path.dirname(file.series.name), path.basename(file.series.name)]
    : ['.', file.series.name];
  const folder = path.join(outDir, detector, category);
  await mkdir(folder, { recursive: true });
  const lines = ['timestamp,value,anomaly_score,label'];
  let window = 0;
  for (const [row, entry] of file.series.rows.entries()) {
    while (window < file.windows.length && file.windows[window]!.right < row) window += 1;
    const current = file.windows[window];
    const label = current && current.left <= row && row <= current.right ? 1 : 0;
    lines.push(`${entry.timestamp},${entry.value},${scores[row]},${label}`);
  }
  await writeFile(path.join(folder, `${detector}_${base}`), `${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  if (!values.data) usage('--data is required');
  if (!values.labels) usage('--labels is required');
  const names = values.detectors.split(',').map((entry) => entry.trim());
  for (const name of names) if (!DETECTORS[name]) usage(`unknown detector ${name}`);
  const load = await machineLoad();
  const { backend } = await tensorflow({ log: note });
  const corpus = await loadCorpus(values.data, {
    dataDir: values.data,
    labelsFile: values.labels,
    allowMissingData: true,
  });
  const limit = values.limit ? Number(values.limit) : undefined;
  const files = limit ? corpus.files.slice(0, limit) : corpus.files;
  const windows = files.reduce((sum, file) => sum + file.windows.length, 0);
  const rows = files.reduce((sum, file) => sum + file.series.rows.length, 0);
  note(`${files.length} files, ${rows} rows, ${windows} windows; detectors ${names.join(', ')}`);

  const runs: DetectorRun[] = [];
  for (const name of names) runs.push(await runDetector(name, files, values.out));
  const peakRssMb = process.resourceUsage().maxRSS / 1024;

  out(
    `machine: ${await cpuModel()}, ${os.availableParallelism()} cores, Node ${process.version}, TensorFlow.js on ${backend}`,
  );
  out(`machine load at start: ${describeLoad(load)}`);
  out(`corpus: ${files.length} files, ${rows} rows, ${windows} windows (${values.data})`);
  out();
  out(
    `  ${'detector'.padEnd(18)} ${'standard'.padStart(9)} ${'low FP'.padStart(9)} ${'low FN'.padStart(9)}   thresholds            samples/s   seconds`,
  );
  for (const run of runs) {
    const [standard, lowFp, lowFn] = run.results;
    out(
      `  ${run.detector.padEnd(18)} ${fixed(standard!.normalizedScore, 1).padStart(9)} ${fixed(lowFp!.normalizedScore, 1).padStart(9)} ${fixed(lowFn!.normalizedScore, 1).padStart(9)}   ` +
        `${run.results
          .map((result) => fixed(result.threshold, 3))
          .join(' / ')
          .padEnd(
            21,
          )} ${fixed(run.samples / run.seconds, 0).padStart(9)} ${fixed(run.seconds, 1).padStart(9)}`,
    );
  }
  out(`peak RSS of the process: ${fixed(peakRssMb, 0)} MB; results in ${values.out}`);
  const own = runs.find((run) => run.detector === 'medrelease') ?? runs[0]!;
  const score = (index: number) => Math.round(own.results[index]!.normalizedScore * 100) / 100;
  console.log(
    JSON.stringify({
      detector: own.detector,
      standard: score(0),
      reward_low_FP_rate: score(1),
      reward_low_FN_rate: score(2),
      files: files.length,
      windows,
      seconds: Math.round(own.seconds * 10) / 10,
      samplesPerSecond: Math.round(own.samples / own.seconds),
      peakRssMb: Math.round(peakRssMb),
      backend,
      baselines: Object.fromEntries(
        runs
          .filter((run) => run !== own)
          .map((run) => [
            run.detector,
            run.results.map((result) => Math.round(result.normalizedScore * 100) / 100),
          ]),
      ),
    }),
  );
}

main().catch((error: unknown) => {
  note(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
