// Liveness and readiness, for process supervisors and load balancers: no authentication, and logged
// only when something is wrong.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorResponse } from '../errors.js';

const READY_TIMEOUT_MS = 2000;

const health: FastifyPluginCallbackTypebox = (app, _options, done) => {
  app.get(
    '/healthz',
    {
      config: { permission: 'public' },
      logLevel: 'warn',
      schema: {
        tags: ['health'],
        summary: 'The process is alive',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    (_request, reply) => {
      void reply.send({ status: 'ok' });
    },
  );

  app.get(
    '/readyz',
    {
      config: { permission: 'public' },
      logLevel: 'warn',
      schema: {
        tags: ['health'],
        summary: 'The API can reach Temporal',
        description: `Asks the Temporal server for its system info, waiting at most ${READY_TIMEOUT_MS / 1000} s.`,
        response: {
          200: Type.Object({ status: Type.Literal('ready') }),
          503: { ...ErrorResponse, description: 'Temporal cannot be reached (TEMPORAL_UNAVAILABLE).' },
        },
      },
    },
    async (request, reply) => {
      try {
        await app.releases.ready(READY_TIMEOUT_MS);
        return { status: 'ready' as const };
      } catch (error) {
        // Probes repeat every few seconds: a warning, not an error with a stack trace, each time.
        request.log.warn(
          { reason: error instanceof Error ? error.message : String(error) },
          'Temporal is not reachable',
        );
        return reply.code(503).send({
          code: 'TEMPORAL_UNAVAILABLE',
          message: `the Temporal server did not answer within ${READY_TIMEOUT_MS / 1000} s`,
        });
      }
    },
  );
  done();
};

export default health;
