// The Kubernetes CloudDriver: one release of one model in one cluster, through the Kubernetes API.
//
// In the cluster a model is: the stable Deployment `<model>-stable`, the canary `<model>-canary`,
// while a promotion's warm window lasts the replaced version `<model>-previous`, and the Service
// `<model>`, which selects the serving pods (stable and canary; the previous version is warm but not
// serving). Traffic is split either by an HTTPRoute `<model>` whose weighted backendRefs point at the
// track Services `<model>-stable` and `<model>-canary` (Gateway API), or by replica ratio: the canary's
// share of the Ready endpoints behind `<model>`. Detection (the HTTPRoute CRD is installed) decides
// unless the configuration names a mode.
//
// Every write is a server-side apply of the whole desired object with medrelease's field manager, and
// every name is derived from the model, so repeating a call converges on the same state and creates
// nothing twice. What medrelease last set is kept in annotations; a difference found before the next
// change (someone scaled a Deployment or edited a weight by hand) is restored and reported.
//
// A model's capacity (the replicas serving it at full traffic, set by `scale`) is a record of
// annotations on its stable Deployment (on the canary while a first release has no stable one):
// the replicas, how they are held, and the ids of the recent scale operations, so that a repeated
// one changes nothing. The record, and an HPA's bounds when a HorizontalPodAutoscaler owns a track's
// replicas, are JSON merge patches of those fields alone: the whole-object applies never list them,
// so they survive every later apply (promotion rebuilds the stable Deployment in place).
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import {
  CloudConflictError,
  CloudRejectedError,
  RolloutFailedError,
  TransientCloudError,
  type CloudDriver,
  type CloudOperation,
  type DeploymentState,
  type ModelVersion,
  type TrafficMode,
} from './driver.js';

export const FIELD_MANAGER = 'medrelease';
const ANNOTATION = {
  releaseId: 'medrelease.io/release-id',
  version: 'medrelease.io/version',
  image: 'medrelease.io/image',
  weight: 'medrelease.io/weight',
  replicas: 'medrelease.io/replicas',
  replacedBy: 'medrelease.io/replaced-by',
  capacity: 'medrelease.io/capacity',
  capacityVia: 'medrelease.io/capacity-via',
  capacityOperations: 'medrelease.io/capacity-operations',
} as const;
/** Bounds of a model's capacity, and how many recent scale operation ids its record keeps. */
const MAX_CAPACITY = 1000;
const REMEMBERED_SCALE_OPERATIONS = 20;
const LABEL = {
  model: 'medrelease.io/model',
  serving: 'medrelease.io/serving',
  track: 'track',
} as const;
const HTTPROUTE_CRD = 'httproutes.gateway.networking.k8s.io';
const GATEWAY_API = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' };

type Track = 'stable' | 'canary' | 'previous' | 'staging';
type Capacity = NonNullable<DeploymentState['capacity']>;

/** A model's capacity as recorded on its Deployment, with the scale operations already applied. */
interface CapacityRecord extends Capacity {
  operations: string[];
}

export interface KubernetesDriverOptions {
  /** Holds this cloud's context only; one instance per cloud, never switched. */
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  /** 'auto' uses the Gateway API when the HTTPRoute CRD is installed, else the replica ratio. */
  traffic?: 'auto' | 'gateway-api' | 'replica-ratio';
  /** Pods serving a model at full traffic until `scale` sets the model's own capacity. Default 4. */
  replicas?: number;
  /** The Gateway an HTTPRoute attaches to (parentRefs); none leaves the route unattached. */
  gateway?: { name: string; namespace?: string };
  /** A Deployment that makes no progress for this long fails its step with its own condition message. */
  progressDeadlineSeconds?: number;
  /** Port the model server listens on in its container. */
  containerPort?: number;
  pollIntervalMs?: number;
}

interface Desired {
  version: string;
  image: string;
  releaseId: string;
}

export class KubernetesCloudDriver implements CloudDriver {
  readonly kind = 'kubernetes' as const;
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly apps: k8s.AppsV1Api;
  private readonly discovery: k8s.DiscoveryV1Api;
  private readonly extensions: k8s.ApiextensionsV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly autoscaling: k8s.AutoscalingV2Api;
  private readonly namespace: string;
  private readonly defaultReplicas: number;
  private readonly server: string;
  private mode: Promise<Exclude<TrafficMode, 'simulated'>> | undefined;

  constructor(
    readonly cloud: string,
    private readonly options: KubernetesDriverOptions,
  ) {
    const config = options.kubeConfig;
    this.objects = k8s.KubernetesObjectApi.makeApiClient(config);
    this.apps = config.makeApiClient(k8s.AppsV1Api);
    this.discovery = config.makeApiClient(k8s.DiscoveryV1Api);
    this.extensions = config.makeApiClient(k8s.ApiextensionsV1Api);
    this.custom = config.makeApiClient(k8s.CustomObjectsApi);
    this.autoscaling = config.makeApiClient(k8s.AutoscalingV2Api);
    this.namespace = options.namespace;
    this.defaultReplicas = options.replicas ?? 4;
    this.server = config.getCurrentCluster()?.server ?? 'unknown server';
  }

  /** How this cluster splits traffic: configured, or detected once from the HTTPRoute CRD. */
  trafficMode(): Promise<Exclude<TrafficMode, 'simulated'>> {
    if (this.options.traffic && this.options.traffic !== 'auto') return Promise.resolve(this.options.traffic);
    this.mode ??= this.call('read', `CustomResourceDefinition ${HTTPROUTE_CRD}`, async () => {
      const crd = await this.optional(() =>
        this.extensions.readCustomResourceDefinition({ name: HTTPROUTE_CRD }),
      );
      return crd ? ('gateway-api' as const) : ('replica-ratio' as const);
    }).catch((error: unknown) => {
      this.mode = undefined;
      throw error;
    });
    return this.mode;
  }

  /**
   * What a cloud worker checks when it starts: the API answers, the namespace exists and can be read,
   * and how traffic will be split. Problems are returned, not thrown: the worker still runs, so that
   * restores can go ahead once the cluster is back.
   */
  async checkAccess(): Promise<{ server: string; namespace: string; traffic?: string; problem?: string }> {
    const core = this.options.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const base = { server: this.server, namespace: this.namespace };
    try {
      await this.call('read', `Namespace ${this.namespace}`, () =>
        core.readNamespace({ name: this.namespace }),
      );
      return { ...base, traffic: await this.trafficMode() };
    } catch (error) {
      return { ...base, problem: (error as Error).message };
    }
  }

  async describe(modelName: string): Promise<DeploymentState | null> {
    const [stable, canary, previous] = await Promise.all([
      this.readDeployment(modelName, 'stable'),
      this.readDeployment(modelName, 'canary'),
      this.readDeployment(modelName, 'previous'),
    ]);
    if (!stable && !canary && !previous) return null;
    const mode = await this.trafficMode();
    const canaryShare = await this.canaryShare(modelName, mode, canary);
    const { replicas, via } = this.capacityOf(stable, canary);
    return {
      model: modelName,
      stable: stable ? { ...versionOf(stable), releaseId: annotation(stable, ANNOTATION.releaseId) } : null,
      canary: canary ? { ...versionOf(canary), releaseId: annotation(canary, ANNOTATION.releaseId) } : null,
      canaryWeight: canary ? Number(annotation(canary, ANNOTATION.weight) || 0) : 0,
      previous: previous ? versionOf(previous) : null,
      traffic: { mode, canaryShare },
      capacity: { replicas, via },
    };
  }

  /** Puts a version in place as the stable one, as an earlier release would have (set-up, demos). */
  async seedStable(modelName: string, version: ModelVersion): Promise<void> {
    const mode = await this.trafficMode();
    const [stable, canary] = await Promise.all([
      this.readDeployment(modelName, 'stable'),
      this.readDeployment(modelName, 'canary'),
    ]);
    await this.applyServices(modelName, mode);
    await this.applyDeployment(
      modelName,
      'stable',
      { ...version, releaseId: 'seed' },
      this.capacityOf(stable, canary).replicas,
    );
    if (mode === 'gateway-api') await this.applyRoute(modelName, 0);
    await this.waitRolledOut(modelName, 'stable');
  }

  /** The release's version in its staging Deployment (one replica, not serving). */
  async deployStaging(operation: CloudOperation): Promise<DeploymentState | null> {
    await this.applyDeployment(operation.model.name, 'staging', desiredOf(operation), 1);
    await this.waitRolledOut(operation.model.name, 'staging');
    return this.describe(operation.model.name);
  }

  async removeStaging(operation: CloudOperation): Promise<void> {
    await this.deleteDeployment(operation.model.name, 'staging');
  }

  async deployCanary(operation: CloudOperation): Promise<DeploymentState> {
    const model = operation.model.name;
    const mode = await this.trafficMode();
    const [stable, canary] = await Promise.all([
      this.readDeployment(model, 'stable'),
      this.readDeployment(model, 'canary'),
    ]);
    this.assertNoOtherCanary(canary, operation);
    const corrections = await this.driftOf(model, mode);
    await this.applyServices(model, mode);
    if (mode === 'gateway-api') await this.applyRoute(model, 0);
    await this.applyDeployment(model, 'canary', desiredOf(operation), mode === 'gateway-api' ? 1 : 0, 0);
    await this.waitRolledOut(model, 'canary');
    if (stable) {
      // The stable version at the model's full capacity (a replica count changed by hand is restored).
      const capacity = this.capacityOf(stable, canary).replicas;
      await this.applyDeployment(model, 'stable', desiredFrom(stable), capacity);
      await this.waitRolledOut(model, 'stable');
    }
    return this.state(model, corrections);
  }

  async setCanaryWeight(operation: CloudOperation & { weight: number }): Promise<DeploymentState> {
    const model = operation.model.name;
    const mode = await this.trafficMode();
    const [stable, canary] = await Promise.all([
      this.readDeployment(model, 'stable'),
      this.readDeployment(model, 'canary'),
    ]);
    if (!canary || annotation(canary, ANNOTATION.releaseId) !== operation.releaseId) {
      this.assertNoOtherCanary(canary, operation);
      throw new CloudConflictError(`no canary of release ${operation.releaseId} in ${this.cloud}`);
    }
    const corrections = await this.driftOf(model, mode);
    const split = this.split(mode, operation.weight, this.capacityOf(stable, canary).replicas);
    // Capacity first, traffic second: the canary is Ready before it is sent its share.
    await this.applyDeployment(model, 'canary', desiredOf(operation), split.canary, operation.weight);
    await this.waitRolledOut(model, 'canary');
    if (mode === 'gateway-api') await this.applyRoute(model, operation.weight);
    // By replica ratio the stable version makes room; with weighted routing it keeps full capacity
    // (applied again all the same: a replica count changed by hand is restored).
    if (stable) {
      await this.applyDeployment(model, 'stable', desiredFrom(stable), split.stable);
      await this.waitRolledOut(model, 'stable');
    }
    // The share is only real once the Service's EndpointSlices list the new pods.
    if (mode === 'replica-ratio') {
      await this.waitForEndpoints(model, split.canary, split.canary + (stable ? split.stable : 0));
    }
    return this.state(model, corrections);
  }

  async promote(operation: CloudOperation): Promise<DeploymentState> {
    const model = operation.model.name;
    const mode = await this.trafficMode();
    const [stable, canary] = await Promise.all([
      this.readDeployment(model, 'stable'),
      this.readDeployment(model, 'canary'),
    ]);
    const capacity = this.capacityOf(stable, canary);
    if (!stable || annotation(stable, ANNOTATION.releaseId) !== operation.releaseId) {
      if (!canary || annotation(canary, ANNOTATION.releaseId) !== operation.releaseId) {
        throw new CloudConflictError(
          `no canary of release ${operation.releaseId} to promote in ${this.cloud}`,
        );
      }
      if (stable) {
        // The version being replaced stays warm, not serving, for an instant rollback.
        await this.applyDeployment(
          model,
          'previous',
          desiredFrom(stable),
          capacity.replicas,
          undefined,
          operation.releaseId,
        );
        await this.waitRolledOut(model, 'previous');
      }
      await this.applyDeployment(model, 'stable', desiredOf(operation), capacity.replicas);
      await this.waitRolledOut(model, 'stable');
    }
    // Also reached when a retry finds the stable already promoted: finish what is left.
    if (mode === 'gateway-api') await this.applyRoute(model, 0);
    if (canary && annotation(canary, ANNOTATION.releaseId) === operation.releaseId) {
      // A first release's capacity was recorded on its canary: the stable Deployment keeps it now.
      const record = capacityRecord(canary);
      if (record && !(stable && capacityRecord(stable))) await this.recordCapacity(model, 'stable', record);
      await this.deleteDeployment(model, 'canary');
    }
    return this.state(model, []);
  }

  async rollback(operation: CloudOperation): Promise<DeploymentState> {
    const model = operation.model.name;
    const mode = await this.trafficMode();
    const [stable, canary, previous] = await Promise.all([
      this.readDeployment(model, 'stable'),
      this.readDeployment(model, 'canary'),
      this.readDeployment(model, 'previous'),
    ]);
    // Nothing of the model here (it never got this far, or the namespace does not even exist): the
    // cluster is as it was before the release, and nothing is created now.
    if (!stable && !canary && !previous) {
      return { model, stable: null, canary: null, canaryWeight: 0, previous: null };
    }
    const capacity = this.capacityOf(stable, canary);
    const ours = (deployment: k8s.V1Deployment | null) =>
      deployment !== null && annotation(deployment, ANNOTATION.releaseId) === operation.releaseId;

    if (ours(canary)) {
      // Before promotion: all traffic back to the stable version at full capacity, then the canary goes.
      if (mode === 'gateway-api') await this.applyRoute(model, 0);
      if (stable) {
        await this.applyDeployment(model, 'stable', desiredFrom(stable), capacity.replicas);
        await this.waitRolledOut(model, 'stable');
      }
      await this.deleteDeployment(model, 'canary');
    }
    if (ours(stable)) {
      if (previous && annotation(previous, ANNOTATION.replacedBy) === operation.releaseId) {
        // After promotion: the warm previous pods take the traffic at once, the stable Deployment is
        // rebuilt from them, and the Services go back to it.
        await this.applyServices(model, mode, 'previous');
        await this.applyDeployment(model, 'stable', desiredFrom(previous), capacity.replicas);
        await this.waitRolledOut(model, 'stable');
      } else {
        // The release was the model's first in this cloud: before it there was nothing.
        await this.deleteDeployment(model, 'stable');
      }
    }
    // Always: the Services select the serving pods again and (with no canary left) the route sends
    // everything to stable; a retry after a crash half-way lands here too.
    const remainingCanary = ours(canary) ? null : canary;
    await this.applyServices(model, mode);
    if (mode === 'gateway-api' && !remainingCanary) await this.applyRoute(model, 0);
    if (previous && annotation(previous, ANNOTATION.replacedBy) === operation.releaseId) {
      await this.deleteDeployment(model, 'previous');
    }
    return this.state(model, []);
  }

  async retirePrevious(operation: CloudOperation): Promise<DeploymentState> {
    const model = operation.model.name;
    const previous = await this.readDeployment(model, 'previous');
    if (previous && annotation(previous, ANNOTATION.replacedBy) === operation.releaseId) {
      await this.deleteDeployment(model, 'previous');
    }
    return this.state(model, []);
  }

  /**
   * Sets the model's capacity: the current split (canary weight unchanged) re-applied at `replicas`,
   * or, for a track whose Deployment a HorizontalPodAutoscaler scales, that HPA's minReplicas set to
   * the track's share (maxReplicas raised to it if lower) and the Deployment left to the HPA. Pods
   * are added before any are taken away on the other track, so the canary's share never overshoots
   * in between. Returns once the Deployments (and, by replica ratio, the EndpointSlices) show it.
   */
  async scale(operation: CloudOperation & { replicas: number }): Promise<DeploymentState> {
    const model = operation.model.name;
    const { replicas } = operation;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_CAPACITY) {
      throw new CloudRejectedError(
        `${this.cloud}: scale ${model}: replicas must be an integer from 1 to ${MAX_CAPACITY}, got ${replicas}`,
      );
    }
    const mode = await this.trafficMode();
    const [stable, canary] = await Promise.all([
      this.readDeployment(model, 'stable'),
      this.readDeployment(model, 'canary'),
    ]);
    if (!stable && !canary) {
      throw new CloudConflictError(
        `no Deployment of ${model} to scale in ${this.cloud}: a model has a capacity once it has a stable version or a canary`,
      );
    }
    const current = this.capacityOf(stable, canary);
    if (current.operations.includes(operation.operationId)) return this.state(model, []);
    const autoscalers = await this.autoscalersOf(model);
    const scaledByHpa = new Set(autoscalers.map((hpa) => hpa.spec?.scaleTargetRef.name));
    const corrections = await this.driftOf(model, mode, scaledByHpa);
    const weight = canary ? Number(annotation(canary, ANNOTATION.weight) || 0) : 0;
    const split = this.split(mode, weight, replicas);
    const tracks = [
      { track: 'stable' as const, deployment: stable },
      { track: 'canary' as const, deployment: canary },
    ].flatMap(({ track, deployment }) => {
      const hpas = autoscalers.filter((hpa) => hpa.spec?.scaleTargetRef.name === objectName(model, track));
      return deployment ? [{ track, deployment, hpas }] : [];
    });
    // Scaling up the stable track grows first, scaling down the canary shrinks first.
    if (replicas < current.replicas) tracks.reverse();
    for (const { track, deployment, hpas } of tracks) {
      const share = split[track];
      for (const hpa of hpas) await this.setMinReplicas(hpa, Math.max(1, share));
      if (hpas.length > 0) continue;
      const trackWeight = track === 'canary' ? weight : undefined;
      await this.applyDeployment(model, track, desiredFrom(deployment), share, trackWeight);
      await this.waitRolledOut(model, track);
    }
    const viaHpa = tracks.some(({ hpas }) => hpas.length > 0);
    if (mode === 'replica-ratio' && !viaHpa) {
      const canaryPods = canary ? split.canary : 0;
      await this.waitForEndpoints(model, canaryPods, canaryPods + (stable ? split.stable : 0));
    }
    await this.recordCapacity(model, stable ? 'stable' : 'canary', {
      replicas,
      via: viaHpa ? 'hpa' : 'replicas',
      operations: [...current.operations, operation.operationId].slice(-REMEMBERED_SCALE_OPERATIONS),
    });
    return this.state(model, corrections);
  }

  /** Waits until the Deployment of a track has rolled out; fails with its own message past its deadline. */
  async waitRolledOut(modelName: string, track: Track): Promise<void> {
    const name = objectName(modelName, track);
    for (;;) {
      const deployment = await this.readDeployment(modelName, track);
      if (!deployment) {
        throw new TransientCloudError(
          `${this.cloud}: Deployment ${this.namespace}/${name} disappeared during its rollout`,
        );
      }
      const stalled = deployment.status?.conditions?.find(
        (condition) => condition.type === 'Progressing' && condition.reason === 'ProgressDeadlineExceeded',
      );
      if (stalled && isCurrentGeneration(deployment)) {
        // Why no pod came up, when the ReplicaSet could not create them (an invalid pod, a quota).
        const failure = deployment.status?.conditions?.find(
          (condition) => condition.type === 'ReplicaFailure' && condition.status === 'True',
        );
        throw new RolloutFailedError(
          `${this.cloud}: Deployment ${this.namespace}/${name} did not roll out: ${stalled.message ?? stalled.reason}${failure?.message ? ` (${failure.message})` : ''}`,
        );
      }
      if (isRolledOut(deployment)) return;
      await delay(this.options.pollIntervalMs ?? 250);
    }
  }

  /** Waits until the model's Service has exactly these Ready endpoints (the endpointslice controller lags the pods). */
  private async waitForEndpoints(modelName: string, canary: number, total: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const endpoints = await this.readyEndpoints(modelName);
      if (endpoints.canary === canary && endpoints.total === total) return;
      if (Date.now() > deadline) {
        throw new TransientCloudError(
          `${this.cloud}: Service ${this.namespace}/${serviceName(modelName)} has ${endpoints.canary} canary of ${endpoints.total} Ready endpoints, not ${canary} of ${total}, 30 s after the rollout`,
        );
      }
      await delay(this.options.pollIntervalMs ?? 250);
    }
  }

  // ---- desired objects ------------------------------------------------------------------------

  /** Each track's replicas at a canary weight, for a model whose capacity (full-traffic replicas) is `capacity`. */
  private split(
    mode: Exclude<TrafficMode, 'simulated'>,
    weight: number,
    capacity: number,
  ): { canary: number; stable: number } {
    const canary = weight <= 0 ? 0 : Math.min(capacity, Math.max(1, Math.ceil((capacity * weight) / 100)));
    // With weighted routing the stable track keeps full capacity; the canary needs one pod to take any.
    if (mode === 'gateway-api') return { canary: Math.max(1, canary), stable: capacity };
    return { canary, stable: capacity - canary };
  }

  private labels(modelName: string): Record<string, string> {
    return {
      'app.kubernetes.io/name': modelName,
      'app.kubernetes.io/managed-by': 'medrelease',
      [LABEL.model]: modelName,
    };
  }

  private async applyDeployment(
    modelName: string,
    track: Track,
    desired: Desired,
    replicas: number,
    weight?: number,
    replacedBy?: string,
  ): Promise<void> {
    const serving = track === 'stable' || track === 'canary';
    const podLabels = {
      ...this.labels(modelName),
      'app.kubernetes.io/version': labelValue(desired.version),
      [LABEL.track]: track,
      [LABEL.serving]: String(serving),
    };
    const body: k8s.V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: objectName(modelName, track),
        namespace: this.namespace,
        labels: podLabels,
        annotations: {
          [ANNOTATION.releaseId]: desired.releaseId,
          [ANNOTATION.version]: desired.version,
          [ANNOTATION.image]: desired.image,
          [ANNOTATION.replicas]: String(replicas),
          ...(weight === undefined ? {} : { [ANNOTATION.weight]: String(weight) }),
          ...(replacedBy ? { [ANNOTATION.replacedBy]: replacedBy } : {}),
        },
      },
      spec: {
        replicas,
        revisionHistoryLimit: 3,
        progressDeadlineSeconds: this.options.progressDeadlineSeconds ?? 120,
        selector: { matchLabels: { [LABEL.model]: modelName, [LABEL.track]: track } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
        template: {
          metadata: { labels: podLabels, annotations: { [ANNOTATION.version]: desired.version } },
          spec: {
            containers: [
              {
                name: 'model',
                image: desired.image,
                ports: [{ name: 'http', containerPort: this.options.containerPort ?? 8080 }],
              },
            ],
          },
        },
      },
    };
    await this.apply(body);
  }

  /** `<model>` selects the serving pods (or, during an instant rollback, the warm previous ones). */
  private async applyServices(
    modelName: string,
    mode: Exclude<TrafficMode, 'simulated'>,
    route: 'serving' | 'previous' = 'serving',
  ): Promise<void> {
    const service = (name: string, selector: Record<string, string>): k8s.V1Service => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: this.namespace, labels: this.labels(modelName) },
      spec: {
        selector: { [LABEL.model]: modelName, ...selector },
        ports: [{ name: 'http', port: 80, targetPort: 'http' }],
      },
    });
    const main: Record<string, string> =
      route === 'previous' ? { [LABEL.track]: 'previous' } : { [LABEL.serving]: 'true' };
    const writes = [this.apply(service(serviceName(modelName), main))];
    if (mode === 'gateway-api') {
      writes.push(
        this.apply(
          service(
            objectName(modelName, 'stable'),
            route === 'previous' ? { [LABEL.track]: 'previous' } : { [LABEL.track]: 'stable' },
          ),
        ),
        this.apply(service(objectName(modelName, 'canary'), { [LABEL.track]: 'canary' })),
      );
    }
    await Promise.all(writes);
  }

  private async applyRoute(modelName: string, weight: number): Promise<void> {
    const gateway = this.options.gateway;
    await this.apply({
      apiVersion: `${GATEWAY_API.group}/${GATEWAY_API.version}`,
      kind: 'HTTPRoute',
      metadata: {
        name: serviceName(modelName),
        namespace: this.namespace,
        labels: this.labels(modelName),
        annotations: { [ANNOTATION.weight]: String(weight) },
      },
      spec: {
        ...(gateway
          ? {
              parentRefs: [
                { name: gateway.name, ...(gateway.namespace ? { namespace: gateway.namespace } : {}) },
              ],
            }
          : {}),
        rules: [
          {
            backendRefs: [
              { name: objectName(modelName, 'stable'), port: 80, weight: 100 - weight },
              { name: objectName(modelName, 'canary'), port: 80, weight },
            ],
          },
        ],
      },
    } as k8s.KubernetesObject);
  }

  /** Writes a model's capacity record on its stable (or, before a first promotion, canary) Deployment. */
  private async recordCapacity(
    modelName: string,
    track: 'stable' | 'canary',
    record: CapacityRecord,
  ): Promise<void> {
    await this.mergePatch({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: objectName(modelName, track),
        namespace: this.namespace,
        annotations: {
          [ANNOTATION.capacity]: String(record.replicas),
          [ANNOTATION.capacityVia]: record.via,
          [ANNOTATION.capacityOperations]: JSON.stringify(record.operations),
        },
      },
    });
  }

  /** An HPA's floor set to a track's share of the capacity; its ceiling raised to the floor if below. */
  private async setMinReplicas(hpa: k8s.V2HorizontalPodAutoscaler, minReplicas: number): Promise<void> {
    await this.mergePatch({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: hpa.metadata?.name, namespace: this.namespace },
      spec: {
        minReplicas,
        ...((hpa.spec?.maxReplicas ?? 0) < minReplicas ? { maxReplicas: minReplicas } : {}),
      },
    } as k8s.KubernetesObject);
  }

  // ---- what is in the cluster -------------------------------------------------------------------

  /** The model's capacity: the stable Deployment's record, else the canary's, else the configured default. */
  private capacityOf(stable: k8s.V1Deployment | null, canary: k8s.V1Deployment | null): CapacityRecord {
    return (
      (stable && capacityRecord(stable)) ??
      (canary && capacityRecord(canary)) ?? {
        replicas: this.defaultReplicas,
        via: 'replicas',
        operations: [],
      }
    );
  }

  /** The autoscaling/v2 HorizontalPodAutoscalers in the namespace whose target is the model's stable or canary Deployment. */
  private async autoscalersOf(modelName: string): Promise<k8s.V2HorizontalPodAutoscaler[]> {
    const targets = new Set([objectName(modelName, 'stable'), objectName(modelName, 'canary')]);
    const list = await this.call('list', `HorizontalPodAutoscalers in ${this.namespace}`, () =>
      this.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: this.namespace }),
    );
    return list.items.filter(
      (hpa) => hpa.spec?.scaleTargetRef.kind === 'Deployment' && targets.has(hpa.spec.scaleTargetRef.name),
    );
  }

  private async state(modelName: string, corrections: string[]): Promise<DeploymentState> {
    const state = (await this.describe(modelName)) ?? {
      model: modelName,
      stable: null,
      canary: null,
      canaryWeight: 0,
      previous: null,
    };
    return corrections.length > 0 ? { ...state, corrections } : state;
  }

  /**
   * Differences between what medrelease last set and what the cluster holds (a Deployment scaled by
   * hand, a route weight edited), each as one line. The caller's apply restores them. The replicas of
   * Deployments named in `scaledByHpa` are the HPA's to change, not drift.
   */
  private async driftOf(
    modelName: string,
    mode: Exclude<TrafficMode, 'simulated'>,
    scaledByHpa: ReadonlySet<string | undefined> = new Set(),
  ): Promise<string[]> {
    const found: string[] = [];
    for (const track of ['stable', 'canary'] as const) {
      const deployment = await this.readDeployment(modelName, track);
      if (!deployment) continue;
      const wanted = annotation(deployment, ANNOTATION.replicas);
      if (
        wanted !== '' &&
        !scaledByHpa.has(objectName(modelName, track)) &&
        String(deployment.spec?.replicas ?? 1) !== wanted
      ) {
        found.push(
          `${this.cloud}: Deployment ${this.namespace}/${objectName(modelName, track)} had ${deployment.spec?.replicas ?? 1} replicas, medrelease had set ${wanted}: restored`,
        );
      }
      const image = deployment.spec?.template.spec?.containers[0]?.image;
      if (image !== annotation(deployment, ANNOTATION.image)) {
        found.push(
          `${this.cloud}: Deployment ${this.namespace}/${objectName(modelName, track)} ran image ${image}, medrelease had set ${annotation(deployment, ANNOTATION.image)}: restored`,
        );
      }
    }
    if (mode === 'gateway-api') {
      const route = await this.readRoute(modelName);
      if (route) {
        const wanted = Number(route.metadata?.annotations?.[ANNOTATION.weight] ?? 0);
        const refs = route.spec?.rules?.[0]?.backendRefs ?? [];
        const weightOf = (name: string) => refs.find((ref) => ref.name === name)?.weight ?? 0;
        const stableWeight = weightOf(objectName(modelName, 'stable'));
        const canaryWeight = weightOf(objectName(modelName, 'canary'));
        if (stableWeight !== 100 - wanted || canaryWeight !== wanted || refs.length !== 2) {
          found.push(
            `${this.cloud}: HTTPRoute ${this.namespace}/${serviceName(modelName)} weights were stable ${stableWeight} / canary ${canaryWeight}, medrelease had set ${100 - wanted} / ${wanted}: restored`,
          );
        }
      }
    }
    return found;
  }

  /** The canary's share of traffic: the route's weight, or its share of the Ready serving endpoints. */
  private async canaryShare(
    modelName: string,
    mode: Exclude<TrafficMode, 'simulated'>,
    canary: k8s.V1Deployment | null,
  ): Promise<number> {
    if (mode === 'gateway-api') {
      const route = await this.readRoute(modelName);
      const refs = route?.spec?.rules?.[0]?.backendRefs ?? [];
      const total = refs.reduce((sum, ref) => sum + (ref.weight ?? 1), 0);
      const canaryWeight = refs.find((ref) => ref.name === objectName(modelName, 'canary'))?.weight ?? 0;
      return canary && total > 0 ? round((canaryWeight / total) * 100) : 0;
    }
    const endpoints = await this.readyEndpoints(modelName);
    return endpoints.total > 0 ? round((endpoints.canary / endpoints.total) * 100) : 0;
  }

  /** Ready endpoints behind the model's Service, from its EndpointSlices, and how many are canary pods. */
  async readyEndpoints(modelName: string): Promise<{ total: number; canary: number; addresses: string[] }> {
    const slices = await this.call(
      'list',
      `EndpointSlices of Service ${this.namespace}/${serviceName(modelName)}`,
      () =>
        this.discovery.listNamespacedEndpointSlice({
          namespace: this.namespace,
          labelSelector: `kubernetes.io/service-name=${serviceName(modelName)}`,
        }),
    );
    const canaryPrefix = `${objectName(modelName, 'canary')}-`;
    let total = 0;
    let canary = 0;
    const addresses: string[] = [];
    for (const slice of slices.items) {
      // A Service with no pods behind it has slices whose `endpoints` is null, not [].
      for (const endpoint of slice.endpoints ?? []) {
        if (endpoint.conditions?.ready === false) continue;
        total += 1;
        addresses.push(...(endpoint.addresses ?? []));
        if (endpoint.targetRef?.name?.startsWith(canaryPrefix)) canary += 1;
      }
    }
    return { total, canary, addresses };
  }

  private readDeployment(modelName: string, track: Track): Promise<k8s.V1Deployment | null> {
    const name = objectName(modelName, track);
    return this.call('read', `Deployment ${this.namespace}/${name}`, () =>
      this.optional(() => this.apps.readNamespacedDeployment({ name, namespace: this.namespace })),
    );
  }

  private async readRoute(modelName: string): Promise<HttpRoute | null> {
    const name = serviceName(modelName);
    return this.call('read', `HTTPRoute ${this.namespace}/${name}`, () =>
      this.optional(
        () =>
          this.custom.getNamespacedCustomObject({
            ...GATEWAY_API,
            namespace: this.namespace,
            name,
          }) as Promise<HttpRoute>,
      ),
    );
  }

  private async deleteDeployment(modelName: string, track: Track): Promise<void> {
    const name = objectName(modelName, track);
    await this.call('delete', `Deployment ${this.namespace}/${name}`, () =>
      this.optional(() =>
        this.apps.deleteNamespacedDeployment({
          name,
          namespace: this.namespace,
          propagationPolicy: 'Background',
        }),
      ),
    );
  }

  private async apply(body: k8s.KubernetesObject): Promise<void> {
    const what = `${body.kind} ${this.namespace}/${body.metadata?.name}`;
    await this.call('apply', what, () =>
      this.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply),
    );
  }

  /** A JSON merge patch of the fields in `body` alone, leaving the rest of the object to its owners. */
  private async mergePatch(body: k8s.KubernetesObject): Promise<void> {
    const what = `${body.kind} ${this.namespace}/${body.metadata?.name}`;
    await this.call('patch', what, () =>
      this.objects.patch(body, undefined, undefined, FIELD_MANAGER, undefined, k8s.PatchStrategy.MergePatch),
    );
  }

  private assertNoOtherCanary(canary: k8s.V1Deployment | null, operation: CloudOperation): void {
    const owner = canary ? annotation(canary, ANNOTATION.releaseId) : '';
    if (canary && owner !== operation.releaseId) {
      throw new CloudConflictError(
        `${this.cloud} already runs a canary of ${operation.model.name} for release ${owner}: one release of a model at a time`,
      );
    }
  }

  /** Resolves null for a 404 of the object itself (a missing namespace is still an error). */
  private async optional<T>(read: () => Promise<T>): Promise<T | null> {
    try {
      return await read();
    } catch (error) {
      if (error instanceof k8s.ApiException && error.code === 404 && !isMissingNamespace(error)) return null;
      throw error;
    }
  }

  /** Runs one API call and turns its failure into the driver's error kinds, each naming the cloud and object. */
  private async call<T>(verb: string, what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.translate(error, verb, what);
    }
  }

  private translate(error: unknown, verb: string, what: string): Error {
    if (
      error instanceof CloudConflictError ||
      error instanceof CloudRejectedError ||
      error instanceof TransientCloudError ||
      error instanceof RolloutFailedError
    ) {
      return error;
    }
    if (error instanceof k8s.ApiException) {
      const status = parseStatus(error.body);
      const reason = `HTTP ${error.code}${status.reason ? ` ${status.reason}` : ''}${status.message ? `: ${status.message}` : ''}`;
      const message = `${this.cloud}: ${verb} ${what} failed: ${reason}`;
      if (error.code === 409 || error.code === 429 || error.code >= 500)
        return new TransientCloudError(message);
      if (error.code === 404 && !isMissingNamespace(error)) return new TransientCloudError(message);
      return new CloudRejectedError(message);
    }
    const cause = error instanceof Error ? error : new Error(String(error));
    const code =
      (cause as NodeJS.ErrnoException).code ?? (cause.cause as NodeJS.ErrnoException | undefined)?.code;
    // No `cause`: the message says it all, and a release's reason is its innermost failure's message.
    return new TransientCloudError(
      `${this.cloud}: the Kubernetes API at ${this.server} is unreachable (${verb} ${what}): ${code ? `${code}: ` : ''}${cause.message}`,
    );
  }
}

/**
 * A KubeConfig holding one context and only its cluster and user, read from `file` (default
 * $KUBECONFIG, then ~/.kube/config): a cloud worker keeps no other cloud's credentials in memory.
 */
export function loadContext(file: string | undefined, context: string, cloud: string): k8s.KubeConfig {
  const all = new k8s.KubeConfig();
  if (file) all.loadFromFile(file);
  else all.loadFromDefault();
  const found = all.getContextObject(context);
  if (!found) {
    throw new Error(
      `cloud '${cloud}': kubeContext '${context}' is not in ${file ?? process.env.KUBECONFIG ?? '~/.kube/config'} (contexts: ${all.contexts.map((entry) => entry.name).join(', ') || 'none'})`,
    );
  }
  const cluster = all.getCluster(found.cluster);
  const user = all.getUser(found.user);
  if (!cluster)
    throw new Error(
      `cloud '${cloud}': context '${context}' names cluster '${found.cluster}', which is not defined`,
    );
  const own = new k8s.KubeConfig();
  own.loadFromOptions({
    clusters: [cluster],
    users: user ? [user] : [],
    contexts: [found],
    currentContext: found.name,
  });
  return own;
}

interface HttpRoute extends k8s.KubernetesObject {
  spec?: { rules?: { backendRefs?: { name: string; port?: number; weight?: number }[] }[] };
}

/** Deterministic object names that fit a Service name (a DNS-1035 label of at most 63 characters). */
export function objectName(modelName: string, track: Track): string {
  return fitName(`${modelName}-${track}`);
}

export function serviceName(modelName: string): string {
  return fitName(modelName);
}

function fitName(name: string): string {
  const start = /^[a-z]/.test(name) ? name : `m-${name}`;
  if (start.length <= 63) return start;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${start.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

/** A label value holds at most 63 of [A-Za-z0-9._-]; the exact version is kept in an annotation. */
function labelValue(value: string): string {
  return value
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 63)
    .replace(/[^A-Za-z0-9]+$/, '');
}

function annotation(object: k8s.KubernetesObject, key: string): string {
  return object.metadata?.annotations?.[key] ?? '';
}

/** The capacity record `scale` left on a Deployment; null when there is none (or it is unreadable). */
function capacityRecord(deployment: k8s.V1Deployment): CapacityRecord | null {
  const replicas = Number(annotation(deployment, ANNOTATION.capacity));
  if (!Number.isInteger(replicas) || replicas < 1) return null;
  let operations: unknown;
  try {
    operations = JSON.parse(annotation(deployment, ANNOTATION.capacityOperations) || '[]');
  } catch {
    operations = [];
  }
  return {
    replicas,
    via: annotation(deployment, ANNOTATION.capacityVia) === 'hpa' ? 'hpa' : 'replicas',
    operations: Array.isArray(operations) ? operations.filter((id) => typeof id === 'string') : [],
  };
}

function versionOf(deployment: k8s.V1Deployment): ModelVersion {
  return {
    version: annotation(deployment, ANNOTATION.version),
    image: deployment.spec?.template.spec?.containers[0]?.image ?? annotation(deployment, ANNOTATION.image),
  };
}

function desiredOf(operation: CloudOperation): Desired {
  return { version: operation.model.version, image: operation.model.image, releaseId: operation.releaseId };
}

/** What medrelease last applied to a Deployment (its annotations), to apply again. */
function desiredFrom(deployment: k8s.V1Deployment): Desired {
  return {
    version: annotation(deployment, ANNOTATION.version),
    image:
      annotation(deployment, ANNOTATION.image) ||
      (deployment.spec?.template.spec?.containers[0]?.image ?? ''),
    releaseId: annotation(deployment, ANNOTATION.releaseId),
  };
}

function isCurrentGeneration(deployment: k8s.V1Deployment): boolean {
  return (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
}

/** As `kubectl rollout status`: the controller saw this spec, every replica is updated and available, none old. */
function isRolledOut(deployment: k8s.V1Deployment): boolean {
  const wanted = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  return (
    isCurrentGeneration(deployment) &&
    (status.updatedReplicas ?? 0) >= wanted &&
    (status.replicas ?? 0) === wanted &&
    (status.availableReplicas ?? 0) >= wanted
  );
}

function parseStatus(body: unknown): { reason?: string; message?: string; kind?: string } {
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as {
      reason?: string;
      message?: string;
      details?: { kind?: string };
    };
    return { reason: status.reason, message: status.message, kind: status.details?.kind };
  } catch {
    return { message: typeof body === 'string' ? body.slice(0, 300) : undefined };
  }
}

function isMissingNamespace(error: k8s.ApiException<unknown>): boolean {
  return error.code === 404 && parseStatus(error.body).kind === 'namespaces';
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
