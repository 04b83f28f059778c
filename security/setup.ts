// How each process of the product gets its identity verifier and its payload encryption from the
// configuration, so the API, every worker, the scripts and the tests use exactly the same ones.
import type { DataConverter } from '@temporalio/common';
import { ConfigError, payloadKeyFile, type Config } from '../domain/config.js';
import { medreleaseDataConverter } from './data-converter.js';
import { OidcVerifier } from './oidc.js';
import { loadKeyRing, type PayloadKeyRing } from './payload-keys.js';

/** The access-token verifier of this configuration; fails with a message naming the setting. */
export function verifierFor(config: Config): OidcVerifier {
  const auth = config.auth;
  if (!auth.issuer) {
    throw new ConfigError(
      'auth.issuer (MEDRELEASE_OIDC_ISSUER) is not set: name your OpenID Connect issuer (docs/identity-and-keys.md); `npm start` runs a development issuer and sets it',
    );
  }
  return new OidcVerifier({
    issuer: auth.issuer,
    audience: auth.audience,
    ...(auth.jwksUri ? { jwksUri: auth.jwksUri } : {}),
    rolesClaim: auth.rolesClaim,
    roleMap: auth.roleMap,
    userClaim: auth.userClaim,
    nameClaim: auth.nameClaim,
    clockToleranceSeconds: auth.clockToleranceSeconds,
    algorithms: auth.algorithms,
  });
}

/** The payload key ring: MEDRELEASE_PAYLOAD_KEYS, else the configured key file. */
export function keyRingFor(config: Config, environment: NodeJS.ProcessEnv = process.env): PayloadKeyRing {
  try {
    return loadKeyRing({ keyFile: payloadKeyFile(config), env: environment });
  } catch (error) {
    throw new ConfigError(`payload encryption: ${(error as Error).message}`);
  }
}

/** The data converter every client and worker uses: AES-256-GCM payloads, encrypted failures. */
export function dataConverterFor(
  config: Config,
  environment: NodeJS.ProcessEnv = process.env,
): DataConverter {
  return medreleaseDataConverter(keyRingFor(config, environment));
}
