// Prometheus metrics of the API at GET /metrics: request latency by route and status, and the
// process's own metrics. Each app has its own registry, so several apps in one process (tests)
// never collide. The route is public like the health checks: scrape it on the internal network.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

const metrics: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'medrelease_api_' });
  const duration = new Histogram({
    name: 'medrelease_api_request_duration_seconds',
    help: 'Time to answer an API request, by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  app.addHook('onResponse', (request, reply, hookDone) => {
    // The route template, never the raw URL: release ids must not become label values.
    const route = request.routeOptions.url ?? 'unmatched';
    if (route !== '/metrics') {
      duration.observe(
        { method: request.method, route, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    }
    hookDone();
  });

  app.get(
    '/metrics',
    {
      config: { permission: 'public' },
      logLevel: 'warn',
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics of the API',
        produces: ['text/plain'],
        response: {
          200: {
            description: 'Prometheus text exposition format.',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_request, reply) => {
      void reply.type(registry.contentType);
      return registry.metrics();
    },
  );
  done();
};

export default fp(metrics, { name: 'medrelease-metrics' });
