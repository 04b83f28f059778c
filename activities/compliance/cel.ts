// The CEL environment the policy packs are written in: the standard language (@bufbuild/cel, the
// dialect of Kubernetes admission policies and Kyverno) plus a few pure functions the catalog needs
// and CEL lacks — JSON-pointer lookup, digests, semantic versions, ISO periods, CIDR ranges, sums
// and the string leaves of a document. Every function is deterministic: the time is an input (`now`).
import { createHash } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import {
  celEnv,
  celFunc,
  celList,
  celMap,
  CelScalar,
  isCelError,
  isCelList,
  isCelMap,
  isCelUint,
  listType,
  parse,
  plan,
  type CelEnv,
  type CelError,
  type CelInput,
  type CelValue,
} from '@bufbuild/cel';
import { RE2JS } from '@bufbuild/re2';
import semver from 'semver';
import { escapePointerSegment, jsonPointerGet } from '../../domain/json-pointer.js';

/** Evaluates to the raw CEL value (convert with fromCel where plain JavaScript is needed). */
export type CompiledExpression = (bindings: Record<string, unknown>) => CelValue;

export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly expression: string,
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

/**
 * CEL values back to plain JSON-like JavaScript (ints to numbers, lists to arrays, maps to objects).
 * Plain objects handed to CEL are wrapped one level at a time and keep their plain children, so
 * unwrapping stops at the first plain value instead of copying whole documents on every call.
 */
export function fromCel(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value === null || typeof value !== 'object') return value;
  if (isCelUint(value)) return Number(value.value);
  if (isCelList(value)) {
    const raw = (value as unknown as { _array?: unknown })._array;
    return Array.isArray(raw) ? raw.map(fromCel) : [...value].map(fromCel);
  }
  if (isCelMap(value)) {
    const raw = (value as unknown as { _map?: unknown })._map;
    const entries = raw instanceof Map ? raw.entries() : value.entries();
    const object: Record<string, unknown> = {};
    for (const [key, entry] of entries)
      object[isCelUint(key) ? String(key.value) : String(key as string)] = fromCel(entry);
    return object;
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}

/**
 * A plain JSON-like value as CEL values all the way down, converted once. CEL wraps plain objects
 * one level at a time on every access, which made each evaluation rebuild the same maps many times;
 * converted up front, every access is a lookup. Shared objects are converted once (memo).
 */
export function toCelDeep(value: unknown, memo = new WeakMap<object, CelValue>()): CelValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'number':
    case 'bigint':
      return value;
    case 'object':
      break;
    default:
      return null;
  }
  if (isCelList(value) || isCelMap(value) || isCelUint(value) || value instanceof Uint8Array) return value;
  const object = value;
  const known = memo.get(object);
  if (known !== undefined) return known;
  let converted: CelValue;
  if (Array.isArray(object)) {
    converted = celList(object.map((entry) => toCelDeep(entry, memo)));
  } else {
    const entries = new Map<string, CelInput>();
    for (const [key, entry] of Object.entries(object)) {
      if (entry !== undefined) entries.set(key, toCelDeep(entry, memo));
    }
    converted = celMap(entries);
  }
  memo.set(object, converted);
  return converted;
}

/** The value at a JSON pointer of a plain or CEL document (undefined when missing), not converted. */
export function pointerGet(document: unknown, pointer: string): unknown {
  if (!isCelList(document) && !isCelMap(document)) return jsonPointerGet(document, pointer);
  if (pointer === '') return document;
  if (!pointer.startsWith('/')) return undefined;
  let node: unknown = document;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (isCelList(node)) {
      if (!/^(0|[1-9]\d*)$/.test(segment)) return undefined;
      node = node.get(Number(segment));
    } else if (isCelMap(node)) {
      node = node.get(segment);
    } else if (node !== null && typeof node === 'object' && !Array.isArray(node)) {
      node = jsonPointerGet(node, `/${raw}`);
    } else if (Array.isArray(node)) {
      node = jsonPointerGet(node, `/${raw}`);
    } else {
      return undefined;
    }
    if (node === undefined) return undefined;
  }
  return node;
}

/** Accepts plain values and CEL values alike (function arguments arrive as CEL values). */
function plain(value: unknown): unknown {
  return fromCel(value);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(plain(value));
}

/** Days in an ISO 8601 period of days/weeks/hours (P7D, P2W, PT36H, P1DT12H); NaN when not one. */
export function isoPeriodDays(period: string): number {
  const match =
    /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?)?$/.exec(
      period,
    );
  if (!match || period === 'P' || period.endsWith('T')) return Number.NaN;
  const [, weeks, days, hours, minutes] = match;
  return Number(weeks ?? 0) * 7 + Number(days ?? 0) + Number(hours ?? 0) / 24 + Number(minutes ?? 0) / 1440;
}

export function normalizeText(value: string): string {
  return value.normalize('NFKC').replace(/\s+/g, ' ').trim().toLowerCase();
}

export function sha256Hex(value: string | Uint8Array): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Every string leaf of a plain or CEL document with its JSON pointer (for detectors that scan free text). */
export function stringLeaves(value: unknown, base = ''): { path: string; value: string }[] {
  const leaves: { path: string; value: string }[] = [];
  const visit = (node: unknown, at: string) => {
    if (typeof node === 'string') leaves.push({ path: at, value: node });
    else if (isCelList(node)) {
      let index = 0;
      for (const entry of node) visit(entry, `${at}/${index++}`);
    } else if (isCelMap(node)) {
      for (const [key, entry] of node)
        visit(entry, `${at}/${escapePointerSegment(isCelUint(key) ? String(key.value) : String(key))}`);
    } else if (Array.isArray(node)) node.forEach((entry, index) => visit(entry, `${at}/${index}`));
    else if (node && typeof node === 'object' && !(node instanceof Uint8Array)) {
      for (const [key, entry] of Object.entries(node)) visit(entry, `${at}/${escapePointerSegment(key)}`);
    }
  };
  visit(value, base);
  return leaves;
}

function cidrContains(cidr: string, ip: string): boolean {
  const [network, bits] = cidr.split('/');
  const family = isIP(network ?? '');
  const ipFamily = isIP(ip);
  if (family === 0 || ipFamily !== family || bits === undefined) return false;
  const list = new BlockList();
  list.addSubnet(network!, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

function bumpClass(from: string, to: string): string {
  const previous = semver.valid(from);
  const next = semver.valid(to);
  if (!previous || !next) return 'invalid';
  if (!semver.gt(next, previous)) return 'none';
  return semver.diff(previous, next) ?? 'none';
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

const DYN = CelScalar.DYN;
const STRING = CelScalar.STRING;

const FUNCTIONS = [
  celFunc('at', [DYN, STRING], DYN, (document, pointer) => {
    const found = pointerGet(document, pointer);
    return (found === undefined ? null : found) as CelInput;
  }),
  celFunc('sha256', [STRING], STRING, (value) => `sha256:${sha256Hex(value)}`),
  celFunc('normalize', [STRING], STRING, (value) => normalizeText(value)),
  celFunc('semver_valid', [STRING], CelScalar.BOOL, (value) => semver.valid(value) !== null),
  celFunc('semver_satisfies', [STRING, STRING], CelScalar.BOOL, (version, range) => {
    const validRange = semver.validRange(range);
    return validRange !== null && semver.valid(version) !== null && semver.satisfies(version, validRange);
  }),
  celFunc('semver_bump', [STRING, STRING], STRING, (from, to) => bumpClass(from, to)),
  celFunc('days_between', [STRING, STRING], CelScalar.DOUBLE, (from, to) => {
    const start = Date.parse(from);
    const end = Date.parse(to);
    return Number.isFinite(start) && Number.isFinite(end) ? (end - start) / 86_400_000 : Number.NaN;
  }),
  celFunc('iso_days', [STRING], CelScalar.DOUBLE, (period) => isoPeriodDays(period)),
  celFunc('cidr_contains', [STRING, STRING], CelScalar.BOOL, (cidr, ip) => cidrContains(cidr, ip)),
  celFunc('is_ip', [STRING], CelScalar.BOOL, (value) => isIP(value) !== 0),
  celFunc('host_of', [STRING], STRING, (url) => hostOf(url)),
  celFunc('is_int', [DYN], CelScalar.BOOL, (value) => {
    const number = plain(value);
    return typeof number === 'number' && Number.isInteger(number);
  }),
  celFunc('sum', [listType(DYN)], CelScalar.DOUBLE, (list) =>
    [...list].reduce<number>((total, value) => total + Number(plain(value)), 0),
  ),
  celFunc('max_of', [listType(DYN)], CelScalar.DOUBLE, (list) =>
    Math.max(...[...list].map((value) => Number(plain(value)))),
  ),
  celFunc('string_leaves', [DYN, STRING], listType(DYN), (document, base) =>
    stringLeaves(document, base).map((leaf) => celMap(new Map<string, CelInput>(Object.entries(leaf)))),
  ),
  celFunc('to_json', [DYN], STRING, (value) => text(value)),
  celFunc('keys_of', [DYN], listType(STRING), (value) => {
    const object = plain(value);
    return object && typeof object === 'object' && !Array.isArray(object) ? Object.keys(object) : [];
  }),
  celFunc('lower', [STRING], STRING, (value) => value.toLowerCase()),
  celFunc('starts_with_any', [STRING, listType(DYN)], CelScalar.BOOL, (value, prefixes) =>
    [...prefixes].some((prefix) => value.startsWith(String(plain(prefix)))),
  ),
];

let environment: CelEnv | undefined;

/** RE2 (CEL's regular expressions) with compiled patterns kept: packs match the same patterns often. */
const compiledPatterns = new Map<string, { test(text: string): boolean }>();
const cachingRe2 = {
  compile(pattern: string) {
    let matcher = compiledPatterns.get(pattern);
    if (!matcher) {
      const compiled = RE2JS.compile(pattern);
      matcher = { test: (text: string) => compiled.test(text) };
      if (compiledPatterns.size > 10_000) compiledPatterns.clear();
      compiledPatterns.set(pattern, matcher);
    }
    return matcher;
  },
};

export function policyEnvironment(): CelEnv {
  environment ??= celEnv({ funcs: FUNCTIONS, re2: cachingRe2 });
  return environment;
}

/** The names of the functions the policy language adds to standard CEL (for the docs and tests). */
export const POLICY_FUNCTIONS = [...new Set(FUNCTIONS.map((fn) => fn.name))];

/**
 * Parses and plans an expression once; the result evaluates it against bindings, returning plain
 * JavaScript or throwing an ExpressionError that quotes the expression.
 */
export function compileExpression(expression: string): CompiledExpression {
  let planned: ReturnType<typeof plan>;
  try {
    planned = plan(policyEnvironment(), parse(expression));
  } catch (error) {
    throw new ExpressionError(
      `cannot parse CEL expression: ${(error as Error).message.split('\n')[0]}`,
      expression,
    );
  }
  return (bindings): CelValue => {
    let result: CelValue | CelError;
    try {
      result = planned(bindings as Record<string, CelInput>);
    } catch (error) {
      throw new ExpressionError((error as Error).message, expression);
    }
    if (isCelError(result)) throw new ExpressionError(result.message, expression);
    return result;
  };
}
