// GET /releases — releases of this environment, from Temporal's visibility store, filtered by the
// search attributes the release workflow keeps up to date. Visibility is eventually consistent: a
// release appears, and its stage changes here, a moment after it happens.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { ANY_ROLE } from '../../plugins/auth.js';
import { ErrorResponse } from '../../errors.js';
import { ListQuery, ReleaseList } from '../../schemas.js';

const listReleases: FastifyPluginCallbackTypebox = (app, _options, done) => {
  app.get(
    '/releases',
    {
      config: { permission: { roles: ANY_ROLE } },
      schema: {
        tags: ['releases'],
        summary: 'List releases',
        description:
          'Newest first. Filters combine with AND; `cloud` matches releases that target that cloud.',
        querystring: ListQuery,
        response: {
          200: ReleaseList,
          400: { ...ErrorResponse, description: 'VALIDATION_FAILED: a filter value is not allowed.' },
        },
      },
    },
    async (request) => ({ releases: await app.releases.list(request.query) }),
  );
  done();
};

export default listReleases;
