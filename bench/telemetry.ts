// `npm run bench:telemetry`: the prometheus telemetry source and the canary judge on real metrics —
// reference model servers (separate processes) scraped every second by a real Prometheus, with the
// load generator driving them (infra/telemetry-lab.ts: per cloud a stable and a canary instance,
// scraped every 0.5 s, so that a 30 s window holds 30 independent 1 s samples).
//
//  1. Fetch and judge one analysis interval, 3 clouds × 8 metrics: per round, for every cloud at
//     once, PrometheusTelemetrySource.collect (per metric a range query for canary, baseline and
//     history, plus the status summary's instant queries) and the release's canary judge (hard
//     limits, Mann-Whitney, the anomaly model fitted on the history) on those 8 metrics. Reported:
//     median and p95 of a round (the three clouds together), and of fetching and judging alone.
//  2. Fault onset to rollback decision, end to end: the full ReleaseWorkflow on a Temporal dev server
//     with the workers in this process (simulated cloud drivers, prometheus telemetry). Per fault kind
//     (latency +150 ms, 20 % errors, predictions drifted by +1.5 logits), one release per repeat; the
//     fault is switched on in every canary instance at a random moment of the pilot's first analysis
//     window. Reported per kind: analysis intervals from the onset to the failing verdict ((verdict
//     time − onset) / interval) and the number of analysis windows that ended after the onset up to
//     and including the failing one.
//
// Progress on stderr; the table with the machine and wall time on stdout, a chart in --out (default
// .data/bench/telemetry/bench-telemetry.svg); the last line of stdout is one JSON object with the
// figures. Flags: --rounds N (30), --interval S (analysis interval of part 2, 30), --repeats N (1),
// --rps N (requests per second per instance, 20), --warmup S (160: the window and two minutes of history), --skip-e2e, --json-only, --out DIR.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_JUDGE_CONFIG, type JudgeConfig } from '../activities/analysis/canary-judge.js';
import { createCanaryJudge } from '../activities/analysis/release-judge.js';
import { PrometheusTelemetrySource } from '../activities/telemetry/prometheus.js';
import { RELEASE_DEFAULTS, type CanarySettings, type CreateReleaseRequest } from '../domain/release.js';
import type { StepVerdict } from '../domain/status.js';
import type { Faults } from '../examples/model-server/config.js';
import { startTelemetryLab, type TelemetryLab } from '../infra/telemetry-lab.js';
import { tensorflow } from '../ml/tf.js';
import { DIGEST, eventually, TestEnvironment } from '../test/helpers/environment.js';
import { stepVerdicts } from '../test/helpers/verdicts.js';
import { cloudRolloutWorkflowId } from '../workflows/cloud-rollout.js';
import { signoffUpdate, statusQuery } from '../workflows/messages.js';
import {
  cpuModel,
  describeLoad,
  fixed,
  machineLoad,
  median,
  percentile,
  round,
  svgBarPanel,
  svgDocument,
  type Bar,
} from './report.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '30' },
    interval: { type: 'string', default: '30' },
    repeats: { type: 'string', default: '1' },
    rps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '160' },
    'skip-e2e': { type: 'boolean', default: false },
    'json-only': { type: 'boolean', default: false },
    out: { type: 'string', default: '.data/bench/telemetry' },
  },
});
const positive = (name: string, text: string | undefined): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number, got ${text}`);
    process.exit(2);
  }
  return value;
};
const rounds = Math.round(positive('rounds', values.rounds));
const interval = positive('interval', values.interval);
const repeats = Math.round(positive('repeats', values.repeats));
const rps = positive('rps', values.rps);
const warmup = positive('warmup', values.warmup);
const out = (line: string) => {
  if (!values['json-only']) console.log(line);
};
const started = performance.now();
const progress = (line: string) =>
  console.error(`[telemetry ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}`);

const CLOUDS = ['aws', 'azure', 'gcp'];
const MODEL = 'sepsis-risk';

/**
 * The judge of part 1: the defaults plus the other four metrics of the default queries. input_drift
 * is a slow gauge (a rolling window of the last 200 inputs, about 10 s here), so neighbouring samples
 * are far from independent: it gets a hard limit (a window mean one training sd away) and a loose
 * shift. request_rate is comparable here only because the lab sends each instance the same load.
 */
const EIGHT_METRICS: JudgeConfig = {
  ...DEFAULT_JUDGE_CONFIG,
  metrics: [
    ...DEFAULT_JUDGE_CONFIG.metrics,
    { name: 'latency_p50_ms', direction: 'increase-is-bad', allowedShift: 0.25 },
    { name: 'uncertain_rate', direction: 'increase-is-bad', allowedShift: 0.5 },
    { name: 'input_drift', direction: 'increase-is-bad', allowedShift: 1, hardMax: 1 },
    { name: 'request_rate', direction: 'either', allowedShift: 0.5 },
  ],
};

const load = await machineLoad();
const { backend } = await tensorflow();
const workDir = await mkdtemp(path.join(os.tmpdir(), 'medrelease-bench-telemetry-'));
let lab: TelemetryLab | undefined;
let env: TestEnvironment | undefined;
try {
  lab = await startTelemetryLab({
    dataDir: path.join(workDir, 'lab'),
    clouds: CLOUDS,
    model: MODEL,
    rpsPerInstance: rps,
    log: progress,
  });
  progress(`warming up for ${warmup} s so that the stable track has a history`);
  await delay(warmup * 1000);

  // ---- 1. fetch and judge one interval, 3 clouds × 8 metrics ---------------------------------------
  const settings: CanarySettings = {
    steps: [...RELEASE_DEFAULTS.steps],
    analysisIntervalSeconds: 30,
    maxErrorRate: RELEASE_DEFAULTS.maxErrorRate,
    maxLatencyP99Ms: RELEASE_DEFAULTS.maxLatencyP99Ms,
    maxLatencyRegression: RELEASE_DEFAULTS.maxLatencyRegression,
    judge: EIGHT_METRICS,
    telemetry: { historySeconds: Math.min(Math.max(warmup - 40, 0), 120) },
  };
  const sources = CLOUDS.map(
    (cloud) =>
      new PrometheusTelemetrySource({
        cloud,
        url: lab!.prometheus.url,
        scrapeIntervalSeconds: lab!.scrapeIntervalSeconds,
      }),
  );
  const judge = createCanaryJudge();
  const roundMs: number[] = [];
  const fetchMs: number[] = [];
  const judgeMs: number[] = [];
  const queries: number[] = [];
  const decisions: Record<string, number> = {};
  let scoredWindows = 0;
  for (let round = 0; round < rounds; round++) {
    const begin = performance.now();
    await Promise.all(
      CLOUDS.map(async (cloud, index) => {
        const t0 = performance.now();
        const window = await sources[index]!.collect({
          releaseId: 'bench',
          cloud,
          model: { name: MODEL, version: lab!.canaryVersion },
          stableVersion: lab!.stableVersion,
          step: 0,
          weight: 5,
          windowSeconds: settings.analysisIntervalSeconds,
          metrics: EIGHT_METRICS.metrics.map((metric) => metric.name),
          settings: settings.telemetry!,
        });
        const t1 = performance.now();
        const verdict = await judge.judge(window, settings);
        judgeMs.push(performance.now() - t1);
        fetchMs.push(t1 - t0);
        queries.push(window.telemetry?.queries.length ?? 0);
        decisions[verdict.decision ?? 'pass'] = (decisions[verdict.decision ?? 'pass'] ?? 0) + 1;
        if (verdict.reasons.some((reason) => reason.anomalies)) scoredWindows += 1;
      }),
    );
    roundMs.push(performance.now() - begin);
    if ((round + 1) % 10 === 0 || round + 1 === rounds) {
      progress(
        `fetch and judge: ${round + 1}/${rounds} rounds, median ${fixed(median(roundMs), 0)} ms per round of 3 clouds`,
      );
    }
  }

  // ---- 2. fault onset to rollback decision, end to end ---------------------------------------------
  const FAULTS: Array<{ kind: string; faults: Partial<Faults> }> = [
    { kind: 'latency +150 ms', faults: { latencyMs: 150, latencyJitterMs: 20 } },
    { kind: 'errors 20 %', faults: { errorRate: 0.2 } },
    { kind: 'prediction drift', faults: { drift: 1.5 } },
  ];
  const onsets: Array<{ kind: string; intervals: number; windows: number; metric: string; outcome: string }> =
    [];
  if (!values['skip-e2e']) {
    env = await TestEnvironment.create({ configOverrides: { clouds: lab.cloudConfigs() } });
    const workers = await env.startWorkers();
    try {
      await env.seedStable(MODEL, lab.stableVersion);
      let random = 0x2545f491;
      const uniform = () => {
        random = (Math.imul(random, 1103515245) + 12345) >>> 0;
        return random / 2 ** 32;
      };
      for (let repeat = 0; repeat < repeats; repeat++) {
        for (const fault of FAULTS) {
          const request: CreateReleaseRequest = {
            model: {
              name: MODEL,
              version: lab.canaryVersion,
              image: `registry.example/${MODEL}:${lab.canaryVersion}@${DIGEST}`,
            },
            clouds: CLOUDS,
            canary: { steps: [...RELEASE_DEFAULTS.steps], analysisIntervalSeconds: interval },
            signoff: { quorum: 2, deadlineSeconds: 120 },
            keepWarmSeconds: 0,
            activityTimeoutSeconds: 30,
          };
          const handle = await env.startRelease(request);
          await eventually(
            async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff',
            60_000,
            'sign-off',
          );
          for (const approver of [env.users.approverA, env.users.approverB]) {
            await handle.executeUpdate(signoffUpdate, {
              args: [
                {
                  approver: approver.person,
                  credential: approver.token,
                  decision: 'approve',
                  comment: 'bench',
                },
              ],
            });
          }
          await eventually(
            async () => (await handle.query(statusQuery)).clouds.aws?.state === 'canary',
            60_000,
            'canary',
          );
          await delay(uniform() * interval * 1000);
          await lab.setFaults('canary', fault.faults);
          const onset = Date.now();
          const status = await handle.result();
          await lab.setFaults('canary', {});
          const steps = await stepVerdicts(env.client, cloudRolloutWorkflowId(handle.workflowId, 'aws'));
          const failing = steps.find(
            (step: StepVerdict) => step.decision === 'fail' || (!step.passed && step === steps.at(-1)),
          );
          const decidedAt = failing ? Date.parse(failing.at) : Number.NaN;
          const windows = steps.filter(
            (step) => Date.parse(step.at) >= onset && Date.parse(step.at) <= decidedAt,
          ).length;
          const metric =
            failing?.verdicts[0]?.reasons.find((reason) => !reason.passed && reason.outcome === 'fail')
              ?.metric ?? '—';
          onsets.push({
            kind: fault.kind,
            intervals: round((decidedAt - onset) / 1000 / interval, 2),
            windows,
            metric,
            outcome: status.outcome ?? status.stage,
          });
          progress(
            `${fault.kind}: ${status.outcome} — decided ${fixed((decidedAt - onset) / 1000, 1)} s after the onset (${windows} window(s)), on ${metric}`,
          );
          // Let the canary's rate windows forget the fault before the next release.
          await delay(5_000);
        }
      }
    } finally {
      await workers.stop();
    }
  }

  // ---- report --------------------------------------------------------------------------------------
  const seconds = (performance.now() - started) / 1000;
  const figures = {
    round: { medianMs: round(median(roundMs), 1), p95Ms: round(percentile(roundMs, 95), 1) },
    fetch: { medianMs: round(median(fetchMs), 1), p95Ms: round(percentile(fetchMs, 95), 1) },
    judge: { medianMs: round(median(judgeMs), 1), p95Ms: round(percentile(judgeMs, 95), 1) },
  };
  out('');
  out(
    `machine: ${await cpuModel()}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
      `Node ${process.version}, TensorFlow.js on ${backend}`,
  );
  out(`machine load at start: ${describeLoad(load)}`);
  out(
    `lab: 3 clouds × (stable ${lab.stableVersion} + canary ${lab.canaryVersion}) model servers at ${rps} requests/s each, ` +
      `Prometheus scraping every ${lab.scrapeIntervalSeconds} s; ${median(queries)} queries per cloud and interval`,
  );
  out('');
  out(`fetch and judge one analysis interval, 3 clouds × 8 metrics, ${rounds} rounds (ms):`);
  out(`  ${'what'.padEnd(34)}${'median'.padStart(10)}${'p95'.padStart(10)}`);
  out(
    `  ${'round (3 clouds in parallel)'.padEnd(34)}${fixed(figures.round.medianMs, 1).padStart(10)}${fixed(figures.round.p95Ms, 1).padStart(10)}`,
  );
  out(
    `  ${'fetch, one cloud'.padEnd(34)}${fixed(figures.fetch.medianMs, 1).padStart(10)}${fixed(figures.fetch.p95Ms, 1).padStart(10)}`,
  );
  out(
    `  ${'judge, one cloud'.padEnd(34)}${fixed(figures.judge.medianMs, 1).padStart(10)}${fixed(figures.judge.p95Ms, 1).padStart(10)}`,
  );
  out(`  windows the anomaly model scored: ${scoredWindows} of ${rounds * CLOUDS.length}`);
  out(
    `  healthy windows judged: ${Object.entries(decisions)
      .map(([decision, count]) => `${count} ${decision}`)
      .join(', ')}`,
  );
  if (onsets.length > 0) {
    out('');
    out(
      `fault onset to rollback decision, end to end (analysis interval ${interval} s, steps ${RELEASE_DEFAULTS.steps.join(' → ')} %):`,
    );
    out(
      `  ${'fault'.padEnd(20)}${'outcome'.padEnd(14)}${'intervals'.padStart(10)}${'windows'.padStart(9)}  metric`,
    );
    for (const entry of onsets) {
      out(
        `  ${entry.kind.padEnd(20)}${entry.outcome.padEnd(14)}${fixed(entry.intervals, 2).padStart(10)}${String(entry.windows).padStart(9)}  ${entry.metric}`,
      );
    }
  }
  const meanIntervals =
    onsets.length > 0
      ? round(onsets.reduce((sum, entry) => sum + entry.intervals, 0) / onsets.length, 2)
      : null;
  if (meanIntervals !== null) out(`  mean: ${fixed(meanIntervals, 2)} intervals`);
  out('');
  out(`wall time ${fixed(seconds, 1)} s`);

  const outDir = path.resolve(values.out);
  await mkdir(outDir, { recursive: true });
  const bars: Bar[] = [
    { label: 'round of 3 clouds, median', value: figures.round.medianMs },
    { label: 'round of 3 clouds, p95', value: figures.round.p95Ms },
    { label: 'fetch one cloud, median', value: figures.fetch.medianMs },
    { label: 'judge one cloud, median', value: figures.judge.medianMs },
  ];
  const panels = [svgBarPanel('Fetch and judge one analysis interval (3 clouds × 8 metrics)', bars, 'ms')];
  if (onsets.length > 0) {
    panels.push(
      svgBarPanel(
        'Fault onset to rollback decision',
        onsets.map((entry) => ({
          label: entry.kind,
          value: entry.intervals,
          note: `${entry.windows} window(s), ${entry.metric}`,
        })),
        'intervals',
      ),
    );
  }
  await writeFile(
    path.join(outDir, 'bench-telemetry.svg'),
    svgDocument(
      'bench:telemetry — canary analysis on real metrics',
      [
        `${await cpuModel()}, ${os.availableParallelism()} cores; Prometheus scraping every ${lab.scrapeIntervalSeconds} s; TensorFlow.js on ${backend}`,
      ],
      panels,
    ),
  );
  out(`chart: ${path.join(outDir, 'bench-telemetry.svg')}`);
  console.log(
    JSON.stringify({
      fetchAndJudge: { clouds: 3, metrics: 8, rounds, ...figures, scoredWindows, decisions },
      onsetToDecision:
        onsets.length > 0 ? { intervalSeconds: interval, meanIntervals, releases: onsets } : null,
      backend,
      seconds: round(seconds, 1),
    }),
  );
} finally {
  await env?.close();
  await lab?.stop();
  await rm(workDir, { recursive: true, force: true });
}
