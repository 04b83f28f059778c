// Real Kubernetes control planes for the integration tests, started by the same code as
// `npm run infra:kube`. The test runner starts one shared set (MEDRELEASE_TEST_KUBE_STATE names its
// state folder); a test file run alone, or one that kills API servers, starts a private set.
// Every test works in namespaces of its own, so tests sharing clusters never see each other's objects.
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { defaultPlacement } from '../../domain/config.js';
import { DIGEST, TestEnvironment } from './environment.js';
import { KubernetesCloudDriver, type KubernetesDriverOptions } from '../../activities/cloud/kubernetes.js';
import {
  contextName,
  kubeConfigFor,
  readState,
  startLocalClusters,
  stopLocalClusters,
  type LocalKubeState,
} from '../../infra/kube/clusters.js';

export interface TestClusters {
  state: LocalKubeState;
  /** Stops the clusters when this process started them; a no-op for the runner's shared set. */
  release(): Promise<void>;
}

/** The runner's shared clusters, or (with `private: true`, or when run alone) a set of this file's own. */
export async function testClusters(options: { private?: boolean } = {}): Promise<TestClusters> {
  const shared = process.env.MEDRELEASE_TEST_KUBE_STATE;
  if (shared && !options.private) {
    const state = await readState(shared);
    if (!state) throw new Error(`MEDRELEASE_TEST_KUBE_STATE names ${shared}, which holds no clusters`);
    return { state, release: async () => {} };
  }
  const stateDir = await mkdtemp(path.join(tmpdir(), 'medrelease-test-kube-'));
  const log =
    process.env.TEST_LOG_LEVEL === 'debug' ? (line: string) => console.log(`[kube] ${line}`) : undefined;
  const state = await startLocalClusters({ stateDir, ...(log ? { log } : {}) });
  return { state, release: async () => void (await stopLocalClusters(stateDir)) };
}

/** A fresh namespace with the same name in each of the given clusters. */
export async function createNamespace(
  state: LocalKubeState,
  clouds: readonly string[],
  prefix = 'test',
): Promise<string> {
  const name = `${prefix}-${randomUUID().slice(0, 8)}`;
  await Promise.all(
    clouds.map((cloud) =>
      kubeConfigFor(state, cloud)
        .makeApiClient(k8s.CoreV1Api)
        .createNamespace({ body: { metadata: { name } } }),
    ),
  );
  return name;
}

export function driverFor(
  state: LocalKubeState,
  cloud: string,
  namespace: string,
  options: Partial<KubernetesDriverOptions> = {},
): KubernetesCloudDriver {
  return new KubernetesCloudDriver(cloud, {
    kubeConfig: kubeConfigFor(state, cloud),
    namespace,
    replicas: 4,
    pollIntervalMs: 100,
    ...options,
  });
}

/** Typed API clients of one cluster, for assertions that read the cluster directly. */
export function clientsFor(state: LocalKubeState, cloud: string) {
  const config = kubeConfigFor(state, cloud);
  return {
    config,
    apps: config.makeApiClient(k8s.AppsV1Api),
    core: config.makeApiClient(k8s.CoreV1Api),
    discovery: config.makeApiClient(k8s.DiscoveryV1Api),
    custom: config.makeApiClient(k8s.CustomObjectsApi),
  };
}

export interface RouteWeights {
  stable: number;
  canary: number;
}

export async function routeWeights(
  state: LocalKubeState,
  cloud: string,
  namespace: string,
  model: string,
): Promise<RouteWeights> {
  const route = (await clientsFor(state, cloud).custom.getNamespacedCustomObject({
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'httproutes',
    namespace,
    name: model,
  })) as { spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } };
  const refs = route.spec.rules[0]!.backendRefs;
  return {
    stable: refs.find((ref) => ref.name === `${model}-stable`)!.weight,
    canary: refs.find((ref) => ref.name === `${model}-canary`)!.weight,
  };
}

/** What medrelease manages for a model, reduced to what must be equal when an operation is repeated. */
export async function clusterSnapshot(
  state: LocalKubeState,
  cloud: string,
  namespace: string,
): Promise<unknown> {
  const { apps, core, custom } = clientsFor(state, cloud);
  const deployments = (await apps.listNamespacedDeployment({ namespace })).items.map((deployment) => ({
    name: deployment.metadata?.name,
    generation: deployment.metadata?.generation,
    replicas: deployment.spec?.replicas,
    image: deployment.spec?.template.spec?.containers[0]?.image,
    labels: deployment.spec?.template.metadata?.labels,
    annotations: deployment.metadata?.annotations,
  }));
  const services = (await core.listNamespacedService({ namespace })).items.map((service) => ({
    name: service.metadata?.name,
    selector: service.spec?.selector,
  }));
  const routes = (
    (await custom.listNamespacedCustomObject({
      group: 'gateway.networking.k8s.io',
      version: 'v1',
      plural: 'httproutes',
      namespace,
    })) as { items: { metadata: { name: string; generation: number }; spec: unknown }[] }
  ).items.map((route) => ({
    name: route.metadata.name,
    generation: route.metadata.generation,
    spec: route.spec,
  }));
  const byName = (a: { name?: string }, b: { name?: string }) => (a.name ?? '').localeCompare(b.name ?? '');
  return {
    deployments: deployments.sort(byName),
    services: services.sort(byName),
    routes: routes.sort(byName),
  };
}

export { contextName, kubeConfigFor };

/**
 * Cloud configuration for the local clusters, as a user's configuration file would have it: the
 * kubernetes driver, the kubeconfig and context of each cloud, one namespace; aws and gcp detect the
 * Gateway API, azure splits by replica ratio.
 */
export function kubernetesClouds(state: LocalKubeState, namespace: string, clouds = ['aws', 'azure', 'gcp']) {
  return clouds.map((name) => ({
    name,
    driver: 'kubernetes',
    ...defaultPlacement(name),
    kubeconfig: state.kubeconfig,
    kubeContext: contextName(name),
    namespace,
    traffic: name === 'azure' ? 'replica-ratio' : 'auto',
    replicas: 4,
    progressDeadlineSeconds: 30,
  }));
}

/**
 * What a test of whole releases on the clusters needs: the clusters, one namespace in each, a test
 * environment whose clouds use the kubernetes driver there, and running workers.
 */
export interface KubeReleaseFixture {
  clusters: TestClusters;
  namespace: string;
  env: TestEnvironment;
  /** Puts version 1.0.0 in place as the stable version in every cluster. */
  seed(model: string): Promise<void>;
  /** The model's Deployments in one cluster: name → image and available replicas. */
  deployments(cloud: string, model: string): Promise<Record<string, { image?: string; available: number }>>;
  close(): Promise<void>;
}

export async function kubeReleaseFixture(options: {
  private?: boolean;
  prefix: string;
}): Promise<KubeReleaseFixture> {
  const clusters = await testClusters({ private: options.private ?? false });
  const clouds = ['aws', 'azure', 'gcp'];
  const namespace = await createNamespace(clusters.state, clouds, options.prefix);
  const env = await TestEnvironment.create({
    configOverrides: { clouds: kubernetesClouds(clusters.state, namespace, clouds) },
  });
  const workers = await env.startWorkers();
  return {
    clusters,
    namespace,
    env,
    async seed(model) {
      for (const cloud of clouds) {
        const options = cloud === 'azure' ? { traffic: 'replica-ratio' as const } : {};
        await driverFor(clusters.state, cloud, namespace, options).seedStable(model, {
          version: '1.0.0',
          image: `registry.example/${model}:1.0.0@${DIGEST}`,
        });
      }
    },
    async deployments(cloud, model) {
      const list = await clientsFor(clusters.state, cloud).apps.listNamespacedDeployment({
        namespace,
        labelSelector: `medrelease.io/model=${model}`,
      });
      return Object.fromEntries(
        list.items.map((deployment) => [
          deployment.metadata!.name!,
          {
            image: deployment.spec?.template.spec?.containers[0]?.image,
            available: deployment.status?.availableReplicas ?? 0,
          },
        ]),
      );
    },
    async close() {
      await workers.stop();
      await env.close();
      await clusters.release();
    },
  };
}

/** The model versions the driver tests release: a stable one and a new one, pinned by digest. */
export const STABLE = { version: '1.0.0', image: 'registry.example/cxr:1.0.0@sha256:' + 'aa'.repeat(32) };
export const NEW = { version: '1.1.0', image: 'registry.example/cxr:1.1.0@sha256:' + 'bb'.repeat(32) };
