// A tiny scrape target for the Prometheus tests: node:http serving hand-written Prometheus text
// metrics whose values the test sets: a counter that grows at a known rate, gauges with labels, and
// gauges whose values are NaN, +Inf and -Inf.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusError, type PrometheusResult } from '../../activities/telemetry/prometheus-api.js';

export interface MetricsServerOptions {
  /** How fast the counter grows, per second; it is bumped every 100 ms. */
  counterPerSecond?: number;
  /** Lines appended to every exposition. */
  extra?: string;
}

export class MetricsServer {
  /** medrelease_test_requests_total */
  counter = 0;
  /** medrelease_test_temperature{sensor="a"} (sensor "b" stays 20). */
  gauge = 1;
  /** Number of GET /metrics answered so far. */
  scrapes = 0;
  /** host:port, once listening. */
  address = '';
  private readonly server: Server;
  private readonly ticker: NodeJS.Timeout;

  private constructor(
    counterPerSecond: number,
    private readonly extra: string,
  ) {
    this.server = createServer((request: IncomingMessage, response) => {
      if (request.method !== 'GET' || request.url !== '/metrics') {
        response.writeHead(404).end('not found\n');
        return;
      }
      this.scrapes += 1;
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      response.end(this.exposition());
    });
    this.ticker = setInterval(() => (this.counter += counterPerSecond / 10), 100);
    this.ticker.unref();
  }

  static async start(options: MetricsServerOptions = {}): Promise<MetricsServer> {
    const self = new MetricsServer(options.counterPerSecond ?? 50, options.extra ?? '');
    self.address = `127.0.0.1:${await listen(self.server)}`;
    return self;
  }

  exposition(): string {
    return [
      '# HELP medrelease_test_requests_total Requests served (grows at a fixed rate).',
      '# TYPE medrelease_test_requests_total counter',
      `medrelease_test_requests_total{route="/predict",status="200"} ${this.counter}`,
      '# HELP medrelease_test_temperature A gauge the test sets.',
      '# TYPE medrelease_test_temperature gauge',
      `medrelease_test_temperature{sensor="a"} ${this.gauge}`,
      'medrelease_test_temperature{sensor="b"} 20',
      '# HELP medrelease_test_ratio 0/0: no data, never zero.',
      '# TYPE medrelease_test_ratio gauge',
      'medrelease_test_ratio NaN',
      '# TYPE medrelease_test_limit gauge',
      'medrelease_test_limit{bound="upper"} +Inf',
      'medrelease_test_limit{bound="lower"} -Inf',
      this.extra,
      '',
    ].join('\n');
  }

  /** Resolves once `count` more scrapes than now have been answered. */
  async waitForScrapes(count: number, timeoutMs = 20_000): Promise<void> {
    const target = this.scrapes + count;
    const deadline = Date.now() + timeoutMs;
    while (this.scrapes < target) {
      if (Date.now() > deadline) {
        throw new Error(
          `only ${this.scrapes} of ${target} scrapes of ${this.address} within ${timeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async close(): Promise<void> {
    clearInterval(this.ticker);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** An HTTP server that accepts requests and never answers them; it records what it received. */
export class SilentServer {
  readonly requests: Array<{
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: string;
  }> = [];
  /** http://127.0.0.1:port, once listening. */
  url = '';
  private readonly server: Server;

  private constructor() {
    this.server = createServer((request) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () =>
        this.requests.push({
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      // No answer, ever.
    });
  }

  static async start(): Promise<SilentServer> {
    const self = new SilentServer();
    self.url = `http://127.0.0.1:${await listen(self.server)}`;
    return self;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Listens on a free port of 127.0.0.1 and resolves with it. */
async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return (server.address() as AddressInfo).port;
}

/** Rejects with the PrometheusError the call throws (and fails the test if it resolves). */
export async function failure(call: Promise<PrometheusResult>): Promise<PrometheusError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof PrometheusError, `expected a PrometheusError, got ${String(error)}`);
    return error;
  }
  assert.fail('the query should have failed');
}
