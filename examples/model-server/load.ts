// A load generator for model servers: POST /predict at a fixed total rate, spread over the targets by
// (smooth) weighted round robin, with patients drawn from the synthetic cohort (optionally drifted).
//
// Open loop: request k is due at start + k / rps whatever happened to the earlier ones, so a slow
// server gets the same offered load as a fast one (a closed loop would slow down with it and hide the
// latency). In-flight requests are capped; a request due while the cap is reached is dropped and
// counted, not queued.
//
//   node dist/examples/model-server/load.js --targets http://127.0.0.1:9001,http://127.0.0.1:9002 \
//     --rps 20 [--seconds 60] [--seed 1] [--input-drift 0.5] [--weights 9,1] [--max-in-flight 256]
import { parseArgs } from 'node:util';
import { integerOption, isMain, numberOption } from './cli.js';
import { patientSampler } from './data.js';

export interface LoadOptions {
  /** Base URLs of model servers; /predict is appended. */
  targets: string[];
  /** Total requests per second over all targets. */
  rps: number;
  seed?: number;
  /** Input drift in within-class standard deviations (data.ts); 0, the default, is none. */
  drift?: number;
  /** Stop by itself after this long; default: run until stop(). */
  durationSeconds?: number;
  /** Relative share of each target (same order); default: equal. */
  weights?: number[];
  /** Requests in flight at most; default 256. */
  maxInFlight?: number;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Called every progressIntervalMs (default 5 s) with the totals and the interval's latencies. */
  onProgress?: (progress: LoadProgress) => void;
  progressIntervalMs?: number;
}

export interface TargetStats {
  sent: number;
  ok: number;
  errors: number;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadStats {
  elapsedSeconds: number;
  sent: number;
  /** 2xx answers. */
  ok: number;
  /** Everything else: non-2xx answers, timeouts and connection failures. */
  errors: number;
  /** Requests not sent because maxInFlight requests were outstanding. */
  dropped: number;
  inFlight: number;
  /** Sent per second of elapsed time. */
  achievedRps: number;
  /** By HTTP status, plus 'timeout' and 'network'. */
  byStatus: Record<string, number>;
  byTarget: Record<string, TargetStats>;
  /** Latency of answered requests (any status), in milliseconds. */
  latencyMs: LatencySummary;
}

export interface LoadProgress extends LoadStats {
  /** Latencies of the requests answered since the previous report. */
  intervalLatencyMs: LatencySummary;
}

export interface LoadHandle {
  /** Stops sending, waits for the requests in flight, and gives the final totals. */
  stop(): Promise<LoadStats>;
  /** Settles like stop() when durationSeconds has passed (or once stop() was called). */
  done: Promise<LoadStats>;
  /** The totals so far. */
  stats(): LoadStats;
}

/** Starts sending; see LoadOptions. Throws at once on invalid options. */
export function startLoad(options: LoadOptions): LoadHandle {
  const targets = options.targets.map((target) => normaliseTarget(target));
  if (targets.length === 0) throw new Error('startLoad needs at least one target');
  if (!(options.rps > 0 && options.rps <= 100_000))
    throw new Error(`rps must be in (0, 100000], not ${options.rps}`);
  const weights = options.weights ?? targets.map(() => 1);
  if (
    weights.length !== targets.length ||
    weights.some((weight) => !(weight >= 0)) ||
    !weights.some((w) => w > 0)
  ) {
    throw new Error(`weights must be ${targets.length} non-negative numbers, at least one positive`);
  }
  const maxInFlight = options.maxInFlight ?? 256;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.progressIntervalMs ?? 5_000;
  const nextPatient = patientSampler(options.seed ?? 1, options.drift ?? 0);
  const pick = weightedRoundRobin(weights);
  const totalRequests =
    options.durationSeconds === undefined ? Infinity : Math.round(options.durationSeconds * options.rps);

  const byStatus: Record<string, number> = {};
  const byTarget: Record<string, TargetStats> = Object.fromEntries(
    targets.map((target) => [target, { sent: 0, ok: 0, errors: 0 }]),
  );
  const latencies = new LatencyHistogram();
  const intervalLatencies = new LatencyHistogram();
  let sent = 0;
  let ok = 0;
  let errors = 0;
  let dropped = 0;
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  let stoppedAt: number | undefined;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let due = 0;

  const stats = (): LoadStats => {
    const elapsedSeconds = ((stoppedAt ?? performance.now()) - started) / 1000;
    return {
      elapsedSeconds: Number(elapsedSeconds.toFixed(3)),
      sent,
      ok,
      errors,
      dropped,
      inFlight: inFlight.size,
      achievedRps: elapsedSeconds > 0 ? Number((sent / elapsedSeconds).toFixed(2)) : 0,
      byStatus: { ...byStatus },
      byTarget: Object.fromEntries(Object.entries(byTarget).map(([target, entry]) => [target, { ...entry }])),
      latencyMs: latencies.summary(),
    };
  };

  const send = (target: string) => {
    const entry = byTarget[target]!;
    sent += 1;
    entry.sent += 1;
    const body = JSON.stringify({ features: nextPatient().features });
    const sentAt = performance.now();
    const request = fetch(`${target}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    })
      .then(async (response) => {
        await response.arrayBuffer();
        const latency = performance.now() - sentAt;
        latencies.record(latency);
        intervalLatencies.record(latency);
        count(String(response.status), response.ok);
      })
      .catch((error: unknown) => {
        const name = (error as Error).name;
        count(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network', false);
      })
      .finally(() => {
        inFlight.delete(request);
      });
    inFlight.add(request);
    function count(status: string, success: boolean) {
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (success) {
        ok += 1;
        entry.ok += 1;
      } else {
        errors += 1;
        entry.errors += 1;
      }
    }
  };

  let finish: (value: LoadStats) => void = () => {};
  const done = new Promise<LoadStats>((resolve) => {
    finish = resolve;
  });

  const stopSending = async (): Promise<LoadStats> => {
    if (!stopping) {
      stopping = true;
      if (timer) clearTimeout(timer);
      clearInterval(progress);
      stoppedAt = performance.now();
      // The rate is measured over the sending period; the stragglers still get their answer.
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      const final = stats();
      finish(final);
    }
    return done;
  };

  // Sends every request that is due, then sleeps until the next one is.
  const tick = () => {
    if (stopping) return;
    const now = performance.now();
    const shouldHaveSent = Math.min(totalRequests, Math.floor(((now - started) / 1000) * options.rps) + 1);
    while (due < shouldHaveSent) {
      due += 1;
      const target = targets[pick()]!;
      if (inFlight.size >= maxInFlight) dropped += 1;
      else send(target);
    }
    if (due >= totalRequests) {
      void stopSending();
      return;
    }
    const nextAt = started + (due * 1000) / options.rps;
    timer = setTimeout(tick, Math.max(0, nextAt - performance.now()));
  };

  const progress = setInterval(() => {
    const report: LoadProgress = { ...stats(), intervalLatencyMs: intervalLatencies.summary() };
    intervalLatencies.reset();
    options.onProgress?.(report);
  }, intervalMs);
  tick();

  return { stop: stopSending, done, stats };
}

function normaliseTarget(target: string): string {
  let url: URL;
  try {
    url = new URL(target.trim());
  } catch {
    throw new Error(`target ${JSON.stringify(target)} is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`target ${JSON.stringify(target)} must be an http or https URL`);
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * Smooth weighted round robin (as nginx does it): each pick adds every weight to its target's
 * credit and takes the target with the most, which then pays the total. Weights 2,1 give A B A A B A…
 */
function weightedRoundRobin(weights: readonly number[]): () => number {
  const credit = weights.map(() => 0);
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  return () => {
    let best = 0;
    for (let index = 0; index < weights.length; index += 1) {
      credit[index]! += weights[index]!;
      if (credit[index]! > credit[best]!) best = index;
    }
    credit[best]! -= total;
    return best;
  };
}

/** Latencies in log-spaced buckets 5 % wide (bounded memory whatever the run's length). */
export class LatencyHistogram {
  private static readonly BASE_MS = 0.05;
  private static readonly GROWTH = 1.05;
  private counts = new Map<number, number>();
  private total = 0;
  private max = 0;

  record(ms: number): void {
    const bucket = Math.max(
      0,
      Math.ceil(
        Math.log(Math.max(ms, LatencyHistogram.BASE_MS) / LatencyHistogram.BASE_MS) /
          Math.log(LatencyHistogram.GROWTH),
      ),
    );
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + 1);
    this.total += 1;
    this.max = Math.max(this.max, ms);
  }

  /** The upper bound of the bucket holding the q-quantile (0 when empty). */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (const bucket of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(bucket)!;
      if (seen >= rank)
        return Math.min(this.max, LatencyHistogram.BASE_MS * LatencyHistogram.GROWTH ** bucket);
    }
    return this.max;
  }

  summary(): LatencySummary {
    const round = (value: number) => Number(value.toFixed(2));
    return {
      p50: round(this.quantile(0.5)),
      p90: round(this.quantile(0.9)),
      p99: round(this.quantile(0.99)),
      max: round(this.max),
    };
  }

  reset(): void {
    this.counts = new Map();
    this.total = 0;
    this.max = 0;
  }
}

const USAGE =
  'usage: load.js --targets <url>[,<url>…] [--rps 10] [--seconds N] [--seed 1] [--input-drift 0] ' +
  '[--weights w1,w2,…] [--max-in-flight 256] [--timeout-ms 10000] [--progress-seconds 5]';

function describe(stats: LoadStats, latency: LatencySummary): string {
  return (
    `[${stats.elapsedSeconds.toFixed(1)} s] sent ${stats.sent} (${stats.achievedRps.toFixed(1)}/s) ` +
    `ok ${stats.ok} errors ${stats.errors} dropped ${stats.dropped} in-flight ${stats.inFlight} ` +
    `p50 ${latency.p50.toFixed(1)} ms p99 ${latency.p99.toFixed(1)} ms`
  );
}

async function main(): Promise<void> {
  let options: LoadOptions;
  try {
    const { values } = parseArgs({
      options: {
        targets: { type: 'string' },
        rps: { type: 'string' },
        seconds: { type: 'string' },
        seed: { type: 'string' },
        'input-drift': { type: 'string' },
        weights: { type: 'string' },
        'max-in-flight': { type: 'string' },
        'timeout-ms': { type: 'string' },
        'progress-seconds': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    if (!values.targets) throw new Error('--targets is required');
    const targets = values.targets.split(',').filter((target) => target.trim() !== '');
    const seconds =
      values.seconds === undefined
        ? undefined
        : numberOption('--seconds', values.seconds, 0, 0.1, 86_400 * 7);
    options = {
      targets,
      rps: numberOption('--rps', values.rps, 10, 0.01, 100_000),
      seed: integerOption('--seed', values.seed, 1, 0, 2 ** 31 - 1),
      drift: numberOption('--input-drift', values['input-drift'], 0, -10, 10),
      maxInFlight: integerOption('--max-in-flight', values['max-in-flight'], 256, 1, 100_000),
      timeoutMs: integerOption('--timeout-ms', values['timeout-ms'], 10_000, 1, 600_000),
      progressIntervalMs: numberOption('--progress-seconds', values['progress-seconds'], 5, 0.1, 3600) * 1000,
      ...(seconds === undefined ? {} : { durationSeconds: seconds }),
      ...(values.weights === undefined
        ? {}
        : {
            weights: values.weights
              .split(',')
              .map((text, index) => numberOption(`--weights[${index}]`, text, 1, 0, 1e6)),
          }),
      onProgress: (progress) => process.stdout.write(`${describe(progress, progress.intervalLatencyMs)}\n`),
    };
    if (options.weights && options.weights.length !== targets.length) {
      throw new Error(`--weights needs ${targets.length} values, one per target`);
    }
  } catch (error) {
    process.stderr.write(`load: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  let handle: LoadHandle;
  try {
    handle = startLoad(options);
  } catch (error) {
    process.stderr.write(`load: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stdout.write(
    `sending ${options.rps} requests/s to ${options.targets.join(', ')}` +
      `${options.durationSeconds ? ` for ${options.durationSeconds} s` : ' until interrupted'}` +
      `${options.drift ? ` with input drift ${options.drift} sd` : ''}\n`,
  );
  process.once('SIGINT', () => void handle.stop());
  process.once('SIGTERM', () => void handle.stop());
  const final = await handle.done;
  process.stdout.write(`done: ${describe(final, final.latencyMs)}\n`);
  process.stdout.write(
    `${JSON.stringify({ byStatus: final.byStatus, byTarget: final.byTarget }, null, 2)}\n`,
  );
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `load failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
