// Violation catalog of the Kubernetes pack (policies/kubernetes.yaml): for each control, injected
// violations (the control must fail, or be an error when evidence is missing) and near misses
// (suspicious but compliant: the control must pass, and so must every other control of the pack).
// Every case edits a fresh copy of examples/manifests/compliant.yaml; objects are found by kind and
// name, never by position, so the cases survive additions to the example.
import type { NormalizedManifest } from '../../../domain/manifest.js';
import {
  clusterProfile,
  configMap,
  containerEnv,
  dig,
  ensure,
  hardenedSecurityContext,
  k8s,
  listAt,
  MODEL,
  MODEL_REPOSITORY,
  modelConfigData,
  modelContainer,
  modelDeployment,
  NAMESPACE,
  nearMiss,
  type Obj,
  podSecurity,
  podSpec,
  removeK8s,
  securityContext,
  violation,
  volumes,
  type Mutate,
} from './helpers.js';
import type { ComplianceCase } from './types.js';

export const NON_ROOT = 'K8S-PSS-R-RUN-AS-NON-ROOT';
export const PRIVILEGED = 'K8S-PSS-B-NO-PRIVILEGED-HOSTNS';
export const PRIVESC = 'K8S-PSS-R-PRIVESC-CAPS-SECCOMP';
export const HOSTPATH = 'K8S-PSS-B-NO-HOSTPATH';
export const RO_ROOTFS = 'K8S-NSA-RO-ROOTFS';
export const LIMITS = 'K8S-RESOURCE-LIMITS';
export const NETPOL = 'K8S-CIS-5.3.2-NETPOL';
export const LATEST = 'K8S-NO-LATEST-TAG';
export const PROBES = 'K8S-PROBES';
export const SA_TOKEN = 'K8S-CIS-5.1.6-SA-TOKEN';
export const SECRETS = 'K8S-CIS-5.4.1-SECRETS-AS-FILES';
export const NAMESPACE_PSA = 'K8S-CIS-5.7.4-NAMESPACE-PSA';

/** A digest for images other than the model's (sidecars, init containers, debuggers). */
const OTHER_DIGEST = `sha256:${'b7e1'.repeat(16)}`;
const NAME_LABEL = 'kubernetes.io/metadata.name';

const defaultDeny = (manifest: NormalizedManifest) => k8s(manifest, 'NetworkPolicy', 'default-deny');
const allowPolicy = (manifest: NormalizedManifest) => k8s(manifest, 'NetworkPolicy', `${MODEL}-allow`);
const ingressRule = (manifest: NormalizedManifest) =>
  listAt(dig(allowPolicy(manifest), 'spec'), 'ingress')[0]!;
const egressRules = (manifest: NormalizedManifest) => listAt(dig(allowPolicy(manifest), 'spec'), 'egress');
const namespaceLabels = (manifest: NormalizedManifest) =>
  ensure(k8s(manifest, 'Namespace', NAMESPACE), 'metadata', 'labels');

/** The pod spec of any workload object. */
function podSpecOf(object: Obj): Obj {
  if (object.kind === 'Pod') return dig(object, 'spec');
  if (object.kind === 'CronJob') return dig(object, 'spec', 'jobTemplate', 'spec', 'template', 'spec');
  return dig(object, 'spec', 'template', 'spec');
}

type WorkloadKind = 'Pod' | 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'Job' | 'CronJob';

/**
 * Adds a workload of this kind running a copy of the model Deployment's pod (same labels, so the
 * example's NetworkPolicies, Service and mesh policies apply to it) and returns its pod spec.
 */
function addWorkload(
  manifest: NormalizedManifest,
  kind: WorkloadKind,
  name: string,
  namespace = NAMESPACE,
): Obj {
  const template = structuredClone(dig(modelDeployment(manifest), 'spec', 'template'));
  const labels = dig(template, 'metadata', 'labels');
  const metadata = { name, namespace, labels: { ...labels } };
  let object: Obj;
  switch (kind) {
    case 'Pod':
      object = { apiVersion: 'v1', kind, metadata, spec: dig(template, 'spec') };
      break;
    case 'Job':
      dig(template, 'spec').restartPolicy = 'OnFailure';
      object = { apiVersion: 'batch/v1', kind, metadata, spec: { template } };
      break;
    case 'CronJob':
      dig(template, 'spec').restartPolicy = 'OnFailure';
      object = {
        apiVersion: 'batch/v1',
        kind,
        metadata,
        spec: { schedule: '0 2 * * *', jobTemplate: { spec: { template } } },
      };
      break;
    default:
      object = {
        apiVersion: 'apps/v1',
        kind,
        metadata,
        spec: {
          selector: { matchLabels: { ...labels } },
          template,
          ...(kind === 'StatefulSet' ? { serviceName: name } : {}),
        },
      };
  }
  manifest.kubernetesManifests.push(object);
  return podSpecOf(object);
}

/** A container that complies with every control of the pack (not a model server: another image). */
function compliantContainer(name: string): Obj {
  return {
    name,
    image: `registry.example.org/platform/${name}:1.4.2@${OTHER_DIGEST}`,
    resources: {
      requests: { cpu: '100m', memory: '64Mi', 'ephemeral-storage': '64Mi' },
      limits: { cpu: '200m', memory: '128Mi', 'ephemeral-storage': '128Mi' },
    },
    securityContext: hardenedSecurityContext(),
  };
}

/** An ephemeral (debug) container that complies with every control (they take no resources). */
function compliantDebugger(): Obj {
  const container = compliantContainer('debugger');
  delete container.resources;
  container.targetContainerName = 'model-server';
  return container;
}

/** Adds a compliant container to a list of the pod and returns it, for the case to break. */
function addContainer(
  spec: Obj,
  list: 'containers' | 'initContainers' | 'ephemeralContainers',
  name = list === 'containers' ? 'log-shipper' : list === 'initContainers' ? 'fetch-weights' : 'debugger',
): Obj {
  const container = list === 'ephemeralContainers' ? compliantDebugger() : compliantContainer(name);
  if (list === 'ephemeralContainers') container.name = name;
  listAt(spec, list).push(container);
  return container;
}

/** Keeps only the objects that are not workloads. */
function removeWorkloads(manifest: NormalizedManifest): void {
  const workloadKinds = ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob'];
  manifest.kubernetesManifests = manifest.kubernetesManifests.filter(
    (object) => !workloadKinds.includes(String(object.kind)),
  );
}

/** A projected service account token volume. */
function addProjectedToken(spec: Obj, token: Obj): void {
  listAt(spec, 'volumes').push({
    name: 'kube-api-token',
    projected: { sources: [{ serviceAccountToken: token }] },
  });
  const mounts = listAt(listAt(spec, 'containers')[0]!, 'volumeMounts');
  mounts.push({ name: 'kube-api-token', mountPath: '/var/run/secrets/tokens', readOnly: true });
}

const KUBE_API_AUDIENCE = 'https://kubernetes.default.svc';

/** The release needs the Kubernetes API, and its pod mounts a projected token for it valid this long. */
function useKubeApi(manifest: NormalizedManifest, expirationSeconds: number): void {
  manifest.deployment.needsKubeApi = true;
  addProjectedToken(podSpec(manifest), { audience: KUBE_API_AUDIENCE, expirationSeconds, path: 'token' });
}

const peer = (namespace: string, pods?: Obj): Obj => ({
  namespaceSelector: { matchLabels: { [NAME_LABEL]: namespace } },
  ...(pods ? { podSelector: { matchLabels: pods } } : {}),
});

/** A case for every control: the manifest applies no workload, so nothing shows the pods are safe. */
function noWorkload(control: string): ComplianceCase {
  return violation(control, 'no workload in the manifest (missing evidence)', removeWorkloads);
}

const runAsNonRoot: ComplianceCase[] = [
  violation(NON_ROOT, 'pod runAsNonRoot false, containers unset', (manifest) => {
    podSecurity(manifest).runAsNonRoot = false;
    delete securityContext(modelContainer(manifest)).runAsNonRoot;
  }),
  violation(NON_ROOT, 'runAsNonRoot unset on pod and container', (manifest) => {
    delete podSecurity(manifest).runAsNonRoot;
    delete securityContext(modelContainer(manifest)).runAsNonRoot;
  }),
  violation(NON_ROOT, 'container runAsNonRoot false overrides the pod', (manifest) => {
    securityContext(modelContainer(manifest)).runAsNonRoot = false;
  }),
  violation(NON_ROOT, 'pod runAsUser 0', (manifest) => {
    podSecurity(manifest).runAsUser = 0;
  }),
  violation(NON_ROOT, 'model container runAsUser 0', (manifest) => {
    securityContext(modelContainer(manifest)).runAsUser = 0;
  }),
  violation(NON_ROOT, 'init container runAsUser 0', (manifest) => {
    securityContext(addContainer(podSpec(manifest), 'initContainers')).runAsUser = 0;
  }),
  violation(NON_ROOT, 'second container runAsNonRoot false while the model server complies', (manifest) => {
    securityContext(addContainer(podSpec(manifest), 'containers')).runAsNonRoot = false;
  }),
  violation(NON_ROOT, 'ephemeral debug container runAsNonRoot false', (manifest) => {
    securityContext(addContainer(podSpec(manifest), 'ephemeralContainers')).runAsNonRoot = false;
  }),
  violation(NON_ROOT, 'CronJob added without any securityContext', (manifest) => {
    const spec = addWorkload(manifest, 'CronJob', 'cxr-nightly-rescore');
    delete spec.securityContext;
    for (const container of listAt(spec, 'containers')) delete container.securityContext;
  }),
  violation(NON_ROOT, 'StatefulSet added with pod runAsUser 0', (manifest) => {
    ensure(addWorkload(manifest, 'StatefulSet', 'cxr-cache'), 'securityContext').runAsUser = 0;
  }),
  violation(NON_ROOT, 'runAsNonRoot is the string "true"', (manifest) => {
    podSecurity(manifest).runAsNonRoot = 'true';
    delete securityContext(modelContainer(manifest)).runAsNonRoot;
  }),
  violation(NON_ROOT, 'Deployment without a pod template spec (missing evidence)', (manifest) => {
    addWorkload(manifest, 'Deployment', 'cxr-broken');
    const broken = k8s(manifest, 'Deployment', 'cxr-broken');
    delete dig(broken, 'spec', 'template').spec;
  }),
  noWorkload(NON_ROOT),
  nearMiss(NON_ROOT, 'pod runAsNonRoot false but every container sets it true', (manifest) => {
    podSecurity(manifest).runAsNonRoot = false;
    securityContext(modelContainer(manifest)).runAsNonRoot = true;
  }),
  nearMiss(NON_ROOT, 'container runAsUser 1, next to root', (manifest) => {
    securityContext(modelContainer(manifest)).runAsUser = 1;
  }),
  nearMiss(NON_ROOT, 'Job added whose containers run as non-root, pod unset', (manifest) => {
    const spec = addWorkload(manifest, 'Job', 'cxr-backfill');
    delete ensure(spec, 'securityContext').runAsNonRoot;
  }),
];

const privileged: ComplianceCase[] = [
  violation(PRIVILEGED, 'model container privileged', (manifest) => {
    securityContext(modelContainer(manifest)).privileged = true;
  }),
  violation(PRIVILEGED, 'hostNetwork true', (manifest) => {
    podSpec(manifest).hostNetwork = true;
  }),
  violation(PRIVILEGED, 'hostPID true', (manifest) => {
    podSpec(manifest).hostPID = true;
  }),
  violation(PRIVILEGED, 'hostIPC true', (manifest) => {
    podSpec(manifest).hostIPC = true;
  }),
  violation(PRIVILEGED, 'pod is a Windows host process', (manifest) => {
    ensure(podSecurity(manifest), 'windowsOptions').hostProcess = true;
  }),
  violation(PRIVILEGED, 'container is a Windows host process', (manifest) => {
    ensure(securityContext(modelContainer(manifest)), 'windowsOptions').hostProcess = true;
  }),
  violation(PRIVILEGED, 'second port of the model container bound to hostPort 1', (manifest) => {
    listAt(modelContainer(manifest), 'ports').push({ name: 'metrics', containerPort: 9090, hostPort: 1 });
  }),
  violation(PRIVILEGED, 'init container privileged', (manifest) => {
    securityContext(addContainer(podSpec(manifest), 'initContainers')).privileged = true;
  }),
  violation(PRIVILEGED, 'ephemeral debug container privileged', (manifest) => {
    securityContext(addContainer(podSpec(manifest), 'ephemeralContainers')).privileged = true;
  }),
  violation(PRIVILEGED, 'sidecar with a hostPort', (manifest) => {
    addContainer(podSpec(manifest), 'containers').ports = [{ containerPort: 24224, hostPort: 24224 }];
  }),
  violation(PRIVILEGED, 'CronJob added with hostNetwork', (manifest) => {
    addWorkload(manifest, 'CronJob', 'cxr-nightly-rescore').hostNetwork = true;
  }),
  violation(PRIVILEGED, 'privileged given as the string "true"', (manifest) => {
    securityContext(modelContainer(manifest)).privileged = 'true';
  }),
  noWorkload(PRIVILEGED),
  nearMiss(PRIVILEGED, 'privileged, hostNetwork, hostPID and hostIPC all explicitly false', (manifest) => {
    securityContext(modelContainer(manifest)).privileged = false;
    Object.assign(podSpec(manifest), { hostNetwork: false, hostPID: false, hostIPC: false });
  }),
  nearMiss(PRIVILEGED, 'hostPort 0 stated explicitly', (manifest) => {
    listAt(modelContainer(manifest), 'ports')[0]!.hostPort = 0;
  }),
  nearMiss(PRIVILEGED, 'windowsOptions with hostProcess false', (manifest) => {
    ensure(podSecurity(manifest), 'windowsOptions').hostProcess = false;
    ensure(securityContext(modelContainer(manifest)), 'windowsOptions').hostProcess = false;
  }),
];

const privilegeEscalation: ComplianceCase[] = [
  violation(PRIVESC, 'allowPrivilegeEscalation true', (manifest) => {
    securityContext(modelContainer(manifest)).allowPrivilegeEscalation = true;
  }),
  violation(PRIVESC, 'allowPrivilegeEscalation unset', (manifest) => {
    delete securityContext(modelContainer(manifest)).allowPrivilegeEscalation;
  }),
  violation(PRIVESC, 'capabilities not dropped', (manifest) => {
    delete securityContext(modelContainer(manifest)).capabilities;
  }),
  violation(PRIVESC, 'drops lower-case all', (manifest) => {
    securityContext(modelContainer(manifest)).capabilities = { drop: ['all'] };
  }),
  violation(PRIVESC, 'second added capability NET_ADMIN after NET_BIND_SERVICE', (manifest) => {
    securityContext(modelContainer(manifest)).capabilities = {
      drop: ['ALL'],
      add: ['NET_BIND_SERVICE', 'NET_ADMIN'],
    };
  }),
  violation(PRIVESC, 'no seccomp profile on pod or container', (manifest) => {
    delete podSecurity(manifest).seccompProfile;
  }),
  violation(PRIVESC, 'container seccomp Unconfined overrides the pod', (manifest) => {
    securityContext(modelContainer(manifest)).seccompProfile = { type: 'Unconfined' };
  }),
  violation(PRIVESC, 'container seccompProfile without a type', (manifest) => {
    securityContext(modelContainer(manifest)).seccompProfile = {};
  }),
  violation(PRIVESC, 'init container without allowPrivilegeEscalation', (manifest) => {
    delete securityContext(addContainer(podSpec(manifest), 'initContainers')).allowPrivilegeEscalation;
  }),
  violation(PRIVESC, 'ephemeral debug container keeps its capabilities', (manifest) => {
    delete securityContext(addContainer(podSpec(manifest), 'ephemeralContainers')).capabilities;
  }),
  violation(PRIVESC, 'StatefulSet added without a seccomp profile', (manifest) => {
    delete ensure(addWorkload(manifest, 'StatefulSet', 'cxr-cache'), 'securityContext').seccompProfile;
  }),
  violation(PRIVESC, 'sidecar adds CAP_SYS_ADMIN', (manifest) => {
    securityContext(addContainer(podSpec(manifest), 'containers')).capabilities = {
      drop: ['ALL'],
      add: ['CAP_SYS_ADMIN'],
    };
  }),
  noWorkload(PRIVESC),
  nearMiss(PRIVESC, 'pod seccomp unset but the container sets RuntimeDefault', (manifest) => {
    delete podSecurity(manifest).seccompProfile;
    securityContext(modelContainer(manifest)).seccompProfile = { type: 'RuntimeDefault' };
  }),
  nearMiss(PRIVESC, 'adds NET_BIND_SERVICE after dropping ALL', (manifest) => {
    securityContext(modelContainer(manifest)).capabilities = { drop: ['ALL'], add: ['NET_BIND_SERVICE'] };
  }),
  nearMiss(PRIVESC, 'Localhost seccomp profile', (manifest) => {
    podSecurity(manifest).seccompProfile = {
      type: 'Localhost',
      localhostProfile: 'profiles/model-server.json',
    };
  }),
];

const hostPath: ComplianceCase[] = [
  violation(HOSTPATH, 'hostPath volume of /var/log', (manifest) => {
    volumes(manifest).push({ name: 'node-logs', hostPath: { path: '/var/log' } });
  }),
  violation(HOSTPATH, 'hostPath of the container runtime socket', (manifest) => {
    volumes(manifest).push({
      name: 'runtime',
      hostPath: { path: '/run/containerd/containerd.sock', type: 'Socket' },
    });
  }),
  violation(HOSTPATH, 'scratch emptyDir replaced by a hostPath', (manifest) => {
    const scratch = volumes(manifest).find((volume) => volume.name === 'scratch')!;
    delete scratch.emptyDir;
    scratch.hostPath = { path: '/mnt/scratch', type: 'DirectoryOrCreate' };
  }),
  violation(HOSTPATH, 'nfs volume', (manifest) => {
    volumes(manifest).push({ name: 'models', nfs: { server: 'nfs.internal', path: '/models' } });
  }),
  violation(HOSTPATH, 'awsElasticBlockStore volume', (manifest) => {
    volumes(manifest).push({ name: 'ebs', awsElasticBlockStore: { volumeID: 'vol-0abc' } });
  }),
  violation(HOSTPATH, 'gitRepo volume', (manifest) => {
    volumes(manifest).push({ name: 'code', gitRepo: { repository: 'https://git.example.org/models.git' } });
  }),
  violation(HOSTPATH, 'iscsi volume', (manifest) => {
    volumes(manifest).push({
      name: 'lun',
      iscsi: { targetPortal: '10.0.0.5:3260', iqn: 'iqn.2001-04.org:x', lun: 0 },
    });
  }),
  violation(HOSTPATH, 'flexVolume', (manifest) => {
    volumes(manifest).push({ name: 'flex', flexVolume: { driver: 'example/cifs' } });
  }),
  violation(HOSTPATH, 'CronJob added with a hostPath volume', (manifest) => {
    listAt(addWorkload(manifest, 'CronJob', 'cxr-nightly-rescore'), 'volumes').push({
      name: 'node-root',
      hostPath: { path: '/' },
    });
  }),
  violation(HOSTPATH, 'StatefulSet added whose third volume is a hostPath', (manifest) => {
    listAt(addWorkload(manifest, 'StatefulSet', 'cxr-cache'), 'volumes').push({
      name: 'cache',
      hostPath: { path: '/var/cache/cxr' },
    });
  }),
  violation(HOSTPATH, 'bare Pod added with a hostPath volume', (manifest) => {
    listAt(addWorkload(manifest, 'Pod', 'cxr-debug'), 'volumes').push({
      name: 'etc',
      hostPath: { path: '/etc' },
    });
  }),
  noWorkload(HOSTPATH),
  nearMiss(HOSTPATH, 'projected volume of a token and a ConfigMap', (manifest) => {
    volumes(manifest).push({
      name: 'bundle',
      projected: {
        sources: [
          { configMap: { name: `${MODEL}-config` } },
          { serviceAccountToken: { audience: 'vault', expirationSeconds: 600, path: 'vault-token' } },
        ],
      },
    });
  }),
  nearMiss(HOSTPATH, 'persistentVolumeClaim and csi volumes', (manifest) => {
    volumes(manifest).push(
      { name: 'weights', persistentVolumeClaim: { claimName: 'cxr-weights', readOnly: true } },
      { name: 'vault', csi: { driver: 'secrets-store.csi.k8s.io', readOnly: true } },
    );
  }),
  nearMiss(HOSTPATH, 'generic ephemeral volume', (manifest) => {
    volumes(manifest).push({
      name: 'work',
      ephemeral: {
        volumeClaimTemplate: {
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: 'ebs-gp3-kms',
            resources: { requests: { storage: '1Gi' } },
          },
        },
      },
    });
  }),
];

const readOnlyRoot: ComplianceCase[] = [
  violation(RO_ROOTFS, 'readOnlyRootFilesystem false', (manifest) => {
    securityContext(modelContainer(manifest)).readOnlyRootFilesystem = false;
  }),
  violation(RO_ROOTFS, 'readOnlyRootFilesystem unset', (manifest) => {
    delete securityContext(modelContainer(manifest)).readOnlyRootFilesystem;
  }),
  violation(RO_ROOTFS, 'init container with a writable root', (manifest) => {
    delete securityContext(addContainer(podSpec(manifest), 'initContainers')).readOnlyRootFilesystem;
  }),
  violation(RO_ROOTFS, 'sidecar with a writable root', (manifest) => {
    securityContext(addContainer(podSpec(manifest), 'containers')).readOnlyRootFilesystem = false;
  }),
  violation(RO_ROOTFS, 'ephemeral debug container with a writable root', (manifest) => {
    delete securityContext(addContainer(podSpec(manifest), 'ephemeralContainers')).readOnlyRootFilesystem;
  }),
  violation(RO_ROOTFS, 'scratch emptyDir without a size limit', (manifest) => {
    volumes(manifest).find((volume) => volume.name === 'scratch')!.emptyDir = {};
  }),
  violation(RO_ROOTFS, 'memory-backed emptyDir without a size limit', (manifest) => {
    volumes(manifest).push({ name: 'shm', emptyDir: { medium: 'Memory' } });
  }),
  violation(RO_ROOTFS, 'emptyDir sizeLimit 0', (manifest) => {
    volumes(manifest).find((volume) => volume.name === 'scratch')!.emptyDir = { sizeLimit: '0' };
  }),
  violation(RO_ROOTFS, 'emptyDir sizeLimit 0Gi', (manifest) => {
    volumes(manifest).find((volume) => volume.name === 'scratch')!.emptyDir = { sizeLimit: '0Gi' };
  }),
  violation(RO_ROOTFS, 'volume without a type (an emptyDir) and no size limit', (manifest) => {
    volumes(manifest).push({ name: 'spill' });
  }),
  violation(RO_ROOTFS, 'CronJob added with a writable root', (manifest) => {
    const spec = addWorkload(manifest, 'CronJob', 'cxr-nightly-rescore');
    securityContext(listAt(spec, 'containers')[0]!).readOnlyRootFilesystem = false;
  }),
  violation(RO_ROOTFS, 'emptyDir: null (no size limit)', (manifest) => {
    volumes(manifest).push({ name: 'spill', emptyDir: null });
  }),
  noWorkload(RO_ROOTFS),
  nearMiss(RO_ROOTFS, 'sizeLimit 512Mi', (manifest) => {
    volumes(manifest).find((volume) => volume.name === 'scratch')!.emptyDir = { sizeLimit: '512Mi' };
  }),
  nearMiss(RO_ROOTFS, 'sizeLimit 0.5Gi, starting with a zero', (manifest) => {
    volumes(manifest).find((volume) => volume.name === 'scratch')!.emptyDir = { sizeLimit: '0.5Gi' };
  }),
  nearMiss(RO_ROOTFS, 'memory-backed emptyDir with a size limit', (manifest) => {
    volumes(manifest).push({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } });
  }),
];

const resources = (container: Obj) => ensure(container, 'resources');
const requests = (container: Obj) => ensure(container, 'resources', 'requests');
const limits = (container: Obj) => ensure(container, 'resources', 'limits');

const resourceLimits: ComplianceCase[] = [
  violation(LIMITS, 'no CPU request', (manifest) => {
    delete requests(modelContainer(manifest)).cpu;
  }),
  violation(LIMITS, 'no memory limit', (manifest) => {
    delete limits(modelContainer(manifest)).memory;
  }),
  violation(LIMITS, 'no CPU limit (policy requires one)', (manifest) => {
    delete limits(modelContainer(manifest)).cpu;
  }),
  violation(LIMITS, 'no ephemeral-storage limit', (manifest) => {
    delete limits(modelContainer(manifest))['ephemeral-storage'];
  }),
  violation(LIMITS, 'no resources at all', (manifest) => {
    delete modelContainer(manifest).resources;
  }),
  violation(LIMITS, 'memory limit 0', (manifest) => {
    limits(modelContainer(manifest)).memory = '0';
  }),
  violation(LIMITS, 'CPU request 0m', (manifest) => {
    requests(modelContainer(manifest)).cpu = '0m';
  }),
  violation(LIMITS, 'init container without resources', (manifest) => {
    delete addContainer(podSpec(manifest), 'initContainers').resources;
  }),
  violation(LIMITS, 'sidecar without limits', (manifest) => {
    delete resources(addContainer(podSpec(manifest), 'containers')).limits;
  }),
  violation(LIMITS, 'GPU limit 2 for a request of 1', (manifest) => {
    requests(modelContainer(manifest))['nvidia.com/gpu'] = 1;
    limits(modelContainer(manifest))['nvidia.com/gpu'] = 2;
  }),
  violation(LIMITS, 'GPU requested without a limit', (manifest) => {
    requests(modelContainer(manifest))['nvidia.com/gpu'] = 1;
  }),
  violation(LIMITS, 'CronJob added without an ephemeral-storage limit', (manifest) => {
    const spec = addWorkload(manifest, 'CronJob', 'cxr-nightly-rescore');
    delete limits(listAt(spec, 'containers')[0]!)['ephemeral-storage'];
  }),
  noWorkload(LIMITS),
  nearMiss(LIMITS, 'ephemeral debug container without resources', (manifest) => {
    addContainer(podSpec(manifest), 'ephemeralContainers');
  }),
  nearMiss(LIMITS, 'CPU request 0.5, starting with a zero', (manifest) => {
    requests(modelContainer(manifest)).cpu = '0.5';
  }),
  nearMiss(LIMITS, 'GPU request 1 (number) and limit "1" (string)', (manifest) => {
    requests(modelContainer(manifest))['nvidia.com/gpu'] = 1;
    limits(modelContainer(manifest))['nvidia.com/gpu'] = '1';
  }),
  nearMiss(LIMITS, 'memory given in bytes as a number', (manifest) => {
    limits(modelContainer(manifest)).memory = 6442450944;
  }),
];

const networkPolicy: ComplianceCase[] = [
  violation(NETPOL, 'default-deny policy removed', (manifest) => {
    removeK8s(manifest, 'NetworkPolicy', 'default-deny');
  }),
  violation(NETPOL, 'default deny covers Ingress only', (manifest) => {
    dig(defaultDeny(manifest), 'spec').policyTypes = ['Ingress'];
  }),
  violation(NETPOL, 'default deny selects only some pods', (manifest) => {
    dig(defaultDeny(manifest), 'spec').podSelector = { matchLabels: { tier: 'frontend' } };
  }),
  violation(NETPOL, 'default deny admits everything', (manifest) => {
    dig(defaultDeny(manifest), 'spec').ingress = [{}];
  }),
  violation(NETPOL, 'allow policy removed: the model pods are selected by none', (manifest) => {
    removeK8s(manifest, 'NetworkPolicy', `${MODEL}-allow`);
  }),
  violation(NETPOL, 'allow policy selects other pods', (manifest) => {
    dig(allowPolicy(manifest), 'spec').podSelector = {
      matchLabels: { 'app.kubernetes.io/name': 'chest-xray' },
    };
  }),
  violation(NETPOL, 'ingress rule without from admits every source', (manifest) => {
    delete ingressRule(manifest).from;
  }),
  violation(NETPOL, 'ingress from the default namespace', (manifest) => {
    ingressRule(manifest).from = [peer('default')];
  }),
  violation(NETPOL, 'second ingress source is an ipBlock 0.0.0.0/0', (manifest) => {
    listAt(ingressRule(manifest), 'from').push({ ipBlock: { cidr: '0.0.0.0/0' } });
  }),
  violation(NETPOL, 'egress rule without to allows every destination', (manifest) => {
    egressRules(manifest).push({ ports: [{ port: 443, protocol: 'TCP' }] });
  }),
  violation(NETPOL, 'egress to 0.0.0.0/0', (manifest) => {
    egressRules(manifest).push({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 443 }] });
  }),
  violation(NETPOL, 'DNS egress rule also opens port 443', (manifest) => {
    listAt(egressRules(manifest)[0]!, 'ports').push({ port: 443, protocol: 'TCP' });
  }),
  violation(NETPOL, 'egress to every pod of kube-system', (manifest) => {
    egressRules(manifest)[0]!.to = [peer('kube-system')];
  }),
  violation(NETPOL, 'CronJob added with labels no allow policy selects', (manifest) => {
    addWorkload(manifest, 'CronJob', 'cxr-nightly-rescore');
    const cronJob = k8s(manifest, 'CronJob', 'cxr-nightly-rescore');
    dig(cronJob, 'spec', 'jobTemplate', 'spec', 'template', 'metadata').labels = { app: 'cxr-rescore' };
  }),
  violation(NETPOL, 'workload in a second namespace without a default deny', (manifest) => {
    addWorkload(manifest, 'Deployment', MODEL, 'radiology-batch');
    const allow = structuredClone(allowPolicy(manifest));
    dig(allow, 'metadata').namespace = 'radiology-batch';
    manifest.kubernetesManifests.push(allow);
  }),
  noWorkload(NETPOL),
  nearMiss(NETPOL, 'ingress namespace chosen with matchExpressions', (manifest) => {
    ingressRule(manifest).from = [
      {
        namespaceSelector: {
          matchExpressions: [{ key: NAME_LABEL, operator: 'In', values: ['istio-ingress'] }],
        },
      },
    ];
  }),
  nearMiss(NETPOL, 'ingress from the gateway pods only', (manifest) => {
    ingressRule(manifest).from = [peer('istio-ingress', { istio: 'ingressgateway' })];
  }),
  nearMiss(NETPOL, 'egress to istiod and to the egress gateway (protocol unset)', (manifest) => {
    egressRules(manifest).push(
      { to: [peer('istio-system', { app: 'istiod' })], ports: [{ port: 15012, protocol: 'TCP' }] },
      { to: [peer('istio-egress', { istio: 'egressgateway' })], ports: [{ port: 443 }] },
    );
  }),
  nearMiss(NETPOL, 'second allow policy selecting the pods by matchExpressions, DNS only', (manifest) => {
    const extra = structuredClone(allowPolicy(manifest));
    dig(extra, 'metadata').name = `${MODEL}-dns`;
    const spec = dig(extra, 'spec');
    spec.podSelector = {
      matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: [MODEL] }],
    };
    spec.policyTypes = ['Egress'];
    delete spec.ingress;
    manifest.kubernetesManifests.push(extra);
  }),
];

const withImage =
  (image: string): Mutate =>
  (manifest) => {
    modelContainer(manifest).image = image;
  };
const modelDigest = (manifest: NormalizedManifest) => manifest.model.artifact.digest;

const latestTag: ComplianceCase[] = [
  violation(LATEST, 'model image tagged latest in front of the digest', (manifest) => {
    modelContainer(manifest).image = `${MODEL_REPOSITORY}:latest@${modelDigest(manifest)}`;
  }),
  violation(LATEST, 'model image with a digest but no tag', (manifest) => {
    modelContainer(manifest).image = `${MODEL_REPOSITORY}@${modelDigest(manifest)}`;
  }),
  violation(LATEST, 'model image tagged latest without a digest', withImage(`${MODEL_REPOSITORY}:latest`)),
  violation(LATEST, 'model image with neither tag nor digest', withImage(MODEL_REPOSITORY)),
  violation(LATEST, 'model image with a version tag but no digest', withImage(`${MODEL_REPOSITORY}:2.5.0`)),
  violation(LATEST, 'model image tagged LATEST in capitals', (manifest) => {
    modelContainer(manifest).image = `${MODEL_REPOSITORY}:LATEST@${modelDigest(manifest)}`;
  }),
  violation(LATEST, 'registry port but no tag', (manifest) => {
    modelContainer(manifest).image = `registry.example.org:5000/models/${MODEL}@${modelDigest(manifest)}`;
  }),
  violation(LATEST, 'init container busybox:latest', (manifest) => {
    addContainer(podSpec(manifest), 'initContainers').image =
      `docker.io/library/busybox:latest@${OTHER_DIGEST}`;
  }),
  violation(LATEST, 'sidecar without a tag', (manifest) => {
    addContainer(podSpec(manifest), 'containers').image =
      `registry.example.org/platform/log-shipper@${OTHER_DIGEST}`;
  }),
  violation(LATEST, 'ephemeral debug container busybox:latest', (manifest) => {
    addContainer(podSpec(manifest), 'ephemeralContainers').image = 'busybox:latest';
  }),
  violation(LATEST, 'CronJob added running :latest', (manifest) => {
    const spec = addWorkload(manifest, 'CronJob', 'cxr-nightly-rescore');
    listAt(spec, 'containers')[0]!.image = `${MODEL_REPOSITORY}:latest@${modelDigest(manifest)}`;
  }),
  violation(LATEST, 'container without an image', (manifest) => {
    delete addContainer(podSpec(manifest), 'containers').image;
  }),
  noWorkload(LATEST),
  nearMiss(LATEST, 'tag latest-2026.11 in front of the digest', (manifest) => {
    modelContainer(manifest).image = `${MODEL_REPOSITORY}:latest-2026.11@${modelDigest(manifest)}`;
  }),
  nearMiss(LATEST, 'tag v2-latest in front of the digest', (manifest) => {
    addContainer(podSpec(manifest), 'containers').image =
      `registry.example.org/platform/log-shipper:v2-latest@${OTHER_DIGEST}`;
  }),
  nearMiss(LATEST, 'registry port and a version tag', (manifest) => {
    addContainer(podSpec(manifest), 'containers').image =
      `registry.example.org:5000/platform/log-shipper:1.4.2@${OTHER_DIGEST}`;
  }),
];

const probe = (container: Obj, kind: 'readinessProbe' | 'livenessProbe' | 'startupProbe') =>
  dig(container, kind);

const probes: ComplianceCase[] = [
  violation(PROBES, 'no readiness probe', (manifest) => {
    delete modelContainer(manifest).readinessProbe;
  }),
  violation(PROBES, 'no liveness probe', (manifest) => {
    delete modelContainer(manifest).livenessProbe;
  }),
  violation(PROBES, 'readiness probe without a timeout', (manifest) => {
    delete probe(modelContainer(manifest), 'readinessProbe').timeoutSeconds;
  }),
  violation(PROBES, 'liveness probe without a period', (manifest) => {
    delete probe(modelContainer(manifest), 'livenessProbe').periodSeconds;
  }),
  violation(PROBES, 'startup probe without a timeout', (manifest) => {
    delete probe(modelContainer(manifest), 'startupProbe').timeoutSeconds;
  }),
  violation(PROBES, 'readiness probe timeout 0', (manifest) => {
    probe(modelContainer(manifest), 'readinessProbe').timeoutSeconds = 0;
  }),
  violation(PROBES, 'readiness probe on /', (manifest) => {
    dig(probe(modelContainer(manifest), 'readinessProbe'), 'httpGet').path = '/';
  }),
  violation(PROBES, 'liveness probe on the inference endpoint /v1/predict', (manifest) => {
    dig(probe(modelContainer(manifest), 'livenessProbe'), 'httpGet').path = '/v1/predict';
  }),
  violation(PROBES, 'liveness probe is a TCP check', (manifest) => {
    const liveness = probe(modelContainer(manifest), 'livenessProbe');
    delete liveness.httpGet;
    liveness.tcpSocket = { port: 'http' };
  }),
  violation(PROBES, 'second model Deployment (canary) without probes', (manifest) => {
    const spec = addWorkload(manifest, 'Deployment', `${MODEL}-canary`);
    const container = listAt(spec, 'containers')[0]!;
    delete container.readinessProbe;
    delete container.livenessProbe;
  }),
  violation(PROBES, 'no model-serving container (missing evidence)', (manifest) => {
    modelContainer(manifest).image = `registry.example.org/models/other-model:1.0.0@${OTHER_DIGEST}`;
  }),
  noWorkload(PROBES),
  nearMiss(PROBES, 'no startup probe', (manifest) => {
    delete modelContainer(manifest).startupProbe;
  }),
  nearMiss(PROBES, 'KServe v2 health paths', (manifest) => {
    dig(probe(modelContainer(manifest), 'readinessProbe'), 'httpGet').path = '/v2/health/ready';
    dig(probe(modelContainer(manifest), 'livenessProbe'), 'httpGet').path = '/v2/health/live';
  }),
  nearMiss(PROBES, 'batch CronJob of the model without probes next to the Deployment', (manifest) => {
    const container = listAt(addWorkload(manifest, 'CronJob', 'cxr-nightly-rescore'), 'containers')[0]!;
    delete container.readinessProbe;
    delete container.livenessProbe;
    delete container.startupProbe;
  }),
];

const serviceAccount = (manifest: NormalizedManifest) => k8s(manifest, 'ServiceAccount', MODEL);

const saToken: ComplianceCase[] = [
  violation(SA_TOKEN, 'pod automountServiceAccountToken true', (manifest) => {
    podSpec(manifest).automountServiceAccountToken = true;
  }),
  violation(SA_TOKEN, 'pod unset and ServiceAccount unset (mounted by default)', (manifest) => {
    delete podSpec(manifest).automountServiceAccountToken;
    delete serviceAccount(manifest).automountServiceAccountToken;
  }),
  violation(
    SA_TOKEN,
    'pod unset and its ServiceAccount not in the manifest (missing evidence)',
    (manifest) => {
      delete podSpec(manifest).automountServiceAccountToken;
      removeK8s(manifest, 'ServiceAccount', MODEL);
    },
  ),
  violation(SA_TOKEN, 'pod unset and on the default service account (missing evidence)', (manifest) => {
    delete podSpec(manifest).automountServiceAccountToken;
    delete podSpec(manifest).serviceAccountName;
  }),
  violation(SA_TOKEN, 'CronJob added with automount true', (manifest) => {
    addWorkload(manifest, 'CronJob', 'cxr-nightly-rescore').automountServiceAccountToken = true;
  }),
  violation(SA_TOKEN, 'needs the Kubernetes API but has no projected token', (manifest) => {
    manifest.deployment.needsKubeApi = true;
  }),
  violation(SA_TOKEN, 'needs the Kubernetes API on the default service account', (manifest) => {
    useKubeApi(manifest, 600);
    podSpec(manifest).serviceAccountName = 'default';
  }),
  violation(SA_TOKEN, 'projected token without an audience', (manifest) => {
    manifest.deployment.needsKubeApi = true;
    addProjectedToken(podSpec(manifest), { expirationSeconds: 600, path: 'token' });
  }),
  violation(SA_TOKEN, 'projected token valid one second too long', (manifest) => {
    useKubeApi(manifest, 3601);
  }),
  violation(SA_TOKEN, 'projected token without expirationSeconds', (manifest) => {
    manifest.deployment.needsKubeApi = true;
    addProjectedToken(podSpec(manifest), { audience: KUBE_API_AUDIENCE, path: 'token' });
  }),
  violation(SA_TOKEN, 'projected token below the API minimum of 600 s', (manifest) => {
    addProjectedToken(podSpec(manifest), { audience: 'vault', expirationSeconds: 300, path: 'token' });
  }),
  violation(SA_TOKEN, 'needs the Kubernetes API and also mounts the default token', (manifest) => {
    useKubeApi(manifest, 600);
    podSpec(manifest).automountServiceAccountToken = true;
  }),
  noWorkload(SA_TOKEN),
  nearMiss(SA_TOKEN, 'pod unset but its ServiceAccount disables automount', (manifest) => {
    delete podSpec(manifest).automountServiceAccountToken;
  }),
  nearMiss(SA_TOKEN, 'needs the Kubernetes API: dedicated account, audience, 3600 s', (manifest) => {
    useKubeApi(manifest, 3600);
  }),
  nearMiss(SA_TOKEN, 'Vault token of 600 s without Kubernetes API access', (manifest) => {
    addProjectedToken(podSpec(manifest), { audience: 'vault', expirationSeconds: 600, path: 'vault-token' });
  }),
];

const secrets: ComplianceCase[] = [
  violation(SECRETS, 'environment variable from a Secret', (manifest) => {
    containerEnv(modelContainer(manifest)).push({
      name: 'DB_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'cxr-db', key: 'password' } },
    });
  }),
  violation(SECRETS, 'envFrom a whole Secret', (manifest) => {
    listAt(modelContainer(manifest), 'envFrom').push({ secretRef: { name: 'cxr-credentials' } });
  }),
  violation(SECRETS, 'init container reads a Secret into its environment', (manifest) => {
    containerEnv(addContainer(podSpec(manifest), 'initContainers')).push({
      name: 'REGISTRY_TOKEN',
      valueFrom: { secretKeyRef: { name: 'registry', key: 'token' } },
    });
  }),
  violation(SECRETS, 'ephemeral debug container imports a Secret', (manifest) => {
    listAt(addContainer(podSpec(manifest), 'ephemeralContainers'), 'envFrom').push({
      secretRef: { name: 'cxr-db' },
    });
  }),
  violation(SECRETS, 'CronJob added reading a Secret into its environment', (manifest) => {
    const spec = addWorkload(manifest, 'CronJob', 'cxr-nightly-rescore');
    containerEnv(listAt(spec, 'containers')[0]!).push({
      name: 'S3_SECRET',
      valueFrom: { secretKeyRef: { name: 's3', key: 'secret' } },
    });
  }),
  violation(SECRETS, 'ConfigMap with a database password', (manifest) => {
    modelConfigData(manifest)['db.properties'] = 'host=db.internal\npassword=hunter2-db\n';
  }),
  violation(SECRETS, 'ConfigMap with an AWS access key id', (manifest) => {
    modelConfigData(manifest)['aws.env'] = 'AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE';
  }),
  violation(SECRETS, 'ConfigMap with a private key', (manifest) => {
    modelConfigData(manifest)['tls.key'] =
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----\n';
  }),
  violation(SECRETS, 'ConfigMap with credentials in a database URL', (manifest) => {
    modelConfigData(manifest).DATABASE_URL = 'postgres://cxr:s3cr3tpw@db.internal:5432/cxr';
  }),
  violation(SECRETS, 'JSON client_secret in a ConfigMap', (manifest) => {
    modelConfigData(manifest)['oidc.json'] = '{"client_id": "cxr", "client_secret": "9f8e7d6c5b4a"}';
  }),
  violation(SECRETS, 'literal environment value is a GitHub token', (manifest) => {
    containerEnv(modelContainer(manifest)).push({ name: 'GH_TOKEN', value: `ghp_${'a1B2c3D4e5'.repeat(4)}` });
  }),
  violation(SECRETS, 'second ConfigMap holding a JSON web token', (manifest) => {
    manifest.kubernetesManifests.push(
      configMap('cxr-client', {
        token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjeHItY2xpZW50In0.c2lnbmF0dXJlLXZhbHVl',
      }),
    );
  }),
  noWorkload(SECRETS),
  nearMiss(SECRETS, 'environment from a ConfigMap key and the pod name', (manifest) => {
    containerEnv(modelContainer(manifest)).push(
      {
        name: 'THRESHOLDS',
        valueFrom: { configMapKeyRef: { name: `${MODEL}-config`, key: 'thresholds.json' } },
      },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    );
    listAt(modelContainer(manifest), 'envFrom').push({ configMapRef: { name: `${MODEL}-config` } });
  }),
  nearMiss(SECRETS, 'ConfigMap naming password settings and secret files', (manifest) => {
    modelConfigData(manifest)['auth.yaml'] =
      'password_min_length: 12\npasswordFile: /etc/secrets/db/password\nsecretName: chest-xray-triage-tls\n';
  }),
  nearMiss(SECRETS, 'environment value referencing a variable', (manifest) => {
    containerEnv(modelContainer(manifest)).push({
      name: 'DB_DSN',
      value: 'password=${DB_PASSWORD} host=db.internal',
    });
  }),
];

const namespacePsa: ComplianceCase[] = [
  violation(NAMESPACE_PSA, 'Deployment without a namespace', (manifest) => {
    delete dig(modelDeployment(manifest), 'metadata').namespace;
  }),
  violation(NAMESPACE_PSA, 'Service in the default namespace', (manifest) => {
    dig(k8s(manifest, 'Service', MODEL), 'metadata').namespace = 'default';
  }),
  violation(NAMESPACE_PSA, 'ConfigMap in kube-system', (manifest) => {
    dig(k8s(manifest, 'ConfigMap', `${MODEL}-config`), 'metadata').namespace = 'kube-system';
  }),
  violation(NAMESPACE_PSA, 'CronJob added in the default namespace', (manifest) => {
    addWorkload(manifest, 'CronJob', 'cxr-nightly-rescore', 'default');
  }),
  violation(NAMESPACE_PSA, 'namespace enforces baseline', (manifest) => {
    namespaceLabels(manifest)['pod-security.kubernetes.io/enforce'] = 'baseline';
  }),
  violation(NAMESPACE_PSA, 'namespace enforces Restricted with a capital', (manifest) => {
    namespaceLabels(manifest)['pod-security.kubernetes.io/enforce'] = 'Restricted';
  }),
  violation(NAMESPACE_PSA, 'enforce-version missing', (manifest) => {
    delete namespaceLabels(manifest)['pod-security.kubernetes.io/enforce-version'];
  }),
  violation(NAMESPACE_PSA, 'enforce-version v1 without a minor', (manifest) => {
    namespaceLabels(manifest)['pod-security.kubernetes.io/enforce-version'] = 'v1';
  }),
  violation(NAMESPACE_PSA, 'enforce label removed and one cluster defaults to baseline', (manifest) => {
    delete namespaceLabels(manifest)['pod-security.kubernetes.io/enforce'];
    clusterProfile(manifest, 1).podSecurityAdmission = 'baseline';
  }),
  violation(
    NAMESPACE_PSA,
    'Namespace not in the manifest and a cluster defaults to privileged',
    (manifest) => {
      removeK8s(manifest, 'Namespace', NAMESPACE);
      clusterProfile(manifest, 2).podSecurityAdmission = 'privileged';
    },
  ),
  violation(
    NAMESPACE_PSA,
    'Namespace not in the manifest and a cluster profile silent (missing evidence)',
    (manifest) => {
      removeK8s(manifest, 'Namespace', NAMESPACE);
      delete clusterProfile(manifest, 0).podSecurityAdmission;
    },
  ),
  violation(NAMESPACE_PSA, 'workloads moved to an unlabelled namespace of a baseline cluster', (manifest) => {
    for (const object of manifest.kubernetesManifests)
      if (dig(object, 'metadata').namespace === NAMESPACE)
        dig(object, 'metadata').namespace = 'radiology-ai-v2';
    manifest.deployment.namespace = 'radiology-ai-v2';
    clusterProfile(manifest, 0).podSecurityAdmission = 'baseline';
  }),
  noWorkload(NAMESPACE_PSA),
  nearMiss(NAMESPACE_PSA, 'Namespace not in the manifest, every cluster enforces restricted', (manifest) => {
    removeK8s(manifest, 'Namespace', NAMESPACE);
  }),
  nearMiss(NAMESPACE_PSA, 'enforce-version latest', (manifest) => {
    namespaceLabels(manifest)['pod-security.kubernetes.io/enforce-version'] = 'latest';
  }),
  nearMiss(NAMESPACE_PSA, 'ClusterRole without a namespace', (manifest) => {
    manifest.kubernetesManifests.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'cxr-metrics-reader' },
      rules: [{ apiGroups: ['metrics.k8s.io'], resources: ['pods'], verbs: ['get'] }],
    });
  }),
  nearMiss(NAMESPACE_PSA, 'warn and audit labels at baseline next to enforce restricted', (manifest) => {
    Object.assign(namespaceLabels(manifest), {
      'pod-security.kubernetes.io/warn': 'baseline',
      'pod-security.kubernetes.io/audit': 'baseline',
    });
  }),
];

export const cases: ComplianceCase[] = [
  ...runAsNonRoot,
  ...privileged,
  ...privilegeEscalation,
  ...hostPath,
  ...readOnlyRoot,
  ...resourceLimits,
  ...networkPolicy,
  ...latestTag,
  ...probes,
  ...saToken,
  ...secrets,
  ...namespacePsa,
];
