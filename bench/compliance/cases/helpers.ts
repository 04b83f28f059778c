// Shared by the violation catalogs of the policy packs: the case constructors, and accessors for the
// parts of the compliant example (examples/manifests/compliant.yaml) that the cases edit. Kubernetes
// objects are found by kind (and name), not by position, and an accessor throws where the example has
// changed shape, so that a case never silently edits nothing. catalog.test.ts and bench:compliance
// load the `cases` of every module in this directory: this one has none.
import type { NormalizedManifest } from '../../../domain/manifest.js';
import type { ComplianceCase } from './types.js';

/** A JSON object of the manifest (a Kubernetes object, a container, an open-ended section). */
export type Obj = Record<string, unknown>;
/** What a case does to its copy of the compliant example (and to the gate's context). */
export type Mutate = ComplianceCase['mutate'];

/** The namespace the example releases into. */
export const NAMESPACE = 'radiology-ai';
/** The model's name: that of its Deployment, Service and ServiceAccount, the prefix of its other objects. */
export const MODEL = 'chest-xray-triage';
/** The repository of the model's image. */
export const MODEL_REPOSITORY = 'registry.example.org/models/chest-xray-triage';
/** The labels that select the model's pods. */
export const MODEL_LABELS = { 'app.kubernetes.io/name': MODEL };

/** A case the control must not pass: it must fail, or be an error when evidence is missing. */
export function violation(
  control: string,
  name: string,
  mutate: Mutate,
  /** For cases about approvals: leave the approvals bound to the manifest as the case left them. */
  keepApprovalDigests = false,
): ComplianceCase {
  return {
    control,
    name,
    kind: 'violation',
    mutate,
    ...(keepApprovalDigests ? { keepApprovalDigests } : {}),
  };
}

/** A case that looks suspicious but complies: the control must pass. */
export function nearMiss(control: string, name: string, mutate: Mutate): ComplianceCase {
  return { control, name, kind: 'near-miss', mutate };
}

/** The object at a path of keys and indices inside a document (throws if the example changed shape). */
export function dig(value: unknown, ...keys: (string | number)[]): Obj {
  let node: unknown = value;
  for (const key of keys) {
    if (node === null || typeof node !== 'object') throw new Error(`no ${keys.join('.')} in the example`);
    node = (node as Record<string | number, unknown>)[key];
  }
  if (node === null || typeof node !== 'object') throw new Error(`no ${keys.join('.')} in the example`);
  return node as Obj;
}

/** The list at a path of keys and indices inside a document (throws if the example changed shape). */
export function digList(value: unknown, ...keys: (string | number)[]): Obj[] {
  return dig(value, ...keys) as unknown as Obj[];
}

/** The object at a path of keys, created empty where missing. */
export function ensure(node: Obj, ...keys: string[]): Obj {
  let current = node;
  for (const key of keys) {
    const next = current[key];
    if (next === null || typeof next !== 'object') current[key] = {};
    current = current[key] as Obj;
  }
  return current;
}

/** The list at a key, created empty where missing. */
export function listAt(node: Obj, key: string): Obj[] {
  if (!Array.isArray(node[key])) node[key] = [];
  return node[key] as Obj[];
}

/** Removes a property whatever the schema says of it (the gate must cope with absent evidence). */
export function drop(object: object, key: string): void {
  delete (object as Obj)[key];
}

/** Whether a Kubernetes object has this kind (and name). */
function isK8s(object: Obj, kind: string, name?: string): boolean {
  return object.kind === kind && (name === undefined || dig(object, 'metadata').name === name);
}

/** The first Kubernetes object of the manifest with this kind (and name). */
export function k8s(manifest: NormalizedManifest, kind: string, name?: string): Obj {
  const found = manifest.kubernetesManifests.find((object) => isK8s(object, kind, name));
  if (!found) throw new Error(`the example has no ${kind} ${name ?? ''}`);
  return found;
}

/** Removes every Kubernetes object of the manifest with this kind (and name). */
export function removeK8s(manifest: NormalizedManifest, kind: string, name?: string): void {
  manifest.kubernetesManifests = manifest.kubernetesManifests.filter((object) => !isK8s(object, kind, name));
}

/** The Deployment that serves the model. */
export const modelDeployment = (manifest: NormalizedManifest) => k8s(manifest, 'Deployment', MODEL);

/** The pod spec of the model's Deployment. */
export const podSpec = (manifest: NormalizedManifest) =>
  dig(modelDeployment(manifest), 'spec', 'template', 'spec');

/** The model-server container of the model's Deployment. */
export function modelContainer(manifest: NormalizedManifest): Obj {
  const found = listAt(podSpec(manifest), 'containers').find(
    (container) => container.name === 'model-server',
  );
  if (!found) throw new Error('the example has no model-server container');
  return found;
}

/** A container's securityContext, created empty where missing. */
export const securityContext = (container: Obj) => ensure(container, 'securityContext');

/** The pod-level securityContext of the model's Deployment, created empty where missing. */
export const podSecurity = (manifest: NormalizedManifest) => ensure(podSpec(manifest), 'securityContext');

/** The volumes of the model's pod, created empty where missing. */
export const volumes = (manifest: NormalizedManifest) => listAt(podSpec(manifest), 'volumes');

/** A container's environment variables, created empty where missing. */
export const containerEnv = (container: Obj) => listAt(container, 'env');

/** A container securityContext that meets the restricted Pod Security Standard (with the pod's seccomp). */
export const hardenedSecurityContext = (): Obj => ({
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
});

/** The data of the model's ConfigMap, created empty where missing. */
export const modelConfigData = (manifest: NormalizedManifest) =>
  ensure(k8s(manifest, 'ConfigMap', `${MODEL}-config`), 'data');

/** A ConfigMap in the release namespace. */
export function configMap(name: string, data: Record<string, string>): Obj {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NAMESPACE }, data };
}

/** The deployment target at an index. */
export const target = (manifest: NormalizedManifest, index: number) => {
  const found = manifest.deployment.targets[index];
  if (!found) throw new Error(`the example has no deployment target ${index}`);
  return found;
};

/** The cluster profile of the deployment target at an index. */
export const clusterProfile = (manifest: NormalizedManifest, index: number) => {
  const profile = target(manifest, index).clusterProfile;
  if (!profile) throw new Error(`the example has no cluster profile ${index}`);
  return profile;
};

/** The storage location at an index. */
export const storage = (manifest: NormalizedManifest, index: number) => manifest.deployment.storage![index]!;

/** The logging section of the deployment. */
export const logging = (manifest: NormalizedManifest) => manifest.deployment.logging!;

/** The application audit events: what each carries, and where they go. */
export const auditEvents = (manifest: NormalizedManifest) => logging(manifest).auditEvents!;

/** The sink the application audit events go to. */
export const auditSink = (manifest: NormalizedManifest) => auditEvents(manifest).sink!;

/** The data-retention section of the deployment. */
export const retention = (manifest: NormalizedManifest) => manifest.deployment.dataRetention!;

/** The GDPR section of the regulatory record. */
export const gdpr = (manifest: NormalizedManifest) => manifest.regulatory!.gdpr!;

/** The first test set of the validation (the frozen, sequestered one). */
export const testSet = (manifest: NormalizedManifest) => manifest.validation!.testSets![0]!;

/** The model card. */
export const modelCard = (manifest: NormalizedManifest) => manifest.modelCard!;
