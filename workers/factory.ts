// How each worker is assembled from configuration: the control worker (workflows and control
// activities) and one cloud worker per cloud (that cloud's CloudRolloutWorkflows and activities,
// with only that cloud's driver). The entry points, tests and benchmarks all build workers here.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createCanaryJudge } from '../activities/analysis/release-judge.js';
import { loadAuditSigner } from '../activities/audit/keys.js';
import { SqliteAuditStore } from '../activities/audit/store.js';
import { createCloudActivities } from '../activities/cloud/activities.js';
import type { CloudDriver } from '../activities/cloud/driver.js';
import { KubernetesCloudDriver, loadContext } from '../activities/cloud/kubernetes.js';
import { SimulatedCloudDriver } from '../activities/cloud/simulated.js';
import { PolicyGate } from '../activities/compliance/gate.js';
import { FileReleaseHistory } from '../activities/compliance/history.js';
import { loadPolicyBundle } from '../activities/compliance/policy.js';
import { createControlActivities } from '../activities/control.js';
import { RiskService } from '../ml/risk/service.js';
import { SimulatedStagingTarget } from '../activities/staging.js';
import { PrometheusTelemetrySource } from '../activities/telemetry/prometheus.js';
import { SimulatedTelemetrySource } from '../activities/telemetry/simulated.js';
import type { TelemetrySource } from '../activities/telemetry/source.js';
import { auditPaths, telemetrySourceOf, type CloudConfig, type Config } from '../domain/config.js';
import { dataConverterFor, verifierFor } from '../security/setup.js';
import { cloudTaskQueue, controlTaskQueue } from '../domain/task-queues.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
/** The workflow bundle `npm run build` writes; workers fall back to bundling at start without it. */
export const WORKFLOW_BUNDLE_PATH = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

/**
 * The prebuilt bundle when it is at least as new as the compiled workflow code it was made from, else
 * the workflow sources (bundled when the worker starts), so a `tsc` without a re-bundle never runs
 * stale workflow code.
 */
export function defaultWorkflowSource(): WorkflowSource {
  if (!existsSync(WORKFLOW_BUNDLE_PATH)) return { workflowsPath: WORKFLOWS_PATH };
  const bundledAt = statSync(WORKFLOW_BUNDLE_PATH).mtimeMs;
  const sources = ['../workflows', '../domain', '../security'].map((folder) =>
    fileURLToPath(new URL(folder, import.meta.url)),
  );
  const newest = Math.max(
    ...sources.flatMap((folder) =>
      readdirSync(folder)
        .filter((name) => name.endsWith('.js'))
        .map((name) => statSync(path.join(folder, name)).mtimeMs),
    ),
  );
  return bundledAt >= newest
    ? { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } }
    : { workflowsPath: WORKFLOWS_PATH };
}

/** Where workflow code comes from: bundled at start (the default) or a bundle built once by a test. */
export type WorkflowSource = Pick<WorkerOptions, 'workflowsPath' | 'workflowBundle'>;

export interface WorkerContext {
  config: Config;
  connection: NativeConnection;
  workflows?: WorkflowSource;
  /** Worker tuning (cached workflows, task slots); the sizing guide in docs/ explains the values. */
  tuning?: Partial<
    Pick<
      WorkerOptions,
      'maxCachedWorkflows' | 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions'
    >
  >;
  identity?: string;
}

/** The shipped policy packs, next to the compiled code's package root. */
export const SHIPPED_POLICY_DIR = fileURLToPath(new URL('../../policies', import.meta.url));

export function policyDirectory(config: Config): string {
  return config.compliance.policyDir ? path.resolve(config.compliance.policyDir) : SHIPPED_POLICY_DIR;
}

export function stateDirectory(config: Config, ...parts: string[]): string {
  return path.resolve(config.dataDir, ...parts);
}

export async function createControlWorker(context: WorkerContext): Promise<Worker> {
  const { config } = context;
  const history = new FileReleaseHistory(stateDirectory(config, 'compliance', 'history'));
  const paths = auditPaths(config);
  mkdirSync(path.dirname(paths.database), { recursive: true });
  const audit = SqliteAuditStore.open(paths.database, {
    signer: loadAuditSigner(paths.signingKeyFile),
    retentionDays: config.audit.retentionDays,
  });
  const activities = createControlActivities({
    audit,
    credentials: verifierFor(config),
    staging: new SimulatedStagingTarget(),
    gate: new PolicyGate({
      bundle: loadPolicyBundle(policyDirectory(config), config.compliance.policyData),
      history,
      evidenceDir: stateDirectory(config, 'compliance', 'reports'),
      requireManifest: config.compliance.requireManifest,
    }),
    history,
    judges: [createCanaryJudge()],
    // The risk model learns from the release history on this audit trail.
    risk: new RiskService({
      readRecords: (afterSeq, limit) => audit.records({ afterSeq, limit }),
    }),
  });
  return Worker.create({
    connection: context.connection,
    namespace: config.temporal.namespace,
    taskQueue: controlTaskQueue(config.temporal.taskQueuePrefix),
    ...(context.workflows ?? defaultWorkflowSource()),
    activities,
    dataConverter: dataConverterFor(config),
    ...context.tuning,
    ...(context.identity ? { identity: context.identity } : {}),
  });
}

export function cloudConfig(config: Config, cloud: string): CloudConfig {
  const found = config.clouds.find((candidate) => candidate.name === cloud);
  if (!found) {
    throw new Error(
      `cloud '${cloud}' is not configured (configured: ${config.clouds.map((candidate) => candidate.name).join(', ')})`,
    );
  }
  return found;
}

export function createCloudDriver(config: Config, cloud: CloudConfig): CloudDriver {
  switch (cloud.driver) {
    case 'simulated':
      return new SimulatedCloudDriver(cloud.name, {
        stateDir: stateDirectory(config, 'sim-clouds', cloud.name),
        latencyMs: config.simulated.latencyMs,
        failureRate: config.simulated.failureRate,
      });
    case 'kubernetes':
      return new KubernetesCloudDriver(cloud.name, {
        kubeConfig: loadContext(cloud.kubeconfig, cloud.kubeContext!, cloud.name),
        namespace: cloud.namespace ?? 'medrelease',
        traffic: cloud.traffic ?? 'auto',
        replicas: cloud.replicas ?? 4,
        ...(cloud.gateway ? { gateway: cloud.gateway } : {}),
        progressDeadlineSeconds: cloud.progressDeadlineSeconds ?? 120,
      });
  }
}

export function createTelemetrySource(cloud: CloudConfig): TelemetrySource {
  switch (telemetrySourceOf(cloud)) {
    case 'simulated':
      return new SimulatedTelemetrySource();
    case 'prometheus': {
      const settings = cloud.prometheus!;
      return new PrometheusTelemetrySource({
        cloud: cloud.name,
        url: settings.url,
        ...(settings.bearerTokenFile ? { bearerTokenFile: settings.bearerTokenFile } : {}),
        ...(settings.scrapeIntervalSeconds !== undefined
          ? { scrapeIntervalSeconds: settings.scrapeIntervalSeconds }
          : {}),
        ...(settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {}),
        ...(settings.retries !== undefined ? { retries: settings.retries } : {}),
        ...(settings.selector ? { selector: settings.selector } : {}),
      });
    }
  }
}

export async function createCloudWorker(
  context: WorkerContext & { cloud: string; driver?: CloudDriver },
): Promise<Worker> {
  const { config } = context;
  const cloud = cloudConfig(config, context.cloud);
  const activities = createCloudActivities({
    driver: context.driver ?? createCloudDriver(config, cloud),
    telemetry: createTelemetrySource(cloud),
  });
  return Worker.create({
    connection: context.connection,
    namespace: config.temporal.namespace,
    taskQueue: cloudTaskQueue(cloud.name, config.temporal.taskQueuePrefix),
    ...(context.workflows ?? defaultWorkflowSource()),
    activities,
    dataConverter: dataConverterFor(config),
    ...context.tuning,
    ...(context.identity ? { identity: context.identity } : {}),
  });
}
