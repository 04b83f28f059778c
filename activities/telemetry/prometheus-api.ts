// A small typed client for Prometheus's HTTP query API (/api/v1/query and /api/v1/query_range).
// Queries go as POST form bodies, so long PromQL never meets a URL length limit. Sample values arrive
// as strings; "NaN", "+Inf" and "-Inf" become NaN and ±Infinity, never 0. Failures are typed
// (PrometheusError.kind) and only the transient ones are retried. Every call, failed or not, yields a
// QueryRecord (the query, its window, attempts, duration and a summary of what came back) so a verdict
// can cite exactly what it was based on.

export type PrometheusResultType = 'matrix' | 'vector' | 'scalar' | 'string';

/** One sample: unix time in seconds and the value (NaN and ±Infinity included). */
export type Sample = [number, number];

export interface PrometheusSeries {
  labels: Record<string, string>;
  samples: Sample[];
}

export interface QueryRecord {
  query: string;
  kind: 'range' | 'instant';
  /** ISO 8601; range queries only. */
  start?: string;
  end?: string;
  stepSeconds?: number;
  /** ISO 8601; instant queries evaluated at a given time only. */
  time?: string;
  /** The base URL queried, without credentials. */
  url: string;
  durationMs: number;
  attempts: number;
  outcome: 'ok' | 'error';
  /** The error's message, when the outcome is 'error'. */
  error?: string;
  errorKind?: PrometheusErrorKind;
  seriesCount: number;
  sampleCount: number;
  /** Samples whose value is NaN (no data, e.g. 0/0): never to be read as 0. */
  nanCount: number;
  warnings?: string[];
}

export interface PrometheusResult {
  resultType: PrometheusResultType;
  /** A scalar is one series without labels; a string result has no series (see `string`). */
  series: PrometheusSeries[];
  /** The value of a 'string' result. */
  string?: { time: number; value: string };
  warnings?: string[];
  record: QueryRecord;
}

/** The same as {@link PrometheusResult}. */
export type QueryResult = PrometheusResult;

export type PrometheusErrorKind =
  'unreachable' | 'timeout' | 'http' | 'bad_data' | 'execution' | 'canceled' | 'invalid_response';

export class PrometheusError extends Error {
  override readonly name = 'PrometheusError';
  readonly kind: PrometheusErrorKind;
  /** The HTTP status, when Prometheus (or a proxy) answered. */
  readonly status?: number;
  /** Prometheus's own `errorType`, e.g. 'bad_data', 'execution', 'timeout'. */
  readonly errorType?: string;
  readonly query: string;
  /** The base URL, without credentials. */
  readonly url: string;
  /** Whether asking again may succeed: unreachable, timeouts, 5xx and 429. */
  readonly retryable: boolean;
  /** The record of the whole call (every attempt); set on the error the call finally throws. */
  record?: QueryRecord;

  constructor(fields: {
    kind: PrometheusErrorKind;
    message: string;
    query: string;
    url: string;
    status?: number;
    errorType?: string;
    retryable?: boolean;
    cause?: unknown;
  }) {
    super(fields.message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.kind = fields.kind;
    this.query = fields.query;
    this.url = fields.url;
    if (fields.status !== undefined) this.status = fields.status;
    if (fields.errorType !== undefined) this.errorType = fields.errorType;
    this.retryable = fields.retryable ?? isRetryable(fields.kind, fields.status);
  }
}

function isRetryable(kind: PrometheusErrorKind, status: number | undefined): boolean {
  if (kind === 'unreachable' || kind === 'timeout') return true;
  if (kind === 'canceled' || kind === 'bad_data') return false;
  return status !== undefined && (status >= 500 || status === 429);
}

export interface PrometheusClientOptions {
  /** Base URL, e.g. http://127.0.0.1:9090 or https://user:secret@host/prometheus (credentials become a Basic header). */
  url: string;
  /** Per attempt, including reading the body; default 5000. */
  timeoutMs?: number;
  /** Further attempts after a retryable failure; default 2. */
  retries?: number;
  /** Delay before the first retry, doubled for each further one; default 250. */
  retryDelayMs?: number;
  /**
   * Extra request headers, or a function giving them for each attempt (e.g. reading a bearer token file
   * that may be rotated). A function that throws fails the call with kind 'http', not retried.
   */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Called with the record of every call, successful or not. */
  onRecord?: (record: QueryRecord) => void;
}

export interface CallOptions {
  /** Cancels the call (e.g. a Temporal activity's cancellation signal): PrometheusError kind 'canceled'. */
  signal?: AbortSignal;
}

export interface PrometheusClient {
  /** The base URL without credentials. */
  readonly url: string;
  query(promql: string, opts?: CallOptions & { time?: Date }): Promise<PrometheusResult>;
  queryRange(
    promql: string,
    opts: CallOptions & { start: Date; end: Date; stepSeconds: number },
  ): Promise<PrometheusResult>;
}

const QUERY_IN_MESSAGE_MAX = 200;

export function createPrometheusClient(options: PrometheusClientOptions): PrometheusClient {
  const timeoutMs = options.timeoutMs ?? 5000;
  const retries = options.retries ?? 2;
  const retryDelayMs = options.retryDelayMs ?? 250;
  const doFetch = options.fetch ?? fetch;
  if (!(timeoutMs > 0)) throw new Error(`timeoutMs must be positive, got ${timeoutMs}`);
  if (!Number.isInteger(retries) || retries < 0)
    throw new Error(`retries must be an integer ≥ 0, got ${retries}`);
  const { base, safeUrl, authorization } = parseBaseUrl(options.url);
  const requestHeaders = async (promql: string): Promise<Record<string, string>> => {
    let extra: Record<string, string> | undefined;
    try {
      extra = typeof options.headers === 'function' ? await options.headers() : options.headers;
    } catch (error) {
      throw new PrometheusError({
        kind: 'http',
        message: `cannot build the request headers for Prometheus at ${safeUrl}: ${(error as Error).message}`,
        query: promql,
        url: safeUrl,
        retryable: false,
        cause: error,
      });
    }
    return {
      ...(authorization ? { authorization } : {}),
      ...extra,
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
    };
  };

  async function call(
    endpoint: 'query' | 'query_range',
    promql: string,
    form: Record<string, string>,
    record: Omit<
      QueryRecord,
      'durationMs' | 'attempts' | 'outcome' | 'seriesCount' | 'sampleCount' | 'nanCount'
    >,
    signal: AbortSignal | undefined,
  ): Promise<PrometheusResult> {
    const started = performance.now();
    let attempts = 0;
    const finish = (fields: Partial<QueryRecord> & Pick<QueryRecord, 'outcome'>): QueryRecord => {
      const complete: QueryRecord = {
        ...record,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        attempts,
        seriesCount: 0,
        sampleCount: 0,
        nanCount: 0,
        ...fields,
      };
      options.onRecord?.(complete);
      return complete;
    };
    for (;;) {
      attempts += 1;
      try {
        const parsed = await attempt(endpoint, promql, form, signal);
        const counts = summarize(parsed.series);
        const done = finish({
          outcome: 'ok',
          ...counts,
          ...(parsed.warnings ? { warnings: parsed.warnings } : {}),
        });
        return { ...parsed, record: done };
      } catch (caught) {
        const error = toPrometheusError(caught, promql, safeUrl, signal);
        if (error.retryable && attempts <= retries && !signal?.aborted) {
          try {
            await sleep(retryDelayMs * 2 ** (attempts - 1), signal);
            continue;
          } catch {
            // Canceled while waiting to retry: report the cancellation.
            const canceled = canceledError(promql, safeUrl, signal);
            canceled.record = finish({ outcome: 'error', error: canceled.message, errorKind: canceled.kind });
            throw canceled;
          }
        }
        error.record = finish({ outcome: 'error', error: error.message, errorKind: error.kind });
        throw error;
      }
    }
  }

  async function attempt(
    endpoint: 'query' | 'query_range',
    promql: string,
    form: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<Omit<PrometheusResult, 'record'>> {
    if (signal?.aborted) throw canceledError(promql, safeUrl, signal);
    const headers = await requestHeaders(promql);
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let status: number;
    let text: string;
    try {
      const response = await doFetch(`${base}api/v1/${endpoint}`, {
        method: 'POST',
        headers,
        body: new URLSearchParams({ query: promql, ...form }).toString(),
        signal: combined,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw canceledError(promql, safeUrl, signal);
      if (timeout.aborted) {
        throw new PrometheusError({
          kind: 'timeout',
          message: `Prometheus at ${safeUrl} did not answer within ${timeoutMs} ms (${describeQuery(promql)})`,
          query: promql,
          url: safeUrl,
          cause: error,
        });
      }
      throw new PrometheusError({
        kind: 'unreachable',
        message: `Prometheus at ${safeUrl} is unreachable: ${networkReason(error)} (${describeQuery(promql)})`,
        query: promql,
        url: safeUrl,
        cause: error,
      });
    }
    return interpret(status, text, promql);
  }

  function interpret(status: number, text: string, promql: string): Omit<PrometheusResult, 'record'> {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const envelope = isObject(body) ? body : undefined;
    if (envelope?.status === 'error' || (status >= 300 && envelope)) {
      const errorType = typeof envelope.errorType === 'string' ? envelope.errorType : undefined;
      const reason = typeof envelope.error === 'string' ? envelope.error : `HTTP ${status}`;
      throw new PrometheusError({
        kind: errorKind(errorType, status),
        message: `Prometheus at ${safeUrl} rejected ${describeQuery(promql)}: ${errorType ?? 'error'}: ${reason} (HTTP ${status})`,
        query: promql,
        url: safeUrl,
        status,
        ...(errorType ? { errorType } : {}),
      });
    }
    if (status < 200 || status >= 300) {
      throw new PrometheusError({
        kind: 'http',
        message: `Prometheus at ${safeUrl} answered HTTP ${status} to ${describeQuery(promql)}: ${snippet(text)}`,
        query: promql,
        url: safeUrl,
        status,
      });
    }
    const invalid = (why: string) =>
      new PrometheusError({
        kind: 'invalid_response',
        message: `Prometheus at ${safeUrl} sent an invalid response to ${describeQuery(promql)}: ${why}`,
        query: promql,
        url: safeUrl,
        status,
      });
    if (!envelope) throw invalid(`not JSON: ${snippet(text)}`);
    if (envelope.status !== 'success' || !isObject(envelope.data)) throw invalid('no successful data');
    const warnings = [...stringList(envelope.warnings), ...stringList(envelope.infos)];
    try {
      const parsed = parseData(envelope.data);
      return { ...parsed, ...(warnings.length ? { warnings } : {}) };
    } catch (error) {
      throw invalid((error as Error).message);
    }
  }

  return {
    url: safeUrl,
    query(promql, opts = {}) {
      const form: Record<string, string> = opts.time ? { time: unixSeconds(opts.time) } : {};
      return call(
        'query',
        promql,
        form,
        {
          query: promql,
          kind: 'instant',
          url: safeUrl,
          ...(opts.time ? { time: opts.time.toISOString() } : {}),
        },
        opts.signal,
      );
    },
    queryRange(promql, opts) {
      if (!(opts.stepSeconds > 0)) throw new Error(`stepSeconds must be positive, got ${opts.stepSeconds}`);
      if (opts.end.getTime() < opts.start.getTime()) throw new Error('queryRange: end is before start');
      return call(
        'query_range',
        promql,
        { start: unixSeconds(opts.start), end: unixSeconds(opts.end), step: String(opts.stepSeconds) },
        {
          query: promql,
          kind: 'range',
          url: safeUrl,
          start: opts.start.toISOString(),
          end: opts.end.toISOString(),
          stepSeconds: opts.stepSeconds,
        },
        opts.signal,
      );
    },
  };
}

/** Prometheus's errorType (and the status) to a kind: 400 bad_data, 422 execution, 503 timeout/canceled… */
function errorKind(errorType: string | undefined, status: number): PrometheusErrorKind {
  if (errorType === 'bad_data' || status === 400) return 'bad_data';
  if (errorType === 'execution' || errorType === 'timeout' || errorType === 'canceled') return 'execution';
  if (errorType === 'internal' || errorType === 'unavailable') return 'execution';
  return 'http';
}

function canceledError(promql: string, url: string, signal: AbortSignal | undefined): PrometheusError {
  const reason: unknown = signal?.reason;
  const why =
    reason instanceof Error ? `: ${reason.message}` : typeof reason === 'string' ? `: ${reason}` : '';
  return new PrometheusError({
    kind: 'canceled',
    message: `query to Prometheus at ${url} canceled${why} (${describeQuery(promql)})`,
    query: promql,
    url,
    cause: reason,
  });
}

function toPrometheusError(
  error: unknown,
  promql: string,
  url: string,
  signal: AbortSignal | undefined,
): PrometheusError {
  if (error instanceof PrometheusError) return error;
  if (signal?.aborted) return canceledError(promql, url, signal);
  return new PrometheusError({
    kind: 'invalid_response',
    message: `query to Prometheus at ${url} failed: ${(error as Error).message ?? String(error)}`,
    query: promql,
    url,
    retryable: false,
    cause: error,
  });
}

/** undici's 'fetch failed' hides the reason in `cause` (ECONNREFUSED, ENOTFOUND, …). */
function networkReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${code} (${cause.message})` : cause.message;
  }
  return error.message;
}

function describeQuery(promql: string): string {
  const oneLine = promql.replace(/\s+/g, ' ').trim();
  return `query ${oneLine.length > QUERY_IN_MESSAGE_MAX ? `${oneLine.slice(0, QUERY_IN_MESSAGE_MAX)}…` : oneLine}`;
}

function snippet(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine || '(empty body)';
}

/**
 * The base URL ending in '/', without credentials (for messages) and with them as a Basic header: fetch
 * refuses URLs that carry credentials. A query string or fragment is dropped (it may hold a token).
 */
function parseBaseUrl(raw: string): { base: string; safeUrl: string; authorization?: string } {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new Error('the Prometheus URL is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`the Prometheus URL must be http or https, not ${parsed.protocol}`);
  }
  const authorization =
    parsed.username || parsed.password
      ? `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`
      : undefined;
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  const safeUrl = parsed.toString().replace(/\/+$/, '');
  return { base: `${safeUrl}/`, safeUrl, ...(authorization ? { authorization } : {}) };
}

function unixSeconds(date: Date): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new Error('invalid Date');
  return (ms / 1000).toFixed(3);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---- parsing --------------------------------------------------------------------------------------

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : [];
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A sample value as Prometheus writes it: a decimal, "NaN", "+Inf" or "-Inf". Anything else throws. */
export function parseSampleValue(text: unknown): number {
  if (typeof text !== 'string') throw new Error(`sample value ${JSON.stringify(text)} is not a string`);
  switch (text) {
    case 'NaN':
      return NaN;
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
  }
  if (!DECIMAL.test(text)) throw new Error(`sample value ${JSON.stringify(text)} is not a number`);
  return Number(text);
}

function parseSample(entry: unknown): Sample {
  if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'number') {
    throw new Error(`sample ${JSON.stringify(entry)} is not [time, "value"]`);
  }
  return [entry[0], parseSampleValue(entry[1])];
}

function parseLabels(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new Error('series labels are not an object');
  const labels: Record<string, string> = {};
  for (const [name, label] of Object.entries(value)) {
    if (typeof label !== 'string') throw new Error(`label ${name} is not a string`);
    labels[name] = label;
  }
  return labels;
}

function parseData(data: Record<string, unknown>): Omit<PrometheusResult, 'record' | 'warnings'> {
  const resultType = data.resultType;
  const result = data.result;
  switch (resultType) {
    case 'matrix': {
      if (!Array.isArray(result)) throw new Error('matrix result is not an array');
      return {
        resultType,
        series: result.map((entry: unknown) => {
          if (!isObject(entry)) throw new Error('matrix entry is not an object');
          // Native histogram samples ('histograms') carry no single value; only float samples are read.
          const values = entry.values ?? [];
          if (!Array.isArray(values)) throw new Error('matrix values are not an array');
          return { labels: parseLabels(entry.metric), samples: values.map(parseSample) };
        }),
      };
    }
    case 'vector': {
      if (!Array.isArray(result)) throw new Error('vector result is not an array');
      return {
        resultType,
        series: result.map((entry: unknown) => {
          if (!isObject(entry)) throw new Error('vector entry is not an object');
          return {
            labels: parseLabels(entry.metric),
            samples: entry.value === undefined ? [] : [parseSample(entry.value)],
          };
        }),
      };
    }
    case 'scalar':
      return { resultType, series: [{ labels: {}, samples: [parseSample(result)] }] };
    case 'string': {
      if (!Array.isArray(result) || typeof result[0] !== 'number' || typeof result[1] !== 'string') {
        throw new Error('string result is not [time, "value"]');
      }
      return { resultType, series: [], string: { time: result[0], value: result[1] } };
    }
    default:
      throw new Error(`unknown resultType ${JSON.stringify(resultType)}`);
  }
}

function summarize(
  series: PrometheusSeries[],
): Pick<QueryRecord, 'seriesCount' | 'sampleCount' | 'nanCount'> {
  let sampleCount = 0;
  let nanCount = 0;
  for (const entry of series) {
    sampleCount += entry.samples.length;
    for (const [, value] of entry.samples) if (Number.isNaN(value)) nanCount += 1;
  }
  return { seriesCount: series.length, sampleCount, nanCount };
}
