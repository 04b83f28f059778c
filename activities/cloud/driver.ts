// The CloudDriver: everything the release does to one cloud, behind one small interface with a
// real implementation (kubernetes) and a simulated one (the zero-setup demo and benchmarks).
// Every mutating call carries an operation id derived from the release and the step, so a retried
// or replayed activity finds its own earlier effect and does nothing twice.

export interface ModelVersion {
  version: string;
  image: string;
}

export interface DeploymentState {
  model: string;
  /** The version serving production traffic; null before the model's first release in this cloud. */
  stable: (ModelVersion & { releaseId?: string }) | null;
  canary: (ModelVersion & { releaseId: string }) | null;
  /** Share of traffic (percent) routed to the canary. */
  canaryWeight: number;
  /** The version promotion replaced, kept warm for instant rollback until retired. */
  previous: ModelVersion | null;
  /** How traffic is split in this cloud and the canary's share as measured there (percent). */
  traffic?: { mode: TrafficMode; canaryShare: number };
  /** Desired state someone changed by hand in the cloud, restored by this call (one line each). */
  corrections?: string[];
  /**
   * The model's capacity in force: the replicas serving it at full traffic (set by `scale`, else the
   * cloud's default), held as Deployment replicas or as HorizontalPodAutoscaler minReplicas.
   */
  capacity?: { replicas: number; via: 'replicas' | 'hpa' };
}

/**
 * gateway-api: weights on an HTTPRoute's backendRefs; replica-ratio: the share of Ready canary
 * endpoints behind one Service; simulated: the simulation's weight.
 */
export type TrafficMode = 'gateway-api' | 'replica-ratio' | 'simulated';

export interface CloudOperation {
  operationId: string;
  releaseId: string;
  model: { name: string; version: string; image: string };
}

export interface CloudDriver {
  readonly kind: 'simulated' | 'kubernetes';
  readonly cloud: string;
  describe(modelName: string): Promise<DeploymentState | null>;
  /** Creates the canary at 0 % traffic next to the stable version. */
  deployCanary(operation: CloudOperation): Promise<DeploymentState>;
  setCanaryWeight(operation: CloudOperation & { weight: number }): Promise<DeploymentState>;
  /** The canary becomes the stable version; the old stable is kept warm as `previous`. */
  promote(operation: CloudOperation): Promise<DeploymentState>;
  /** Restores the state before this release: no canary, and the previous stable version if it was promoted. */
  rollback(operation: CloudOperation): Promise<DeploymentState>;
  /** Ends the warm window: the previous version is scaled away. */
  retirePrevious(operation: CloudOperation): Promise<DeploymentState>;
  /**
   * Sets the model's capacity in this cloud: the replicas that serve it at full traffic. With a
   * HorizontalPodAutoscaler on a track's Deployment the HPA's minReplicas is raised/lowered instead (the HPA owns replicas).
   * Idempotent per operation id like every other change; returns the state after it.
   * `replicas` must be an integer from 1 to 1000 (else CloudRejectedError, nothing changed); a model
   * with neither a stable version nor a canary in the cloud has no capacity to set (CloudConflictError).
   */
  scale(operation: CloudOperation & { replicas: number }): Promise<DeploymentState>;
}

/**
 * The cloud's state forbids the change and retrying cannot fix it: another release's canary of the
 * same model is in place, or this release's canary is not there to change.
 */
export class CloudConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CloudConflictError';
  }
}

/**
 * The cloud's API refused the request and repeating it cannot help (401, 403, a missing namespace,
 * an invalid object): the message names the cloud, the object and the API's reason.
 */
export class CloudRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CloudRejectedError';
  }
}

/** A rollout that stopped progressing (the Deployment's progress deadline passed): its own message. */
export class RolloutFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RolloutFailedError';
  }
}

/** A failure the cloud answered with that retrying may fix (timeouts, 5xx, unreachable). */
export class TransientCloudError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientCloudError';
  }
}
