// A test environment on the real Temporal server: the server the test runner started
// (TEMPORAL_TEST_ADDRESS), or one of its own when a file runs alone. Each environment has its own
// task-queue prefix, data folder, users and simulated clouds, so test files never share state.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import {
  bundleWorkflowCode,
  NativeConnection,
  Runtime,
  DefaultLogger,
  type Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { ensureAuditKey } from '../../activities/audit/keys.js';
import { SimulatedCloudDriver } from '../../activities/cloud/simulated.js';
import {
  auditPaths,
  defaultPlacement,
  parseConfig,
  payloadKeyFile,
  type Config,
} from '../../domain/config.js';
import type { CreateReleaseRequest, Person } from '../../domain/release.js';
import { buildReleaseInput } from '../../domain/release-input.js';
import { CloudsKey, ModelNameKey, ModelVersionKey, StageKey } from '../../domain/search-attributes.js';
import { controlTaskQueue } from '../../domain/task-queues.js';
import { findFreePort, startDevServer, type DevServerHandle } from '../../infra/temporal.js';
import { DevIssuer } from '../../security/dev-issuer.js';
import { ensureKeyFile } from '../../security/payload-keys.js';
import { failureConverterPath } from '../../security/data-converter.js';
import { dataConverterFor } from '../../security/setup.js';
import { signoffUpdate, statusQuery } from '../../workflows/messages.js';
import { ReleaseWorkflow } from '../../workflows/release.js';
import {
  createCloudWorker,
  createControlWorker,
  defaultWorkflowSource,
  stateDirectory,
  WORKFLOWS_PATH,
} from '../../workers/factory.js';

export interface TestUser {
  person: Person;
  token: string;
}

export const DIGEST = `sha256:${'ab'.repeat(32)}`;

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Workflow code is bundled once per test process and shared by every worker. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: failureConverterPath(),
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger(process.env.TEST_LOG_LEVEL === 'debug' ? 'INFO' : 'ERROR') });
}

export interface RunningWorkers {
  workers: Worker[];
  stop(): Promise<void>;
}

export class TestEnvironment {
  readonly users: Record<
    | 'manager'
    | 'approverA'
    | 'approverB'
    | 'approverC'
    | 'operator'
    | 'viewer'
    | 'qa'
    | 'security'
    | 'auditor',
    TestUser
  >;

  private constructor(
    readonly config: Config,
    readonly address: string,
    readonly connection: NativeConnection,
    readonly clientConnection: Connection,
    readonly client: Client,
    private readonly ownServer: DevServerHandle | undefined,
    users: TestEnvironment['users'],
    /** The test's own OpenID Connect issuer (ephemeral keys): mint tokens for any of `users`. */
    readonly issuer: DevIssuer,
  ) {
    this.users = users;
  }

  static async create(
    options: { clouds?: string[]; configOverrides?: Record<string, unknown> } = {},
  ): Promise<TestEnvironment> {
    quietRuntime();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'medrelease-test-'));
    let ownServer: DevServerHandle | undefined;
    let address = process.env.TEMPORAL_TEST_ADDRESS;
    if (!address) {
      ownServer = await startDevServer({
        dbFile: path.join(dataDir, 'temporal.db'),
        port: await findFreePort(),
        headless: true,
      });
      address = ownServer.address;
    }
    const people = makeUsers();
    const issuer = await DevIssuer.start({
      users: Object.values(people),
      audience: 'medrelease-api',
      clients: [{ clientId: 'medrelease-ui', redirectUris: ['http://127.0.0.1/auth/callback'] }],
    });
    const users = Object.fromEntries(
      await Promise.all(
        Object.entries(people).map(async ([key, person]) => [
          key,
          { person, token: await issuer.mint(person.id) },
        ]),
      ),
    ) as TestEnvironment['users'];
    const config = parseConfig({
      temporal: { address, namespace: 'default', taskQueuePrefix: `t${randomUUID().slice(0, 8)}-` },
      dataDir,
      auth: { issuer: issuer.issuer, jwksUri: issuer.jwksUri },
      clouds: (options.clouds ?? ['aws', 'azure', 'gcp']).map((name) => ({
        name,
        driver: 'simulated',
        ...defaultPlacement(name),
      })),
      simulated: { latencyMs: 0, failureRate: 0 },
      // Releases of the workflow tests carry no manifest: the built-in request checks judge them.
      // test/compliance/ runs the policy gate on manifests.
      compliance: { requireManifest: false },
      ...options.configOverrides,
    });
    // The test's own keys: payloads are encrypted and audit records signed as in production.
    await ensureKeyFile(payloadKeyFile(config));
    await ensureAuditKey(auditPaths(config).signingKeyFile);
    const connection = await NativeConnection.connect({ address });
    const clientConnection = await Connection.connect({ address });
    const client = new Client({
      connection: clientConnection,
      namespace: config.temporal.namespace,
      dataConverter: dataConverterFor(config),
    });
    return new TestEnvironment(
      config,
      address,
      connection,
      clientConnection,
      client,
      ownServer,
      users,
      issuer,
    );
  }

  get dataDir(): string {
    return this.config.dataDir;
  }

  /** A view of one simulated cloud's state (the files the cloud worker writes). */
  cloud(name: string): SimulatedCloudDriver {
    return new SimulatedCloudDriver(name, { stateDir: stateDirectory(this.config, 'sim-clouds', name) });
  }

  async seedStable(model: string, version = '1.0.0'): Promise<void> {
    for (const cloud of this.config.clouds) {
      await this.cloud(cloud.name).seedStable(model, {
        version,
        image: `registry.example/${model}:${version}@${DIGEST}`,
      });
    }
  }

  /** Starts the control worker and one worker per cloud in this process. */
  async startWorkers(options: { clouds?: string[]; control?: boolean } = {}): Promise<RunningWorkers> {
    // The bundle `npm run build` made when it is current (saves seconds per test file), else one made here.
    const prebuilt = defaultWorkflowSource();
    const workflows = prebuilt.workflowBundle ? prebuilt : { workflowBundle: await workflowBundle() };
    const context = { config: this.config, connection: this.connection, workflows };
    const workers: Worker[] = [];
    if (options.control !== false) workers.push(await createControlWorker(context));
    for (const cloud of options.clouds ?? this.config.clouds.map((entry) => entry.name)) {
      workers.push(await createCloudWorker({ ...context, cloud }));
    }
    const runs = workers.map((worker) => worker.run());
    return {
      workers,
      async stop() {
        for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
        await Promise.all(runs);
      },
    };
  }

  /** A release request with quick timings, overridable per test. */
  request(overrides: Partial<CreateReleaseRequest> = {}): CreateReleaseRequest {
    const model = overrides.model?.name ?? `model-${randomUUID().slice(0, 8)}`;
    return {
      model: { name: model, version: '2.0.0', image: `registry.example/${model}:2.0.0@${DIGEST}` },
      clouds: this.config.clouds.map((cloud) => cloud.name),
      canary: { steps: [10, 50, 100], analysisIntervalSeconds: 0 },
      signoff: { quorum: 2, deadlineSeconds: 60 },
      keepWarmSeconds: 0,
      activityTimeoutSeconds: 10,
      ...overrides,
    };
  }

  async startRelease(
    request: CreateReleaseRequest,
    requestedBy: Person = this.users.manager.person,
  ): Promise<WorkflowHandle<typeof ReleaseWorkflow>> {
    const releaseId = request.releaseId ?? `rel-${randomUUID()}`;
    const input = buildReleaseInput({ request, releaseId, requestedBy, config: this.config });
    return this.client.workflow.start(ReleaseWorkflow, {
      workflowId: releaseId,
      taskQueue: controlTaskQueue(this.config.temporal.taskQueuePrefix),
      args: [input],
      typedSearchAttributes: [
        { key: StageKey, value: 'validating' },
        { key: ModelNameKey, value: input.model.name },
        { key: ModelVersionKey, value: input.model.version },
        { key: CloudsKey, value: request.clouds },
      ],
    });
  }

  async close(): Promise<void> {
    await this.connection.close();
    await this.clientConnection.close();
    await this.ownServer?.stop();
    await this.issuer.close();
    await rm(this.config.dataDir, { recursive: true, force: true });
  }
}

function makeUsers(): Record<keyof TestEnvironment['users'], Person> {
  const user = (id: string, name: string, roles: Person['roles']): Person => ({ id, name, roles });
  return {
    manager: user('rm-alice', 'Alice Release-Manager', ['release-manager', 'clinical-approver']),
    approverA: user('dr-bob', 'Dr Bob Approver', ['clinical-approver']),
    approverB: user('dr-carol', 'Dr Carol Approver', ['clinical-approver']),
    approverC: user('dr-erin', 'Dr Erin Approver', ['clinical-approver']),
    operator: user('op-dave', 'Dave Operator', ['operator']),
    viewer: user('vw-frank', 'Frank Viewer', ['viewer']),
    qa: user('qa-grace', 'Grace Regulatory-QA', ['regulatory-qa']),
    security: user('sec-heidi', 'Heidi Security', ['security']),
    auditor: user('au-ivan', 'Ivan Auditor', ['auditor']),
  };
}

/** Polls `check` until it returns a value, or fails after `timeoutMs` with the last error. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}` : ''}`,
  );
}

/** Waits for the sign-off stage and gives the two approvals a release needs by default. */
export async function approveRelease(
  env: TestEnvironment,
  handle: WorkflowHandle<typeof ReleaseWorkflow>,
  timeoutMs = 30_000,
): Promise<void> {
  await eventually(
    async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff',
    timeoutMs,
    'the release awaiting sign-off',
  );
  for (const [user, comment] of [
    [env.users.approverA, 'Validation evidence reviewed.'],
    [env.users.approverB, 'Within the change-control plan.'],
  ] as const) {
    await handle.executeUpdate(signoffUpdate, {
      args: [{ credential: user.token, approver: user.person, decision: 'approve', comment }],
    });
  }
}
