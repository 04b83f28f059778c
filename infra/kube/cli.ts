// Command line for the local Kubernetes clusters (`npm run infra:kube -- <command>`):
//   build     build (or find in the cache) etcd, the control plane, kwok and the HTTPRoute CRD
//   up        start the clusters aws, azure and gcp (building first when needed) and write the kubeconfig
//   down      stop every process `up` started (by the recorded PIDs) and remove the state folder
//   status    what runs and whether each API server is ready
// Options: --state-dir DIR (default .data/kube), --clouds aws,azure,gcp, --nodes N.
// Progress goes to stderr, results to stdout.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureKubeBinaries } from './binaries.js';
import {
  clusterStatus,
  LOCAL_CLOUDS,
  readState,
  startLocalClusters,
  stopLocalClusters,
  contextName,
} from './clusters.js';

const USAGE =
  'usage: npm run infra:kube -- <build|up|down|status> [--state-dir DIR] [--clouds aws,azure,gcp] [--nodes N]';
const repositoryRoot = fileURLToPath(new URL('../../..', import.meta.url));
const started = Date.now();
const log = (line: string) =>
  console.error(`[kube ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}`);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'state-dir': { type: 'string' },
    clouds: { type: 'string' },
    nodes: { type: 'string' },
  },
});
const stateDir = path.resolve(values['state-dir'] ?? path.join(repositoryRoot, '.data', 'kube'));

async function main(): Promise<number> {
  switch (positionals[0]) {
    case 'build': {
      const report = await ensureKubeBinaries({ log });
      for (const build of report.builds) {
        console.log(`${build.tool} ${build.version}: ${build.outcome} (${build.seconds.toFixed(1)} s)`);
      }
      for (const [name, file] of Object.entries(report.binaries)) console.log(`${name}: ${file}`);
      return 0;
    }
    case 'up': {
      const clouds = values.clouds
        ? values.clouds.split(',').map((cloud) => cloud.trim())
        : [...LOCAL_CLOUDS];
      const nodes = values.nodes ? Number(values.nodes) : 2;
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 20) {
        log('--nodes must be an integer from 1 to 20');
        return 2;
      }
      const state = await startLocalClusters({ stateDir, clouds, nodesPerCluster: nodes, log });
      console.log(`kubeconfig: ${state.kubeconfig}`);
      for (const cluster of state.clusters) {
        console.log(`${cluster.name}: context ${cluster.context}, API server ${cluster.server}`);
      }
      console.log(`started in ${state.startSeconds.toFixed(1)} s; stop with: npm run infra:kube -- down`);
      console.log(
        'try it: MEDRELEASE_CONFIG=examples/config.local-kube.yaml npm start   (then npm run demo)',
      );
      return 0;
    }
    case 'down': {
      const stopped = await stopLocalClusters(stateDir, log);
      console.log(stopped === 0 ? 'nothing was running' : `stopped ${stopped} process(es)`);
      return 0;
    }
    case 'status': {
      const state = await readState(stateDir);
      if (!state) {
        console.log(`no local clusters recorded in ${stateDir}`);
        return 1;
      }
      const report = await clusterStatus(state);
      console.log(
        `kubeconfig: ${state.kubeconfig} (contexts ${state.clusters.map((c) => contextName(c.name)).join(', ')})`,
      );
      for (const entry of report) {
        const ready = entry.ready === undefined ? '' : entry.ready ? ' ready' : ' NOT ready';
        console.log(
          `${entry.cluster.padEnd(6)} ${entry.component.padEnd(24)} pid ${String(entry.pid).padEnd(8)} ${entry.running ? 'running' : 'STOPPED'}${ready}`,
        );
      }
      return report.every((entry) => entry.running && entry.ready !== false) ? 0 : 1;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log((error as Error).message);
    process.exit(1);
  },
);
