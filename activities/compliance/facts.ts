// Facts the policy packs read besides the manifest itself, derived once per evaluation: the
// Kubernetes objects with their JSON pointers, every workload's pod spec (the catalog's PS(W)) and
// every container (C(W)), which containers serve the model, and the digests that bind approvals to
// the manifest. Pure functions of the manifest.
import { canonicalize } from '../../domain/canonical-json.js';
import { sha256Hex } from './cel.js';
import { pointerOf } from '../../domain/json-pointer.js';

type Json = Record<string, unknown>;

export const WORKLOAD_KINDS = [
  'Pod',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
];
const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

export interface ObjectFact {
  kind: string;
  apiVersion: string;
  name: string;
  namespace: string | null;
  pointer: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  object: Json;
}

export interface ContainerFact {
  name: string;
  list: (typeof CONTAINER_LISTS)[number];
  pointer: string;
  image: string;
  spec: Json;
  isModelServer: boolean;
  workload: { kind: string; name: string; pointer: string };
}

export interface WorkloadFact extends ObjectFact {
  podSpec: Json;
  podSpecPointer: string;
  podLabels: Record<string, string>;
  containers: ContainerFact[];
}

export interface KubernetesFacts {
  objects: ObjectFact[];
  workloads: WorkloadFact[];
  containers: ContainerFact[];
  /** containers and initContainers only (resource limits do not apply to ephemeral containers) */
  runContainers: ContainerFact[];
  namespaces: string[];
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function record(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

function stringRecord(value: unknown): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, entry] of Object.entries(record(value))) result[key] = String(entry);
  return result;
}

/** The repository part of an image reference (no tag, no digest). */
export function imageRepository(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > lastSlash ? withoutDigest.slice(0, colon) : withoutDigest;
}

function podSpecPath(kind: string): string[] | undefined {
  switch (kind) {
    case 'Pod':
      return ['spec'];
    case 'CronJob':
      return ['spec', 'jobTemplate', 'spec', 'template', 'spec'];
    default:
      return WORKLOAD_KINDS.includes(kind) ? ['spec', 'template', 'spec'] : undefined;
  }
}

function podLabelsOf(kind: string, object: Json): Record<string, string> {
  if (kind === 'Pod') return stringRecord(record(object.metadata).labels);
  const template =
    kind === 'CronJob'
      ? record(record(record(record(object.spec).jobTemplate).spec).template)
      : record(record(object.spec).template);
  return stringRecord(record(template.metadata).labels);
}

export function kubernetesFacts(objects: Json[], modelImage: string): KubernetesFacts {
  const modelRepository = imageRepository(modelImage);
  const objectFacts: ObjectFact[] = [];
  const workloads: WorkloadFact[] = [];
  objects.forEach((object, index) => {
    const metadata = record(object.metadata);
    const fact: ObjectFact = {
      kind: text(object.kind),
      apiVersion: text(object.apiVersion),
      name: text(metadata.name),
      namespace: typeof metadata.namespace === 'string' ? metadata.namespace : null,
      pointer: pointerOf('kubernetesManifests', index),
      labels: stringRecord(metadata.labels),
      annotations: stringRecord(metadata.annotations),
      object,
    };
    objectFacts.push(fact);
    const path = podSpecPath(fact.kind);
    if (!path) return;
    let podSpec: unknown = object;
    for (const step of path) podSpec = record(podSpec)[step];
    const podSpecPointer = `${fact.pointer}${pointerOf(...path)}`;
    const containers: ContainerFact[] = [];
    for (const list of CONTAINER_LISTS) {
      const entries = record(podSpec)[list];
      if (!Array.isArray(entries)) continue;
      entries.forEach((entry: unknown, position) => {
        const spec = record(entry);
        const image = text(spec.image);
        containers.push({
          name: text(spec.name),
          list,
          pointer: `${podSpecPointer}${pointerOf(list, position)}`,
          image,
          spec,
          isModelServer: list === 'containers' && image !== '' && imageRepository(image) === modelRepository,
          workload: { kind: fact.kind, name: fact.name, pointer: fact.pointer },
        });
      });
    }
    workloads.push({
      ...fact,
      podSpec: record(podSpec),
      podSpecPointer,
      podLabels: podLabelsOf(fact.kind, object),
      containers,
    });
  });
  const containers = workloads.flatMap((workload) => workload.containers);
  return {
    objects: objectFacts,
    workloads,
    containers,
    runContainers: containers.filter((container) => container.list !== 'ephemeralContainers'),
    namespaces: [
      ...new Set(
        objectFacts.flatMap((object) =>
          object.kind === 'Namespace' ? [object.name] : object.namespace ? [object.namespace] : [],
        ),
      ),
    ],
  };
}

/** sha256 of the canonical JSON (RFC 8785) of a document, as 'sha256:<hex>'. */
export function documentDigest(document: unknown): string {
  return `sha256:${sha256Hex(canonicalize(document))}`;
}

/** What an approval signs: the manifest without its approvals (binding each approval to this release). */
export function approvalPayloadDigest(manifest: Json): string {
  return manifestDigests(manifest).approvalPayload;
}

/**
 * The manifest's digest and its approval-payload digest from one canonicalisation: both are the
 * canonical object of the top-level members, with and without `approvals`.
 */
export function manifestDigests(manifest: Json): {
  manifest: string;
  approvalPayload: string;
  infra: string;
} {
  const values = new Map<string, string>();
  const members = Object.entries(manifest)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => {
      const text = canonicalize(value);
      values.set(key, text);
      return [key, `${JSON.stringify(key)}:${text}`] as const;
    });
  const join = (entries: (readonly [string, string])[]) => `{${entries.map(([, text]) => text).join(',')}}`;
  return {
    manifest: `sha256:${sha256Hex(join(members))}`,
    approvalPayload: `sha256:${sha256Hex(join(members.filter(([key]) => key !== 'approvals')))}`,
    // = documentDigest(manifest.kubernetesManifests), from the text already made.
    infra: `sha256:${sha256Hex(values.get('kubernetesManifests') ?? '[]')}`,
  };
}
