// The one place errors become responses. Every error response is { code, message, field?, problems? };
// a 4xx says what was wrong, a 5xx says only that something failed (the details go to the log, with
// the request's context).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { RELEASE_ID_PATTERN } from '../../domain/release.js';
import { ApiError } from '../errors.js';
import { isTemporalUnavailable } from '../temporal-errors.js';

/** Any thrown value → a coded ApiError; unknown errors become INTERNAL_ERROR. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const fastifyError = error as Partial<FastifyError> | undefined;
  const statusCode = fastifyError?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    // Fastify's own request errors: body parsing, media type, size, malformed URL.
    const message = fastifyError?.message ?? 'bad request';
    if (statusCode === 413) return new ApiError('BODY_TOO_LARGE', message, { cause: error });
    if (statusCode === 415) return new ApiError('UNSUPPORTED_MEDIA_TYPE', message, { cause: error });
    if (statusCode === 404) return new ApiError('ROUTE_NOT_FOUND', message, { cause: error });
    if (fastifyError?.code?.startsWith('FST_ERR_CTP_') || fastifyError?.name === 'SyntaxError') {
      return new ApiError('INVALID_BODY', `the body is not well-formed: ${message}`, { cause: error });
    }
    return new ApiError('BAD_REQUEST', message, { cause: error });
  }
  if (isTemporalUnavailable(error)) {
    return new ApiError('TEMPORAL_UNAVAILABLE', 'the Temporal server cannot be reached; try again later', {
      cause: error,
    });
  }
  return new ApiError('INTERNAL_ERROR', 'an internal error occurred; it has been logged', { cause: error });
}

/** A release id goes in the log only when it is one (a refused id may be anything the caller typed). */
function loggableReleaseId(params: unknown): { releaseId?: string } {
  const releaseId = (params as Record<string, unknown> | undefined)?.releaseId;
  return typeof releaseId === 'string' && new RegExp(RELEASE_ID_PATTERN).test(releaseId) ? { releaseId } : {};
}

export default fp(
  (app, _options, done) => {
    app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const apiError = toApiError(error);
      const context = {
        code: apiError.code,
        statusCode: apiError.statusCode,
        method: request.method,
        route: request.routeOptions.url,
        // An id that names no release is only what the caller typed.
        ...(apiError.code === 'RELEASE_NOT_FOUND' ? {} : loggableReleaseId(request.params)),
      };
      if (apiError.statusCode >= 500) {
        request.log.error({ ...context, err: error }, `request failed: ${apiError.code}`);
      } else {
        // The code only, never the message or the field: both may quote what the caller sent.
        request.log.info(context, `request refused: ${apiError.code}`);
      }
      return reply.code(apiError.statusCode).headers(apiError.headers).send(apiError.toResponse());
    });

    app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
      const apiError = new ApiError(
        'ROUTE_NOT_FOUND',
        `no route ${request.method} ${request.url.split('?')[0]}`,
      );
      return reply.code(apiError.statusCode).send(apiError.toResponse());
    });
    done();
  },
  { name: 'medrelease-errors', fastify: '5.x' },
);
