// `npm run bench:canary -- --data <dir> --labels <combined_windows.json> --seed <n> --releases <n>`:
// how well the project's canary judge stops bad releases early and lets good ones through, against a
// threshold-only judge (as Flagger does) and a Mann-Whitney-only judge (as Kayenta does), on one
// corpus of canary releases built from real NAB series (bench/canary-corpus.ts: how releases, their
// metrics, faults and baselines are made; read its header first).
//
// Each release runs through the release workflow's step plan, 5 → 25 → 50 → 100 %, one analysis
// interval per step; a marginal verdict holds the weight and judges the next interval's fresh data, at
// most twice per step, and still marginal after that is a failure. Three judges, each on every release:
//  - medrelease: judgeCanary (activities/analysis/canary-judge.ts) with BENCH_JUDGE_CONFIG — hard
//    limits, crash loop, Mann-Whitney with the Hodges-Lehmann shift, and the anomaly model: per metric,
//    scoreCanarySeries(history, whole canary segment) once per release, sliced per interval (the
//    model is fitted on the history, frozen, and scores sample by sample: no look-ahead). restarts
//    is not scored: it is 0 throughout in this corpus, where the model scores 0.03, far below 0.9;
//  - threshold: thresholdJudge of canary-corpus.ts, fixed limits set once per release from the
//    history as an operator sets them from a dashboard: per metric, the interval's mean must stay
//    within the highest (lowest) mean of any interval-long stretch of the history plus (minus) the
//    metric's allowed shift, on the bad side(s) of its direction; plus the same hard limits and crash
//    loop; a metric without data fails (as Flagger fails a query that returns nothing). Never marginal;
//  - mannWhitney: judgeCanary with mannWhitneyOnlyConfig (no hard limits, no crash loop) and no
//    anomaly scores: the rank test with the shift, the critical metrics, the score and its marginal band.
// One configuration for every file and release, shared by the three judges (the same metrics,
// directions and allowed shifts); nothing is tuned per file. BENCH_JUDGE_CONFIG is
// DEFAULT_JUDGE_CONFIG with latency_p99_ms judged in either direction, as its background is a NAB
// series whose anomalies go both ways.
//
// Reported per judge: the share of bad releases stopped before their canary exceeded 25 % of traffic
// (a failing verdict at the 5 % or 25 % step, re-checks included), overall and per fault kind; the
// share of good releases rolled back (at any step); the mean detection delay in analysis intervals
// (from the first interval holding the fault to the failing verdict, both counted, re-checks
// included: 1 = failed on the first faulty interval), over the bad releases rolled back at all; and
// which background series the rolled-back good releases came from. Written to --out (default
// .data/bench/canary): bench-canary.svg (bars per judge) and releases.json (each release: where it
// comes from, its fault, and per judge every verdict, the outcome and the failing verdict's summary).
// Progress on stderr every 50 releases; the table with the machine and wall time on stdout; the last
// line of stdout is one JSON object with the figures (shares as fractions in [0, 1]).
//
// --labels names combined_windows.json; the labelled points are read from combined_labels.json in
// the same folder (without it, each window's middle stands for its onset). Flags: --seed N (default
// 1), --releases N (default 1000), --out DIR, --json-only (stdout carries only the JSON line),
// --judges medrelease,threshold,mannWhitney (default all; leaving medrelease out skips TensorFlow.js
// and runs in seconds), global corpus settings --interval (samples per interval, 24), --history
// (288), --baseline (baseline samples, 48), --baseline-mode (season | tail), and --judge JSON
// (overrides of BENCH_JUDGE_CONFIG for all three judges, e.g. '{"anomalyMinHits":4}' or
// '{"metrics":{"latency_p99_ms":{"critical":true}}}'), --scorer JSON (overrides of the anomaly
// model's CANARY_SCORER_DEFAULTS, e.g. '{"spatialTolerance":0.1}').
//
// Settings tried, 1000 releases, seed 1, wasm backend, the anomaly model with CANARY_SCORER_DEFAULTS
// as of commit ec4b59d (printed with every run); each as "bad stopped before 25 % / good rolled back /
// mean delay" for medrelease · threshold · mannWhitney:
//   defaults (--interval 24 --history 288 --baseline 48)  86.0/3.2/1.83 · 69.6/3.4/1.34 · 77.2/0.6/2.20
//   --baseline-mode tail                                  84.6/16.8/1.87 · (same) · 75.8/14.2/2.23
//   --baseline-mode tail --baseline 24                    83.4/19.0/1.86 · (same) · 74.6/16.4/2.22
//   --baseline 24 / 72                                    85.6/3.6 / 86.0/3.4 (mannWhitney 76.8/1.0 / 77.4/0.8)
//   --interval 20                                         85.8/3.6/1.86 · 70.0/3.0/1.29 · 76.8/1.4/2.23
//   --interval 30                                         85.0/3.6/1.82 · 71.6/3.4/1.32 · 77.2/1.0/2.21
//   --history 576 (28 windows qualify: another nab set)   90.6/2.0/1.89 · 74.0/2.0/1.33 · 81.4/1.6/2.26
//   --history 864, 500 releases (nab kind 61.4 %)         86.8/2.8/1.93 · 74.0/1.2/1.28 · 77.6/1.6/2.20
//   --judge '{"anomalyMinHits":2}' / 4 / 5                86.2/3.8 / 85.4/3.2 / 84.6/3.2
//   --judge '{"anomalyThreshold":0.99}'                   85.6/3.2/1.85
//   --judge '{"alpha":0.05}'                              86.4/3.2/1.84 · (same) · 77.6/0.6/2.20
//   latency_p99_ms critical                               88.6/8.0/1.25 · (same) · 81.2/5.8/1.23
//   latency_p99_ms hardStatistic 'mean'                   82.8/2.0/2.00 · 66.0/2.6/1.34 · (same)
//   medrelease without the anomaly model's scores         83.6/2.8/1.81
// Scorer settings (--scorer), 500 releases, seed 1, medrelease only: defaults 84.4/2.8; spatialTolerance
// 0.1 84.4/2.8 (no change); rankWindow 2000 with shortWindow 5 (the NAB detector's error path) 82.8/2.8.
// (With the scorer as it was before commit 370c70f, lags 16, hidden 16, shortWindow 5, spatial
// tolerance 0.05, the defaults gave medrelease 86.2/4.8/1.82.) In every setting
// the nab kind bounds the total: about a third of the usable windows show nothing a judge can see in
// the canary's first intervals and are stopped early by none of the three. Per fault kind and per
// background series, see the table of a run.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  judgeCanary,
  validateJudgeConfig,
  type CanaryJudgement,
  type JudgeConfig,
} from '../activities/analysis/canary-judge.js';
import { CANARY_SCORER_DEFAULTS, scoreCanarySeries } from '../ml/canary-scorer.js';
import type { DetectorOptions } from '../ml/detector.js';
import { tensorflow } from '../ml/tf.js';
import {
  BENCH_JUDGE_CONFIG,
  DEFAULT_CORPUS_SETTINGS,
  FAULT_KINDS,
  STEP_PLAN,
  anomalyTemplates,
  assess,
  baselineOf,
  buildCorpus,
  intervalOf,
  mannWhitneyOnlyConfig,
  runStepPlan,
  summarise,
  thresholdJudge,
  thresholdRules,
  validateCorpusSettings,
  type CanaryRelease,
  type CorpusSettings,
  type Decision,
  type JudgeSummary,
  type MetricName,
  type PlanOutcome,
  type ReleaseKind,
  type ReleaseOutcome,
} from './canary-corpus.js';
import { loadSources } from './nab-sources.js';
import { cpuModel, describeLoad, fixed, machineLoad, svgBarPanel, svgDocument, type Bar } from './report.js';

const JUDGES = ['medrelease', 'threshold', 'mannWhitney'] as const;
type JudgeName = (typeof JUDGES)[number];
/** Metrics the anomaly model scores (restarts: see the file comment). */
const SCORED_METRICS: readonly MetricName[] = ['error_rate', 'latency_p99_ms', 'prediction_mean'];

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    labels: { type: 'string' },
    seed: { type: 'string', default: '1' },
    releases: { type: 'string', default: '1000' },
    out: { type: 'string', default: '.data/bench/canary' },
    judges: { type: 'string', default: JUDGES.join(',') },
    interval: { type: 'string', default: String(DEFAULT_CORPUS_SETTINGS.intervalSamples) },
    history: { type: 'string', default: String(DEFAULT_CORPUS_SETTINGS.historySamples) },
    baseline: { type: 'string', default: String(DEFAULT_CORPUS_SETTINGS.baselineSamples) },
    'baseline-mode': { type: 'string', default: DEFAULT_CORPUS_SETTINGS.baselineMode },
    judge: { type: 'string' },
    scorer: { type: 'string' },
    'json-only': { type: 'boolean', default: false },
  },
});
/** The anomaly model's settings: CANARY_SCORER_DEFAULTS with the --scorer overrides. */
const SCORER_OPTIONS: Partial<DetectorOptions> = {
  ...CANARY_SCORER_DEFAULTS,
  ...(values.scorer ? (JSON.parse(values.scorer) as Partial<DetectorOptions>) : {}),
};
const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
const note = (line: string) =>
  process.stderr.write(`[canary ${elapsed().toFixed(0).padStart(5)}s] ${line}\n`);
const out = (line = '') => {
  if (!values['json-only']) console.log(line);
};

function usage(problem: string): never {
  console.error(
    `${problem}\nusage: npm run bench:canary -- --data <dir> --labels <combined_windows.json> --seed <n> --releases <n> [--out <dir>] [--json-only]`,
  );
  process.exit(2);
}

/**
 * BENCH_JUDGE_CONFIG with --judge overrides, one setting for every release and all three judges:
 * '{"anomalyMinHits":4,"metrics":{"latency_p99_ms":{"critical":true}}}'.
 */
function judgeConfig(text: string | undefined): JudgeConfig {
  if (text === undefined) return BENCH_JUDGE_CONFIG;
  let overrides: Record<string, unknown>;
  try {
    overrides = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    usage(`--judge: ${(error as Error).message}`);
  }
  const { metrics, ...scalars } = overrides;
  const perMetric = (metrics ?? {}) as Record<string, Record<string, unknown>>;
  for (const name of Object.keys(perMetric)) {
    if (!BENCH_JUDGE_CONFIG.metrics.some((metric) => metric.name === name))
      usage(`--judge: unknown metric ${name}`);
  }
  const config = {
    ...BENCH_JUDGE_CONFIG,
    ...scalars,
    metrics: BENCH_JUDGE_CONFIG.metrics.map((metric) => ({ ...metric, ...(perMetric[metric.name] ?? {}) })),
  } as JudgeConfig;
  const problems = validateJudgeConfig(config);
  if (problems.length > 0) usage(`--judge: ${problems.join('; ')}`);
  return config;
}

function baselineMode(text: string): CorpusSettings['baselineMode'] {
  if (text !== 'tail' && text !== 'season') usage(`--baseline-mode must be 'tail' or 'season'`);
  return text;
}

function integerFlag(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) usage(`--${name} must be an integer ≥ ${min}`);
  return value;
}

/**
 * The NAB series with their windows and labelled points as rows. The points come from
 * combined_labels.json next to the windows file when it is there (else windows' middles stand in).
 */
interface JudgeRun {
  outcome: PlanOutcome;
  assessed: ReleaseOutcome;
  /** The verdict's summary at the interval that rolled the release back. */
  reason?: string;
}

/** Runs the three judges on one release. */
async function judgeRelease(
  release: CanaryRelease,
  settings: CorpusSettings,
  judges: readonly JudgeName[],
  config: JudgeConfig,
  mannWhitneyConfig: JudgeConfig,
): Promise<Partial<Record<JudgeName, JudgeRun>>> {
  const runs: Partial<Record<JudgeName, JudgeRun>> = {};
  const run = (
    decide: (interval: number, recheck: number) => { decision: Decision; summary: string },
  ): JudgeRun => {
    let reason: string | undefined;
    const outcome = runStepPlan((interval, _weight, recheck) => {
      const verdict = decide(interval, recheck);
      reason = verdict.summary;
      return verdict.decision;
    });
    return { outcome, assessed: assess(release, outcome), ...(outcome.rolledBack ? { reason } : {}) };
  };
  const canaryJudge =
    (config: JudgeConfig, scores?: Record<string, number[]>) => (interval: number, recheck: number) => {
      const I = settings.intervalSamples;
      const anomalyScores =
        scores === undefined
          ? undefined
          : Object.fromEntries(
              Object.entries(scores).map(([metric, list]) => [
                metric,
                list.slice(interval * I, (interval + 1) * I),
              ]),
            );
      const judgement: CanaryJudgement = judgeCanary(
        {
          baseline: baselineOf(release, interval, settings),
          canary: intervalOf(release, interval, settings),
          ...(anomalyScores === undefined ? {} : { anomalyScores }),
          recheck,
        },
        config,
      );
      return judgement;
    };

  if (judges.includes('medrelease')) {
    const scores: Record<string, number[]> = {};
    for (const metric of SCORED_METRICS) {
      const canary = release.canary[metric];
      if (canary.length === 0) continue;
      const scored = await scoreCanarySeries(release.history[metric], canary, SCORER_OPTIONS);
      if (scored) scores[metric] = scored;
    }
    runs.medrelease = run(canaryJudge(config, scores));
  }
  if (judges.includes('threshold')) {
    const rules = thresholdRules(release.history, config, settings.intervalSamples);
    runs.threshold = run((interval) => thresholdJudge(intervalOf(release, interval, settings), rules));
  }
  if (judges.includes('mannWhitney')) runs.mannWhitney = run(canaryJudge(mannWhitneyConfig));
  return runs;
}

const percent = (share: number) => (Number.isFinite(share) ? `${(share * 100).toFixed(1)} %` : 'n/a');
const round4 = (value: number) => (Number.isFinite(value) ? Math.round(value * 10_000) / 10_000 : null);

async function main(): Promise<void> {
  if (!values.data) usage('--data is required');
  if (!values.labels) usage('--labels is required');
  const seed = integerFlag('seed', values.seed, 0);
  const count = integerFlag('releases', values.releases, 1);
  const judges = values.judges.split(',').map((entry) => entry.trim()) as JudgeName[];
  for (const name of judges)
    if (!JUDGES.includes(name)) usage(`unknown judge ${name} (${JUDGES.join(', ')})`);
  const settings: CorpusSettings = {
    ...DEFAULT_CORPUS_SETTINGS,
    intervalSamples: integerFlag('interval', values.interval, 1),
    historySamples: integerFlag('history', values.history, 1),
    baselineSamples: integerFlag('baseline', values.baseline, 1),
    baselineMode: baselineMode(values['baseline-mode']),
  };
  const problems = validateCorpusSettings(settings);
  if (problems.length > 0) usage(problems.join('; '));
  const config = judgeConfig(values.judge);

  const load = await machineLoad();
  const backend = judges.includes('medrelease') ? (await tensorflow({ log: note })).backend : 'not used';
  const { sources, pointsFile } = await loadSources(values.data, values.labels);
  const templates = anomalyTemplates(sources, settings);
  const windowCount = sources.reduce((sum, source) => sum + source.windows.length, 0);
  const releases = buildCorpus(sources, count, seed, settings);
  note(
    `${sources.length} series, ${windowCount} windows (${templates.length} with ${settings.historySamples} clean rows before them); ` +
      `${count} releases, seed ${seed}, interval ${settings.intervalSamples}, history ${settings.historySamples}, baseline ${settings.baselineSamples} (${settings.baselineMode}); judges ${judges.join(', ')}`,
  );

  const mannWhitneyConfig = mannWhitneyOnlyConfig(config);
  const results: Partial<Record<JudgeName, JudgeRun>>[] = [];
  const judgeSeconds = performance.now();
  for (const release of releases) {
    results.push(await judgeRelease(release, settings, judges, config, mannWhitneyConfig));
    if (results.length % 50 === 0 || results.length === releases.length) {
      const done = releases.slice(0, results.length);
      const partial = judges
        .map((name) => {
          const summary = summarise(
            done,
            results.map((entry) => entry[name]!.assessed),
          );
          return `${name} ${percent(summary.badStoppedBefore25)} / ${percent(summary.goodRolledBack)}`;
        })
        .join(', ');
      note(
        `${results.length}/${releases.length} releases (bad stopped ≤ 25 % / good rolled back: ${partial})`,
      );
    }
  }
  const seconds = elapsed();
  const judgingSeconds = (performance.now() - judgeSeconds) / 1000;
  const summaries = Object.fromEntries(
    judges.map((name) => [
      name,
      summarise(
        releases,
        results.map((entry) => entry[name]!.assessed),
      ),
    ]),
  ) as Partial<Record<JudgeName, JudgeSummary>>;

  // ---- the table ----------------------------------------------------------------------------------
  const any = summaries[judges[0]!]!;
  out(
    `machine: ${await cpuModel()}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
      `Node ${process.version}, TensorFlow.js on ${backend}`,
  );
  out(`machine load at start: ${describeLoad(load)}`);
  out(
    `corpus: ${count} releases (${any.bad} bad, ${any.good} good), seed ${seed}, from ${sources.length} series in ${values.data}; ` +
      `${templates.length} of ${windowCount} labelled windows usable${pointsFile ? '' : ' (no combined_labels.json: window middles as onsets)'}`,
  );
  out(
    `settings: ${settings.intervalSamples} samples per interval, history ${settings.historySamples}, baseline ${settings.baselineSamples} of its samples ` +
      `(${settings.baselineMode === 'season' ? 'at the time of day of the interval' : 'its last ones'}); ` +
      `plan ${STEP_PLAN.weights.join(' → ')} %, ≤ ${STEP_PLAN.maxRechecks} re-checks per step` +
      (values.judge ? `; judge overrides ${values.judge}` : ''),
  );
  if (judges.includes('medrelease')) {
    out(
      `anomaly model: scoreCanarySeries with ${JSON.stringify(SCORER_OPTIONS)}` +
        (values.scorer
          ? ` (CANARY_SCORER_DEFAULTS with --scorer ${values.scorer})`
          : ' (CANARY_SCORER_DEFAULTS)'),
    );
  }
  out();
  const column = (text: string) => text.padStart(13);
  out(`  ${''.padEnd(34)}${judges.map((name) => column(name)).join('')}`);
  const row = (label: string, cell: (summary: JudgeSummary) => string) =>
    out(`  ${label.padEnd(34)}${judges.map((name) => column(cell(summaries[name]!))).join('')}`);
  row(`bad stopped before 25 % (${any.bad})`, (summary) => percent(summary.badStoppedBefore25));
  for (const kind of FAULT_KINDS) {
    const releasesOfKind = any.byKind[kind]?.releases ?? 0;
    if (releasesOfKind === 0) continue;
    row(`  ${kind} (${releasesOfKind})`, (summary) => percent(summary.byKind[kind]!.stoppedEarly));
  }
  row(`bad stopped at any step`, (summary) => percent(summary.badStopped));
  row(`good rolled back (${any.good})`, (summary) => percent(summary.goodRolledBack));
  row(`mean delay, intervals`, (summary) => fixed(summary.meanDelayIntervals, 2));
  for (const kind of FAULT_KINDS) {
    if ((any.byKind[kind]?.releases ?? 0) === 0) continue;
    row(`  ${kind}`, (summary) => fixed(summary.byKind[kind]!.meanDelayIntervals, 2));
  }
  out();
  // Where good releases were rolled back: by background series.
  const goodByFile = new Map<string, { releases: number; rolledBack: Partial<Record<JudgeName, number>> }>();
  releases.forEach((release, index) => {
    if (release.kind !== 'good') return;
    const entry = goodByFile.get(release.file) ?? { releases: 0, rolledBack: {} };
    entry.releases += 1;
    for (const name of judges) {
      if (results[index]![name]!.assessed.rolledBack)
        entry.rolledBack[name] = (entry.rolledBack[name] ?? 0) + 1;
    }
    goodByFile.set(release.file, entry);
  });
  const offending = [...goodByFile.entries()]
    .filter(([, entry]) => Object.keys(entry.rolledBack).length > 0)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  if (offending.length > 0) {
    out(`  good releases rolled back, by background series (rolled back / releases):`);
    for (const [file, entry] of offending) {
      out(
        `    ${file.padEnd(58)}${judges.map((name) => `${entry.rolledBack[name] ?? 0}/${entry.releases}`.padStart(9)).join('')}`,
      );
    }
    out();
  }
  out(
    `wall time ${fixed(seconds, 1)} s (judging ${fixed(judgingSeconds, 1)} s, ${fixed((judgingSeconds * 1000) / count, 0)} ms per release); results in ${values.out}`,
  );

  // ---- files --------------------------------------------------------------------------------------
  await mkdir(values.out, { recursive: true });
  await writeFile(
    path.join(values.out, 'bench-canary.svg'),
    chart(summaries, judges, count, seed, settings, backend),
  );
  await writeFile(
    path.join(values.out, 'releases.json'),
    `${JSON.stringify(
      {
        seed,
        settings,
        plan: STEP_PLAN,
        releases: releases.map((release, index) => ({
          id: release.id,
          kind: release.kind,
          file: release.file,
          historyStart: release.historyStart,
          canaryStart: release.canaryStart,
          gap: release.gap,
          ...(release.onsetRow === undefined ? {} : { onsetRow: release.onsetRow }),
          ...(release.faultInterval === undefined ? {} : { faultInterval: release.faultInterval }),
          parameters: release.parameters,
          judges: Object.fromEntries(
            judges.map((name) => {
              const entry = results[index]![name]!;
              return [
                name,
                {
                  decisions: entry.outcome.decisions,
                  rolledBack: entry.outcome.rolledBack,
                  ...(entry.outcome.rolledBack
                    ? {
                        failedInterval: entry.outcome.failedInterval,
                        failedWeight: entry.outcome.failedWeight,
                        cause: entry.outcome.cause,
                        reason: entry.reason,
                      }
                    : {}),
                  stoppedBefore25: entry.assessed.stoppedEarly,
                  ...(entry.assessed.delayIntervals === undefined
                    ? {}
                    : { delayIntervals: entry.assessed.delayIntervals }),
                },
              ];
            }),
          ),
        })),
      },
      null,
      1,
    )}\n`,
  );

  console.log(
    JSON.stringify({
      releases: count,
      bad: any.bad,
      good: any.good,
      judges: Object.fromEntries(
        judges.map((name) => {
          const summary = summaries[name]!;
          return [
            name,
            {
              badStoppedBefore25: round4(summary.badStoppedBefore25),
              goodRolledBack: round4(summary.goodRolledBack),
              meanDelayIntervals: round4(summary.meanDelayIntervals),
              badStopped: round4(summary.badStopped),
              badStoppedBefore25ByKind: Object.fromEntries(
                FAULT_KINDS.filter((kind) => summary.byKind[kind] !== undefined).map((kind) => [
                  kind,
                  round4(summary.byKind[kind]!.stoppedEarly),
                ]),
              ),
            },
          ];
        }),
      ),
      seconds: Math.round(seconds * 10) / 10,
      seed,
      intervalSamples: settings.intervalSamples,
      historySamples: settings.historySamples,
      baselineSamples: settings.baselineSamples,
      baselineMode: settings.baselineMode,
      ...(values.judge ? { judgeOverrides: JSON.parse(values.judge) as unknown } : {}),
      ...(judges.includes('medrelease') ? { scorer: SCORER_OPTIONS } : {}),
      backend,
    }),
  );
}

/** Bars per judge: bad stopped early (overall and per kind), good rolled back, mean delay. */
function chart(
  summaries: Partial<Record<JudgeName, JudgeSummary>>,
  judges: readonly JudgeName[],
  count: number,
  seed: number,
  settings: CorpusSettings,
  backend: string,
): string {
  const bars = (value: (summary: JudgeSummary) => number, note?: (summary: JudgeSummary) => string): Bar[] =>
    judges.map((name) => ({
      label: name,
      value: Math.max(0, Number.isFinite(value(summaries[name]!)) ? value(summaries[name]!) : 0),
      ...(note ? { note: note(summaries[name]!) } : {}),
    }));
  const panels = [
    svgBarPanel(
      'Bad releases stopped before 25 % of traffic (higher is better; target ≥ 99 %)',
      bars((summary) => summary.badStoppedBefore25 * 100),
      '%',
    ),
    svgBarPanel(
      'Good releases rolled back (lower is better; target ≤ 1 %)',
      bars((summary) => summary.goodRolledBack * 100),
      '%',
    ),
    svgBarPanel(
      'Mean detection delay of the bad releases rolled back (lower is better)',
      bars((summary) => summary.meanDelayIntervals),
      'intervals',
    ),
    ...FAULT_KINDS.filter((kind) => summaries[judges[0]!]!.byKind[kind] !== undefined).map(
      (kind: ReleaseKind) =>
        svgBarPanel(
          `${kind}: stopped before 25 % (${summaries[judges[0]!]!.byKind[kind]!.releases} releases)`,
          bars((summary) => summary.byKind[kind]!.stoppedEarly * 100),
          '%',
        ),
    ),
  ];
  return svgDocument(
    'bench:canary — canary judges on releases built from NAB series',
    [
      `${count} releases, seed ${seed}; ${settings.intervalSamples} samples per interval, history ${settings.historySamples}, ` +
        `baseline ${settings.baselineSamples} (${settings.baselineMode}); plan ${STEP_PLAN.weights.join(' → ')} %, ≤ ${STEP_PLAN.maxRechecks} re-checks per step; TensorFlow.js on ${backend}`,
    ],
    panels,
  );
}

main().catch((error: unknown) => {
  note(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
