// The prometheus TelemetrySource: canary, baseline and history series of one cloud, read from that
// cloud's Prometheus over its HTTP API with PromQL templates.
//
// Per judged metric, three range queries at one step (the release's stepSeconds, else the window / 30,
// at least 1 s): the canary track of the new version over the analysis window, the stable track of
// the stable version over the same window (the concurrent baseline), and the stable track over the
// `historySeconds` before the window (what the anomaly model learns as normal). Per track, instant
// queries at the window's end give the status summary (requests, error rate, p50 / p99, mean
// positive-class probability over the whole window).
//
// Nothing is silently zero: a query that returns no series gives an empty series, NaN samples stay
// NaN (the judge counts both as no data). A query that fails — Prometheus unreachable, timing out or
// answering 5xx — is retried by the client (prometheus-api.ts) and, failing still, marks its metric
// *unavailable*: unknown, not absent, so the judge holds the step rather than passing or failing on it
// (activities/analysis/release-judge.ts). A query Prometheus refuses (bad PromQL, 4xx) is no data.
// Every query, with its outcome, sample counts, attempts and time, goes into the window's telemetry
// record, and from there into the step's verdict.
import { readFile } from 'node:fs/promises';
import { DEFAULT_JUDGE_CONFIG } from '../analysis/canary-judge.js';
import { TELEMETRY_PLACEHOLDERS, type TelemetrySettings } from '../../domain/release.js';
import type {
  MetricSeries,
  TelemetryQueryRecord,
  TelemetryRecord,
  TelemetryWindow,
  TrackMetrics,
} from '../../domain/status.js';
import {
  PrometheusError,
  createPrometheusClient,
  type PrometheusClient,
  type PrometheusResult,
} from './prometheus-api.js';
import type { LoadHistory, LoadHistoryQuery, TelemetryQuery, TelemetrySource } from './source.js';

/** The label matchers of one track of one model version, as the reference model server labels its series. */
/** A model's total request rate in one cloud (the load forecaster's input). */
export const LOAD_QUERY =
  'sum(rate(inference_requests_total{model="{{model}}",cloud="{{cloud}}"}[{{rate}}]))';

export const DEFAULT_SELECTOR = 'model="{{model}}",version="{{version}}",cloud="{{cloud}}",track="{{track}}"';

const requests = 'inference_requests_total{{{selector}}}';
const latencyBuckets = 'inference_request_duration_seconds_bucket{{{selector}}}';
const confidence = 'inference_prediction_confidence';

/**
 * PromQL per metric for the reference model server (examples/model-server): one value per sample,
 * NaN or no series when there is nothing to measure. The judge's default metrics are error_rate,
 * latency_p99_ms, prediction_mean and restarts; the others can be judged by naming them in the
 * release's judge configuration.
 */
export const DEFAULT_QUERIES: Readonly<Record<string, string>> = Object.freeze({
  // No 5xx series at all is no errors (0), but no requests at all is no data (no series, or 0/0 = NaN).
  error_rate: `(sum(rate(inference_requests_total{{{selector}},status=~"5.."}[{{rate}}])) or vector(0)) / sum(rate(${requests}[{{rate}}]))`,
  latency_p50_ms: `1000 * histogram_quantile(0.5, sum by (le) (rate(${latencyBuckets}[{{rate}}])))`,
  latency_p99_ms: `1000 * histogram_quantile(0.99, sum by (le) (rate(${latencyBuckets}[{{rate}}])))`,
  // The mean predicted probability of the positive class.
  prediction_mean: `sum(rate(${confidence}_sum{{{selector}}}[{{rate}}])) / sum(rate(${confidence}_count{{{selector}}}[{{rate}}]))`,
  // The share of predictions the model is unsure of (positive-class probability in (0.4, 0.6]).
  uncertain_rate: `(sum(rate(${confidence}_bucket{{{selector}},le="0.6"}[{{rate}}])) - sum(rate(${confidence}_bucket{{{selector}},le="0.4"}[{{rate}}]))) / sum(rate(${confidence}_count{{{selector}}}[{{rate}}]))`,
  // The largest per-feature distance of the recent inputs from the training distribution.
  input_drift: 'max(inference_input_drift{{{selector}}})',
  // Process restarts within an analysis window up to each sample (the crash-loop rule reads the max).
  restarts: 'sum(changes(process_start_time_seconds{{{selector}}}[{{window}}]))',
  request_rate: `sum(rate(${requests}[{{rate}}]))`,
});

/** Instant queries at the window's end over the whole window: the status summary of one track. */
export const STATUS_QUERIES: Readonly<Record<Exclude<keyof TrackMetrics, 'requestRate'>, string>> =
  Object.freeze({
    requests: `sum(increase(${requests}[{{window}}]))`,
    errorRate: `(sum(increase(inference_requests_total{{{selector}},status=~"5.."}[{{window}}])) or vector(0)) / sum(increase(${requests}[{{window}}]))`,
    latencyP50Ms: `1000 * histogram_quantile(0.5, sum by (le) (increase(${latencyBuckets}[{{window}}])))`,
    latencyP99Ms: `1000 * histogram_quantile(0.99, sum by (le) (increase(${latencyBuckets}[{{window}}])))`,
    predictionConfidence: `sum(increase(${confidence}_sum{{{selector}}}[{{window}}])) / sum(increase(${confidence}_count{{{selector}}}[{{window}}]))`,
  });

/** How often Prometheus scrapes the model servers when the cloud's configuration does not say. */
export const DEFAULT_SCRAPE_INTERVAL_SECONDS = 15;
/** Samples per analysis window when the release does not set the step. */
export const SAMPLES_PER_WINDOW = 30;
/** History, in steps, when the release does not set historySeconds. */
export const DEFAULT_HISTORY_STEPS = 120;
/** Prometheus refuses range queries of more than 11,000 points per series. */
const MAX_POINTS = 11_000;
/** Queries in flight at once against one Prometheus. */
const DEFAULT_CONCURRENCY = 8;

export interface PrometheusSourceOptions {
  /** The cloud this source serves (the {{cloud}} placeholder). */
  cloud: string;
  url: string;
  bearerTokenFile?: string;
  scrapeIntervalSeconds?: number;
  timeoutMs?: number;
  retries?: number;
  retryDelayMs?: number;
  selector?: string;
  concurrency?: number;
  clock?: () => Date;
  /** For tests: another client (the default is createPrometheusClient with the options above). */
  client?: PrometheusClient;
}

type Track = 'canary' | 'baseline' | 'history';

interface Planned {
  metric: string;
  track: Track;
  kind: 'range' | 'instant';
  query: string;
  run: () => Promise<PrometheusResult>;
}

export class PrometheusTelemetrySource implements TelemetrySource {
  readonly kind = 'prometheus' as const;
  private readonly clock: () => Date;
  private readonly scrapeIntervalSeconds: number;
  private readonly selector: string;
  private readonly concurrency: number;

  constructor(private readonly options: PrometheusSourceOptions) {
    const problems = templateProblems(options.selector ?? DEFAULT_SELECTOR, [
      'model',
      'version',
      'cloud',
      'track',
    ]);
    if (problems.length > 0) throw new RangeError(`prometheus selector: ${problems.join('; ')}`);
    this.selector = options.selector ?? DEFAULT_SELECTOR;
    this.scrapeIntervalSeconds = options.scrapeIntervalSeconds ?? DEFAULT_SCRAPE_INTERVAL_SECONDS;
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.clock = options.clock ?? (() => new Date());
  }

  /** A client per collection: the bearer token file is read each time, so a rotated token is used. */
  private async client(): Promise<PrometheusClient> {
    if (this.options.client) return this.options.client;
    const { url, timeoutMs, retries, retryDelayMs, bearerTokenFile } = this.options;
    return createPrometheusClient({
      url,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(retries !== undefined ? { retries } : {}),
      ...(retryDelayMs !== undefined ? { retryDelayMs } : {}),
      ...(bearerTokenFile
        ? { headers: { authorization: `Bearer ${(await readFile(bearerTokenFile, 'utf8')).trim()}` } }
        : {}),
    });
  }

  async collect(query: TelemetryQuery): Promise<TelemetryWindow> {
    const client = await this.client();
    const to = this.clock();
    const plan = this.windowPlan(query);
    const from = new Date(to.getTime() - plan.windowSeconds * 1000);
    const metrics = query.metrics ?? DEFAULT_JUDGE_CONFIG.metrics.map((metric) => metric.name);
    const queries = { ...DEFAULT_QUERIES, ...(query.settings?.queries ?? {}) };
    const hasBaseline = query.stableVersion !== undefined;
    const versionOf = (track: Track) => (track === 'canary' ? query.model.version : query.stableVersion!);
    const render = (template: string, track: Track) =>
      renderTemplate(template, {
        selector: renderTemplate(this.selector, {
          model: query.model.name,
          version: versionOf(track),
          cloud: query.cloud,
          track: track === 'canary' ? 'canary' : 'stable',
        }),
        rate: duration(plan.rateSeconds),
        window: duration(plan.windowSeconds),
        model: promqlString(query.model.name),
        version: promqlString(versionOf(track)),
        cloud: promqlString(query.cloud),
        track: track === 'canary' ? 'canary' : 'stable',
      });
    const signal = query.signal;

    const tracks: Track[] = hasBaseline ? ['canary', 'baseline', 'history'] : ['canary'];
    const planned: Planned[] = [];
    const missing: TelemetryQueryRecord[] = [];
    for (const metric of metrics) {
      const template = queries[metric];
      if (template === undefined) {
        missing.push({
          metric,
          track: 'canary',
          kind: 'range',
          query: '',
          outcome: 'error',
          samples: 0,
          nonFinite: 0,
          attempts: 0,
          durationMs: 0,
          error: `no PromQL query for metric '${metric}': add it to canary.telemetry.queries`,
        });
        continue;
      }
      for (const track of tracks) {
        if (track === 'history' && plan.historySeconds <= 0) continue;
        const promql = render(template, track);
        const [start, end] =
          track === 'history'
            ? [new Date(from.getTime() - plan.historySeconds * 1000 + plan.stepSeconds * 1000), from]
            : [new Date(from.getTime() + plan.stepSeconds * 1000), to];
        planned.push({
          metric,
          track,
          kind: 'range',
          query: promql,
          run: () =>
            client.queryRange(promql, {
              start,
              end,
              stepSeconds: plan.stepSeconds,
              ...(signal ? { signal } : {}),
            }),
        });
      }
    }
    for (const track of hasBaseline ? (['canary', 'baseline'] as const) : (['canary'] as const)) {
      for (const [field, template] of Object.entries(STATUS_QUERIES)) {
        const promql = render(template, track);
        planned.push({
          metric: `status.${field}`,
          track,
          kind: 'instant',
          query: promql,
          run: () => client.query(promql, { time: to, ...(signal ? { signal } : {}) }),
        });
      }
    }

    const outcomes = await runLimited(planned, this.concurrency, (entry) => execute(entry));
    const series: MetricSeries = {
      stepSeconds: plan.stepSeconds,
      canary: {},
      baseline: {},
      ...(hasBaseline && plan.historySeconds > 0 ? { history: {} } : {}),
    };
    const status: Record<'canary' | 'baseline', Partial<Record<keyof TrackMetrics, number>>> = {
      canary: {},
      baseline: {},
    };
    const unavailable = new Set<string>();
    for (const { entry, values, transient } of outcomes) {
      if (entry.kind === 'instant') {
        const field = entry.metric.slice('status.'.length) as keyof TrackMetrics;
        status[entry.track === 'canary' ? 'canary' : 'baseline'][field] = values[0] ?? Number.NaN;
        continue;
      }
      const target = entry.track === 'history' ? series.history : series[entry.track];
      if (target) target[entry.metric] = values;
      // Only the compared tracks make a metric unknown; without history there is no anomaly score.
      if (transient && entry.track !== 'history') unavailable.add(entry.metric);
    }
    const records = [...missing, ...outcomes.map((outcome) => outcome.record)];
    const telemetry: TelemetryRecord = {
      source: 'prometheus',
      url: client.url,
      ...(unavailable.size > 0 ? { unavailable: [...unavailable].sort() } : {}),
      queries: records,
    };
    const window: TelemetryWindow = {
      cloud: query.cloud,
      step: query.step,
      weight: query.weight,
      from: from.toISOString(),
      to: to.toISOString(),
      canary: trackMetrics(status.canary, plan.windowSeconds),
      series,
      telemetry,
      ...(query.recheck ? { recheck: query.recheck } : {}),
    };
    if (hasBaseline) window.baseline = trackMetrics(status.baseline, plan.windowSeconds);
    return window;
  }

  /**
   * The model's request rate in this cloud (every version and track together) over the recent past:
   * LOAD_QUERY as one range query at the requested step. A failure is returned, not thrown: the
   * forecaster then has no history and the release keeps the configured capacity.
   */
  async loadHistory(query: LoadHistoryQuery): Promise<LoadHistory> {
    const base = { cloud: query.cloud, stepSeconds: query.stepSeconds };
    const end = this.clock();
    const start = new Date(
      end.getTime() - (Math.min(query.samples, MAX_POINTS) - 1) * query.stepSeconds * 1000,
    );
    const promql = renderTemplate(LOAD_QUERY, {
      model: promqlString(query.model),
      cloud: promqlString(query.cloud),
      rate: duration(Math.max(query.stepSeconds, 4 * this.scrapeIntervalSeconds)),
    });
    try {
      const client = await this.client();
      const result = await client.queryRange(promql, {
        start,
        end,
        stepSeconds: query.stepSeconds,
        ...(query.signal ? { signal: query.signal } : {}),
      });
      const series = result.series[0]?.samples ?? [];
      // Missing steps (no scrape) are NaN, not zero: the forecaster skips them.
      const byTime = new Map(series.map(([time, value]) => [Math.round(time), value]));
      const samples = Array.from({ length: Math.min(query.samples, MAX_POINTS) }, (_, index) => {
        const time = Math.round(start.getTime() / 1000 + index * query.stepSeconds);
        return byTime.get(time) ?? Number.NaN;
      });
      return { ...base, samples, source: 'prometheus' };
    } catch (error) {
      if (error instanceof PrometheusError && error.kind === 'canceled') throw error;
      return { ...base, samples: [], source: 'unavailable', error: (error as Error).message };
    }
  }

  /** Window, step, rate window and history of one collection, in seconds. */
  windowPlan(query: Pick<TelemetryQuery, 'windowSeconds' | 'settings' | 'look' | 'looks'>): {
    windowSeconds: number;
    stepSeconds: number;
    rateSeconds: number;
    historySeconds: number;
  } {
    // A look into an interval (sequential analysis) samples at the whole interval's step, so that each
    // look's samples extend the previous look's rather than resampling the interval more finely.
    const looks = Math.max(1, query.looks ?? 1);
    const look = Math.min(looks, Math.max(1, query.look ?? looks));
    // A zero interval (tests of the workflow) still needs a window Prometheus can answer for.
    const fullSeconds = Math.max((query.windowSeconds * looks) / look, 10 * this.scrapeIntervalSeconds);
    // Samples must be independent for the rank test: each rate window is one step long, so neighbouring
    // samples share no scrape (overlapping windows made the test see ~3× more evidence than there was,
    // and failed healthy canaries on real telemetry). rate() needs two scrapes in its window, hence a
    // step of at least two scrape intervals.
    const minimumStep = 2 * this.scrapeIntervalSeconds;
    const stepSeconds =
      query.settings?.stepSeconds ?? Math.max(1, fullSeconds / SAMPLES_PER_WINDOW, minimumStep);
    const windowSeconds = look < looks ? Math.max((fullSeconds * look) / looks, stepSeconds) : fullSeconds;
    const rateSeconds = Math.max(stepSeconds, minimumStep);
    const historySeconds = Math.min(
      query.settings?.historySeconds ?? DEFAULT_HISTORY_STEPS * stepSeconds,
      (MAX_POINTS - 1) * stepSeconds,
    );
    return { windowSeconds, stepSeconds, rateSeconds, historySeconds };
  }
}

interface Outcome {
  entry: Planned;
  values: number[];
  record: TelemetryQueryRecord;
  /** The query failed for a reason that may pass (unreachable, timeout, 5xx): the metric is unknown. */
  transient: boolean;
}

async function execute(entry: Planned): Promise<Outcome> {
  const base = { metric: entry.metric, track: entry.track, kind: entry.kind, query: entry.query };
  try {
    const result = await entry.run();
    if (result.series.length > 1) {
      return {
        entry,
        values: [],
        transient: false,
        record: {
          ...base,
          outcome: 'error',
          samples: 0,
          nonFinite: 0,
          attempts: result.record.attempts,
          durationMs: Math.round(result.record.durationMs),
          error: `returned ${result.series.length} series; a judged query must return one (aggregate with sum, max …)`,
        },
      };
    }
    const values = (result.series[0]?.samples ?? []).map(([, value]) => value);
    const finite = values.filter((value) => Number.isFinite(value)).length;
    return {
      entry,
      values,
      transient: false,
      record: {
        ...base,
        outcome: values.length === 0 ? 'empty' : 'ok',
        samples: finite,
        nonFinite: values.length - finite,
        attempts: result.record.attempts,
        durationMs: Math.round(result.record.durationMs),
      },
    };
  } catch (error) {
    const failure = error instanceof PrometheusError ? error : undefined;
    // A cancelled activity ends here: nothing to record.
    if (!failure || failure.kind === 'canceled') throw error;
    return {
      entry,
      values: [],
      transient: failure.retryable,
      record: {
        ...base,
        outcome: 'error',
        samples: 0,
        nonFinite: 0,
        attempts: failure.record?.attempts ?? 1,
        durationMs: Math.round(failure.record?.durationMs ?? 0),
        error: failure.message,
      },
    };
  }
}

function trackMetrics(
  status: Partial<Record<keyof TrackMetrics, number>>,
  windowSeconds: number,
): TrackMetrics {
  const value = (field: keyof TrackMetrics) => status[field] ?? Number.NaN;
  const requestCount = value('requests');
  return {
    requests: Number.isFinite(requestCount) ? Math.round(requestCount) : 0,
    requestRate: Number.isFinite(requestCount) ? requestCount / windowSeconds : Number.NaN,
    errorRate: value('errorRate'),
    latencyP50Ms: value('latencyP50Ms'),
    latencyP99Ms: value('latencyP99Ms'),
    predictionConfidence: value('predictionConfidence'),
  };
}

async function runLimited<T, R>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}

/** A PromQL duration for a number of seconds (milliseconds, so fractional steps stay exact). */
export function duration(seconds: number): string {
  return `${Math.max(1, Math.round(seconds * 1000))}ms`;
}

/** A label value inside PromQL's double quotes. */
function promqlString(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_]\w*)\s*\}\}/g;

/** Replaces {{name}} placeholders; an unknown one is left in place (templateProblems refuses it first). */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) =>
    Object.hasOwn(values, name) ? values[name]! : whole,
  );
}

/** Problems of a template: placeholders that are not among the allowed ones, and unbalanced braces of them. */
export function templateProblems(
  template: string,
  allowed: readonly string[] = TELEMETRY_PLACEHOLDERS,
): string[] {
  const problems: string[] = [];
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1]!;
    if (!allowed.includes(name)) {
      problems.push(
        `unknown placeholder {{${name}}} (allowed: ${allowed.map((entry) => `{{${entry}}}`).join(', ')})`,
      );
    }
  }
  return [...new Set(problems)];
}

/** The query templates a release may set: known placeholders, and a metric name the judge can use. */
export function telemetrySettingsProblems(
  settings: TelemetrySettings,
): Array<{ field: string; message: string }> {
  const problems: Array<{ field: string; message: string }> = [];
  for (const [metric, template] of Object.entries(settings.queries ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(metric)) {
      problems.push({
        field: `/canary/telemetry/queries/${metric.replace(/~/g, '~0').replace(/\//g, '~1')}`,
        message: 'a metric name starts with a letter or _ and holds letters, digits, _ . : - (at most 64)',
      });
      continue;
    }
    for (const message of templateProblems(template)) {
      problems.push({ field: `/canary/telemetry/queries/${metric}`, message });
    }
  }
  return problems;
}
