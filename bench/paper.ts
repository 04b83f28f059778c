// `npm run bench:paper -- --data <dir> --labels <combined_windows.json> --seed <n> --releases <n>`:
// this product against a traditional release pipeline on the same corpus of releases, measured on the
// figures of the paper the system was designed from (deployment time, security compliance, fault
// tolerance, static versus AI-driven provisioning). The paper gives no method; the definitions used
// here are in docs/paper-comparison.md and below, and every release is the same work for both.
//
// THE CORPUS (seeded). Each release goes to three clouds, aws first (the pilot), then azure and gcp
// together, as the release workflow runs them. For each release:
//  - its class: bad with probability --bad-share (default 0.2). A bad release is bad in every cloud:
//    each cloud's canary telemetry comes from its own canary-corpus release (bench/canary-corpus.ts,
//    real NAB series replayed as latency, with error rate and mean prediction synthesised) of one
//    fault kind — a labelled NAB anomaly, a latency step, an error spike, a slow drift, a prediction
//    shift or no data — and a good release's from three good corpus releases. The replay is time-
//    compressed: one series row per ROW_SECONDS (12.5 s), so a 10-minute analysis interval is 48 rows;
//  - a manifest: the compliant example, or (with probability --violation-share, default 0.2) the
//    example with one violation of the violation catalog (bench/compliance/cases/) drawn at random;
//  - what is known before its canary (SIMULATION, the risk model's inputs: no public data set of model
//    releases exists): which of MODEL_COUNT models it is, the model's validation change, the version
//    change and how many inputs besides the weights changed. Bad releases are somewhat more likely to
//    show warning signs, scaled by --risk-signal s in [0, 1] (default 1; 0 makes them uninformative):
//      validation drop  good: max(0, N(−0.5 %, 1 %));  bad: with probability 0.5·s a drop of U(1, 5) %,
//                       otherwise as good;
//      version change   good: patch 60 %, minor 30 %, major 10 %;  bad: patch 60−30s %, minor 30+10s %,
//                       major 10+20s %;
//      inputs changed   good: 0 (60 %), 1 (30 %), 2 (10 %);  bad: 0 (60−30s %), 1 (30 %), 2 (10+20s %),
//                       3 (10s %);
//      model            model m has a latent share of bad releases p_m from 0.1 to 0.5; a bad release
//                       is of model m with probability ∝ p_m^s, a good one ∝ (1 − p_m)^s.
//    The rest of the features are measured: the compliance report's score and findings, the model's
//    and each cloud's failure rates from the outcomes the product itself observed so far (the
//    ReleaseOutcomes of ml/risk/history.ts fed the records the release workflow writes), and the
//    traffic level of the three clouds' request-rate series at the release's moment.
//
// THE TRADITIONAL PIPELINE. Staging with a smoke test (STAGING_MINUTES), the compliance checks a
// typical CI pipeline has — an image vulnerability scan and a tag check (SCAN_MINUTES): it catches a
// violation only of the controls TRADITIONAL_CONTROLS (K8S-NO-LATEST-TAG and the SBOM/vulnerability
// control), and catches those always — then a fixed canary plan of four 10-minute steps (5, 25, 50,
// 100 %) per wave judged by static thresholds (thresholdJudge of canary-corpus.ts: limits set once
// per release from the stable version's history, as an operator sets them from a dashboard, plus the
// same hard limits), and static provisioning (replicas for the peak seen in the warm-up × 1.2).
//
// THIS PRODUCT. The same staging; the same scan (SCAN_MINUTES: its SBOM and vulnerability results are
// evidence the gate reads) and the compliance gate with the shipped policy packs (evaluateRelease,
// timed); the risk model (ml/risk/model.ts, from its prior, refitted every REFIT_EVERY outcomes from
// the outcomes it observed) choosing the canary plan within the default pacing policy
// (domain/pacing.ts) from a 10-minute base interval — the pilot's plan for the predicted risk, the
// second wave's for the risk once the pilot has passed (riskAfterPilot), or the policy --pacing gives (JSON,
// as the configuration's `pacing`); each interval looked at the policy's `looks`
// times with early conclusion only on decisive evidence (activities/analysis/early.ts, the rule the
// lookAtCanary activity applies); the release judge (hard limits, Mann-Whitney with the shift, the
// anomaly model's scores, marginal verdicts re-checked on fresh data up to twice), as bench:canary
// runs it; and predictive provisioning (ml/forecast: the TensorFlow.js forecaster's peak forecast,
// never below what the current load needs), with the reactive (HPA) policy reported as the baseline.
//
// MEASURED (simulated minutes; the sign-off is a person's decision and is excluded from both):
//  - deployment time: mean over good releases with a compliant manifest that both pipelines completed,
//    from staging to promotion (staging + compliance + the pilot's canary + the slower of the second
//    wave's + PROMOTE_MINUTES);
//  - fault tolerance: over bad releases with a compliant manifest, the share rolled back before any
//    cloud's canary reached 100 % of its traffic; and before any exceeded 25 %;
//  - security compliance: the share of injected violations caught before deployment: the violated
//    control reported as failing (a failed blocker or major blocks the release; a failed minor is a
//    finding on the record that raises the release's risk, and the release goes on);
//  - false rollbacks: the share of good releases with a compliant manifest rolled back;
//  - scaling: per cloud a real request-rate series (ELB request count, two EC2 network-in series),
//    after a warm-up of 30 % of the series, as bench:scaling runs them (bench/provisioning-comparison.ts):
//    under-provisioned minutes (load above the replicas' capacity) and replica-minutes.
// Progress on stderr; the table, the machine and the wall time on stdout; the chart to --chart
// (default docs/images/bench-paper.svg) and the per-release outcomes to --out; the last stdout line is
// one JSON object with both columns.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { judgeCanary, type JudgeConfig } from '../activities/analysis/canary-judge.js';
import { earlyLook } from '../activities/analysis/early.js';
import { evaluateRelease } from '../activities/compliance/evaluate.js';
import { seededRandom } from '../activities/telemetry/simulated.js';
import { FailureCode } from '../domain/errors.js';
import {
  pacingPolicy,
  pacingPolicyProblems,
  wavePlans,
  type CanaryPlan,
  type PacingPolicyInput,
} from '../domain/pacing.js';
import { RELEASE_DEFAULTS } from '../domain/release.js';
import { CANARY_SCORER_DEFAULTS, scoreCanarySeries } from '../ml/canary-scorer.js';
import { trafficLoad } from '../ml/risk/features.js';
import { ReleaseOutcomes, type HistoryRecord } from '../ml/risk/history.js';
import { RiskModel, type RiskFeatures } from '../ml/risk/model.js';
import { shippedBundle } from '../test/compliance/harness.js';
import {
  BENCH_JUDGE_CONFIG,
  DEFAULT_CORPUS_SETTINGS,
  buildCorpus,
  thresholdJudge,
  thresholdRules,
  type CanaryRelease,
  type CorpusSettings,
  type MetricName,
  type ReleaseKind,
  type Track,
} from './canary-corpus.js';
import { build, loadCases } from './compliance/catalog.js';
import type { ComplianceCase } from './compliance/cases/types.js';
import { loadSources } from './nab-sources.js';
import { comparePolicies, type PolicyComparison } from './provisioning-comparison.js';
import { cpuModel, describeLoad, fixed, machineLoad, svgBarPanel, svgDocument, type Bar } from './report.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    labels: { type: 'string' },
    seed: { type: 'string', default: '1' },
    releases: { type: 'string', default: '300' },
    'bad-share': { type: 'string', default: '0.2' },
    'violation-share': { type: 'string', default: '0.2' },
    'risk-signal': { type: 'string', default: '1' },
    pacing: { type: 'string' },
    out: { type: 'string', default: '.data/bench/paper' },
    chart: { type: 'string', default: 'docs/images/bench-paper.svg' },
    'json-only': { type: 'boolean', default: false },
  },
});

const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
const note = (line: string) => process.stderr.write(`[paper ${elapsed().toFixed(0).padStart(5)}s] ${line}\n`);
const out = (line = '') => {
  if (!values['json-only']) console.log(line);
};

// ---- the simulated world ----------------------------------------------------------------------------

/** Seconds of replayed telemetry per series row. */
const ROW_SECONDS = 12.5;
const rowsFor = (seconds: number) => Math.max(1, Math.round(seconds / ROW_SECONDS));
const STAGING_MINUTES = 5;
const SCAN_MINUTES = 3;
const PROMOTE_MINUTES = 1;
const BASE_INTERVAL_SECONDS = 600;
const TRADITIONAL_PLAN: CanaryPlan = {
  steps: [5, 25, 50, 100],
  analysisIntervalSeconds: 600,
  looks: 1,
  earliestLook: 1,
};
const TRADITIONAL_CONTROLS = new Set(['K8S-NO-LATEST-TAG', 'FDA-FDCA-524B(b)(3)-SBOM-VULN']);
const WAVES = [['aws'], ['azure', 'gcp']] as const;
const CLOUDS = ['aws', 'azure', 'gcp'] as const;
type Cloud = (typeof CLOUDS)[number];
/** Each cloud's request-rate series (NAB realAWSCloudwatch). */
const LOAD_SERIES: Record<Cloud, string> = {
  aws: 'realAWSCloudwatch/elb_request_count_8c0756.csv',
  azure: 'realAWSCloudwatch/ec2_network_in_257a54.csv',
  gcp: 'realAWSCloudwatch/ec2_network_in_5abac7.csv',
};
const MODEL_COUNT = 8;
const REFIT_EVERY = 20;
/** A week of 5-minute samples: the first release's moment in the load series (its traffic level needs a day before it). */
const WARMUP_SAMPLES = 2016;
/** Canary data per cloud release: enough for the most careful plan and its re-checks. */
const CANARY_UNITS = 40;
const SCORED_METRICS: readonly MetricName[] = ['error_rate', 'latency_p99_ms', 'prediction_mean'];

const CORPUS: CorpusSettings = { ...DEFAULT_CORPUS_SETTINGS, canaryIntervals: CANARY_UNITS };

interface CloudRun {
  /** Canary minutes this cloud took (until its rollback, or through its last step). */
  minutes: number;
  rolledBack: boolean;
  /** Weight of the step it was rolled back at. */
  failedWeight?: number;
  /** Analysis intervals concluded early, and intervals judged. */
  early: number;
  intervals: number;
  /** The canary ran out of replayed telemetry (its remaining steps passed unjudged). */
  outOfData: boolean;
  reason?: string;
}

interface PipelineRun {
  blocked: boolean;
  /** The pipeline reported the release's injected violation (blocking it, or as a finding). */
  flagged: boolean;
  rolledBack: boolean;
  /** Highest canary weight any cloud reached before the end. */
  maxWeight: number;
  minutes: number;
  clouds: Partial<Record<Cloud, CloudRun>>;
  failedCloud?: Cloud;
}

// ---- the canary of one cloud ------------------------------------------------------------------------

/** The replayed samples of one canary, rows [from, to), with the baseline at the same time of day. */
function windowOf(release: CanaryRelease, from: number, to: number): { canary: Track; baseline: Track } {
  const slice = (track: Track, map: (values: number[]) => number[]): Track => ({
    error_rate: map(track.error_rate),
    latency_p99_ms: map(track.latency_p99_ms),
    prediction_mean: map(track.prediction_mean),
    restarts: map(track.restarts),
  });
  const period = release.period ?? CORPUS.historySamples;
  const length = to - from;
  const size = Math.min(period, Math.max(CORPUS.baselineSamples, 2 * length));
  const first = release.gap + from - Math.floor((size - length) / 2);
  const H = CORPUS.historySamples;
  const rows = Array.from(
    { length: size },
    (_, j) => H - period + ((((first + j) % period) + period) % period),
  );
  return {
    canary: slice(release.canary, (values) => values.slice(from, to)),
    baseline: slice(release.history, (values) => rows.map((row) => values[row]!)),
  };
}

/** This product's canary in one cloud: the plan's steps, looks, early conclusion and re-checks. */
function runMedrelease(
  release: CanaryRelease,
  plan: CanaryPlan,
  config: JudgeConfig,
  scores: Record<string, number[]>,
): CloudRun {
  const rows = rowsFor(plan.analysisIntervalSeconds);
  const available = release.canary.latency_p99_ms.length || CORPUS.canaryIntervals * CORPUS.intervalSamples;
  const run: CloudRun = { minutes: 0, rolledBack: false, early: 0, intervals: 0, outOfData: false };
  let cursor = 0;
  const maxRechecks = RELEASE_DEFAULTS.marginalRechecks;
  for (const weight of plan.steps) {
    for (let recheck = 0; recheck <= maxRechecks; recheck++) {
      if (cursor + rows > available) {
        // Out of replayed telemetry: the rest of the plan passes unjudged, at its full duration.
        run.outOfData = true;
        const remaining = plan.steps.length - plan.steps.indexOf(weight);
        run.minutes += (remaining * plan.analysisIntervalSeconds) / 60;
        return run;
      }
      const judge = (to: number) => {
        const { canary, baseline } = windowOf(release, cursor, to);
        const anomalyScores = Object.fromEntries(
          Object.entries(scores).map(([metric, list]) => [metric, list.slice(cursor, to)]),
        );
        return {
          canary,
          baseline,
          judgement: judgeCanary({ canary, baseline, anomalyScores, recheck }, config),
        };
      };
      let decision: 'pass' | 'marginal' | 'fail' | undefined;
      let summary = '';
      let used = rows;
      for (let look = 1; look < plan.looks; look++) {
        if (look / plan.looks < plan.earliestLook - 1e-9) continue;
        const to = cursor + Math.round((rows * look) / plan.looks);
        const { canary, baseline, judgement } = judge(to);
        const early = earlyLook({
          baseline,
          canary,
          config,
          plannedSamples: rows,
          judgeDecision: judgement.decision,
          hardLimitBroken: judgement.metrics.some(
            (metric) => metric.outcome === 'fail' && metric.rule === 'hard-limit',
          ),
        });
        if (early.conclusion) {
          decision = judgement.decision;
          summary = early.look.summary;
          used = to - cursor;
          run.early += 1;
          break;
        }
      }
      if (!decision) {
        const { judgement } = judge(cursor + rows);
        decision = judgement.decision;
        summary = judgement.summary;
      }
      run.intervals += 1;
      run.minutes += (used * ROW_SECONDS) / 60;
      cursor += used;
      if (decision === 'pass') break;
      if (decision === 'fail' || recheck === maxRechecks) {
        return { ...run, rolledBack: true, failedWeight: weight, reason: summary };
      }
    }
  }
  return run;
}

/** The traditional canary in one cloud: four 10-minute steps against static thresholds. */
function runTraditional(release: CanaryRelease, config: JudgeConfig): CloudRun {
  const rows = rowsFor(TRADITIONAL_PLAN.analysisIntervalSeconds);
  const rules = thresholdRules(release.history, config, rows);
  const run: CloudRun = { minutes: 0, rolledBack: false, early: 0, intervals: 0, outOfData: false };
  TRADITIONAL_PLAN.steps.forEach((weight, index) => {
    if (run.rolledBack) return;
    const { canary } = windowOf(release, index * rows, (index + 1) * rows);
    const verdict = thresholdJudge(canary, rules);
    run.intervals += 1;
    run.minutes += TRADITIONAL_PLAN.analysisIntervalSeconds / 60;
    if (verdict.decision === 'fail')
      Object.assign(run, { rolledBack: true, failedWeight: weight, reason: verdict.summary });
  });
  return run;
}

/** The waves: the pilot first; the second wave's clouds together, the first failure stopping both. */
function runWaves(
  runCloud: (cloud: Cloud) => CloudRun,
): Omit<PipelineRun, 'blocked' | 'flagged' | 'minutes'> & { canaryMinutes: number } {
  const clouds: Partial<Record<Cloud, CloudRun>> = {};
  let canaryMinutes = 0;
  let maxWeight = 0;
  for (const wave of WAVES) {
    const runs = wave.map((cloud) => [cloud, runCloud(cloud)] as const);
    for (const [cloud, run] of runs) clouds[cloud] = run;
    const failed = runs.filter(([, run]) => run.rolledBack).sort(([, a], [, b]) => a.minutes - b.minutes)[0];
    if (failed) {
      canaryMinutes += failed[1].minutes;
      // The siblings reached what they reached by then; a failed cloud's failing step counts.
      maxWeight = Math.max(maxWeight, failed[1].failedWeight ?? 0);
      return { rolledBack: true, maxWeight, clouds, failedCloud: failed[0], canaryMinutes };
    }
    canaryMinutes += Math.max(...runs.map(([, run]) => run.minutes));
    maxWeight = 100;
  }
  return { rolledBack: false, maxWeight, clouds, canaryMinutes };
}

// ---- the corpus -------------------------------------------------------------------------------------

interface ReleaseCase {
  id: number;
  bad: boolean;
  kind: ReleaseKind;
  canaries: Record<Cloud, CanaryRelease>;
  violation?: ComplianceCase;
  model: number;
  context: Pick<RiskFeatures, 'validationDrop' | 'versionChange' | 'artifactChanges'>;
  /** Row of the load series at the release's moment. */
  at: number;
}

function drawContext(
  bad: boolean,
  signal: number,
  random: () => number,
): ReleaseCase['context'] & { model: number } {
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
  const pick = (weights: number[]) => {
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    let draw = random() * total;
    for (const [index, weight] of weights.entries()) {
      draw -= weight;
      if (draw < 0) return index;
    }
    return weights.length - 1;
  };
  const warning = bad && random() < 0.5 * signal;
  const validationDrop = warning ? 0.01 + random() * 0.04 : Math.max(0, -0.005 + 0.01 * normal());
  const versionChange = [0, 0.5, 1][
    pick(bad ? [0.6 - 0.3 * signal, 0.3 + 0.1 * signal, 0.1 + 0.2 * signal] : [0.6, 0.3, 0.1])
  ]!;
  const artifactChanges = pick(
    bad ? [0.6 - 0.3 * signal, 0.3, 0.1 + 0.2 * signal, 0.1 * signal] : [0.6, 0.3, 0.1, 0],
  );
  const propensity = (m: number) => 0.1 + (0.4 * m) / (MODEL_COUNT - 1);
  const model = pick(
    Array.from({ length: MODEL_COUNT }, (_, m) => Math.pow(bad ? propensity(m) : 1 - propensity(m), signal)),
  );
  return {
    validationDrop: Math.round(validationDrop * 10_000) / 10_000,
    versionChange,
    artifactChanges,
    model,
  };
}

// ---- scaling ----------------------------------------------------------------------------------------

/** Share of each request-rate series that trains the policies and is not scored (as bench:scaling). */
const SCALING_WARMUP_SHARE = 0.3;

function scalingOf(series: readonly number[]): Promise<PolicyComparison> {
  return comparePolicies(series, {
    stepMinutes: 5,
    warmupSamples: Math.floor(series.length * SCALING_WARMUP_SHARE),
  });
}

// ---- main -------------------------------------------------------------------------------------------

function usage(problem: string): never {
  process.stderr.write(
    `${problem}\nusage: npm run bench:paper -- --data <nab data dir> --labels <combined_windows.json> [--seed 1] [--releases 300] ` +
      `[--bad-share 0.2] [--violation-share 0.2] [--risk-signal 1] [--pacing JSON] [--out DIR] [--chart FILE] [--json-only]\n`,
  );
  process.exit(2);
}

function numberFlag(name: string, text: string, low: number, high: number, integer = false): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < low || value > high || (integer && !Number.isInteger(value)))
    usage(`--${name}: must be ${integer ? 'an integer' : 'a number'} in [${low}, ${high}] (got '${text}')`);
  return value;
}

async function readLoadSeries(dataDir: string, file: string): Promise<number[]> {
  const text = await readFile(path.join(dataDir, file), 'utf8').catch((error: unknown) =>
    usage(
      `--data: ${file} cannot be read (${(error as Error).message}): the request-rate series are needed for the scaling figures`,
    ),
  );
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => Number(line.split(',')[1]))
    .filter((value) => Number.isFinite(value));
}

const mean = (list: readonly number[]) =>
  list.length === 0 ? Number.NaN : list.reduce((sum, value) => sum + value, 0) / list.length;
const share = (list: readonly boolean[]) =>
  list.length === 0 ? Number.NaN : list.filter(Boolean).length / list.length;
const percent = (value: number) => (Number.isFinite(value) ? `${(value * 100).toFixed(1)} %` : 'n/a');
const round4 = (value: number) => (Number.isFinite(value) ? Math.round(value * 10_000) / 10_000 : null);

async function main(): Promise<void> {
  if (!values.data) usage('--data is required');
  if (!values.labels) usage('--labels is required');
  const seed = numberFlag('seed', values.seed, 0, 2 ** 31, true);
  const count = numberFlag('releases', values.releases, 1, 100_000, true);
  const badShare = numberFlag('bad-share', values['bad-share'], 0, 1);
  const violationShare = numberFlag('violation-share', values['violation-share'], 0, 1);
  const signal = numberFlag('risk-signal', values['risk-signal'], 0, 1);
  // The pacing policy: the product's defaults, or a deployment's (--pacing, as the configuration's `pacing`).
  let policy = pacingPolicy();
  if (values.pacing) {
    try {
      policy = pacingPolicy(JSON.parse(values.pacing) as PacingPolicyInput);
    } catch (error) {
      usage(`--pacing: ${(error as Error).message}`);
    }
    const problems = pacingPolicyProblems(policy);
    if (problems.length > 0) usage(`--pacing: ${problems.join('; ')}`);
  }
  const load = await machineLoad();
  const { tensorflow } = await import('../ml/tf.js');
  const { backend } = await tensorflow({ log: note });

  // The corpus.
  const { sources } = await loadSources(values.data, values.labels);
  const random = seededRandom(`bench:paper|${seed}`);
  const classes = Array.from({ length: count }, () => random() < badShare);
  const badCount = classes.filter(Boolean).length;
  note(
    `building canary telemetry for ${count} releases × 3 clouds (${badCount} bad) from ${sources.length} NAB series`,
  );
  const goods = buildCorpus(sources, Math.max(1, (count - badCount) * 3), seed, { ...CORPUS, goodShare: 1 });
  const bads =
    badCount > 0 ? buildCorpus(sources, badCount * 3 * 2, seed + 1, { ...CORPUS, goodShare: 0 }) : [];
  // Bad corpus releases grouped by fault kind: a bad release is one kind of bad in all three clouds.
  const byKind = new Map<ReleaseKind, CanaryRelease[]>();
  for (const release of bads) byKind.set(release.kind, [...(byKind.get(release.kind) ?? []), release]);
  const kinds = [...byKind.keys()].sort();
  const used = new Map<ReleaseKind, number>();
  const cases = (await loadCases()).filter((entry) => entry.kind === 'violation');
  const loadSeries = Object.fromEntries(
    await Promise.all(
      CLOUDS.map(async (cloud) => [cloud, await readLoadSeries(values.data!, LOAD_SERIES[cloud])] as const),
    ),
  ) as Record<Cloud, number[]>;
  const span = Math.min(...CLOUDS.map((cloud) => loadSeries[cloud].length)) - WARMUP_SAMPLES - 1;
  const releases: ReleaseCase[] = [];
  let good = 0;
  for (let id = 0; id < count; id++) {
    const bad = classes[id]!;
    let canaries: Record<Cloud, CanaryRelease>;
    let kind: ReleaseKind = 'good';
    if (bad) {
      kind = kinds[Math.floor(random() * kinds.length)]!;
      const pool = byKind.get(kind)!;
      // Each corpus release of the kind once, in turn (reused only if the kind runs out).
      const next = () => {
        const index = used.get(kind) ?? 0;
        used.set(kind, index + 1);
        return pool[index % pool.length]!;
      };
      canaries = Object.fromEntries(CLOUDS.map((cloud) => [cloud, next()])) as Record<Cloud, CanaryRelease>;
    } else {
      canaries = Object.fromEntries(
        CLOUDS.map((cloud, index) => [cloud, goods[good * 3 + index]!]),
      ) as Record<Cloud, CanaryRelease>;
      good += 1;
    }
    // Its own stream: the corpus is the same whatever --risk-signal is.
    const { model, ...context } = drawContext(bad, signal, seededRandom(`bench:paper|${seed}|context|${id}`));
    const violation = random() < violationShare ? cases[Math.floor(random() * cases.length)] : undefined;
    releases.push({
      id,
      bad,
      kind,
      canaries,
      ...(violation ? { violation } : {}),
      model,
      context,
      at: WARMUP_SAMPLES + Math.floor((id * span) / count),
    });
  }

  // The compliance gate on every distinct manifest (timed), and the traditional checks.
  const gate = new Map<
    string,
    { caught: boolean; blocked: boolean; score: number; findings: number; ms: number }
  >();
  const manifestOf = async (violation: ComplianceCase | undefined) => {
    const key = violation ? `${violation.control}|${violation.name}` : 'compliant';
    let entry = gate.get(key);
    if (!entry) {
      const sample = await build(violation ? [violation] : [], key, !violation);
      const began = performance.now();
      const report = evaluateRelease(sample.manifest, shippedBundle(), sample.context);
      const ms = performance.now() - began;
      const findings = report.controls.filter(
        (control) =>
          (control.status === 'fail' || control.status === 'error') && control.severity === 'minor',
      ).length;
      // Caught: the gate reports the violated control as not passing (as bench:compliance's recall
      // counts it). A failed blocker or major blocks the release; a failed minor is a finding on the
      // record (and raises the release's risk) while the release goes on.
      const control = violation ? report.controls.find((entry) => entry.id === violation.control) : undefined;
      entry = {
        caught: control !== undefined && control.status !== 'pass',
        blocked: report.decision === 'blocked',
        score: report.score,
        findings,
        ms,
      };
      gate.set(key, entry);
    }
    return entry;
  };

  // Both pipelines, release by release; the risk model learns from what this product observed.
  const config = BENCH_JUDGE_CONFIG;
  const outcomes = new ReleaseOutcomes();
  let seq = 0;
  let model = RiskModel.prior();
  let fittedOn = 0;
  const results: { traditional: PipelineRun; medrelease: PipelineRun; risk: number; plan: CanaryPlan }[] = [];
  const scoringStarted = performance.now();
  for (const release of releases) {
    const gateResult = await manifestOf(release.violation);
    const traditionalCatches =
      release.violation !== undefined && TRADITIONAL_CONTROLS.has(release.violation.control);
    // Traditional.
    const traditional: PipelineRun = traditionalCatches
      ? {
          blocked: true,
          flagged: true,
          rolledBack: false,
          maxWeight: 0,
          minutes: STAGING_MINUTES + SCAN_MINUTES,
          clouds: {},
        }
      : (() => {
          const waves = runWaves((cloud) => runTraditional(release.canaries[cloud], config));
          return {
            blocked: false,
            flagged: false,
            rolledBack: waves.rolledBack,
            maxWeight: waves.maxWeight,
            clouds: waves.clouds,
            ...(waves.failedCloud ? { failedCloud: waves.failedCloud } : {}),
            minutes:
              STAGING_MINUTES + SCAN_MINUTES + waves.canaryMinutes + (waves.rolledBack ? 0 : PROMOTE_MINUTES),
          };
        })();
    // This product: risk, plan, canary.
    const features: RiskFeatures = {
      ...release.context,
      complianceDeficit: Math.max(0, Math.min(1, (100 - gateResult.score) / 100)),
      complianceFindings: Math.min(10, gateResult.findings),
      modelFailureRate: outcomes.modelFailureRate(`model-${release.model}`),
      cloudFailureRate: Math.max(...CLOUDS.map((cloud) => outcomes.cloudFailureRate(cloud))),
      trafficLoad: trafficLoad(
        Object.fromEntries(
          CLOUDS.map((cloud) => [cloud, loadSeries[cloud].slice(release.at - 288, release.at + 1)]),
        ),
      ),
    };
    const prediction = model.predict(features);
    const plans = wavePlans(prediction.probability, BASE_INTERVAL_SECONDS, policy);
    const plan = plans.pilot.plan;
    let medrelease: PipelineRun;
    if (gateResult.blocked) {
      medrelease = {
        blocked: true,
        flagged: gateResult.caught,
        rolledBack: false,
        maxWeight: 0,
        minutes: STAGING_MINUTES + SCAN_MINUTES + gateResult.ms / 60_000,
        clouds: {},
      };
    } else {
      const scores: Partial<Record<Cloud, Record<string, number[]>>> = {};
      for (const cloud of CLOUDS) {
        const canary = release.canaries[cloud];
        const perMetric: Record<string, number[]> = {};
        for (const metric of SCORED_METRICS) {
          if (canary.canary[metric].length === 0) continue;
          const scored = await scoreCanarySeries(
            canary.history[metric],
            canary.canary[metric],
            CANARY_SCORER_DEFAULTS,
          );
          if (scored) perMetric[metric] = scored;
        }
        scores[cloud] = perMetric;
      }
      const waves = runWaves((cloud) =>
        runMedrelease(
          release.canaries[cloud],
          cloud === 'aws' ? plan : plans.later.plan,
          config,
          scores[cloud]!,
        ),
      );
      medrelease = {
        blocked: false,
        flagged: gateResult.caught,
        rolledBack: waves.rolledBack,
        maxWeight: waves.maxWeight,
        clouds: waves.clouds,
        ...(waves.failedCloud ? { failedCloud: waves.failedCloud } : {}),
        minutes:
          STAGING_MINUTES +
          SCAN_MINUTES +
          gateResult.ms / 60_000 +
          waves.canaryMinutes +
          (waves.rolledBack ? 0 : PROMOTE_MINUTES),
      };
      // What the release workflow writes on the audit trail, as the risk model's history reads it.
      const releaseId = `paper-${release.id}`;
      const at = new Date(Date.UTC(2026, 0, 1) + release.id * 60_000).toISOString();
      const records: HistoryRecord[] = [
        {
          seq: ++seq,
          releaseId,
          type: 'release.created',
          at,
          detail: { model: { name: `model-${release.model}` }, clouds: [...CLOUDS] },
        },
        { seq: ++seq, releaseId, type: 'risk.assessed', at, detail: { features } },
        medrelease.rolledBack
          ? {
              seq: ++seq,
              releaseId,
              type: 'release.rolled-back',
              at,
              detail: {
                code: FailureCode.CanaryVerdictFailed,
                message: `canary in ${medrelease.failedCloud} failed`,
              },
            }
          : { seq: ++seq, releaseId, type: 'release.completed', at, detail: {} },
      ];
      outcomes.apply(records);
      const examples = outcomes.examples();
      if (examples.length - fittedOn >= REFIT_EVERY) {
        model = await RiskModel.train(examples);
        fittedOn = examples.length;
      }
    }
    results.push({ traditional, medrelease, risk: prediction.probability, plan });
    if ((release.id + 1) % 25 === 0 || release.id + 1 === count)
      note(
        `${release.id + 1}/${count} releases; risk model: ${model.info.source} on ${model.info.trainedOn} outcomes`,
      );
  }
  const releaseSeconds = (performance.now() - scoringStarted) / 1000;

  note('scaling: static, reactive and predictive provisioning over the three request-rate series');
  const scaling = {} as Record<Cloud, PolicyComparison['scores']>;
  for (const cloud of CLOUDS) {
    scaling[cloud] = (await scalingOf(loadSeries[cloud])).scores;
    note(`  ${cloud} (${LOAD_SERIES[cloud]}) done`);
  }
  const scalingTotal = (policy: keyof PolicyComparison['scores']) => ({
    underProvisionedMinutes: CLOUDS.reduce(
      (sum, cloud) => sum + scaling[cloud][policy].underProvisionedMinutes,
      0,
    ),
    replicaMinutes: CLOUDS.reduce((sum, cloud) => sum + scaling[cloud][policy].replicaMinutes, 0),
  });

  // ---- the figures ----------------------------------------------------------------------------------
  const column = (pipeline: 'traditional' | 'medrelease') => {
    const runs = results.map((result) => result[pipeline]);
    const compliantGood = releases.flatMap((release, index) =>
      !release.bad && !release.violation ? [runs[index]!] : [],
    );
    const compliantBad = releases.flatMap((release, index) =>
      release.bad && !release.violation ? [runs[index]!] : [],
    );
    const violations = releases.flatMap((release, index) => (release.violation ? [runs[index]!] : []));
    // Deployment time over the same releases in both columns: those both pipelines completed.
    const completed = releases.flatMap((release, index) => {
      const both = [results[index]!.traditional, results[index]!.medrelease];
      return !release.bad && !release.violation && both.every((run) => !run.blocked && !run.rolledBack)
        ? [runs[index]!]
        : [];
    });
    const runsOf = (list: PipelineRun[]) => list.flatMap((run) => Object.values(run.clouds));
    return {
      deploymentMinutes: mean(completed.map((run) => run.minutes)),
      faultTolerance: share(
        compliantBad.map((run) => run.blocked || (run.rolledBack && run.maxWeight < 100)),
      ),
      stoppedBefore25: share(
        compliantBad.map((run) => run.blocked || (run.rolledBack && run.maxWeight <= 25)),
      ),
      complianceCaught: share(violations.map((run) => run.flagged)),
      falseRollbackRate: share(compliantGood.map((run) => run.rolledBack)),
      earlyConclusions: share(
        runsOf(runs).flatMap((run) =>
          Array<boolean>(run.intervals)
            .fill(false)
            .map((_, index) => index < run.early),
        ),
      ),
      outOfData: runsOf(runs).filter((run) => run.outOfData).length,
      counts: { good: compliantGood.length, bad: compliantBad.length, violations: violations.length },
    };
  };
  const traditional = { ...column('traditional'), ...scalingTotal('static') };
  const medrelease = { ...column('medrelease'), ...scalingTotal('predictive') };
  const reactive = scalingTotal('reactive');
  const seconds = elapsed();

  const risks = results.map((result) => result.risk);
  const planSteps = results.map((result) => result.plan.steps.length);
  out(
    `machine: ${await cpuModel()}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, TensorFlow.js on ${backend}`,
  );
  out(`machine load at start: ${describeLoad(load)}`);
  out(
    `corpus: ${count} releases × 3 clouds, seed ${seed}: ${badCount} bad (kinds ${kinds.join(', ')}), ` +
      `${releases.filter((release) => release.violation).length} with an injected violation; risk signal ${signal}; ` +
      `${traditional.counts.good} good and ${traditional.counts.bad} bad with compliant manifests`,
  );
  out(
    `risk model: ${model.info.source} on ${model.info.trainedOn} outcomes at the end; predicted risk mean ${percent(mean(risks))}, ` +
      `plans of ${Math.min(...planSteps)}–${Math.max(...planSteps)} steps (mean ${fixed(mean(planSteps), 1)})`,
  );
  out();
  const row = (label: string, left: string, right: string) =>
    out(`  ${label.padEnd(52)}${left.padStart(14)}${right.padStart(14)}`);
  row('', 'traditional', 'medrelease');
  row(
    `mean deployment time of good releases, min`,
    fixed(traditional.deploymentMinutes, 1),
    fixed(medrelease.deploymentMinutes, 1),
  );
  row(
    `fault tolerance: bad stopped before full traffic`,
    percent(traditional.faultTolerance),
    percent(medrelease.faultTolerance),
  );
  row(
    `  bad stopped at a step of at most 25 %`,
    percent(traditional.stoppedBefore25),
    percent(medrelease.stoppedBefore25),
  );
  row(
    `security compliance: injected violations caught`,
    percent(traditional.complianceCaught),
    percent(medrelease.complianceCaught),
  );
  row(
    `false rollbacks (good releases rolled back)`,
    percent(traditional.falseRollbackRate),
    percent(medrelease.falseRollbackRate),
  );
  row(
    `under-provisioned minutes (static | predictive)`,
    fixed(traditional.underProvisionedMinutes, 0),
    fixed(medrelease.underProvisionedMinutes, 0),
  );
  row(
    `replica-minutes (static | predictive)`,
    fixed(traditional.replicaMinutes, 0),
    fixed(medrelease.replicaMinutes, 0),
  );
  row(
    `  reactive (HPA) baseline: under-provisioned | replica-min`,
    fixed(reactive.underProvisionedMinutes, 0),
    fixed(reactive.replicaMinutes, 0),
  );
  row(
    `analysis intervals concluded early`,
    percent(traditional.earlyConclusions),
    percent(medrelease.earlyConclusions),
  );
  out();
  const goals = {
    deploymentTimeHalved: medrelease.deploymentMinutes <= traditional.deploymentMinutes / 2,
    faultTolerance99: medrelease.faultTolerance >= 0.99,
    compliance100: medrelease.complianceCaught >= 1,
    scalingBeatsReactive:
      medrelease.underProvisionedMinutes < reactive.underProvisionedMinutes &&
      medrelease.replicaMinutes <= reactive.replicaMinutes,
    falseRollbacksNoWorse: medrelease.falseRollbackRate <= traditional.falseRollbackRate,
  };
  out(
    `goals: ${Object.entries(goals)
      .map(([goal, met]) => `${goal} ${met ? 'met' : 'NOT met'}`)
      .join(', ')}`,
  );
  const outOfData = traditional.outOfData + medrelease.outOfData;
  if (outOfData > 0)
    out(
      `note: ${outOfData} cloud canaries ran out of replayed telemetry (their remaining steps passed unjudged)`,
    );
  out(
    `wall time ${fixed(seconds, 1)} s (releases ${fixed(releaseSeconds, 1)} s, ${fixed((releaseSeconds * 1000) / count, 0)} ms per release)`,
  );

  await mkdir(values.out, { recursive: true });
  await writeFile(
    path.join(values.out, 'releases.json'),
    `${JSON.stringify(
      releases.map((release, index) => ({
        id: release.id,
        bad: release.bad,
        kind: release.kind,
        violation: release.violation ? `${release.violation.control}: ${release.violation.name}` : null,
        model: release.model,
        context: release.context,
        risk: results[index]!.risk,
        plan: results[index]!.plan,
        files: Object.fromEntries(CLOUDS.map((cloud) => [cloud, release.canaries[cloud].file])),
        traditional: results[index]!.traditional,
        medrelease: results[index]!.medrelease,
      })),
      null,
      1,
    )}\n`,
  );
  if (values.chart) {
    await mkdir(path.dirname(values.chart), { recursive: true });
    await writeFile(values.chart, chart(traditional, medrelease, reactive, { count, seed, signal, backend }));
  }
  const columnJson = (entry: typeof traditional) => ({
    deploymentMinutes: round4(entry.deploymentMinutes),
    faultTolerance: round4(entry.faultTolerance),
    stoppedBefore25: round4(entry.stoppedBefore25),
    complianceCaught: round4(entry.complianceCaught),
    falseRollbackRate: round4(entry.falseRollbackRate),
    underProvisionedMinutes: entry.underProvisionedMinutes,
    replicaMinutes: entry.replicaMinutes,
    earlyConclusions: round4(entry.earlyConclusions),
  });
  console.log(
    JSON.stringify({
      releases: count,
      seed,
      riskSignal: signal,
      traditional: columnJson(traditional),
      medrelease: columnJson(medrelease),
      reactive,
      goals,
      seconds: round4(seconds),
    }),
  );
}

function chart(
  traditional: ColumnFigures,
  medrelease: ColumnFigures,
  reactive: { underProvisionedMinutes: number; replicaMinutes: number },
  run: { count: number; seed: number; signal: number; backend: string },
): string {
  const pair = (label: string, left: number, right: number, scale = 1): Bar[] => [
    { label: `${label} — traditional`, value: left * scale },
    { label: `${label} — medrelease`, value: right * scale },
  ];
  return svgDocument(
    'medrelease against a traditional pipeline — bench:paper',
    [
      `${run.count} releases × 3 clouds, seed ${run.seed}, risk signal ${run.signal}; NAB telemetry replayed; TensorFlow.js on ${run.backend}`,
      'definitions: docs/paper-comparison.md',
    ],
    [
      svgBarPanel(
        'Mean deployment time of good releases (lower is better)',
        pair('minutes', traditional.deploymentMinutes, medrelease.deploymentMinutes),
        'min',
      ),
      svgBarPanel(
        'Fault tolerance: bad releases stopped before full traffic / at a step of at most 25 %',
        [
          ...pair('before 100 %', traditional.faultTolerance, medrelease.faultTolerance, 100),
          ...pair('at ≤ 25 %', traditional.stoppedBefore25, medrelease.stoppedBefore25, 100),
        ],
        '%',
      ),
      svgBarPanel(
        'Security compliance: injected violations caught',
        pair('caught', traditional.complianceCaught, medrelease.complianceCaught, 100),
        '%',
      ),
      svgBarPanel(
        'False rollbacks: good releases rolled back (lower is better)',
        pair('rolled back', traditional.falseRollbackRate, medrelease.falseRollbackRate, 100),
        '%',
      ),
      svgBarPanel(
        'Scaling: under-provisioned minutes (lower is better)',
        [
          { label: 'static (traditional)', value: traditional.underProvisionedMinutes },
          { label: 'reactive (HPA)', value: reactive.underProvisionedMinutes },
          { label: 'predictive (medrelease)', value: medrelease.underProvisionedMinutes },
        ],
        'min',
      ),
      svgBarPanel(
        'Scaling: replica-minutes (lower is cheaper)',
        [
          { label: 'static (traditional)', value: traditional.replicaMinutes },
          { label: 'reactive (HPA)', value: reactive.replicaMinutes },
          { label: 'predictive (medrelease)', value: medrelease.replicaMinutes },
        ],
        'replica-min',
      ),
    ],
  );
}

interface ColumnFigures {
  deploymentMinutes: number;
  faultTolerance: number;
  stoppedBefore25: number;
  complianceCaught: number;
  falseRollbackRate: number;
  underProvisionedMinutes: number;
  replicaMinutes: number;
}

await main();
