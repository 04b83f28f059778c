// The compliance gate over the API: a release's report (GET /releases/:releaseId/compliance),
// waivers of failed major controls by the roles the policy names (POST …/waivers, decided by the
// release itself, which re-runs its gate), and the release manifest's JSON Schema.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { ReleaseManifestSchema } from '../../../domain/manifest.js';
import { ErrorResponse } from '../../errors.js';
import { ANY_ROLE, authenticatedPerson, callerCredential } from '../../plugins/auth.js';
import { ComplianceResponse, ReleaseIdParams, WaiverBody, WaiverResultSchema } from '../../schemas.js';

/** The schema as plain JSON (TypeBox's own markers are not JSON Schema). */
const MANIFEST_JSON_SCHEMA = JSON.parse(JSON.stringify(ReleaseManifestSchema)) as Record<string, unknown>;

export const MANIFEST_SCHEMA_PATH = '/schemas/release-manifest.v1.json';

const compliance: FastifyPluginCallbackTypebox = (app, _options, done) => {
  app.get(
    '/releases/:releaseId/compliance',
    {
      config: { permission: { roles: ANY_ROLE } },
      schema: {
        tags: ['compliance'],
        summary: 'The compliance report of a release',
        description:
          'The gate’s latest report: the decision, the score, every control with its status and evidence (JSON pointer, observed, expected), the digests of the manifest and the policy bundle, the engine version and the time; and the waivers submitted.',
        params: ReleaseIdParams,
        response: {
          200: ComplianceResponse,
          404: { ...ErrorResponse, description: 'RELEASE_NOT_FOUND or COMPLIANCE_NOT_EVALUATED.' },
        },
      },
    },
    async (request) => app.releases.compliance(request.params.releaseId),
  );

  app.post(
    '/releases/:releaseId/waivers',
    {
      // Any authenticated caller reaches the release, which admits only the roles its policy names
      // (report.waiverPolicy.approverRoles; default regulatory-qa and security): WAIVER_ROLE_MISSING.
      config: { permission: { roles: ANY_ROLE } },
      schema: {
        tags: ['compliance'],
        summary: 'Waive a failed major control',
        description:
          'Submits a time-boxed waiver of a failed major control, or adds the caller’s approval to the one already submitted. The caller must hold one of the roles the policy names for waivers (default regulatory-qa and security). ' +
          'A waiver counts once approved by one person in each role the policy names (distinct people, never the release’s requester), unexpired and within the policy’s maximum term; the release re-runs its gate after each approval. Blockers are never waivable.',
        params: ReleaseIdParams,
        body: WaiverBody,
        response: {
          200: { ...WaiverResultSchema, description: 'The approval was recorded; the gate runs again.' },
          400: { ...ErrorResponse, description: 'VALIDATION_FAILED or WAIVER_INVALID.' },
          403: {
            ...ErrorResponse,
            description: 'WAIVER_ROLE_MISSING (not a role the policy names) or REQUESTER_CANNOT_WAIVE.',
          },
          404: { ...ErrorResponse, description: 'RELEASE_NOT_FOUND.' },
          409: {
            ...ErrorResponse,
            description:
              'RELEASE_CLOSED, NOT_AWAITING_WAIVERS, CONTROL_NOT_WAIVABLE or WAIVER_ALREADY_APPROVED.',
          },
        },
      },
    },
    async (request) =>
      app.releases.waive(request.params.releaseId, {
        by: authenticatedPerson(request),
        credential: callerCredential(request),
        ...request.body,
      }),
  );

  app.get(
    MANIFEST_SCHEMA_PATH,
    {
      config: { permission: 'public' },
      schema: {
        tags: ['compliance'],
        summary: 'The release manifest’s JSON Schema (medrelease.dev/v1)',
        response: { 200: { type: 'object', additionalProperties: true, description: 'A JSON Schema.' } },
      },
    },
    () => Promise.resolve(MANIFEST_JSON_SCHEMA),
  );
  done();
};

export default compliance;
