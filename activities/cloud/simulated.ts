// SIMULATION. A model of one cloud's clusters for the zero-setup demo and benchmarks: deployments,
// canary weights and the previous version, with configurable latency and failures. Its state lives
// in files outside the worker process (one per model), so it survives a worker restart as a real
// cluster would, and every applied operation is logged once so tests can prove idempotency. A model's
// capacity (replicas at full traffic, set by `scale`) is part of its state, 4 until set.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CloudConflictError,
  CloudRejectedError,
  TransientCloudError,
  type CloudDriver,
  type CloudOperation,
  type DeploymentState,
} from './driver.js';

export interface SimulatedCloudOptions {
  /** Folder holding this cloud's state files. */
  stateDir: string;
  /** Added to every call, to model a slow control plane. Default 0. */
  latencyMs?: number;
  /** Probability (0–1) that a call fails transiently before changing anything. Default 0. */
  failureRate?: number;
  /** Random source for failures; tests and benchmarks pass a seeded one. Default Math.random. */
  random?: () => number;
}

export interface AppliedOperation {
  operationId: string;
  kind: string;
  releaseId: string;
  at: string;
  weight?: number;
  /** The capacity a `scale` operation set. */
  replicas?: number;
}

/** A model's capacity before any `scale`, and the largest one accepted. */
const DEFAULT_CAPACITY = 4;
const MAX_CAPACITY = 1000;

interface ModelFile {
  state: DeploymentState;
  operations: AppliedOperation[];
}

export class SimulatedCloudDriver implements CloudDriver {
  readonly kind = 'simulated' as const;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    readonly cloud: string,
    private readonly options: SimulatedCloudOptions,
  ) {}

  async describe(modelName: string): Promise<DeploymentState | null> {
    return (await this.read(modelName))?.state ?? null;
  }

  /** Every operation applied to a model, oldest first: the record tests read. */
  async operations(modelName: string): Promise<AppliedOperation[]> {
    return (await this.read(modelName))?.operations ?? [];
  }

  /** Puts a stable version in place, as if it had been released before (demo and test set-up). */
  async seedStable(modelName: string, version: { version: string; image: string }): Promise<void> {
    await this.apply(
      {
        operationId: `seed:${modelName}:${version.version}`,
        releaseId: 'seed',
        model: { name: modelName, ...version },
      },
      'seed',
      (state) => {
        state.stable = { ...version };
      },
    );
  }

  deployCanary(operation: CloudOperation): Promise<DeploymentState> {
    return this.apply(operation, 'deployCanary', (state) => {
      if (state.canary && state.canary.releaseId !== operation.releaseId) {
        throw new CloudConflictError(
          `${this.cloud} already runs a canary of ${operation.model.name} for release ${state.canary.releaseId}: one release of a model at a time`,
        );
      }
      state.canary = {
        version: operation.model.version,
        image: operation.model.image,
        releaseId: operation.releaseId,
      };
      state.canaryWeight = 0;
    });
  }

  setCanaryWeight(operation: CloudOperation & { weight: number }): Promise<DeploymentState> {
    return this.apply(
      operation,
      'setCanaryWeight',
      (state) => {
        if (state.canary?.releaseId !== operation.releaseId) {
          throw new CloudConflictError(`no canary of release ${operation.releaseId} in ${this.cloud}`);
        }
        state.canaryWeight = operation.weight;
      },
      { weight: operation.weight },
    );
  }

  promote(operation: CloudOperation): Promise<DeploymentState> {
    return this.apply(operation, 'promote', (state) => {
      if (state.stable?.releaseId === operation.releaseId) return;
      if (state.canary?.releaseId !== operation.releaseId) {
        throw new CloudConflictError(
          `no canary of release ${operation.releaseId} to promote in ${this.cloud}`,
        );
      }
      state.previous = state.stable ? { version: state.stable.version, image: state.stable.image } : null;
      state.stable = { ...state.canary };
      state.canary = null;
      state.canaryWeight = 0;
    });
  }

  rollback(operation: CloudOperation): Promise<DeploymentState> {
    return this.apply(operation, 'rollback', (state) => {
      if (state.canary?.releaseId === operation.releaseId) {
        state.canary = null;
        state.canaryWeight = 0;
      }
      if (state.stable?.releaseId === operation.releaseId) {
        state.stable = state.previous ? { ...state.previous } : null;
        state.previous = null;
      }
    });
  }

  retirePrevious(operation: CloudOperation): Promise<DeploymentState> {
    return this.apply(operation, 'retirePrevious', (state) => {
      if (state.stable?.releaseId === operation.releaseId) state.previous = null;
    });
  }

  async scale(operation: CloudOperation & { replicas: number }): Promise<DeploymentState> {
    const { replicas } = operation;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_CAPACITY) {
      throw new CloudRejectedError(
        `${this.cloud}: scale ${operation.model.name}: replicas must be an integer from 1 to ${MAX_CAPACITY}, got ${replicas}`,
      );
    }
    return this.apply(
      operation,
      'scale',
      (state) => {
        if (!state.stable && !state.canary) {
          throw new CloudConflictError(
            `no deployment of ${operation.model.name} to scale in ${this.cloud}: a model has a capacity once it has a stable version or a canary`,
          );
        }
        state.capacity = { replicas, via: 'replicas' };
      },
      { replicas },
    );
  }

  private file(modelName: string): string {
    return path.join(this.options.stateDir, `${modelName}.json`);
  }

  /** The model's file; one written before capacities existed reads with the default capacity. */
  private async read(modelName: string): Promise<ModelFile | null> {
    try {
      const file = JSON.parse(await readFile(this.file(modelName), 'utf8')) as ModelFile;
      file.state.capacity ??= { replicas: DEFAULT_CAPACITY, via: 'replicas' };
      return file;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** Serialises changes to one model file, applies `change` once per operation id, writes atomically. */
  private async apply(
    operation: CloudOperation,
    kind: string,
    change: (state: DeploymentState) => void,
    logged: Pick<AppliedOperation, 'weight' | 'replicas'> = {},
  ): Promise<DeploymentState> {
    const modelName = operation.model.name;
    const previous = this.locks.get(modelName) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        await this.simulateControlPlane(kind);
        const current = (await this.read(modelName)) ?? {
          state: {
            model: modelName,
            stable: null,
            canary: null,
            canaryWeight: 0,
            previous: null,
            capacity: { replicas: DEFAULT_CAPACITY, via: 'replicas' },
          },
          operations: [],
        };
        if (current.operations.some((applied) => applied.operationId === operation.operationId)) {
          return current.state;
        }
        change(current.state);
        current.operations.push({
          operationId: operation.operationId,
          kind,
          releaseId: operation.releaseId,
          at: new Date().toISOString(),
          ...logged,
        });
        await mkdir(this.options.stateDir, { recursive: true });
        const temporary = `${this.file(modelName)}.${randomUUID()}.tmp`;
        await writeFile(temporary, JSON.stringify(current, null, 1));
        await rename(temporary, this.file(modelName));
        return current.state;
      });
    this.locks.set(modelName, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(modelName) === next) this.locks.delete(modelName);
    }
  }

  private async simulateControlPlane(kind: string): Promise<void> {
    if (this.options.latencyMs) await delay(this.options.latencyMs);
    const random = this.options.random ?? Math.random;
    if (this.options.failureRate && random() < this.options.failureRate) {
      throw new TransientCloudError(`simulated ${this.cloud} control plane failed during ${kind} (HTTP 503)`);
    }
  }
}
