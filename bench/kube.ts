// `npm run bench:kube`: what the kubernetes driver's operations cost on real control planes, and what
// the orchestration adds to a whole canary.
//
// Starts (building first, if the cache lacks them) three local clusters aws, azure and gcp as
// `npm run infra:kube -- up` does: aws and gcp split traffic with the Gateway API (HTTPRoute weights),
// azure by replica ratio. Then:
//
//  1. Driver operations, called directly, --iterations times per cloud (the clouds in parallel, each on
//     its own API server): seed a stable version, deploy a canary, set the weight to 5, 25, 50 and 100 %,
//     read the status, promote (the replaced version kept warm), roll back after promotion, deploy again
//     and roll back before promotion, promote and retire the previous version. Each call returns only
//     once the cluster has rolled out (Deployments Available). "canary (driver only)" is the sum of
//     one deploy, four weight changes and four status reads: a 4-step canary without orchestration.
//  2. Orchestrated canaries: --releases whole ReleaseWorkflows on a Temporal dev server of its own,
//     with the workers of this process driving the same clusters (simulated telemetry, zero analysis
//     interval, one approval). Per cloud: the CloudRolloutWorkflow's duration (server event times),
//     and the time its driver calls took inside it; the difference is the orchestration's own cost.
//
// Prints a table, ASCII bars and an SVG chart (.data/bench/kube.svg); the last line of stdout is a JSON
// object with every figure. Flags: --iterations N (default 10), --releases N (default 6), --json-only.
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { CloudDriver, CloudOperation } from '../activities/cloud/driver.js';
import { KubernetesCloudDriver } from '../activities/cloud/kubernetes.js';
import { defaultPlacement, parseConfig } from '../domain/config.js';
import { buildReleaseInput } from '../domain/release-input.js';
import { CloudsKey, ModelNameKey, ModelVersionKey, StageKey } from '../domain/search-attributes.js';
import { controlTaskQueue } from '../domain/task-queues.js';
import { ensureKubeBinaries } from '../infra/kube/binaries.js';
import {
  contextName,
  kubeConfigFor,
  startLocalClusters,
  stopLocalClusters,
  type LocalKubeState,
} from '../infra/kube/clusters.js';
import { findFreePort, findTemporalCli, startDevServer } from '../infra/temporal.js';
import { cloudRolloutWorkflowId } from '../workflows/cloud-rollout.js';
import { signoffUpdate, statusQuery } from '../workflows/messages.js';
import type { ReleaseWorkflow } from '../workflows/release.js';
import {
  createCloudWorker,
  createControlWorker,
  defaultWorkflowSource,
  type WorkerContext,
} from '../workers/factory.js';
import {
  asciiBars,
  commandVersion,
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
import { dataConverterFor } from '../security/setup.js';
import { ensureBenchKeys, startBenchIdentity } from './users.js';

const CLOUDS = ['aws', 'azure', 'gcp'] as const;
const TRAFFIC: Record<string, 'auto' | 'replica-ratio'> = {
  aws: 'auto',
  azure: 'replica-ratio',
  gcp: 'auto',
};
const STEPS = [5, 25, 50, 100];
const DIGEST = `sha256:${'cd'.repeat(32)}`;
const SVG_PATH = fileURLToPath(new URL('../../.data/bench/kube.svg', import.meta.url));

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '10' },
    releases: { type: 'string', default: '6' },
    'json-only': { type: 'boolean', default: false },
  },
});
const iterations = positiveInteger(values.iterations, '--iterations');
const releases = positiveInteger(values.releases, '--releases');
const jsonOnly = values['json-only'];
const started = performance.now();
const out = (line = '') => {
  if (!jsonOnly) console.log(line);
};
const note = (line: string) =>
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag} must be a positive integer, not ${text}`);
  return value;
}

// ---- timing ---------------------------------------------------------------------------------------

interface Sample {
  cloud: string;
  operation: string;
  model: string;
  ms: number;
}

/** Wraps a driver so that every call is timed and recorded with its cloud, operation and model. */
function timed(driver: KubernetesCloudDriver, samples: Sample[]): CloudDriver {
  const record = async <T>(operation: string, model: string, call: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const result = await call();
    samples.push({ cloud: driver.cloud, operation, model, ms: performance.now() - start });
    return result;
  };
  return {
    kind: driver.kind,
    cloud: driver.cloud,
    describe: (model) => record('describe', model, () => driver.describe(model)),
    deployCanary: (op) => record('deployCanary', op.model.name, () => driver.deployCanary(op)),
    setCanaryWeight: (op) => record('setCanaryWeight', op.model.name, () => driver.setCanaryWeight(op)),
    promote: (op) => record('promote', op.model.name, () => driver.promote(op)),
    rollback: (op) => record('rollback', op.model.name, () => driver.rollback(op)),
    retirePrevious: (op) => record('retirePrevious', op.model.name, () => driver.retirePrevious(op)),
    scale: (op) => record('scale', op.model.name, () => driver.scale(op)),
  };
}

function driverFor(state: LocalKubeState, cloud: string, namespace: string): KubernetesCloudDriver {
  return new KubernetesCloudDriver(cloud, {
    kubeConfig: kubeConfigFor(state, cloud),
    namespace,
    traffic: TRAFFIC[cloud]!,
    replicas: 4,
    pollIntervalMs: 50,
  });
}

async function createNamespace(state: LocalKubeState, name: string): Promise<void> {
  const { CoreV1Api } = await import('@kubernetes/client-node');
  await Promise.all(
    CLOUDS.map((cloud) =>
      kubeConfigFor(state, cloud)
        .makeApiClient(CoreV1Api)
        .createNamespace({ body: { metadata: { name } } }),
    ),
  );
}

// ---- part 1: driver operations ----------------------------------------------------------------------

async function measureOperations(state: LocalKubeState, namespace: string): Promise<Sample[]> {
  const samples: Sample[] = [];
  await Promise.all(
    CLOUDS.map(async (cloud) => {
      const raw = driverFor(state, cloud, namespace);
      const driver = timed(raw, samples);
      for (let iteration = 0; iteration < iterations; iteration += 1) {
        const model = `ops-${iteration}`;
        const op = (release: string, version: string): CloudOperation => ({
          operationId: `${release}:op`,
          releaseId: release,
          model: { name: model, version, image: `registry.example/${model}:${version}@${DIGEST}` },
        });
        let start = performance.now();
        await raw.seedStable(model, { version: '1.0.0', image: `registry.example/${model}:1.0.0@${DIGEST}` });
        samples.push({ cloud, operation: 'seedStable', model, ms: performance.now() - start });

        const first = op(`${model}-r1`, '1.1.0');
        const canaryStart = samples.length;
        await driver.deployCanary(first);
        for (const weight of STEPS) {
          await driver.setCanaryWeight({ ...first, weight });
          await driver.describe(model);
        }
        const canaryMs = samples
          .slice(canaryStart)
          .filter((sample) => sample.cloud === cloud && sample.model === model);
        samples.push({
          cloud,
          operation: 'canary (driver only)',
          model,
          ms: canaryMs.reduce((sum, s) => sum + s.ms, 0),
        });
        await driver.promote(first);
        start = performance.now();
        await driver.rollback(first);
        samples.push({ cloud, operation: 'rollback after promotion', model, ms: performance.now() - start });

        const second = op(`${model}-r2`, '1.2.0');
        await driver.deployCanary(second);
        await driver.setCanaryWeight({ ...second, weight: 25 });
        start = performance.now();
        await driver.rollback(second);
        samples.push({ cloud, operation: 'rollback before promotion', model, ms: performance.now() - start });

        const third = op(`${model}-r3`, '1.3.0');
        await driver.deployCanary(third);
        await driver.setCanaryWeight({ ...third, weight: 100 });
        await driver.promote(third);
        await driver.retirePrevious(third);
        note(`${cloud}: iteration ${iteration + 1}/${iterations} done`);
      }
    }),
  );
  // Only the split rollbacks are reported; the undifferentiated 'rollback' samples are dropped.
  return samples.filter((sample) => sample.operation !== 'rollback');
}

// ---- part 2: orchestrated canaries ------------------------------------------------------------------

interface CanaryRun {
  cloud: string;
  workflowMs: number;
  driverMs: number;
}

async function measureOrchestration(state: LocalKubeState, namespace: string, dataDir: string) {
  note('starting a Temporal dev server (headless, SQLite in a temp folder)');
  const server = await startDevServer({
    dbFile: path.join(dataDir, 'temporal.db'),
    port: await findFreePort(),
    headless: true,
    logFile: path.join(dataDir, 'temporal.log'),
  });
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const identity = await startBenchIdentity();
  const { requester, approver } = identity;
  const config = parseConfig({
    temporal: {
      address: server.address,
      namespace: 'default',
      taskQueuePrefix: `kbench-${randomUUID().slice(0, 6)}-`,
    },
    dataDir,
    auth: identity.auth,
    clouds: CLOUDS.map((name) => ({
      name,
      driver: 'kubernetes',
      ...defaultPlacement(name),
      kubeconfig: state.kubeconfig,
      kubeContext: contextName(name),
      namespace,
      traffic: TRAFFIC[name],
      replicas: 4,
    })),
    // The benchmark measures orchestration; its releases carry no manifest (bench:compliance measures the gate).
    compliance: { requireManifest: false },
  });
  const connection = await NativeConnection.connect({ address: server.address });
  const clientConnection = await Connection.connect({ address: server.address });
  await ensureBenchKeys(config);
  const client = new Client({ connection: clientConnection, dataConverter: dataConverterFor(config) });
  const samples: Sample[] = [];
  const context: WorkerContext = { config, connection, workflows: defaultWorkflowSource() };
  const workers = [
    await createControlWorker(context),
    ...(await Promise.all(
      CLOUDS.map((cloud) =>
        createCloudWorker({ ...context, cloud, driver: timed(driverFor(state, cloud, namespace), samples) }),
      ),
    )),
  ];
  const runs = workers.map((worker) => worker.run());
  const canaries: CanaryRun[] = [];
  try {
    for (let index = 0; index < releases; index += 1) {
      const model = `rel-${index}`;
      await Promise.all(
        CLOUDS.map((cloud) =>
          driverFor(state, cloud, namespace).seedStable(model, {
            version: '1.0.0',
            image: `registry.example/${model}:1.0.0@${DIGEST}`,
          }),
        ),
      );
      const releaseId = `kbench-${model}-${randomUUID().slice(0, 6)}`;
      const input = buildReleaseInput({
        request: {
          model: { name: model, version: '2.0.0', image: `registry.example/${model}:2.0.0@${DIGEST}` },
          clouds: [...CLOUDS],
          canary: { steps: STEPS, analysisIntervalSeconds: 0 },
          signoff: { quorum: 1, deadlineSeconds: 3600 },
          keepWarmSeconds: 0,
          activityTimeoutSeconds: 60,
        },
        releaseId,
        requestedBy: requester,
        config,
      });
      const handle = await client.workflow.start<typeof ReleaseWorkflow>('ReleaseWorkflow', {
        workflowId: releaseId,
        taskQueue: controlTaskQueue(config.temporal.taskQueuePrefix),
        args: [input],
        typedSearchAttributes: [
          { key: StageKey, value: 'validating' },
          { key: ModelNameKey, value: model },
          { key: ModelVersionKey, value: '2.0.0' },
          { key: CloudsKey, value: [...CLOUDS] },
        ],
      });
      for (;;) {
        if ((await handle.query(statusQuery)).stage === 'awaiting-signoff') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const samplesBefore = samples.length;
      await handle.executeUpdate(signoffUpdate, {
        args: [
          {
            approver,
            credential: identity.approverToken,
            decision: 'approve',
            comment: 'Benchmark approval.',
          },
        ],
      });
      const status = await handle.result();
      if (status.outcome !== 'completed') {
        throw new Error(`release ${releaseId} ended ${status.outcome}: ${status.reason?.message ?? ''}`);
      }
      for (const cloud of CLOUDS) {
        const child = await client.workflow.getHandle(cloudRolloutWorkflowId(releaseId, cloud)).describe();
        const workflowMs = child.closeTime!.getTime() - child.startTime.getTime();
        const driverMs = samples
          .slice(samplesBefore)
          .filter(
            (sample) =>
              sample.cloud === cloud &&
              sample.model === model &&
              ['deployCanary', 'setCanaryWeight', 'describe'].includes(sample.operation),
          )
          .reduce((sum, sample) => sum + sample.ms, 0);
        canaries.push({ cloud, workflowMs, driverMs });
      }
      note(`release ${index + 1}/${releases} completed`);
    }
  } finally {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.all(runs);
    await connection.close();
    await clientConnection.close();
    await server.stop();
    await identity.issuer.close();
  }
  return canaries;
}

// ---- report -----------------------------------------------------------------------------------------

interface Figure {
  n: number;
  medianMs: number;
  p95Ms: number;
}

function figure(values: number[]): Figure {
  return { n: values.length, medianMs: round(median(values), 1), p95Ms: round(percentile(values, 95), 1) };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'medrelease-bench-kube-'));
  const loadAtStart = await machineLoad();
  const buildStart = performance.now();
  const build = await ensureKubeBinaries({ log: note });
  const buildSeconds = (performance.now() - buildStart) / 1000;
  const stateDir = path.join(dataDir, 'kube');
  const state = await startLocalClusters({ stateDir, log: note });
  try {
    const namespace = 'bench';
    await createNamespace(state, namespace);
    note(`part 1: driver operations, ${iterations} iteration(s) per cloud`);
    const operationSamples = await measureOperations(state, namespace);
    note(`part 2: ${releases} orchestrated release(s) over the three clusters`);
    const canaries = await measureOrchestration(state, 'bench', dataDir);

    const operations = [...new Set(operationSamples.map((sample) => sample.operation))];
    const byMode: Record<string, Record<string, Figure>> = {};
    for (const [mode, clouds] of [
      ['gateway-api', ['aws', 'gcp']],
      ['replica-ratio', ['azure']],
    ] as const) {
      byMode[mode] = Object.fromEntries(
        operations.map((operation) => [
          operation,
          figure(
            operationSamples
              .filter(
                (sample) =>
                  sample.operation === operation && (clouds as readonly string[]).includes(sample.cloud),
              )
              .map((sample) => sample.ms),
          ),
        ]),
      );
    }
    const perCloud = Object.fromEntries(
      CLOUDS.map((cloud) => {
        const runs = canaries.filter((run) => run.cloud === cloud);
        return [
          cloud,
          {
            driverOnly: figure(
              operationSamples
                .filter((sample) => sample.cloud === cloud && sample.operation === 'canary (driver only)')
                .map((sample) => sample.ms),
            ),
            orchestrated: figure(runs.map((run) => run.workflowMs)),
            driverInOrchestrated: figure(runs.map((run) => run.driverMs)),
            orchestrationOverhead: figure(runs.map((run) => run.workflowMs - run.driverMs)),
          },
        ];
      }),
    );

    const cli = await findTemporalCli().catch(() => undefined);
    const machine = {
      cpu: await cpuModel(),
      cores: os.availableParallelism(),
      memoryGiB: round(os.totalmem() / 1024 ** 3, 1),
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      temporalCli: cli ? await commandVersion(cli.path) : 'none',
      kubernetes: state.kubernetesVersion,
    };
    out(
      `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}`,
    );
    out(`machine load at start: ${describeLoad(loadAtStart)}`);
    out(
      `binaries: ${build.builds.map((b) => `${b.tool} ${b.version} ${b.outcome} (${fixed(b.seconds, 1)} s)`).join(', ')}`,
    );
    out(
      `clusters: ${state.clusters.length} started in ${fixed(state.startSeconds, 1)} s (Kubernetes ${state.kubernetesVersion})`,
    );
    out();
    out(
      `Driver operations (ms; each returns once the cluster has rolled out), ${iterations} iteration(s) per cloud:`,
    );
    out(
      `  ${'operation'.padEnd(28)} ${'gateway-api median/p95'.padStart(24)} ${'replica-ratio median/p95'.padStart(26)}`,
    );
    for (const operation of operations) {
      const gateway = byMode['gateway-api']![operation]!;
      const replicas = byMode['replica-ratio']![operation]!;
      out(
        `  ${operation.padEnd(28)} ${`${fixed(gateway.medianMs, 0)} / ${fixed(gateway.p95Ms, 0)}`.padStart(24)} ${`${fixed(replicas.medianMs, 0)} / ${fixed(replicas.p95Ms, 0)}`.padStart(26)}`,
      );
    }
    out();
    out(`A whole 4-step canary per cloud (ms, zero analysis interval), ${releases} release(s):`);
    const bars: Bar[] = [];
    for (const cloud of CLOUDS) {
      const entry = perCloud[cloud]!;
      out(
        `  ${cloud.padEnd(6)} driver only ${fixed(entry.driverOnly.medianMs, 0)} / ${fixed(entry.driverOnly.p95Ms, 0)}` +
          `   orchestrated ${fixed(entry.orchestrated.medianMs, 0)} / ${fixed(entry.orchestrated.p95Ms, 0)}` +
          `   of which driver ${fixed(entry.driverInOrchestrated.medianMs, 0)}, orchestration ${fixed(entry.orchestrationOverhead.medianMs, 0)} (median / p95)`,
      );
      bars.push(
        { label: `${cloud} canary, driver only`, value: entry.driverOnly.medianMs },
        { label: `${cloud} canary, orchestrated`, value: entry.orchestrated.medianMs },
        { label: `${cloud} orchestration's own`, value: entry.orchestrationOverhead.medianMs },
      );
    }
    out();
    for (const line of asciiBars(bars, 40, ' ms')) out(line);
    const opBars: Bar[] = operations.map((operation) => ({
      label: `${operation} (gateway-api)`,
      value: byMode['gateway-api']![operation]!.medianMs,
    }));
    await mkdir(path.dirname(SVG_PATH), { recursive: true });
    await writeFile(
      SVG_PATH,
      svgDocument(
        'bench:kube — kubernetes driver on local control planes',
        [
          `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, Kubernetes ${machine.kubernetes}`,
          `${iterations} iteration(s) per cloud, ${releases} orchestrated release(s); medians`,
        ],
        [
          svgBarPanel('A 4-step canary per cloud (ms)', bars, 'ms'),
          svgBarPanel('Driver operations, Gateway API clouds (ms)', opBars, 'ms'),
        ],
      ),
    );
    out(`chart: ${path.relative(process.cwd(), SVG_PATH) || SVG_PATH}`);
    console.log(
      JSON.stringify({
        bench: 'kube',
        machine,
        iterations,
        releases,
        clusterStartSeconds: round(state.startSeconds, 1),
        buildSeconds: round(buildSeconds, 1),
        operations: byMode,
        canary: perCloud,
      }),
    );
  } finally {
    await stopLocalClusters(stateDir);
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  note(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
