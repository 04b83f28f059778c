// POST /releases/:releaseId/{pause,resume,abort,rollback} — operator actions. Each route's roles come
// from the release rules (domain/rules.ts), which the release enforces again in its update validator.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { OperatorAction } from '../../../domain/status.js';
import { rolesFor } from '../../../domain/rules.js';
import { ErrorResponse } from '../../errors.js';
import { authenticatedPerson, callerCredential } from '../../plugins/auth.js';
import { OperateBody, OperateResultSchema, ReleaseIdParams } from '../../schemas.js';

const ACTIONS: Record<OperatorAction['action'], { summary: string; description: string }> = {
  pause: {
    summary: 'Pause a release',
    description:
      'Holds the release before its next stage or canary step; traffic weights stay where they are.',
  },
  resume: { summary: 'Resume a paused release', description: 'Continues a paused release where it stopped.' },
  abort: {
    summary: 'Abort a release',
    description: 'Stops the release; every cloud already changed is rolled back to its stable version.',
  },
  rollback: {
    summary: 'Force a rollback',
    description:
      'Rolls every changed cloud back to its stable version, newest change first, and ends the release.',
  },
};

const operate: FastifyPluginCallbackTypebox = (app, _options, done) => {
  for (const [action, text] of Object.entries(ACTIONS) as [
    OperatorAction['action'],
    (typeof ACTIONS)['pause'],
  ][]) {
    app.post(
      `/releases/:releaseId/${action}`,
      {
        config: { permission: { roles: rolesFor(action) } },
        schema: {
          tags: ['operations'],
          summary: text.summary,
          description: text.description,
          params: ReleaseIdParams,
          body: OperateBody,
          response: {
            200: { ...OperateResultSchema, description: 'The release accepted the action.' },
            400: { ...ErrorResponse, description: 'VALIDATION_FAILED.' },
            403: { ...ErrorResponse, description: 'FORBIDDEN or NOT_PERMITTED.' },
            404: { ...ErrorResponse, description: 'RELEASE_NOT_FOUND.' },
            409: {
              ...ErrorResponse,
              description: 'RELEASE_CLOSED or INVALID_STATE (e.g. resuming a release that is not paused).',
            },
          },
        },
      },
      async (request) =>
        app.releases.operate(request.params.releaseId, {
          action,
          by: authenticatedPerson(request),
          credential: callerCredential(request),
          reason: request.body.reason,
        }),
    );
  }
  done();
};

export default operate;
