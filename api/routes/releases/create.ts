// POST /releases — start a release. The body is the release request, as JSON or YAML; it is
// checked against the schema and the release rules before anything is started.
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { CreateReleaseRequest } from '../../../domain/release.js';
import { ApiError, ErrorResponse } from '../../errors.js';
import { authenticatedPerson } from '../../plugins/auth.js';
import { CreatedRelease } from '../../schemas.js';

export const YAML_MEDIA_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/** YAML bodies become the same plain values a JSON body would, then face the same schema. */
export function parseYamlBody(
  _request: FastifyRequest,
  body: string | Buffer,
  done: (error: Error | null, value?: unknown) => void,
): void {
  try {
    done(null, parseYaml(body.toString(), { prettyErrors: true, maxAliasCount: 100 }));
  } catch (error) {
    const detail = (error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)).replace(
      /:$/,
      '',
    );
    done(new ApiError('INVALID_BODY', `the YAML body is not well-formed: ${detail}`));
  }
}

const createRelease: FastifyPluginCallbackTypebox = (app, _options, done) => {
  // Registered in this plugin only: YAML is accepted for release requests, nowhere else.
  app.addContentTypeParser(YAML_MEDIA_TYPES, { parseAs: 'string' }, parseYamlBody);

  app.post(
    '/releases',
    {
      config: { permission: { roles: ['release-manager'] } },
      schema: {
        tags: ['releases'],
        summary: 'Start a release',
        description:
          'Validates the release request (schema, then the release rules: configured clouds, canary steps, fault plan) and starts its workflow. ' +
          'Repeating a create with the same `releaseId` and the same body returns the existing release (200); the same id with a different body is a 409.',
        consumes: ['application/json', ...YAML_MEDIA_TYPES],
        body: CreateReleaseRequest,
        response: {
          200: {
            ...CreatedRelease,
            description: 'The release already existed, created from this same request.',
          },
          201: { ...CreatedRelease, description: 'The release was started.' },
          400: { ...ErrorResponse, description: 'VALIDATION_FAILED (every problem listed) or INVALID_BODY.' },
          409: {
            ...ErrorResponse,
            description: 'RELEASE_ID_CONFLICT: the id is taken by a different request.',
          },
        },
      },
    },
    async (request, reply) => {
      const { created, release } = await app.releases.create(request.body, authenticatedPerson(request));
      return reply
        .code(created ? 201 : 200)
        .header('location', release.links.self)
        .send(release);
    },
  );
  done();
};

export default createRelease;
