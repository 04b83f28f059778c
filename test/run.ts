// The test command: starts one real Temporal dev server (built or taken from the cache), runs every
// compiled test file with node's test runner against it, then stops the server. Tests that need a
// server of their own (restarts) start one. `node dist/test/run.js [dir-or-name-filter …]`.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalClusters, stopLocalClusters } from '../infra/kube/clusters.js';
import { ensureTemporalCli, findFreePort, startDevServer } from '../infra/temporal.js';

const testRoot = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);

async function testFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) return testFiles(full);
      return Promise.resolve(entry.name.endsWith('.test.js') ? [full] : []);
    }),
  );
  return nested.flat().sort();
}

const files = (await testFiles(testRoot)).filter(
  (file) => filters.length === 0 || filters.some((filter) => path.relative(testRoot, file).includes(filter)),
);
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ')}`);
  process.exit(1);
}

const log = (line: string) => console.log(`[temporal] ${line}`);
const cli = await ensureTemporalCli({ log });
log(`using the Temporal CLI from ${cli.source}${cli.path ? ` (${cli.path})` : ''}`);
const dataDir = await mkdtemp(path.join(tmpdir(), 'medrelease-test-server-'));
const serverLog = path.join(dataDir, 'server.log');
const server = await startDevServer({
  logFile: serverLog,
  dbFile: path.join(dataDir, 'temporal.db'),
  port: await findFreePort(),
  headless: true,
  log,
});
log(`dev server ready at ${server.address}`);

// The Kubernetes integration tests share one set of local control planes (built once into the
// cache, started by the same code as `npm run infra:kube -- up`); files that kill API servers start
// their own.
let kubeStateDir: string | undefined;
if (files.some((file) => path.relative(testRoot, file).startsWith(`kube${path.sep}`))) {
  kubeStateDir = path.join(dataDir, 'kube');
  const kubeLog = (line: string) => console.log(`[kube] ${line}`);
  const clusters = await startLocalClusters({ stateDir: kubeStateDir, log: kubeLog });
  kubeLog(
    `clusters ${clusters.clusters.map((cluster) => cluster.name).join(', ')} ready in ${clusters.startSeconds.toFixed(1)} s`,
  );
}

const concurrency = process.env.MEDRELEASE_TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    // Per test file as well as per test: the end-to-end file on real telemetry runs about 6 minutes.
    `--test-timeout=${process.env.MEDRELEASE_TEST_TIMEOUT_MS ?? 600_000}`,
    ...files,
  ],
  {
    stdio: 'inherit',
    env: {
      ...process.env,
      TEMPORAL_TEST_ADDRESS: server.address,
      ...(kubeStateDir ? { MEDRELEASE_TEST_KUBE_STATE: kubeStateDir } : {}),
    },
  },
);
const forward = (signal: NodeJS.Signals) => child.kill(signal);
process.once('SIGINT', forward);
process.once('SIGTERM', forward);
const code = await new Promise<number>((resolve) =>
  child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0))),
);
await server.stop();
if (kubeStateDir) await stopLocalClusters(kubeStateDir, () => {}, { keepFiles: code !== 0 });
// The server's log is kept when something failed: it is where a server-side cause shows.
if (code === 0) await rm(dataDir, { recursive: true, force: true });
else
  log(
    `tests failed; the server's log is in ${serverLog}${kubeStateDir ? `, the clusters' logs in ${kubeStateDir}/logs` : ''}`,
  );
process.exit(code);
