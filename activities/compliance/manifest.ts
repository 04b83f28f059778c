// Reading a release manifest: JSON or YAML text (or an already parsed object), validated against
// the v1 schema with every violation named by JSON pointer, and normalised — the Kubernetes
// manifests, which may come as one multi-document YAML string, become the list of objects the gate
// reads. Nothing here judges compliance; that is the engine's job.
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import {
  ReleaseManifestSchema,
  type NormalizedManifest,
  type ReleaseManifest,
} from '../../domain/manifest.js';
import type { FieldProblem } from '../../domain/release-input.js';
import { problemsFromSchemaErrors } from '../../api/validation.js';

const addFormats = addFormatsModule.default;
const ajv = new Ajv({ allErrors: true, strict: true, coerceTypes: false, useDefaults: false });
addFormats(ajv);
const validate = ajv.compile(ReleaseManifestSchema);

export type ManifestResult =
  { manifest: NormalizedManifest; problems?: undefined } | { manifest?: undefined; problems: FieldProblem[] };

/** Parses JSON or YAML text; a syntax error is one problem with its line and column. */
export function parseManifestText(text: string): { document: unknown } | { problems: FieldProblem[] } {
  try {
    return { document: parseYaml(text, { prettyErrors: true, uniqueKeys: true }) as unknown };
  } catch (error) {
    return {
      problems: [
        { field: '', message: `not valid JSON or YAML: ${(error as Error).message.split('\n')[0]}` },
      ],
    };
  }
}

function kubernetesObjects(
  value: ReleaseManifest['kubernetesManifests'],
  problems: FieldProblem[],
): Record<string, unknown>[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  const objects: Record<string, unknown>[] = [];
  parseAllDocuments(value).forEach((document, index) => {
    if ('errors' in document && document.errors.length > 0) {
      const error = document.errors[0]!;
      problems.push({
        field: '/kubernetesManifests',
        message: `document ${index + 1} is not valid YAML: ${error.message.split('\n')[0]}`,
      });
      return;
    }
    const object = document.toJS() as unknown;
    if (object === null || object === undefined) return; // an empty document between separators
    if (typeof object !== 'object' || Array.isArray(object)) {
      problems.push({
        field: '/kubernetesManifests',
        message: `document ${index + 1} must be a Kubernetes object`,
      });
      return;
    }
    const record = object as Record<string, unknown>;
    for (const field of ['apiVersion', 'kind'] as const) {
      if (typeof record[field] !== 'string' || record[field] === '')
        problems.push({ field: '/kubernetesManifests', message: `document ${index + 1} has no ${field}` });
    }
    objects.push(record);
  });
  return objects;
}

/** Validates a parsed document; on success the manifest with its Kubernetes objects as a list. */
export function normalizeManifest(document: unknown): ManifestResult {
  if (!validate(document)) return { problems: problemsFromSchemaErrors(validate.errors as ErrorObject[]) };
  const manifest = document as ReleaseManifest;
  const problems: FieldProblem[] = [];
  const objects = kubernetesObjects(manifest.kubernetesManifests, problems);
  if (problems.length > 0) return { problems };
  return { manifest: { ...manifest, kubernetesManifests: objects } };
}

/** Text or a parsed object → a normalised manifest, or every problem found. */
export function readManifest(input: unknown): ManifestResult {
  if (typeof input === 'string') {
    const parsed = parseManifestText(input);
    if ('problems' in parsed) return { problems: parsed.problems };
    return normalizeManifest(parsed.document);
  }
  return normalizeManifest(input);
}

/** Prefixes each problem's pointer (a manifest inside a release request is at /manifest). */
export function prefixProblems(problems: FieldProblem[], prefix: string): FieldProblem[] {
  return problems.map((problem) => ({ ...problem, field: `${prefix}${problem.field}` }));
}
