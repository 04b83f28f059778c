// POST /releases/:releaseId/signoff — a clinical approver approves or rejects a release waiting for
// sign-off. The release itself decides (a Temporal Update with a validator), so the answer says at
// once whether the sign-off counted, and a refusal carries the release's own code.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { ErrorResponse } from '../../errors.js';
import { authenticatedPerson, callerCredential } from '../../plugins/auth.js';
import { ReleaseIdParams, SignoffBody, SignoffResultSchema } from '../../schemas.js';

const signoff: FastifyPluginCallbackTypebox = (app, _options, done) => {
  app.post(
    '/releases/:releaseId/signoff',
    {
      config: { permission: { roles: ['clinical-approver'] } },
      schema: {
        tags: ['sign-off'],
        summary: 'Approve or reject a release',
        description:
          'Counts towards the release’s quorum of distinct approvers; one rejection ends the release. The requester of a release may never sign it off.',
        params: ReleaseIdParams,
        body: SignoffBody,
        response: {
          200: { ...SignoffResultSchema, description: 'The sign-off was recorded.' },
          400: { ...ErrorResponse, description: 'VALIDATION_FAILED or COMMENT_REQUIRED.' },
          403: {
            ...ErrorResponse,
            description: 'FORBIDDEN, NOT_CLINICAL_APPROVER or REQUESTER_CANNOT_SIGN_OFF.',
          },
          404: { ...ErrorResponse, description: 'RELEASE_NOT_FOUND.' },
          409: {
            ...ErrorResponse,
            description: 'RELEASE_CLOSED, ALREADY_SIGNED_OFF or NOT_AWAITING_SIGNOFF.',
          },
        },
      },
    },
    async (request) =>
      app.releases.signoff(
        request.params.releaseId,
        authenticatedPerson(request),
        request.body.decision,
        request.body.comment,
        callerCredential(request),
      ),
  );
  done();
};

export default signoff;
