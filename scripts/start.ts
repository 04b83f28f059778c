// `npm start`: the embedded default. Starts the Temporal dev server (SQLite file, Web UI on 8233),
// the control worker, one worker per configured cloud (simulated aws, azure and gcp unless real ones
// are configured) and the API, restarts a process that dies, and stops everything cleanly on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SimulatedCloudDriver } from '../activities/cloud/simulated.js';
import type { PreviousRelease } from '../activities/compliance/engine.js';
import { EXAMPLE_RELEASES, redateExample } from '../activities/compliance/examples.js';
import { FileReleaseHistory } from '../activities/compliance/history.js';
import type { NormalizedManifest } from '../domain/manifest.js';
import { ConfigError, loadConfig, type Config } from '../domain/config.js';
import { startDevServer, type DevServerHandle } from '../infra/temporal.js';
import { stateDirectory } from '../workers/factory.js';
import { DEMO_USERS, ensureLocalKeys, startDevIdentity } from './dev-identity.js';

const distRoot = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const repoRoot = path.resolve(distRoot, '..');
const UI_PORT = Number(process.env.MEDRELEASE_TEMPORAL_UI_PORT ?? 8233);
const DEV_ISSUER_PORT = Number(process.env.MEDRELEASE_DEV_ISSUER_PORT ?? 3001);
/** Where `npm start` writes the configuration every process it starts reads, and `npm run demo` finds the API. */
export const EFFECTIVE_CONFIG = '.data/effective-config.json';

/** Models already running in the simulated clouds, so a demo release has a stable baseline to beat. */
const DEMO_STABLE_MODELS = [
  { name: 'chest-xray-triage', version: '2.4.1' },
  { name: 'sepsis-risk', version: '1.8.2' },
];

const log = (line: string) => console.log(`\x1b[1m[medrelease]\x1b[0m ${line}`);

/**
 * For each example release (EXAMPLE_RELEASES: chest-xray-triage 2.5.0, sepsis-risk 1.9.0): the
 * compliance gate's record of what is deployed (the demo's clouds run chest-xray-triage 2.4.1 and
 * sepsis-risk 1.8.2; a model that already has a record keeps it), and the example release request
 * dated today in <dataDir>/examples/ (the shipped examples are dated).
 */
async function prepareComplianceDemo(config: Config): Promise<string[]> {
  const examples = path.join(repoRoot, 'examples');
  const history = new FileReleaseHistory(stateDirectory(config, 'compliance', 'history'));
  const now = new Date();
  const written: string[] = [];
  for (const example of EXAMPLE_RELEASES) {
    const seed = JSON.parse(await readFile(path.join(examples, 'manifests', example.history), 'utf8')) as {
      deployedVersion: string;
      previous: PreviousRelease;
    };
    history.seed(example.model, seed, now.toISOString());
    const request = JSON.parse(await readFile(path.join(examples, example.request), 'utf8')) as {
      manifest?: NormalizedManifest;
    };
    if (request.manifest) request.manifest = redateExample(request.manifest, now);
    const target = path.join(config.dataDir, 'examples', example.request);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, `${JSON.stringify(request, null, 2)}\n`);
    written.push(target);
  }
  return written;
}

async function seedSimulatedClouds(config: Config): Promise<void> {
  for (const cloud of config.clouds.filter((entry) => entry.driver === 'simulated')) {
    const driver = new SimulatedCloudDriver(cloud.name, {
      stateDir: stateDirectory(config, 'sim-clouds', cloud.name),
    });
    for (const model of DEMO_STABLE_MODELS) {
      if (await driver.describe(model.name)) continue;
      await driver.seedStable(model.name, {
        version: model.version,
        image: `registry.example.org/models/${model.name}:${model.version}@sha256:${'0'.repeat(56)}${model.version.replaceAll('.', '').padStart(8, '0')}`,
      });
    }
  }
}

interface Supervised {
  name: string;
  script: string;
  env: NodeJS.ProcessEnv;
  child?: ChildProcess;
  restarts: number;
}

function launch(processInfo: Supervised, stopping: () => boolean): void {
  const child = spawn(process.execPath, ['--enable-source-maps', path.join(distRoot, processInfo.script)], {
    env: { ...process.env, ...processInfo.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  processInfo.child = child;
  const prefix = `\x1b[36m[${processInfo.name}]\x1b[0m `;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => console.log(prefix + line));
  }
  child.once('exit', (code, signal) => {
    if (stopping()) return;
    processInfo.restarts++;
    const wait = Math.min(30_000, 1000 * 2 ** Math.min(processInfo.restarts - 1, 5));
    log(`${processInfo.name} exited (${signal ?? `code ${code}`}); restarting in ${wait / 1000} s`);
    setTimeout(() => {
      if (!stopping()) launch(processInfo, stopping);
    }, wait).unref();
  });
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitForApi(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return false;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  await mkdir(config.dataDir, { recursive: true });
  for (const file of await ensureLocalKeys(config))
    log(`made a new key: ${file} (keep it; it is never committed)`);
  const apiUrl = `http://${config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host}:${config.api.port}`;
  // Without a configured identity provider, the development issuer signs the demo users' tokens.
  const devIdentity = config.auth.issuer
    ? undefined
    : await startDevIdentity(config, { port: DEV_ISSUER_PORT, apiPort: config.api.port });
  if (devIdentity) log(`development OpenID Connect issuer at ${devIdentity.issuer.issuer} (demo users only)`);
  await seedSimulatedClouds(config);
  const exampleRequests = await prepareComplianceDemo(config);

  const [host, portText] = config.temporal.address.split(':');
  const local = host === '127.0.0.1' || host === 'localhost';
  let server: DevServerHandle | undefined;
  if (local) {
    log(
      `starting the Temporal dev server on ${config.temporal.address} (database ${path.join(config.dataDir, 'temporal', 'medrelease.db')}) …`,
    );
    server = await startDevServer({
      dbFile: path.join(config.dataDir, 'temporal', 'medrelease.db'),
      port: Number(portText ?? 7233),
      uiPort: UI_PORT,
      namespace: config.temporal.namespace,
      logFile: path.join(config.dataDir, 'temporal', 'server.log'),
      // The Web UI decodes payloads through the API (operators and auditors, signed in at /auth/login).
      uiCodecEndpoint: `${apiUrl}/codec`,
      log: (line) => log(`temporal: ${line}`),
    });
    config.temporal.uiUrl ??= `http://127.0.0.1:${UI_PORT}`;
    config.api.codecOrigins ??= [`http://127.0.0.1:${UI_PORT}`, `http://localhost:${UI_PORT}`];
  } else {
    log(`using the Temporal server at ${config.temporal.address}`);
  }

  // Every process reads the same resolved configuration (and `npm run demo` finds the API in it). It
  // is written in the current folder whatever the data directory is, so .data/ may not exist yet.
  await mkdir(path.dirname(EFFECTIVE_CONFIG), { recursive: true });
  await writeFile(EFFECTIVE_CONFIG, `${JSON.stringify(config, null, 2)}\n`);
  const shared = {
    MEDRELEASE_CONFIG: path.resolve(EFFECTIVE_CONFIG),
    MEDRELEASE_LOG_PRETTY: process.stdout.isTTY ? '1' : (process.env.MEDRELEASE_LOG_PRETTY ?? '0'),
  };
  const processes: Supervised[] = [
    { name: 'control-worker', script: 'workers/control-worker.js', env: shared, restarts: 0 },
    ...config.clouds.map((cloud) => ({
      name: `worker-${cloud.name}`,
      script: 'workers/cloud-worker.js',
      env: { ...shared, MEDRELEASE_CLOUD: cloud.name },
      restarts: 0,
    })),
    { name: 'api', script: 'api/server.js', env: shared, restarts: 0 },
  ];
  let stopping = false;
  for (const entry of processes) launch(entry, () => stopping);

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping the API, the workers, then the Temporal server …`);
    await stopChild(processes.at(-1)!.child);
    await Promise.all(processes.slice(0, -1).map((entry) => stopChild(entry.child)));
    await server?.stop();
    await devIdentity?.issuer.close();
    log('stopped; state is kept in ' + config.dataDir);
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  if (!(await waitForApi(apiUrl, 60_000))) {
    log(`the API did not become ready at ${apiUrl}/readyz within 60 s; see the output above`);
    return;
  }
  const banner = [
    '',
    `  API            ${apiUrl}      (OpenAPI: ${apiUrl}/docs)`,
    `  Temporal UI    ${config.temporal.uiUrl ?? '(external)'}`,
    `  Temporal       ${config.temporal.address}  namespace ${config.temporal.namespace}`,
    `  Clouds         ${config.clouds.map((cloud) => `${cloud.name} (${cloud.driver}, ${cloud.region})`).join(', ')}`,
    devIdentity
      ? `  Demo users     ${devIdentity.tokensFile} (access tokens for ${DEMO_USERS.map((user) => user.id).join(', ')}, valid 12 h)`
      : `  Identity       ${config.auth.issuer} (audience ${config.auth.audience})`,
    `  Decrypt in UI  sign in at ${apiUrl}/auth/login, then in the Temporal UI's codec settings tick "include cross-origin credentials"`,
    ...exampleRequests.map((file, index) => `  ${(index === 0 ? 'Examples' : '').padEnd(15)}${file}`),
    '                 (release requests with their manifests, dated today)',
    '',
    '  Try it: npm run demo        Stop: Ctrl-C',
    '',
  ];
  console.log(banner.join('\n'));
}

await main();
