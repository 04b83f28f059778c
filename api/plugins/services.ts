// The services the routes use, as typed decorators: the configuration, the Temporal client, the
// credential verifier and the release service built on the client. The client belongs to whoever built
// the app (server.ts, or a test): the app never closes it.
import type { Client } from '@temporalio/client';
import fp from 'fastify-plugin';
import type { CredentialVerifier } from '../../security/oidc.js';
import type { Config } from '../../domain/config.js';
import type { AuditService } from '../services/audit.js';
import { ReleaseService } from '../services/releases.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    temporal: Client;
    verifier: CredentialVerifier;
    releases: ReleaseService;
    audit: AuditService;
  }
}

export interface ServicesOptions {
  config: Config;
  client: Client;
  verifier: CredentialVerifier;
  audit: AuditService;
  temporalUiUrl?: string | undefined;
}

export default fp<ServicesOptions>(
  (app, options, done) => {
    app.decorate('config', options.config);
    app.decorate('temporal', options.client);
    app.decorate('verifier', options.verifier);
    app.decorate('audit', options.audit);
    app.addHook('onClose', (_instance, closed) => {
      options.audit.close();
      closed();
    });
    app.decorate(
      'releases',
      new ReleaseService(options.client, options.config, { temporalUiUrl: options.temporalUiUrl }),
    );
    done();
  },
  { name: 'medrelease-services', fastify: '5.x' },
);
