// `npm run bench:orchestration`: what medrelease's orchestration costs on top of Temporal itself.
//
// In one process, against a Temporal dev server of its own (or TEMPORAL_ADDRESS), with the control
// worker and three simulated cloud workers (zero latency, no failures) running in this process:
//
//  1. Per-step overhead. One release over 3 clouds × 4 canary steps with zero intervals, against a
//     bare workflow that makes the same activity calls (counted from the release's history) with the
//     same parallelism, calling a no-op activity. A "step" is one activity call (one
//     ActivityTaskScheduled event, in the release workflow or in one of its CloudRolloutWorkflows);
//     per-step overhead = orchestration time / activity calls. Times come from the server's event
//     times: WorkflowExecutionStarted → WorkflowExecutionCompleted, minus, for a release, the sign-off
//     wait (the human's part: from the event that moved it to awaiting-signoff to the arrival of the
//     accepted sign-off update). Warm-up first, then N interleaved repeats; median and p90.
//     A breakdown adds back, one at a time, what a release does besides activity calls (child
//     workflows, child→parent progress signals sent the way the release sends them, search-attribute
//     upserts) to say where time goes; a what-if row sends the signals the other way.
//  2. Throughput. N concurrent releases (default 200): all started at once, each signed off as soon
//     as visibility shows it awaiting sign-off, all results awaited. Releases per second = completed /
//     (last completion − first start). Peak RSS of this process (workers, client and bench together),
//     server CPU seconds (/proc/<pid>/stat), p50/p95 latency; every release must end `completed` with
//     the new version stable in every cloud, or the process exits non-zero.
//
// The last line of stdout is a JSON object with the figures; docs/benchmarks.md explains them all.
// Flags: --releases N, --repeats N, --json-only (stdout carries only that JSON line),
// --skip-breakdown, --tuning '{"maxConcurrentWorkflowTaskExecutions":…}' (worker options).
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { SimulatedCloudDriver } from '../activities/cloud/simulated.js';
import { defaultPlacement, parseConfig, type Config } from '../domain/config.js';
import { SignoffRefusal } from '../domain/errors.js';
import type { CreateReleaseRequest, Person } from '../domain/release.js';
import { buildReleaseInput } from '../domain/release-input.js';
import { CloudsKey, ModelNameKey, ModelVersionKey, StageKey } from '../domain/search-attributes.js';
import type { ReleaseStatus } from '../domain/status.js';
import { controlTaskQueue } from '../domain/task-queues.js';
import { findFreePort, findTemporalCli, startDevServer, type DevServerHandle } from '../infra/temporal.js';
import { signoffUpdate, statusQuery } from '../workflows/messages.js';
import type { ReleaseWorkflow } from '../workflows/release.js';
import {
  createCloudWorker,
  createControlWorker,
  stateDirectory,
  WORKFLOWS_PATH,
  type WorkerContext,
} from '../workers/factory.js';
import type { BareActivities, BarePlan, BareWorkflow } from './bare-workflow.js';
import {
  analyseRun,
  criticalPathActivities,
  describePhases,
  type LongestWait,
  type RunAnalysis,
  type RunProfile,
} from './history.js';
import {
  asciiBars,
  asciiHistogram,
  commandVersion,
  cpuModel,
  describeLoad,
  describeMachine,
  fixed,
  histogram,
  machineLoad,
  median,
  percentile,
  processCpuSeconds,
  round,
  svgBarPanel,
  svgDocument,
  svgHistogramPanel,
  svgLinePanel,
  type Bar,
  type Load,
  type Machine,
} from './report.js';
import { failureConverterPath } from '../security/data-converter.js';
import { dataConverterFor } from '../security/setup.js';
import { ensureBenchKeys, startBenchIdentity, type BenchIdentity } from './users.js';

const CLOUDS = ['aws', 'azure', 'gcp'] as const;
const STEPS = [5, 25, 50, 100];
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const TARGET_RATIO = 1.3;
const BARE_WORKFLOWS_PATH = fileURLToPath(new URL('./bare-workflow.js', import.meta.url));
const SVG_PATH = fileURLToPath(new URL('../../.data/bench/orchestration.svg', import.meta.url));

/**
 * Worker tuning for the benchmark. The SDK's defaults (40 workflow-task slots, 100 activity slots, a
 * workflow cache sized from the heap: ~2 300 with Node's default 4 GiB heap) are not the bottleneck
 * at 200 concurrent releases (800 workflows), so they stay, except that the cache is pinned: every
 * worker in this process shares one heap, and a cache sized per worker from the whole heap would
 * overcommit it. 1 000 per worker holds every workflow of 200 releases, so nothing is evicted and
 * replayed mid-run.
 */
const DEFAULT_TUNING: Tuning = { maxCachedWorkflows: 1000 };
type Tuning = NonNullable<WorkerContext['tuning']>;
const TUNING_KEYS = [
  'maxCachedWorkflows',
  'maxConcurrentWorkflowTaskExecutions',
  'maxConcurrentActivityTaskExecutions',
] as const;

interface Options {
  releases: number;
  repeats: number;
  jsonOnly: boolean;
  breakdown: boolean;
  /** Worker options for every worker of the bench: DEFAULT_TUNING, or what --tuning says. */
  tuning: Tuning;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      releases: { type: 'string', default: '200' },
      repeats: { type: 'string', default: '5' },
      'json-only': { type: 'boolean', default: false },
      'skip-breakdown': { type: 'boolean', default: false },
      tuning: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/bench/orchestration.js [--releases N] [--repeats N] [--json-only] [--skip-breakdown]\n' +
        '         [--tuning \'{"maxCachedWorkflows":1000,"maxConcurrentWorkflowTaskExecutions":40,"maxConcurrentActivityTaskExecutions":100}\']\n' +
        '  TEMPORAL_ADDRESS=host:port uses that server instead of starting a dev server\n',
    );
    process.exit(0);
  }
  const integer = (name: string, text: string, min: number) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) {
      process.stderr.write(`--${name} must be an integer ≥ ${min}, got '${text}'\n`);
      process.exit(2);
    }
    return value;
  };
  return {
    releases: integer('releases', values.releases, 1),
    repeats: integer('repeats', values.repeats, 1),
    jsonOnly: values['json-only'],
    breakdown: !values['skip-breakdown'],
    tuning: values.tuning === undefined ? DEFAULT_TUNING : parseTuning(values.tuning),
  };
}

function parseTuning(text: string): Tuning {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const entries = parsed && typeof parsed === 'object' ? Object.entries(parsed) : [];
  const valid =
    entries.length > 0 &&
    entries.every(
      ([key, value]) =>
        (TUNING_KEYS as readonly string[]).includes(key) && Number.isInteger(value) && (value as number) >= 0,
    );
  if (!valid) {
    process.stderr.write(
      `--tuning must be a JSON object of non-negative integers for ${TUNING_KEYS.join(', ')}\n`,
    );
    process.exit(2);
  }
  return Object.fromEntries(entries);
}

const options = readOptions();
const out = (line = '') => {
  if (!options.jsonOnly) process.stdout.write(`${line}\n`);
};
const note = (line: string) => process.stderr.write(`[bench] ${line}\n`);

// ---- environment ----------------------------------------------------------------------------------

interface Environment {
  identity: BenchIdentity;
  config: Config;
  client: Client;
  clientConnection: Connection;
  connection: NativeConnection;
  server: DevServerHandle | undefined;
  address: string;
  requester: Person;
  approver: Person;
  runId: string;
  bareTaskQueue: string;
}

async function createEnvironment(dataDir: string): Promise<Environment> {
  let server: DevServerHandle | undefined;
  let address = process.env.TEMPORAL_ADDRESS;
  if (!address) {
    note('starting a Temporal dev server (headless, SQLite in a temp folder)');
    server = await startDevServer({
      dbFile: path.join(dataDir, 'temporal.db'),
      port: await findFreePort(),
      headless: true,
      logFile: path.join(dataDir, 'temporal.log'),
    });
    address = server.address;
  }
  const runId = randomUUID().slice(0, 8);
  const identity = await startBenchIdentity();
  const { requester, approver } = identity;
  const config = parseConfig({
    temporal: {
      address,
      namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      taskQueuePrefix: `bench-${runId}-`,
    },
    dataDir,
    auth: identity.auth,
    clouds: CLOUDS.map((name) => ({
      name,
      driver: 'simulated',
      ...defaultPlacement(name),
    })),
    simulated: { latencyMs: 0, failureRate: 0 },
    // The benchmark measures orchestration; its releases carry no manifest (bench:compliance measures the gate).
    compliance: { requireManifest: false },
  });
  const connection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  await ensureBenchKeys(config);
  const client = new Client({
    connection: clientConnection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverterFor(config),
  });
  return {
    identity,
    config,
    client,
    clientConnection,
    connection,
    server,
    address,
    requester,
    approver,
    runId,
    bareTaskQueue: `bench-${runId}-bare`,
  };
}

async function startWorkers(env: Environment): Promise<{ stop(): Promise<void> }> {
  note('bundling workflow code (release workflows, then the bare workflow)');
  const [releaseBundle, bareBundle] = await Promise.all([
    bundle(WORKFLOWS_PATH),
    bundle(BARE_WORKFLOWS_PATH),
  ]);
  const context: WorkerContext = {
    config: env.config,
    connection: env.connection,
    workflows: { workflowBundle: releaseBundle },
    tuning: options.tuning,
  };
  const bareActivities: BareActivities = { noop: () => Promise.resolve() };
  const workers: Worker[] = [
    await createControlWorker(context),
    ...(await Promise.all(CLOUDS.map((cloud) => createCloudWorker({ ...context, cloud })))),
    await Worker.create({
      connection: env.connection,
      namespace: env.config.temporal.namespace,
      taskQueue: env.bareTaskQueue,
      workflowBundle: bareBundle,
      activities: bareActivities,
      ...options.tuning,
    }),
  ];
  const runs = workers.map((worker) => worker.run());
  return {
    async stop() {
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.all(runs);
    },
  };
}

function bundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath,
    failureConverterPath: failureConverterPath(),
    logger: new DefaultLogger('WARN'),
  });
}

async function machineInfo(env: Environment): Promise<Machine> {
  const cli = await findTemporalCli().catch(() => undefined);
  let temporalServer = 'unknown';
  try {
    const info = await env.clientConnection.workflowService.getSystemInfo({});
    temporalServer = info.serverVersion || 'unknown';
  } catch {
    // older servers: leave unknown
  }
  return {
    cpu: await cpuModel(),
    cores: os.availableParallelism(),
    memoryGiB: os.totalmem() / 1024 ** 3,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    temporalCli: cli ? cliVersion(await commandVersion(cli.path), cli.path) : 'none found',
    temporalCliPath: cli?.path ?? null,
    temporalServer,
  };
}

/** `go install` builds report version 0.0.0-DEV; the cache folder (bin/temporal-<version>/) names the real one. */
function cliVersion(reported: string, cliPath: string): string {
  const folder = /temporal-(\d+\.\d+\.\d+)/.exec(cliPath);
  const short = reported.replace(/^temporal version /, '');
  return folder && short.startsWith('0.0.0-DEV') ? `${folder[1]} (reports ${short})` : short;
}

// ---- sign-off -------------------------------------------------------------------------------------

/**
 * Signs releases off as soon as visibility lists them as awaiting sign-off. One list query per
 * interval serves every release, so the bench's own sign-off traffic costs the workers nothing (a
 * refused update or a query would each be a task on the control worker) and the server little.
 */
class SignoffDesk {
  private readonly waiting = new Map<string, { resolve: () => void; reject: (error: unknown) => void }>();
  private readonly inFlight = new Set<string>();
  private readonly failures = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  intervalMs = 25;

  constructor(private readonly env: Environment) {}

  get pending(): number {
    return this.waiting.size;
  }

  signOff(workflowId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.set(workflowId, { resolve, reject });
      this.schedule();
    });
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer || this.polling) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, this.intervalMs);
  }

  private async poll(): Promise<void> {
    this.polling = true;
    try {
      if (this.waiting.size === 0) return;
      const queue = controlTaskQueue(this.env.config.temporal.taskQueuePrefix);
      const query = `TaskQueue = '${queue}' AND MedreleaseStage = 'awaiting-signoff' AND ExecutionStatus = 'Running'`;
      for await (const execution of this.env.client.workflow.list({ query })) {
        if (this.waiting.has(execution.workflowId) && !this.inFlight.has(execution.workflowId)) {
          this.inFlight.add(execution.workflowId);
          void this.approve(execution.workflowId);
        }
      }
    } catch (error) {
      note(
        `sign-off desk: listing failed, retrying: ${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      this.polling = false;
      if (this.waiting.size > 0) this.schedule();
    }
  }

  private async approve(workflowId: string): Promise<void> {
    const waiter = this.waiting.get(workflowId)!;
    const handle = this.env.client.workflow.getHandle<typeof ReleaseWorkflow>(workflowId);
    const settle = (outcome: 'signed' | 'retry' | Error) => {
      if (outcome === 'retry') return;
      this.waiting.delete(workflowId);
      if (outcome === 'signed') waiter.resolve();
      else waiter.reject(outcome);
    };
    try {
      // Accepted is enough: the release verifies the credential and moves on; the stage is polled below.
      await handle.startUpdate(signoffUpdate, {
        args: [
          {
            approver: this.env.approver,
            credential: this.env.identity.approverToken,
            decision: 'approve',
            comment: 'Benchmark sign-off: evidence reviewed.',
          },
        ],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      settle('signed');
    } catch (error) {
      // NOT_AWAITING_SIGNOFF: visibility ran ahead of the workflow (try again at the next poll), or an
      // earlier attempt of ours counted although its call failed: the status says which.
      const code = failureType(error);
      if (code === SignoffRefusal.AlreadySignedOff) return settle('signed');
      try {
        const status = await handle.query(statusQuery);
        if (status.signoff.approvals.some((approval) => approval.approver.id === this.env.approver.id)) {
          return settle('signed');
        }
      } catch {
        // the query failing too is decided below
      }
      const failures = (this.failures.get(workflowId) ?? 0) + 1;
      this.failures.set(workflowId, failures);
      settle(
        code === SignoffRefusal.NotAwaitingSignoff || failures < 5
          ? 'retry'
          : error instanceof Error
            ? error
            : new Error(String(error)),
      );
    } finally {
      this.inFlight.delete(workflowId);
    }
  }
}

function failureType(error: unknown): string | undefined {
  for (let cursor: unknown = error; cursor instanceof Error; cursor = cursor.cause) {
    const type = (cursor as { type?: unknown }).type;
    if (typeof type === 'string') return type;
  }
  return undefined;
}

// ---- one release, one bare run --------------------------------------------------------------------

function releaseRequest(model: string): CreateReleaseRequest {
  return {
    model: { name: model, version: '2.0.0', image: `registry.example/${model}:2.0.0@${DIGEST}` },
    clouds: [...CLOUDS],
    canary: { steps: STEPS, analysisIntervalSeconds: 0 },
    signoff: { quorum: 1, deadlineSeconds: 3600 },
    keepWarmSeconds: 0,
    activityTimeoutSeconds: 60,
  };
}

function simulatedCloud(env: Environment, cloud: string): SimulatedCloudDriver {
  return new SimulatedCloudDriver(cloud, { stateDir: stateDirectory(env.config, 'sim-clouds', cloud) });
}

async function seed(env: Environment, model: string): Promise<void> {
  for (const cloud of CLOUDS) {
    await simulatedCloud(env, cloud).seedStable(model, {
      version: '1.0.0',
      image: `registry.example/${model}:1.0.0@${DIGEST}`,
    });
  }
}

async function startRelease(
  env: Environment,
  model: string,
): Promise<WorkflowHandle<typeof ReleaseWorkflow>> {
  const request = releaseRequest(model);
  const input = buildReleaseInput({
    request,
    releaseId: model,
    requestedBy: env.requester,
    config: env.config,
  });
  return env.client.workflow.start<typeof ReleaseWorkflow>('ReleaseWorkflow', {
    workflowId: input.releaseId,
    taskQueue: controlTaskQueue(env.config.temporal.taskQueuePrefix),
    args: [input],
    typedSearchAttributes: [
      { key: StageKey, value: 'validating' },
      { key: ModelNameKey, value: input.model.name },
      { key: ModelVersionKey, value: input.model.version },
      { key: CloudsKey, value: request.clouds },
    ],
  });
}

/** Problems with a finished release: anything but `completed` with the new version stable everywhere. */
async function releaseProblems(env: Environment, model: string, status: ReleaseStatus): Promise<string[]> {
  const problems: string[] = [];
  if (status.outcome !== 'completed') {
    problems.push(
      `ended ${status.outcome ?? status.stage}${status.reason ? `: ${status.reason.message}` : ''}`,
    );
  }
  for (const cloud of CLOUDS) {
    const state = await simulatedCloud(env, cloud).describe(model);
    if (state?.stable?.version !== '2.0.0' || state.canary !== null || state.previous !== null) {
      problems.push(
        `${cloud}: stable ${state?.stable?.version ?? 'none'}, canary ${state?.canary?.version ?? 'none'}, previous ${state?.previous?.version ?? 'none'}`,
      );
    }
  }
  return problems;
}

interface MeasuredRun {
  analysis: RunAnalysis;
  /** Client side: start call → result. */
  clientMs: number;
  perStepMs: number;
}

async function runRelease(env: Environment, desk: SignoffDesk, model: string): Promise<MeasuredRun> {
  await seed(env, model);
  const started = performance.now();
  const handle = await startRelease(env, model);
  const [status] = await Promise.all([handle.result(), desk.signOff(handle.workflowId)]);
  const clientMs = performance.now() - started;
  const problems = await releaseProblems(env, model, status);
  if (problems.length > 0) throw new Error(`release ${model} did not complete: ${problems.join('; ')}`);
  const analysis = await analyseRun(env.client, handle.workflowId);
  return { analysis, clientMs, perStepMs: analysis.timing.orchestrationMs / analysis.counts.activities };
}

async function runBare(env: Environment, plan: BarePlan, id: string): Promise<MeasuredRun> {
  const started = performance.now();
  const handle = await env.client.workflow.start<typeof BareWorkflow>('BareWorkflow', {
    workflowId: id,
    taskQueue: env.bareTaskQueue,
    args: [plan],
  });
  await handle.result();
  const clientMs = performance.now() - started;
  const analysis = await analyseRun(env.client, id);
  return { analysis, clientMs, perStepMs: analysis.timing.orchestrationMs / analysis.counts.activities };
}

// ---- part 1: per-step overhead --------------------------------------------------------------------

interface Variant {
  key: string;
  label: string;
  mirror: BarePlan['mirror'];
  /** Not a step towards the release but an alternative to it: what a suggested change would cost. */
  whatIf?: boolean;
}

type SignalMode = BarePlan['mirror']['signals'];

/**
 * The bare variants, cumulative: each adds one thing a release does besides activity calls. The
 * signals are sent the way the release sends them (read from its history); a what-if row sends them
 * the other way, to show what that difference is worth.
 */
function variantsFor(releaseSignals: SignalMode): Variant[] {
  const asRelease: SignalMode = releaseSignals === 'none' ? 'awaited' : releaseSignals;
  const other: SignalMode = asRelease === 'awaited' ? 'unawaited' : 'awaited';
  const describe = (mode: SignalMode) => (mode === 'awaited' ? 'awaited one by one' : 'not awaited');
  return [
    {
      key: 'bare',
      label: 'bare: no-op activities',
      mirror: { children: false, signals: 'none', upserts: false },
    },
    {
      key: 'children',
      label: '+ child workflows',
      mirror: { children: true, signals: 'none', upserts: false },
    },
    {
      key: 'signals',
      label: `+ child→parent signals, ${describe(asRelease)}`,
      mirror: { children: true, signals: asRelease, upserts: false },
    },
    {
      key: 'upserts',
      label: '+ search-attribute upserts',
      mirror: { children: true, signals: asRelease, upserts: true },
    },
    {
      key: other === 'awaited' ? 'whatIfSignalsAwaited' : 'whatIfSignalsNotAwaited',
      label: `what-if: signals ${describe(other)}`,
      mirror: { children: true, signals: other, upserts: true },
      whatIf: true,
    },
  ];
}

interface Summary {
  medianMs: number;
  p90Ms: number;
  runs: MeasuredRun[];
}

function summarise(runs: MeasuredRun[]): Summary {
  const values = runs.map((run) => run.perStepMs);
  return { medianMs: median(values), p90Ms: percentile(values, 90), runs };
}

function medianProfile(runs: MeasuredRun[]): RunProfile {
  const keys: (keyof RunProfile)[] = [
    'workflowTaskQueueMs',
    'workflowTaskRunMs',
    'activityQueueMs',
    'activityRunMs',
  ];
  return Object.fromEntries(
    keys.map((key) => [key, median(runs.map((run) => run.analysis.profile[key]))]),
  ) as unknown as RunProfile;
}

interface StepOverhead {
  release: Summary;
  /** The variants measured, in order, and their results. */
  variantList: Variant[];
  variants: Map<string, Summary>;
  shape: RunAnalysis;
  plan: BarePhaseView;
  ratio: number;
}

interface BarePhaseView {
  text: string;
  criticalPath: number;
}

async function measureStepOverhead(env: Environment, desk: SignoffDesk): Promise<StepOverhead> {
  note('warm-up: one release and one run of each bare variant');
  const warm = await runRelease(env, desk, `bench-${env.runId}-warm`);
  const all = variantsFor(warm.analysis.childSignals);
  const variants = options.breakdown ? all : all.slice(0, 1);
  const plan = (variant: Variant): BarePlan => ({ phases: warm.analysis.phases, mirror: variant.mirror });
  for (const variant of variants) await runBare(env, plan(variant), `bench-${env.runId}-warm-${variant.key}`);

  const releaseRuns: MeasuredRun[] = [];
  const variantRuns = new Map<string, MeasuredRun[]>(variants.map((variant) => [variant.key, []]));
  for (let repeat = 0; repeat < options.repeats; repeat += 1) {
    note(`per-step overhead: repeat ${repeat + 1}/${options.repeats}`);
    const release = await runRelease(env, desk, `bench-${env.runId}-single-${repeat}`);
    if (release.analysis.counts.activities !== warm.analysis.counts.activities) {
      throw new Error(
        `a release made ${release.analysis.counts.activities} activity calls, the warm-up ${warm.analysis.counts.activities}: the comparison would be unfair`,
      );
    }
    releaseRuns.push(release);
    for (const variant of variants) {
      const bare = await runBare(env, plan(variant), `bench-${env.runId}-bare-${variant.key}-${repeat}`);
      if (bare.analysis.counts.activities !== warm.analysis.counts.activities) {
        throw new Error(
          `the bare workflow made ${bare.analysis.counts.activities} activity calls, not ${warm.analysis.counts.activities}`,
        );
      }
      variantRuns.get(variant.key)!.push(bare);
    }
  }
  const release = summarise(releaseRuns);
  const summaries = new Map([...variantRuns.entries()].map(([key, runs]) => [key, summarise(runs)]));
  return {
    release,
    variantList: variants,
    variants: summaries,
    shape: warm.analysis,
    plan: {
      text: describePhases(warm.analysis.phases),
      criticalPath: criticalPathActivities(warm.analysis.phases),
    },
    ratio: release.medianMs / summaries.get('bare')!.medianMs,
  };
}

// ---- part 2: throughput ---------------------------------------------------------------------------

class RssSampler {
  private readonly timer: NodeJS.Timeout;
  readonly samples: [number, number][] = [];

  constructor(intervalMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    this.samples.push([performance.now(), process.memoryUsage.rss()]);
  }

  peakBytes(from: number, to = Number.POSITIVE_INFINITY): number {
    return Math.max(0, ...this.samples.filter(([at]) => at >= from && at <= to).map(([, rss]) => rss));
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

interface ReleaseOutcome {
  model: string;
  startedAt: number;
  endedAt: number;
  problems: string[];
  orchestrationMs?: number;
  signoffGapMs?: number;
  longestWait?: LongestWait;
}

interface Throughput {
  releases: number;
  completed: number;
  lost: ReleaseOutcome[];
  wallSeconds: number;
  releasesPerSecond: number;
  latencySeconds: number[];
  slowest: ReleaseOutcome[];
  orchestrationSeconds: number[];
  signoffGapSeconds: number[];
  peakRssMb: number;
  baselineRssMb: number;
  serverCpuSeconds: number | undefined;
  benchCpuSeconds: number;
  completions: [number, number][];
  rss: [number, number][];
}

async function measureThroughput(
  env: Environment,
  desk: SignoffDesk,
  sampler: RssSampler,
): Promise<Throughput> {
  const count = options.releases;
  const models = Array.from({ length: count }, (_, index) => `bench-${env.runId}-t${index}`);
  note(`throughput: seeding ${count} models in ${CLOUDS.length} simulated clouds`);
  for (const model of models) await seed(env, model);
  desk.intervalMs = 100;

  const baselineRss = process.memoryUsage.rss();
  const serverCpuBefore = await processCpuSeconds(env.server?.pid);
  const benchCpuBefore = process.cpuUsage();
  const timeoutMs = Math.max(600_000, count * 9_000);
  let timedOut = false;
  const timeout = new Promise<'timeout'>((resolve) => {
    const timer = setTimeout(() => {
      timedOut = true;
      resolve('timeout');
    }, timeoutMs);
    timer.unref();
  });

  let done = 0;
  const completions: [number, number][] = [];
  const t0 = performance.now();
  const progress = setInterval(() => {
    note(
      `released ${done}/${count} · ${desk.pending} awaiting sign-off · ${count - done - desk.pending} in flight · ${fixed((performance.now() - t0) / 1000, 0)} s`,
    );
  }, 1000);
  note(`throughput: starting ${count} releases at once`);
  const outcomes = await Promise.all(
    models.map(async (model): Promise<ReleaseOutcome> => {
      const startedAt = performance.now();
      try {
        const handle = await startRelease(env, model);
        const signedOff = desk.signOff(handle.workflowId);
        const result = await Promise.race([Promise.all([handle.result(), signedOff]), timeout]);
        const endedAt = performance.now();
        done += 1;
        completions.push([endedAt - t0, done]);
        if (result === 'timeout') {
          return { model, startedAt, endedAt, problems: [`not finished after ${timeoutMs / 1000} s`] };
        }
        return { model, startedAt, endedAt, problems: await releaseProblems(env, model, result[0]) };
      } catch (error) {
        done += 1;
        return {
          model,
          startedAt,
          endedAt: performance.now(),
          problems: [error instanceof Error ? error.message : String(error)],
        };
      }
    }),
  );
  clearInterval(progress);
  const t1 = Math.max(...outcomes.map((outcome) => outcome.endedAt));
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const serverCpuAfter = await processCpuSeconds(env.server?.pid);
  note(
    `released ${done}/${count} in ${fixed((t1 - t0) / 1000, 1)} s${timedOut ? ' (timed out)' : ''}; reading histories`,
  );

  // Untimed: each release's own orchestration time and sign-off wait, from its history.
  const completedOutcomes = outcomes.filter((outcome) => outcome.problems.length === 0);
  for (let index = 0; index < completedOutcomes.length; index += 16) {
    await Promise.all(
      completedOutcomes.slice(index, index + 16).map(async (outcome) => {
        const { timing, longestWait } = await analyseRun(env.client, outcome.model);
        outcome.orchestrationMs = timing.orchestrationMs;
        outcome.signoffGapMs = timing.signoffGapMs;
        outcome.longestWait = longestWait;
      }),
    );
  }
  const lost = outcomes.filter((outcome) => outcome.problems.length > 0);
  const wallSeconds = (t1 - t0) / 1000;
  return {
    releases: count,
    completed: completedOutcomes.length,
    lost,
    wallSeconds,
    releasesPerSecond: completedOutcomes.length / wallSeconds,
    latencySeconds: completedOutcomes.map((outcome) => (outcome.endedAt - outcome.startedAt) / 1000),
    slowest: [...completedOutcomes]
      .sort((a, b) => b.endedAt - b.startedAt - (a.endedAt - a.startedAt))
      .slice(0, 3),
    orchestrationSeconds: completedOutcomes.map((outcome) => (outcome.orchestrationMs ?? 0) / 1000),
    signoffGapSeconds: completedOutcomes.map((outcome) => (outcome.signoffGapMs ?? 0) / 1000),
    peakRssMb: sampler.peakBytes(t0, t1 + 100) / 1024 ** 2,
    baselineRssMb: baselineRss / 1024 ** 2,
    serverCpuSeconds:
      serverCpuBefore !== undefined && serverCpuAfter !== undefined
        ? serverCpuAfter - serverCpuBefore
        : undefined,
    benchCpuSeconds: (benchCpu.user + benchCpu.system) / 1e6,
    completions: [[0, 0] as [number, number], ...completions.sort(([a], [b]) => a - b)].map(
      ([at, n]): [number, number] => [at / 1000, n],
    ),
    rss: sampler.samples
      .filter(([at]) => at >= t0 && at <= t1 + 100)
      .map(([at, rss]) => [(at - t0) / 1000, rss / 1024 ** 2]),
  };
}

// ---- report -------------------------------------------------------------------------------------------

function reportStepOverhead(result: StepOverhead): void {
  const { counts } = result.shape;
  const bare = result.variants.get('bare')!;
  const perRun = (summary: Summary) => median(summary.runs.map((run) => run.analysis.timing.orchestrationMs));
  out(`1) Per-step orchestration overhead — ${options.repeats} repeats after 1 warm-up, median (p90)`);
  out(
    '   A step is one activity call: one ActivityTaskScheduled event, in the release workflow or a CloudRolloutWorkflow.',
  );
  out(
    '   Per-step overhead = orchestration time / activity calls. Orchestration time = server event times from',
  );
  out(
    '   WorkflowExecutionStarted to WorkflowExecutionCompleted, minus (release only) the sign-off wait: from the event that',
  );
  out(
    "   moved the release to awaiting-signoff to the arrival of the accepted sign-off update (the human's part).",
  );
  out(
    `   One release (3 clouds × ${STEPS.length} steps [${STEPS.join(', ')}], zero intervals, quorum 1) records ` +
      `${counts.activities} activity calls, ${counts.childWorkflows} child workflows, ${counts.signalsSent} child→parent signals ` +
      `(${result.shape.childSignals === 'unawaited' ? 'not awaited one by one' : 'awaited one by one'}), ` +
      `${counts.upserts} search-attribute upserts, ${counts.timers} timer, ${counts.updatesAccepted} update, ` +
      `${counts.workflowTasks} workflow tasks, ${counts.historyEvents} history events, ${fixed(counts.payloadBytes / 1024, 0)} KiB of payloads.`,
  );
  out(
    '   The bare workflow makes the same activity calls with the same parallelism (‖ = in parallel, → = then):',
  );
  out(`     ${result.plan.text}   (longest path: ${result.plan.criticalPath} calls)`);
  out();
  const releaseRuns = result.release.runs;
  out(
    `   release: ${fixed(result.release.medianMs, 2)} ms/step (p90 ${fixed(result.release.p90Ms, 2)}) — ` +
      `${fixed(perRun(result.release), 0)} ms of orchestration per release; sign-off wait excluded: ` +
      `${fixed(median(releaseRuns.map((run) => run.analysis.timing.signoffGapMs)), 0)} ms; client-side start → result ` +
      `${fixed(median(releaseRuns.map((run) => run.clientMs)), 0)} ms`,
  );
  out(
    `   bare:    ${fixed(bare.medianMs, 2)} ms/step (p90 ${fixed(bare.p90Ms, 2)}) — ${fixed(perRun(bare), 0)} ms per run; ` +
      `client-side ${fixed(median(bare.runs.map((run) => run.clientMs)), 0)} ms`,
  );
  out(
    `   ratio release / bare: ${fixed(result.ratio, 2)}  (target ≤ ${TARGET_RATIO}: ${result.ratio <= TARGET_RATIO ? 'met' : 'NOT met'})`,
  );
  out();
  out('   ms per step (median):');
  for (const line of asciiBars(stepBars(result), 40, ' ms')) out(`   ${line}`);
  out();

  // One row per measured workflow: the bare variants add, cumulatively, what a release does besides
  // activity calls; Δ is what that addition costs per run. Profile columns sum the workflow and its
  // children (median run): time waiting in task queues and time the worker took, for workflow tasks
  // (WFT) and activities.
  const labelWidth = Math.max(32, ...result.variantList.map((variant) => variant.label.length));
  const header =
    `     ${'run'.padEnd(labelWidth)} ${'ms/step'.padStart(8)} ${'(p90)'.padStart(8)} ${'ms/run'.padStart(7)} ${'Δ ms/run'.padStart(9)} ` +
    `${'WFTs'.padStart(5)} ${'WFT queue'.padStart(9)} ${'WFT run'.padStart(8)} ${'act queue'.padStart(9)} ${'act run'.padStart(8)}`;
  const row = (label: string, summary: Summary, delta: number | undefined) => {
    const profile = medianProfile(summary.runs);
    const tasks = median(summary.runs.map((run) => run.analysis.counts.workflowTasks));
    const deltaText = delta === undefined ? '' : `${delta >= 0 ? '+' : ''}${fixed(delta, 0)}`;
    out(
      `     ${label.padEnd(labelWidth)} ${fixed(summary.medianMs, 2).padStart(8)} ${`(${fixed(summary.p90Ms, 2)})`.padStart(8)} ` +
        `${fixed(perRun(summary), 0).padStart(7)} ${deltaText.padStart(9)} ${fixed(tasks, 0).padStart(5)} ` +
        `${fixed(profile.workflowTaskQueueMs, 0).padStart(9)} ${fixed(profile.workflowTaskRunMs, 0).padStart(8)} ` +
        `${fixed(profile.activityQueueMs, 0).padStart(9)} ${fixed(profile.activityRunMs, 0).padStart(8)}`,
    );
  };
  out(
    result.variants.size > 1
      ? '   Breakdown (each bare row adds one thing a release does; Δ = its cost per run) and where the time goes:'
      : '   Where the time goes:',
  );
  out(header);
  let previous: Summary | undefined;
  for (const variant of result.variantList.filter((entry) => !entry.whatIf)) {
    const summary = result.variants.get(variant.key);
    if (!summary) continue;
    row(variant.label, summary, previous ? perRun(summary) - perRun(previous) : undefined);
    previous = summary;
  }
  row(
    'release (everything else)',
    result.release,
    previous && previous !== bare ? perRun(result.release) - perRun(previous) : undefined,
  );
  const upserts = result.variants.get('upserts');
  for (const variant of result.variantList.filter((entry) => entry.whatIf)) {
    const summary = result.variants.get(variant.key);
    if (summary && upserts) row(variant.label, summary, perRun(summary) - perRun(upserts));
  }
  if (result.variants.size > 1) {
    out(
      "     'everything else' = the sign-off update, the activities' real work (files, judging), payloads, the deadline timer;",
    );
    out(
      "     the what-if row is '+ search-attribute upserts' with the signals sent the other way (Δ against that row).",
    );
  }
  out();
}

function stepBars(result: StepOverhead): Bar[] {
  return [
    {
      label: 'release (ReleaseWorkflow)',
      value: result.release.medianMs,
      note: `p90 ${fixed(result.release.p90Ms, 2)}`,
    },
    ...result.variantList.map((variant) => ({
      label: variant.label,
      value: result.variants.get(variant.key)!.medianMs,
      note: `p90 ${fixed(result.variants.get(variant.key)!.p90Ms, 2)}`,
    })),
  ];
}

function reportThroughput(result: Throughput): void {
  out(
    `2) Throughput — ${result.releases} concurrent releases (all started at once, signed off as soon as visible)`,
  );
  out(
    `   completed ${result.completed}/${result.releases} in ${fixed(result.wallSeconds, 1)} s → ${fixed(result.releasesPerSecond, 2)} releases/s ` +
      `(completed / first start → last completion)`,
  );
  out(
    `   latency start → completed: p50 ${fixed(percentile(result.latencySeconds, 50), 1)} s, p95 ${fixed(percentile(result.latencySeconds, 95), 1)} s; ` +
      `orchestration only (sign-off wait excluded): p50 ${fixed(percentile(result.orchestrationSeconds, 50), 1)} s, ` +
      `p95 ${fixed(percentile(result.orchestrationSeconds, 95), 1)} s; sign-off wait p50 ${fixed(percentile(result.signoffGapSeconds, 50), 2)} s`,
  );
  out(
    `   peak RSS of this process (control + 3 cloud workers + bare worker + client + bench, in-process): ${fixed(result.peakRssMb, 0)} MB ` +
      `(${fixed(result.baselineRssMb, 0)} MB before the run)`,
  );
  out(
    `   CPU during the run: Temporal server ${result.serverCpuSeconds === undefined ? 'n/a (not started by the bench)' : `${fixed(result.serverCpuSeconds, 1)} s`}, ` +
      `this process ${fixed(result.benchCpuSeconds, 1)} s (wall ${fixed(result.wallSeconds, 1)} s, ${os.availableParallelism()} cores)`,
  );
  if (result.lost.length > 0) {
    out(`   LOST or not completed: ${result.lost.length}`);
    for (const outcome of result.lost.slice(0, 20))
      out(`     ${outcome.model}: ${outcome.problems.join('; ')}`);
  } else {
    out(
      `   none lost: every release ended 'completed' and every cloud's simulated state has 2.0.0 stable, no canary, previous retired`,
    );
  }
  out();
  out(
    '   Slowest releases, and the longest stretch without an event in their histories (where they stalled):',
  );
  for (const outcome of result.slowest) {
    const wait = outcome.longestWait;
    out(
      `     ${outcome.model}: ${fixed((outcome.endedAt - outcome.startedAt) / 1000, 1)} s (sign-off wait ${fixed((outcome.signoffGapMs ?? 0) / 1000, 2)} s)` +
        (wait
          ? `; longest wait ${fixed(wait.ms / 1000, 2)} s in ${wait.workflowId}, ${wait.after} → ${wait.endedBy}`
          : ''),
    );
  }
  out();
  out('   Latency start → completed (releases per bin):');
  for (const line of asciiHistogram(histogram(result.latencySeconds, 12), 40, 's')) out(`   ${line}`);
  out();
}

async function writeSvg(
  machine: Machine,
  step: StepOverhead,
  throughput: Throughput,
  load: Record<string, Load>,
): Promise<void> {
  const bars = stepBars(step);
  const svg = svgDocument(
    `medrelease orchestration benchmark — ratio ${fixed(step.ratio, 2)}, ${fixed(throughput.releasesPerSecond, 2)} releases/s, peak RSS ${fixed(throughput.peakRssMb, 0)} MB`,
    [
      describeMachine(machine, false),
      `${new Date().toISOString()} — ${options.repeats} repeats, ${throughput.releases} concurrent releases; ` +
        `machine load at start ${describeLoad(load.start!)}`,
    ],
    [
      svgBarPanel(`Per-step overhead (ms per activity call, median of ${options.repeats})`, bars, 'ms'),
      svgHistogramPanel(
        `Latency of ${throughput.releases} concurrent releases, start → completed`,
        histogram(throughput.latencySeconds, 16),
        'seconds',
      ),
      svgLinePanel('Releases completed and process RSS over the run', 'seconds since the first start', [
        { label: 'releases completed', points: throughput.completions, unit: '' },
        { label: 'RSS', points: throughput.rss, unit: 'MB' },
      ]),
    ],
  );
  await mkdir(path.dirname(SVG_PATH), { recursive: true });
  await writeFile(SVG_PATH, svg);
}

// ---- main ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const benchStarted = performance.now();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'medrelease-bench-'));
  // The SDK would answer SIGINT/SIGTERM by shutting the workers down and leave the bench waiting for
  // releases that can no longer finish: exit instead, which also kills the dev server (infra/temporal.ts).
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      note(`${signal}: stopping (the temporary folder ${dataDir} is left behind)`);
      process.exit(code);
    });
  }
  let env: Environment | undefined;
  let workers: { stop(): Promise<void> } | undefined;
  const sampler = new RssSampler(100);
  const desk = { current: undefined as SignoffDesk | undefined };
  try {
    env = await createEnvironment(dataDir);
    const machine = await machineInfo(env);
    workers = await startWorkers(env);
    desk.current = new SignoffDesk(env);

    const load: Record<string, Load> = { start: await machineLoad() };
    out('medrelease orchestration benchmark');
    out(`machine: ${describeMachine(machine)}`);
    out(
      `machine load at start: ${describeLoad(load.start!)} (other processes on the machine slow every figure)`,
    );
    out(
      `server: ${env.server ? `dev server started by the bench (headless, SQLite in ${dataDir}) at ${env.address}` : `TEMPORAL_ADDRESS=${env.address}`}`,
    );
    out(
      `workers (in this process): control + ${CLOUDS.join(', ')} (simulated, 0 ms latency, no failures) + bare; ` +
        `task-queue prefix ${env.config.temporal.taskQueuePrefix}; tuning ${JSON.stringify(options.tuning)}, other options SDK defaults`,
    );
    out();

    const step = await measureStepOverhead(env, desk.current);
    load.afterStepOverhead = await machineLoad();
    reportStepOverhead(step);
    out(`   machine load after part 1: ${describeLoad(load.afterStepOverhead)}`);
    out();
    const throughput = await measureThroughput(env, desk.current, sampler);
    load.afterThroughput = await machineLoad();
    reportThroughput(throughput);
    out(`   machine load after part 2: ${describeLoad(load.afterThroughput)}`);
    out();

    await writeSvg(machine, step, throughput, load);
    const ratioMet = step.ratio <= TARGET_RATIO;
    const releasesMet = throughput.completed === throughput.releases && throughput.lost.length === 0;
    const benchSeconds = (performance.now() - benchStarted) / 1000;
    out(
      `targets: step-overhead ratio ≤ ${TARGET_RATIO}: ${ratioMet ? 'met' : `NOT met (${fixed(step.ratio, 2)})`}; ` +
        `${throughput.releases} concurrent releases complete, none lost: ${releasesMet ? 'met' : 'NOT met'}`,
    );
    out(`chart: ${path.relative(process.cwd(), SVG_PATH) || SVG_PATH}`);
    out(`bench run time: ${fixed(benchSeconds, 0)} s`);
    const bare = step.variants.get('bare')!;
    process.stdout.write(
      `${JSON.stringify({
        stepOverheadRatio: round(step.ratio, 3),
        releasesPerSecond: round(throughput.releasesPerSecond, 3),
        workerPeakRssMb: round(throughput.peakRssMb, 1),
        releaseStepOverheadMs: { median: round(step.release.medianMs, 3), p90: round(step.release.p90Ms, 3) },
        bareStepOverheadMs: { median: round(bare.medianMs, 3), p90: round(bare.p90Ms, 3) },
        breakdownStepOverheadMs: Object.fromEntries(
          [...step.variants.entries()].map(([key, value]) => [key, round(value.medianMs, 3)]),
        ),
        activityCallsPerRelease: step.shape.counts.activities,
        repeats: options.repeats,
        releases: throughput.releases,
        completed: throughput.completed,
        lost: throughput.lost.length,
        throughputWallSeconds: round(throughput.wallSeconds, 2),
        latencyP50Seconds: round(percentile(throughput.latencySeconds, 50), 2),
        latencyP95Seconds: round(percentile(throughput.latencySeconds, 95), 2),
        orchestrationLatencyP50Seconds: round(percentile(throughput.orchestrationSeconds, 50), 2),
        orchestrationLatencyP95Seconds: round(percentile(throughput.orchestrationSeconds, 95), 2),
        serverCpuSeconds:
          throughput.serverCpuSeconds === undefined ? null : round(throughput.serverCpuSeconds, 1),
        benchProcessCpuSeconds: round(throughput.benchCpuSeconds, 1),
        targetsMet: { stepOverheadRatio: ratioMet, releasesComplete: releasesMet },
        benchSeconds: round(benchSeconds, 1),
        machine: { ...machine, memoryGiB: round(machine.memoryGiB, 1) },
        load,
      })}\n`,
    );
    return releasesMet ? 0 : 1;
  } finally {
    sampler.stop();
    desk.current?.stop();
    await workers?.stop();
    await env?.connection.close();
    await env?.clientConnection.close();
    await env?.server?.stop();
    await env?.identity.issuer.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `orchestration benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
