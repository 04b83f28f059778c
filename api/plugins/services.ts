// The services the routes use, as typed decorators: the configuration, the Temporal client, the
// token verifier and the release service built on the client. The client belongs to whoever built
// the app (server.ts, or a test): the app never closes it.
import type { Client } from '@temporalio/client';
import fp from 'fastify-plugin';
import type { TokenVerifier } from '../../activities/credentials.js';
import type { Config } from '../../domain/config.js';
import { ReleaseService } from '../services/releases.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    temporal: Client;
    verifier: TokenVerifier;
    releases: ReleaseService;
  }
}

export interface ServicesOptions {
  config: Config;
  client: Client;
  verifier: TokenVerifier;
  temporalUiUrl?: string | undefined;
}

export default fp<ServicesOptions>(
  (app, options, done) => {
    app.decorate('config', options.config);
    app.decorate('temporal', options.client);
    app.decorate('verifier', options.verifier);
    app.decorate(
      'releases',
      new ReleaseService(options.client, options.config, { temporalUiUrl: options.temporalUiUrl }),
    );
    done();
  },
  { name: 'medrelease-services', fastify: '5.x' },
);
