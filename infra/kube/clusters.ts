// Local Kubernetes control planes standing in for the three clouds, for `npm run infra:kube` and the
// integration tests (the same code). One etcd serves every cluster under its own key prefix; each
// cluster has its own kube-apiserver (own port, serving certificate, service-account keys and admin
// token), kube-controller-manager, kube-scheduler and kwok, which plays the kubelet of two simulated
// nodes: Deployments really roll out (ReplicaSets, Pods scheduled and marked Ready, EndpointSlices),
// no containers run. Everything binds to 127.0.0.1. The processes outlive the command that started
// them; their PIDs are recorded in `<stateDir>/state.json` and only those PIDs are ever stopped.
import { execFile, spawn } from 'node:child_process';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { loadContext } from '../../activities/cloud/kubernetes.js';
import { isProcessAlive, silent, type Log } from '../build-cache.js';
import { findFreePort } from '../temporal.js';
import { ensureKubeBinaries, KUBERNETES_VERSION, type KubeBinaries } from './binaries.js';

export const LOCAL_CLOUDS = ['aws', 'azure', 'gcp'] as const;
export const FIELD_MANAGER = 'medrelease-infra';
const STATE_FILE = 'state.json';
const READY_TIMEOUT_MS = 180_000;

export type Component = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';

export interface ProcessRecord {
  pid: number;
  binary: string;
  args: string[];
  log: string;
}

export interface LocalCluster {
  name: string;
  /** The kubeconfig context of this cluster. */
  context: string;
  server: string;
  port: number;
  token: string;
  caFile: string;
  processes: Record<Component, ProcessRecord>;
}

export interface LocalKubeState {
  version: 1;
  kubernetesVersion: string;
  stateDir: string;
  kubeconfig: string;
  etcd: { clientUrl: string; process: ProcessRecord };
  clusters: LocalCluster[];
  startedAt: string;
  startSeconds: number;
}

export interface StartOptions {
  stateDir: string;
  clouds?: readonly string[];
  nodesPerCluster?: number;
  log?: Log;
  binaries?: KubeBinaries;
}

export function contextName(cloud: string): string {
  return `medrelease-${cloud}`;
}

/**
 * Starts etcd and one control plane per cloud (building what is missing first) and writes the
 * kubeconfig. When the recorded clusters are all still running it returns them unchanged; a partly
 * running set is stopped and started afresh.
 */
export async function startLocalClusters(options: StartOptions): Promise<LocalKubeState> {
  const log = options.log ?? silent;
  const stateDir = path.resolve(options.stateDir);
  const existing = await readState(stateDir);
  if (existing) {
    const report = await clusterStatus(existing);
    if (report.every((entry) => entry.running)) {
      log(`local clusters already running (kubeconfig ${existing.kubeconfig})`);
      return existing;
    }
    log('some recorded processes have ended; stopping the rest and starting afresh');
    await stopLocalClusters(stateDir, log);
  }
  const binaries = options.binaries ?? (await ensureKubeBinaries({ log })).binaries;
  const started = Date.now();
  const clouds = options.clouds ?? LOCAL_CLOUDS;
  await rm(stateDir, { recursive: true, force: true });
  await mkdir(path.join(stateDir, 'logs'), { recursive: true });

  const etcdPort = await findFreePort();
  const peerPort = await findFreePort();
  const clientUrl = `http://127.0.0.1:${etcdPort}`;
  const etcd = launch(stateDir, 'etcd', binaries.etcd, [
    '--name=medrelease',
    `--data-dir=${path.join(stateDir, 'etcd')}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=medrelease=http://127.0.0.1:${peerPort}`,
    '--listen-metrics-urls=',
    // Test clusters: losing the last writes in a power cut does not matter, fsync latency does.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);
  const state: LocalKubeState = {
    version: 1,
    kubernetesVersion: KUBERNETES_VERSION,
    stateDir,
    kubeconfig: path.join(stateDir, 'kubeconfig'),
    etcd: { clientUrl, process: etcd },
    clusters: [],
    startedAt: new Date().toISOString(),
    startSeconds: 0,
  };
  // Recorded at once, so `down` can stop whatever a failed start left running.
  await writeState(state);
  try {
    await waitFor(`etcd at ${clientUrl}`, etcd, async () =>
      (await httpGet(`${clientUrl}/health`)).includes('true'),
    );
    log(`etcd ready at ${clientUrl}`);

    for (const cloud of clouds) {
      state.clusters.push(await prepareCluster(stateDir, cloud, binaries, clientUrl));
      await writeState(state);
    }
    await writeKubeconfig(state);
    await Promise.all(
      state.clusters.map(async (cluster) => {
        await waitFor(
          `${cluster.name} kube-apiserver at ${cluster.server}`,
          cluster.processes['kube-apiserver'],
          () => isApiServerReady(cluster),
        );
        log(`${cluster.name}: kube-apiserver ready at ${cluster.server}`);
      }),
    );
    for (const cluster of state.clusters) {
      Object.assign(cluster.processes, startClusterComponents(stateDir, cluster, binaries));
    }
    await writeState(state);
    await Promise.all(
      state.clusters.map((cluster) =>
        initialiseCluster(state, cluster, binaries, options.nodesPerCluster ?? 2, log),
      ),
    );
  } catch (error) {
    log(`start failed: ${(error as Error).message}; stopping what was started (logs in ${stateDir}/logs)`);
    await stopLocalClusters(stateDir, log, { keepFiles: true });
    throw error;
  }
  state.startSeconds = (Date.now() - started) / 1000;
  await writeState(state);
  log(
    `local clusters ${state.clusters.map((cluster) => cluster.name).join(', ')} ready in ${state.startSeconds.toFixed(1)} s`,
  );
  return state;
}

/** Stops every recorded process (only those PIDs, and only while they still run the recorded program). */
export async function stopLocalClusters(
  stateDir: string,
  log: Log = silent,
  opts: { keepFiles?: boolean } = {},
): Promise<number> {
  const state = await readState(path.resolve(stateDir));
  if (!state) return 0;
  const records = [
    ...state.clusters.flatMap((cluster) => Object.values(cluster.processes).filter(Boolean)),
    state.etcd.process,
  ];
  let stopped = 0;
  // Components before their API servers, API servers before etcd.
  const order: ProcessRecord[][] = [
    records.filter((record) => !/kube-apiserver|etcd$/.test(record.binary)),
    records.filter((record) => record.binary.endsWith('kube-apiserver')),
    [state.etcd.process],
  ];
  for (const group of order) {
    const results = await Promise.all(group.map((record) => stopProcess(record)));
    stopped += results.filter(Boolean).length;
  }
  log(`stopped ${stopped} process(es)`);
  if (!opts.keepFiles) await rm(path.resolve(stateDir), { recursive: true, force: true });
  return stopped;
}

export interface ProcessStatus {
  cluster: string;
  component: Component | 'etcd';
  pid: number;
  running: boolean;
  ready?: boolean;
}

/** Every recorded process, whether it runs, and for API servers whether /readyz answers ok. */
export async function clusterStatus(state: LocalKubeState): Promise<ProcessStatus[]> {
  const report: ProcessStatus[] = [
    { cluster: '-', component: 'etcd', pid: state.etcd.process.pid, running: isRunning(state.etcd.process) },
  ];
  for (const cluster of state.clusters) {
    for (const [component, record] of Object.entries(cluster.processes) as [Component, ProcessRecord][]) {
      const running = isRunning(record);
      report.push({
        cluster: cluster.name,
        component,
        pid: record.pid,
        running,
        ...(component === 'kube-apiserver' ? { ready: running && (await isApiServerReady(cluster)) } : {}),
      });
    }
  }
  return report;
}

export async function readState(stateDir: string): Promise<LocalKubeState | null> {
  try {
    return JSON.parse(await readFile(path.join(stateDir, STATE_FILE), 'utf8')) as LocalKubeState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Kills one cluster's API server (failure drills): its clients then see connection refused. */
export async function stopApiServer(state: LocalKubeState, cloud: string): Promise<void> {
  const cluster = findCluster(state, cloud);
  await stopProcess(cluster.processes['kube-apiserver'], 'SIGKILL');
}

/** Starts a stopped API server again on the same port, with the same certificate and token. */
export async function restartApiServer(state: LocalKubeState, cloud: string): Promise<void> {
  const cluster = findCluster(state, cloud);
  const previous = cluster.processes['kube-apiserver'];
  if (isRunning(previous)) return;
  const record = launch(state.stateDir, `${cloud}-kube-apiserver`, previous.binary, previous.args);
  cluster.processes['kube-apiserver'] = record;
  await writeState(state);
  await waitFor(`${cloud} kube-apiserver`, record, () => isApiServerReady(cluster));
}

/** A KubeConfig holding only this cluster's context and credentials. */
export function kubeConfigFor(state: LocalKubeState, cloud: string): k8s.KubeConfig {
  return loadContext(state.kubeconfig, contextName(cloud), cloud);
}

function findCluster(state: LocalKubeState, cloud: string): LocalCluster {
  const cluster = state.clusters.find((candidate) => candidate.name === cloud);
  if (!cluster)
    throw new Error(`no local cluster named ${cloud} (have ${state.clusters.map((c) => c.name).join(', ')})`);
  return cluster;
}

// ---- starting -------------------------------------------------------------------------------------

async function prepareCluster(
  stateDir: string,
  cloud: string,
  binaries: KubeBinaries,
  etcdUrl: string,
): Promise<LocalCluster> {
  const dir = path.join(stateDir, cloud);
  await mkdir(dir, { recursive: true });
  const port = await findFreePort();
  const server = `https://127.0.0.1:${port}`;
  const certFile = path.join(dir, 'apiserver.crt');
  const keyFile = path.join(dir, 'apiserver.key');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '365',
    '-subj',
    `/CN=medrelease-${cloud}-apiserver`,
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  const serviceAccount = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saKey = path.join(dir, 'service-account.key');
  const saPub = path.join(dir, 'service-account.pub');
  await writeFile(saKey, serviceAccount.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(saPub, serviceAccount.publicKey.export({ type: 'spki', format: 'pem' }));
  const token = randomBytes(24).toString('hex');
  const tokens = path.join(dir, 'tokens.csv');
  await writeFile(tokens, `${token},medrelease-admin,medrelease-admin,"system:masters"\n`, { mode: 0o600 });
  const args = [
    `--etcd-servers=${etcdUrl}`,
    `--etcd-prefix=/medrelease-${cloud}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--tls-cert-file=${certFile}`,
    `--tls-private-key-file=${keyFile}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    `--service-account-issuer=${server}/`,
    `--service-account-key-file=${saPub}`,
    `--service-account-signing-key-file=${saKey}`,
    `--token-auth-file=${tokens}`,
    '--authorization-mode=RBAC',
    '--anonymous-auth=false',
    '--endpoint-reconciler-type=none',
    // Saves CPU on a small machine; the clusters have one client each.
    '--enable-priority-and-fairness=false',
    '--profiling=false',
  ];
  const apiserver = launch(stateDir, `${cloud}-kube-apiserver`, binaries.kubeApiserver, args);
  return {
    name: cloud,
    context: contextName(cloud),
    server,
    port,
    token,
    caFile: certFile,
    processes: { 'kube-apiserver': apiserver } as Record<Component, ProcessRecord>,
  };
}

function startClusterComponents(
  stateDir: string,
  cluster: LocalCluster,
  binaries: KubeBinaries,
): Omit<Record<Component, ProcessRecord>, 'kube-apiserver'> {
  const dir = path.join(stateDir, cluster.name);
  const kubeconfig = path.join(dir, 'admin.kubeconfig');
  const clusterIndex = LOCAL_CLOUDS.indexOf(cluster.name as (typeof LOCAL_CLOUDS)[number]);
  return {
    'kube-controller-manager': launch(
      stateDir,
      `${cluster.name}-kube-controller-manager`,
      binaries.kubeControllerManager,
      [
        `--kubeconfig=${kubeconfig}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        // No health endpoint needed: 0 serves nothing, so nothing can collide with another cluster.
        '--secure-port=0',
        `--service-account-private-key-file=${path.join(dir, 'service-account.key')}`,
        `--root-ca-file=${cluster.caFile}`,
        '--use-service-account-credentials=false',
        // Only what a rollout needs: fewer controllers, less CPU.
        '--controllers=deployment-controller,replicaset-controller,endpointslice-controller,serviceaccount-controller,serviceaccount-token-controller,namespace-controller,garbage-collector-controller,pod-garbage-collector-controller',
        '--concurrent-deployment-syncs=10',
        '--concurrent-replicaset-syncs=10',
        '--concurrent-service-endpoint-syncs=10',
        '--endpointslice-updates-batch-period=0s',
      ],
    ),
    'kube-scheduler': launch(stateDir, `${cluster.name}-kube-scheduler`, binaries.kubeScheduler, [
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      '--secure-port=0',
    ]),
    kwok: launch(stateDir, `${cluster.name}-kwok`, binaries.kwok, [
      `--kubeconfig=${kubeconfig}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      `--cidr=10.${100 + Math.max(0, clusterIndex)}.0.1/16`,
      '--node-ip=127.0.0.1',
      '--server-address=127.0.0.1:0',
      `--config=${path.join(dir, 'kwok.yaml')}`,
    ]),
  };
}

async function initialiseCluster(
  state: LocalKubeState,
  cluster: LocalCluster,
  binaries: KubeBinaries,
  nodes: number,
  log: Log,
): Promise<void> {
  const config = kubeConfigFor(state, cluster.name);
  const objects = k8s.KubernetesObjectApi.makeApiClient(config);
  const core = config.makeApiClient(k8s.CoreV1Api);
  const apply = (body: k8s.KubernetesObject) =>
    objects.patch(body, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);

  const crds = parseAllDocuments(readFileSync(binaries.httpRouteCrd, 'utf8'))
    .map((document) => document.toJS() as k8s.KubernetesObject | null)
    .filter((document): document is k8s.KubernetesObject => document !== null);
  for (const crd of crds) await apply(crd);

  for (let index = 0; index < nodes; index += 1) {
    await apply({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: `kwok-${cluster.name}-${index}`,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          'kubernetes.io/hostname': `kwok-${cluster.name}-${index}`,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          type: 'kwok',
          'topology.kubernetes.io/region': cluster.name,
        },
      },
      status: {
        allocatable: { cpu: '64', memory: '256Gi', pods: '250' },
        capacity: { cpu: '64', memory: '256Gi', pods: '250' },
      },
    } as k8s.KubernetesObject);
  }
  // Every new Node carries the not-ready NoSchedule taint until something lifts it. The node
  // lifecycle controller would, but it also marks the pods of any node whose heartbeat is late
  // NotReady, which kwok never undoes: on a busy machine that stalls every rollout. It is not run;
  // the taint is lifted here once kwok reports the node Ready.
  await waitFor(`${cluster.name}: ${nodes} Ready node(s)`, cluster.processes.kwok, async () => {
    const list = await core.listNode();
    const ready = list.items.filter((node) =>
      node.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True'),
    );
    return ready.length >= nodes;
  });
  for (let index = 0; index < nodes; index += 1) {
    const name = `kwok-${cluster.name}-${index}`;
    const node = await core.readNode({ name });
    const taints = node.spec?.taints ?? [];
    const kept = taints.filter((taint) => taint.key !== 'node.kubernetes.io/not-ready');
    if (kept.length !== taints.length) {
      await core.patchNode(
        { name, body: [{ op: 'replace', path: '/spec/taints', value: kept }] },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      );
    }
  }
  const extensions = config.makeApiClient(k8s.ApiextensionsV1Api);
  await waitFor(
    `${cluster.name}: HTTPRoute CRD established`,
    cluster.processes['kube-apiserver'],
    async () => {
      const crd = await extensions.readCustomResourceDefinition({
        name: 'httproutes.gateway.networking.k8s.io',
      });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
    },
  );
  await waitFor(
    `${cluster.name}: the default service account`,
    cluster.processes['kube-controller-manager'],
    async () => {
      try {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
        return true;
      } catch {
        return false;
      }
    },
  );
  // The namespace examples/config.local-kube.yaml deploys to.
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'medrelease' } });
  log(`${cluster.name}: ${nodes} kwok node(s) Ready, HTTPRoute CRD installed, namespace medrelease created`);
}

async function writeKubeconfig(state: LocalKubeState): Promise<void> {
  const document = {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    'current-context': state.clusters[0] ? contextName(state.clusters[0].name) : '',
    clusters: state.clusters.map((cluster) => ({
      name: cluster.context,
      cluster: {
        server: cluster.server,
        'certificate-authority-data': readFileSync(cluster.caFile).toString('base64'),
      },
    })),
    users: state.clusters.map((cluster) => ({
      name: `${cluster.context}-admin`,
      user: { token: cluster.token },
    })),
    contexts: state.clusters.map((cluster) => ({
      name: cluster.context,
      context: { cluster: cluster.context, user: `${cluster.context}-admin`, namespace: 'default' },
    })),
  };
  await writeFile(state.kubeconfig, stringify(document), { mode: 0o600 });
  // Each cluster's own components get a kubeconfig with only that cluster in it.
  for (const cluster of state.clusters) {
    const own = {
      ...document,
      'current-context': cluster.context,
      clusters: document.clusters.filter((entry) => entry.name === cluster.context),
      users: document.users.filter((entry) => entry.name === `${cluster.context}-admin`),
      contexts: document.contexts.filter((entry) => entry.name === cluster.context),
    };
    await writeFile(path.join(state.stateDir, cluster.name, 'admin.kubeconfig'), stringify(own), {
      mode: 0o600,
    });
    await writeFile(path.join(state.stateDir, cluster.name, 'kwok.yaml'), '');
  }
}

// ---- processes ------------------------------------------------------------------------------------

function launch(stateDir: string, name: string, binary: string, args: string[]): ProcessRecord {
  const log = path.join(stateDir, 'logs', `${name}.log`);
  const fd = openSync(log, 'a');
  try {
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${binary}`);
    return { pid: child.pid, binary, args, log };
  } finally {
    closeSync(fd);
  }
}

/** True while the PID is alive and still runs the recorded program (a PID can be reused). */
function isRunning(record: ProcessRecord): boolean {
  if (!isProcessAlive(record.pid)) return false;
  try {
    const commandLine = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return commandLine === record.binary;
  } catch {
    // No /proc (not Linux): trust the PID.
    return true;
  }
}

async function stopProcess(record: ProcessRecord, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  if (!isRunning(record)) return false;
  process.kill(record.pid, signal);
  for (let waited = 0; waited < 10_000; waited += 100) {
    if (!isRunning(record)) return true;
    await delay(100);
  }
  if (isRunning(record)) process.kill(record.pid, 'SIGKILL');
  for (let waited = 0; waited < 5_000 && isRunning(record); waited += 100) await delay(100);
  return true;
}

async function waitFor(what: string, record: ProcessRecord, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline) {
    if (!isRunning(record)) {
      throw new Error(`${what}: ${path.basename(record.binary)} exited; its log:\n${tail(record.log)}`);
    }
    try {
      if (await check()) return;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await delay(300);
  }
  throw new Error(
    `${what}: not ready after ${READY_TIMEOUT_MS / 1000} s${lastError ? ` (last error: ${lastError})` : ''}; log ${record.log}`,
  );
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function isApiServerReady(cluster: LocalCluster): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      `${cluster.server}/readyz`,
      {
        ca: readFileSync(cluster.caFile),
        headers: { authorization: `Bearer ${cluster.token}` },
        timeout: 2000,
      },
      (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: 2000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(Buffer.concat(chunks).toString()));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function writeState(state: LocalKubeState): Promise<void> {
  const file = path.join(state.stateDir, STATE_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2));
  await rename(`${file}.tmp`, file);
}
