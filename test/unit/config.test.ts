// Configuration and the release request's semantic checks.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { Compile } from 'typebox/compile';
import { auditPaths, loadConfig, parseConfig, payloadKeyFile } from '../../domain/config.js';
import { buildReleaseInput, releaseRequestProblems, requestHash } from '../../domain/release-input.js';
import { CreateReleaseRequest } from '../../domain/release.js';

describe('configuration', () => {
  test('the embedded default is three simulated clouds with every default filled in', () => {
    const config = parseConfig({});
    assert.deepEqual(
      config.clouds.map((cloud) => `${cloud.name}:${cloud.driver}:${cloud.jurisdiction}`),
      ['aws:simulated:EU', 'azure:simulated:EU', 'gcp:simulated:US'],
    );
    assert.equal(config.temporal.address, '127.0.0.1:7233');
    assert.equal(config.api.port, 3000);
    assert.equal(config.compliance.requireManifest, true, 'every release carries a manifest by default');
  });
  test('pacing and predictive scaling: defaults, and bad bounds named by their path', () => {
    const config = parseConfig({});
    assert.equal(config.clouds[0]!.scaling?.requestsPerReplica, 8, 'the demo clouds scale from the forecast');
    assert.deepEqual(config.pacing, {});
    /** One simulated cloud with these scaling settings. */
    const scaledCloud = (scaling: Record<string, number>) =>
      parseConfig({
        clouds: [{ name: 'aws', driver: 'simulated', region: 'r', jurisdiction: 'EU', scaling }],
      });
    assert.deepEqual(scaledCloud({ requestsPerReplica: 5 }).clouds[0]!.scaling, {
      requestsPerReplica: 5,
      minReplicas: 2,
      maxReplicas: 20,
      targetUtilisation: 0.8,
      horizonMinutes: 30,
      stepSeconds: 300,
      historySamples: 576,
    });
    assert.throws(
      () => scaledCloud({ requestsPerReplica: 5, minReplicas: 9, maxReplicas: 3 }),
      /\/clouds\/0\/scaling\/minReplicas: must not exceed maxReplicas/,
    );
    assert.throws(
      () => scaledCloud({ requestsPerReplica: 5, horizonMinutes: 1440, stepSeconds: 60 }),
      /\/clouds\/0\/scaling\/horizonMinutes: at most 288 steps of stepSeconds ahead \(1440 min is 1440\)/,
    );
    assert.throws(
      () => parseConfig({ pacing: { lowRisk: 0.6, highRisk: 0.4 } }),
      /\/pacing\/lowRisk: must be below/,
    );
    // A request that pins its steps runs them; one that does not is paced; both carry the policy.
    const request = {
      model: { name: 'cxr', version: '2.0.0', image: `registry.example/cxr:2.0.0@sha256:${'a'.repeat(64)}` },
      clouds: ['aws'],
    };
    const noManifest = parseConfig({ compliance: { requireManifest: false } });
    const person = { id: 'rm', name: 'RM', roles: ['release-manager' as const] };
    const paced = buildReleaseInput({ request, releaseId: 'r-1', requestedBy: person, config: noManifest });
    assert.equal(paced.pacing?.mode, 'adaptive');
    const pinned = buildReleaseInput({
      request: { ...request, canary: { steps: [10, 100] } },
      releaseId: 'r-2',
      requestedBy: person,
      config: noManifest,
    });
    assert.equal(pinned.pacing?.mode, 'fixed');
    assert.deepEqual(
      releaseRequestProblems(
        { ...request, canary: { steps: [10, 100], pacing: 'adaptive' } },
        noManifest,
      ).map((problem) => problem.field),
      ['/canary/steps'],
    );
  });
  test('every problem is named by its path', () => {
    assert.throws(
      () => parseConfig({ api: { port: 'x' }, clouds: [{ name: 'aws' }] }),
      (error: Error) => {
        assert.match(error.message, /\/api\/port/);
        assert.match(error.message, /\/clouds\/0/);
        return true;
      },
    );
    assert.throws(
      () =>
        parseConfig({
          clouds: [{ name: 'aws', driver: 'kubernetes', region: 'us-east-1', jurisdiction: 'US' }],
        }),
      /\/clouds\/0\/kubeContext: required for the kubernetes driver/,
    );
    assert.throws(
      () =>
        parseConfig({
          clouds: [
            { name: 'aws', driver: 'simulated', region: 'a', jurisdiction: 'US' },
            { name: 'aws', driver: 'simulated', region: 'b', jurisdiction: 'US' },
          ],
        }),
      /cloud 'aws' is configured twice/,
    );
  });
  test('environment variables override the file', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233', MEDRELEASE_API_PORT: '8080' });
    assert.equal(config.temporal.address, 'temporal:7233');
    assert.equal(config.api.port, 8080);
    assert.throws(
      () => loadConfig({ MEDRELEASE_CONFIG: '/nonexistent/config.yaml' }),
      /MEDRELEASE_CONFIG names \/nonexistent/,
    );
    const identity = loadConfig({
      MEDRELEASE_OIDC_ISSUER: 'https://login.example.org/realms/ai',
      MEDRELEASE_OIDC_AUDIENCE: 'releases',
      MEDRELEASE_PAYLOAD_KEY_FILE: '/run/secrets/keys.json',
    });
    assert.equal(identity.auth.issuer, 'https://login.example.org/realms/ai');
    assert.equal(identity.auth.audience, 'releases');
    assert.equal(payloadKeyFile(identity), '/run/secrets/keys.json');
  });
  test('the deployment example (deploy/config.example.yaml) is valid, with its keys and audit paths', () => {
    const config = loadConfig({
      MEDRELEASE_CONFIG: fileURLToPath(new URL('../../../deploy/config.example.yaml', import.meta.url)),
    });
    assert.equal(config.auth.rolesClaim, 'realm_access.roles');
    assert.deepEqual(config.auth.roleMap['platform-oncall'], ['operator']);
    assert.equal(payloadKeyFile(config), '/run/secrets/payload-keys.json');
    assert.deepEqual(auditPaths(config).publicKeyFiles, ['/run/secrets/audit-ed25519.pub.pem']);
  });
  test('identity settings are checked: clock skew bounded, asymmetric algorithms only, roles known', () => {
    assert.throws(
      () => parseConfig({ auth: { clockToleranceSeconds: 900 } }),
      /\/auth\/clockToleranceSeconds/,
    );
    assert.throws(() => parseConfig({ auth: { algorithms: ['HS256'] } }), /\/auth\/algorithms\/0/);
    assert.throws(
      () => parseConfig({ auth: { roleMap: { admins: ['superuser'] } } }),
      /\/auth\/roleMap\/admins\/0/,
    );
  });
});

describe('release request', () => {
  // These requests carry no manifest: the rules under test here are the request's own.
  const config = parseConfig({ compliance: { requireManifest: false } });
  const request: CreateReleaseRequest = {
    model: { name: 'chest-xray', version: '2.0.0', image: 'r/x@sha256:' + 'a'.repeat(64) },
    clouds: ['aws', 'azure', 'gcp'],
  };
  test('defaults are applied and waves planned', () => {
    const input = buildReleaseInput({
      request,
      releaseId: 'rel-1',
      requestedBy: { id: 'rm', name: 'RM', roles: ['release-manager'] },
      config,
    });
    assert.deepEqual(input.canary.steps, [5, 25, 50, 100]);
    assert.equal(input.signoff.quorum, 2);
    assert.deepEqual(input.waves, [['aws'], ['azure', 'gcp']]);
    assert.deepEqual(input.taskQueues, {
      control: 'medrelease',
      clouds: { aws: 'cloud-aws', azure: 'cloud-azure', gcp: 'cloud-gcp' },
    });
  });
  test('semantic problems name their field', () => {
    const problems = releaseRequestProblems(
      {
        ...request,
        clouds: ['aws', 'mars'],
        pilotCloud: 'gcp',
        canary: { steps: [50, 20] },
        faultPlan: { telemetry: [{ cloud: 'gcp', kind: 'no-data' }] },
      },
      config,
    );
    assert.deepEqual(
      problems.map((problem) => problem.field),
      ['/clouds/1', '/pilotCloud', '/canary/steps/1', '/canary/steps/1', '/faultPlan/telemetry/0/cloud'],
    );
  });
  test('by default a release without a manifest is refused, naming /manifest', () => {
    assert.deepEqual(
      releaseRequestProblems(request, parseConfig({})).map((problem) => problem.field),
      ['/manifest'],
    );
  });
  test('the request hash ignores key order', () => {
    const reordered = {
      clouds: request.clouds,
      model: { image: request.model.image, version: '2.0.0', name: 'chest-xray' },
    };
    assert.equal(requestHash(reordered), requestHash(request));
    assert.notEqual(requestHash({ ...request, clouds: ['aws'] }), requestHash(request));
  });
});

describe('the example release request in examples/', () => {
  test('is valid against the API schema and the semantic checks', () => {
    const example: unknown = JSON.parse(
      readFileSync(new URL('../../../examples/release-request.json', import.meta.url), 'utf8'),
    );
    const validator = Compile(CreateReleaseRequest);
    assert.deepEqual(validator.Errors(example), []);
    assert.deepEqual(releaseRequestProblems(example as CreateReleaseRequest, parseConfig({})), []);
  });
});

describe('kubernetes clouds in the configuration', () => {
  const kubeCloud = (extra: Record<string, unknown>) => ({
    name: 'aws',
    driver: 'kubernetes',
    region: 'us-east-1',
    jurisdiction: 'US',
    kubeContext: 'prod-aws',
    ...extra,
  });

  test('examples/config.local-kube.yaml is valid and names a context per cloud', () => {
    const config = loadConfig({
      MEDRELEASE_CONFIG: fileURLToPath(new URL('../../../examples/config.local-kube.yaml', import.meta.url)),
    });
    assert.deepEqual(
      config.clouds.map((cloud) => `${cloud.name}:${cloud.driver}:${cloud.kubeContext}:${cloud.traffic}`),
      [
        'aws:kubernetes:medrelease-aws:auto',
        'azure:kubernetes:medrelease-azure:replica-ratio',
        'gcp:kubernetes:medrelease-gcp:auto',
      ],
    );
  });

  test('a wrong traffic mode, replica count or namespace is refused, naming the field', () => {
    for (const [extra, field] of [
      [{ traffic: 'dns' }, '/clouds/0/traffic'],
      [{ replicas: 0 }, '/clouds/0/replicas'],
      [{ namespace: 'Not_A_Namespace' }, '/clouds/0/namespace'],
      [{ gateway: { namespace: 'x' } }, '/clouds/0/gateway'],
      [{ progressDeadlineSeconds: 1 }, '/clouds/0/progressDeadlineSeconds'],
    ] as const) {
      assert.throws(
        () => parseConfig({ clouds: [kubeCloud(extra)] }),
        (error: Error) => error.message.includes(field),
        field,
      );
    }
  });

  test('fault plans: telemetry faults need simulated telemetry, driver faults a simulated cloud', () => {
    const config = parseConfig({
      clouds: [kubeCloud({}), { name: 'gcp', driver: 'simulated', region: 'eu', jurisdiction: 'EU' }],
      compliance: { requireManifest: false },
    });
    const request: CreateReleaseRequest = {
      model: { name: 'chest-xray', version: '2.0.0', image: 'r/x@sha256:' + 'a'.repeat(64) },
      clouds: ['aws', 'gcp'],
      faultPlan: {
        telemetry: [{ cloud: 'aws', kind: 'error-spike' }],
        driver: [
          { cloud: 'aws', operation: 'setCanaryWeight', failures: 1 },
          { cloud: 'gcp', operation: 'setCanaryWeight', failures: 1 },
        ],
      },
    };
    const problems = releaseRequestProblems(request, config);
    assert.deepEqual(problems, [
      {
        field: '/faultPlan/driver/0/cloud',
        message:
          "cloud 'aws' uses the kubernetes driver: driver faults are only injected into simulated clouds",
      },
    ]);
  });
});
