// Policy bundles: the packs of controls (YAML, one per source, checks in CEL, completeness in JSON
// Schema) and the policy data they consult (thresholds and registries), loaded from a directory,
// validated and compiled once. Every expression is parsed at load, so a typo in a pack is an error
// that names the file, the control and the field before any release is judged by it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { Type, type Static } from 'typebox';
import { parse as parseYaml } from 'yaml';
import type { Severity } from '../../domain/compliance.js';
import { canonicalize } from '../../domain/canonical-json.js';
import { compileExpression, ExpressionError, sha256Hex, type CompiledExpression } from './cel.js';

const addFormats = addFormatsModule.default;

export const POLICY_API_VERSION = 'medrelease.dev/policy/v1';

const CheckSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    for: Type.Optional(
      Type.String({ minLength: 1, description: 'CEL: a list; the check runs per element.' }),
    ),
    as: Type.Optional(Type.String({ pattern: '^[a-z][A-Za-z0-9_]*$' })),
    when: Type.Optional(
      Type.String({ minLength: 1, description: 'CEL: the check (or element) applies only if true.' }),
    ),
    path: Type.String({ minLength: 1, description: 'A JSON pointer, or CEL giving one.' }),
    observed: Type.Optional(Type.String({ minLength: 1, description: 'CEL; default: the value at path.' })),
    expected: Type.Unknown({ description: 'What the control expects, as shown in the evidence.' }),
    expect: Type.String({
      minLength: 1,
      description: 'CEL: true when the observed value (`value`) complies.',
    }),
    missing: Type.Optional(Type.Union([Type.Literal('error'), Type.Literal('fail')])),
  },
  { additionalProperties: false },
);

const ControlSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Z0-9][A-Za-z0-9().+-]*$' }),
    title: Type.String({ minLength: 1 }),
    severity: Type.Union([Type.Literal('blocker'), Type.Literal('major'), Type.Literal('minor')]),
    source: Type.String({ minLength: 1 }),
    description: Type.String({ minLength: 1 }),
    notApplicable: Type.Optional(
      Type.Object(
        { when: Type.String({ minLength: 1 }), rule: Type.String({ minLength: 1 }) },
        { additionalProperties: false },
      ),
    ),
    let: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][A-Za-z0-9_]*$' }), Type.String())),
    checks: Type.Optional(Type.Array(CheckSchema)),
    schema: Type.Optional(
      Type.Object(
        {
          name: Type.String({ minLength: 1 }),
          at: Type.String({ description: 'JSON pointer of the part of the manifest the schema applies to.' }),
          schema: Type.Record(Type.String(), Type.Unknown()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const PackSchema = Type.Object(
  {
    apiVersion: Type.Literal(POLICY_API_VERSION),
    kind: Type.Literal('PolicyPack'),
    metadata: Type.Object(
      {
        id: Type.String({ pattern: '^[a-z][a-z0-9-]*$' }),
        title: Type.String({ minLength: 1 }),
        version: Type.String({ minLength: 1 }),
        sources: Type.Optional(Type.Array(Type.String())),
        description: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    controls: Type.Array(ControlSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

const DataSchema = Type.Object(
  {
    apiVersion: Type.Literal(POLICY_API_VERSION),
    kind: Type.Literal('PolicyData'),
    metadata: Type.Object(
      {
        name: Type.String({ minLength: 1 }),
        version: Type.String({ minLength: 1 }),
        description: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);

export type CheckDefinition = Static<typeof CheckSchema>;
export type ControlDefinition = Static<typeof ControlSchema>;
export type PackDefinition = Static<typeof PackSchema>;

export interface CompiledCheck {
  definition: CheckDefinition;
  each?: CompiledExpression;
  as: string;
  when?: CompiledExpression;
  path: string | CompiledExpression;
  observed?: CompiledExpression;
  expect: CompiledExpression;
}

export interface CompiledControl {
  definition: ControlDefinition;
  pack: string;
  severity: Severity;
  ruleDigest: string;
  notApplicable?: { when: CompiledExpression; rule: string };
  lets: [string, CompiledExpression][];
  checks: CompiledCheck[];
  schema?: { name: string; at: string; validate: ValidateFunction };
}

export interface PolicyBundle {
  name: string;
  version: string;
  digest: string;
  packs: { id: string; title: string; version: string; file: string; controls: number }[];
  /** The policy data files, in load order, with their versions. */
  dataFiles: { name: string; version: string }[];
  controls: CompiledControl[];
  data: Record<string, unknown>;
}

export class PolicyError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(`${message}:\n  ${problems.join('\n  ')}`);
    this.name = 'PolicyError';
  }
}

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validatePack = ajv.compile<PackDefinition>(PackSchema);
const validateData = ajv.compile<Static<typeof DataSchema>>(DataSchema);

function yamlFiles(directory: string): string[] {
  return readdirSync(directory)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(directory, name));
}

function schemaProblems(where: string, errors: ValidateFunction['errors']): string[] {
  return (errors ?? []).map(
    (error) => `${where}${error.instancePath || '/'}: ${error.message ?? error.keyword}`,
  );
}

function compileControl(
  control: ControlDefinition,
  pack: string,
  where: string,
  problems: string[],
): CompiledControl {
  const compile = (field: string, expression: string): CompiledExpression => {
    try {
      return compileExpression(expression);
    } catch (error) {
      problems.push(`${where} ${control.id} ${field}: ${(error as ExpressionError).message}`);
      return () => {
        throw error;
      };
    }
  };
  const checks: CompiledCheck[] = (control.checks ?? []).map((check, index) => {
    const field = `checks[${index}] (${check.name})`;
    return {
      definition: check,
      ...(check.for ? { each: compile(`${field}.for`, check.for) } : {}),
      as: check.as ?? 'item',
      ...(check.when ? { when: compile(`${field}.when`, check.when) } : {}),
      path: check.path.startsWith('/') ? check.path : compile(`${field}.path`, check.path),
      ...(check.observed ? { observed: compile(`${field}.observed`, check.observed) } : {}),
      expect: compile(`${field}.expect`, check.expect),
    };
  });
  let schema: CompiledControl['schema'];
  if (control.schema) {
    try {
      schema = {
        name: control.schema.name,
        at: control.schema.at,
        validate: ajv.compile(control.schema.schema),
      };
    } catch (error) {
      problems.push(`${where} ${control.id} schema: ${(error as Error).message}`);
    }
  }
  if (checks.length === 0 && !schema)
    problems.push(`${where} ${control.id}: has neither checks nor a schema`);
  return {
    definition: control,
    pack,
    severity: control.severity,
    ruleDigest: `sha256:${sha256Hex(canonicalize(control))}`,
    ...(control.notApplicable
      ? {
          notApplicable: {
            when: compile('notApplicable.when', control.notApplicable.when),
            rule: control.notApplicable.rule,
          },
        }
      : {}),
    lets: Object.entries(control.let ?? {}).map(([name, expression]) => [
      name,
      compile(`let.${name}`, expression),
    ]),
    checks,
    ...(schema ? { schema } : {}),
  };
}

/**
 * Loads the packs (`<dir>/*.yaml`) and the policy data (`<dir>/data/*.yaml`, then `extraData` files,
 * later files overriding earlier keys). Throws a PolicyError listing every problem.
 */
export function loadPolicyBundle(directory: string, extraData: string[] = []): PolicyBundle {
  const problems: string[] = [];
  const packs: PolicyBundle['packs'] = [];
  const controls: CompiledControl[] = [];
  const sources: { packs: unknown[]; data: unknown[] } = { packs: [], data: [] };
  const seen = new Map<string, string>();
  for (const file of yamlFiles(directory)) {
    const where = path.relative(process.cwd(), file) || file;
    let document: unknown;
    try {
      document = parseYaml(readFileSync(file, 'utf8'));
    } catch (error) {
      problems.push(`${where}: not valid YAML: ${(error as Error).message.split('\n')[0]}`);
      continue;
    }
    if (!validatePack(document)) {
      problems.push(...schemaProblems(where, validatePack.errors));
      continue;
    }
    const pack = document;
    sources.packs.push(pack);
    packs.push({
      id: pack.metadata.id,
      title: pack.metadata.title,
      version: pack.metadata.version,
      file: path.basename(file),
      controls: pack.controls.length,
    });
    for (const control of pack.controls) {
      const earlier = seen.get(control.id);
      if (earlier) problems.push(`${where}: control ${control.id} is already defined in ${earlier}`);
      seen.set(control.id, where);
      controls.push(compileControl(control, pack.metadata.id, where, problems));
    }
  }
  if (packs.length === 0) problems.push(`${directory}: no policy packs (*.yaml)`);
  const dataDirectory = path.join(directory, 'data');
  const dataFiles = [
    ...(statSync(dataDirectory, { throwIfNoEntry: false })?.isDirectory() ? yamlFiles(dataDirectory) : []),
    ...extraData,
  ];
  const data: Record<string, unknown> = {};
  const versions: string[] = [];
  const names: string[] = [];
  for (const file of dataFiles) {
    let document: unknown;
    try {
      document = parseYaml(readFileSync(file, 'utf8'));
    } catch (error) {
      problems.push(`${file}: not valid YAML: ${(error as Error).message.split('\n')[0]}`);
      continue;
    }
    if (!validateData(document)) {
      problems.push(...schemaProblems(file, validateData.errors));
      continue;
    }
    const policyData = document;
    sources.data.push(policyData);
    Object.assign(data, policyData.data);
    names.push(policyData.metadata.name);
    versions.push(policyData.metadata.version);
  }
  if (problems.length > 0) throw new PolicyError(`the policy bundle in ${directory} is invalid`, problems);
  return {
    name: path.basename(path.resolve(directory)),
    // The newest version of its data files (each file is versioned; the digest pins the whole bundle).
    version:
      [...versions].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1) ?? 'unversioned',
    dataFiles: names.map((name, index) => ({ name, version: versions[index]! })),
    digest: `sha256:${sha256Hex(canonicalize(sources))}`,
    packs,
    controls,
    data,
  };
}
