// GET /releases/:releaseId — the full status of one release: the workflow's status query while it
// runs, its result once it has ended.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { ANY_ROLE } from '../../plugins/auth.js';
import { ErrorResponse } from '../../errors.js';
import { ReleaseIdParams, ReleaseStatusSchema } from '../../schemas.js';

const getRelease: FastifyPluginCallbackTypebox = (app, _options, done) => {
  app.get(
    '/releases/:releaseId',
    {
      config: { permission: { roles: ANY_ROLE } },
      schema: {
        tags: ['releases'],
        summary: 'The status of a release',
        description:
          'Stage, per-cloud canary weights and last verdicts with their reasons, staging and compliance reports, sign-offs, operator actions and the timeline.',
        params: ReleaseIdParams,
        response: {
          200: ReleaseStatusSchema,
          404: { ...ErrorResponse, description: 'RELEASE_NOT_FOUND.' },
        },
      },
    },
    async (request) => app.releases.status(request.params.releaseId),
  );
  done();
};

export default getRelease;
