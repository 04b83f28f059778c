// Request validation: Ajv compiles the routes' TypeBox schemas, and every failure becomes one
// problem per field, named by JSON pointer. Bodies are validated exactly as sent (no coercion, no
// defaults, unknown fields are errors: defaults belong to buildReleaseInput); the query string and
// path parameters are strings on the wire, so they are coerced and take their defaults.
import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type {
  FastifySchema,
  FastifySchemaCompiler,
  FastifySchemaValidationError,
  FastifyServerOptions,
} from 'fastify';
import { escapePointerSegment } from '../domain/json-pointer.js';
import type { FieldProblem } from '../domain/release-input.js';
import { validationFailed, type ApiError } from './errors.js';

// ajv-formats is CommonJS with a `default` export; under NodeNext its plugin is that property.
const addFormats = addFormatsModule.default;

const common: Options = { allErrors: true, removeAdditional: false, verbose: true, strict: true };

function createAjv(options: Options): Ajv {
  const ajv = new Ajv({ ...common, ...options });
  addFormats(ajv);
  return ajv;
}

const bodyAjv = createAjv({ coerceTypes: false, useDefaults: false });
const parameterAjv = createAjv({ coerceTypes: 'array', useDefaults: true });

export const validatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : parameterAjv).compile(schema as object);

type SchemaErrorDataVar = Parameters<NonNullable<FastifyServerOptions['schemaErrorFormatter']>>[1];

const PARTS: Record<SchemaErrorDataVar, string> = {
  body: 'the request body',
  querystring: 'the query string',
  params: 'the path',
  headers: 'the request headers',
};

/** Fastify's schemaErrorFormatter: every schema error of one request part as one VALIDATION_FAILED. */
export function schemaErrorFormatter(
  errors: FastifySchemaValidationError[],
  part: SchemaErrorDataVar,
): ApiError {
  return validationFailed(problemsFromSchemaErrors(errors as ErrorObject[]), PARTS[part]);
}

/** Ajv errors → one readable problem per field: a union's branches collapse into "must be one of". */
export function problemsFromSchemaErrors(errors: ErrorObject[]): FieldProblem[] {
  // With allErrors, a failed anyOf reports each branch's error before its own; the branches say
  // nothing a reader needs once the anyOf says which values are allowed.
  const unions = errors.filter((error) => error.keyword === 'anyOf').map((error) => `${error.schemaPath}/`);
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (unions.some((prefix) => error.schemaPath.startsWith(prefix))) continue;
    const problem = describe(error);
    const key = `${problem.field}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

function describe(error: ErrorObject): FieldProblem {
  const at = error.instancePath;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return {
        field: `${at}/${escapePointerSegment(String(params.missingProperty))}`,
        message: 'is required',
      };
    case 'additionalProperties':
      return {
        field: `${at}/${escapePointerSegment(String(params.additionalProperty))}`,
        message: 'is not a known field (unknown fields are not accepted)',
      };
    case 'enum':
      return { field: at, message: `must be one of ${listValues(params.allowedValues)}` };
    case 'const':
      return { field: at, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'anyOf': {
      const branches = Array.isArray(error.schema) ? (error.schema as unknown[]) : [];
      const constants = branches.map((branch) =>
        branch && typeof branch === 'object' && 'const' in branch ? branch.const : undefined,
      );
      if (constants.length > 0 && constants.every((value) => value !== undefined)) {
        return { field: at, message: `must be one of ${listValues(constants)}` };
      }
      return { field: at, message: 'must match one of the allowed forms' };
    }
    default:
      return { field: at, message: error.message ?? `fails the '${error.keyword}' rule` };
  }
}

function listValues(values: unknown): string {
  return Array.isArray(values) ? values.map((value) => JSON.stringify(value)).join(', ') : String(values);
}
