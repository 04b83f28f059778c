// The local Kubernetes control plane's programs, built from the Go module proxy (release downloads are
// unreachable on the build machines) and cached by version outside the repository:
//   etcd 3.6                      a wrapper module requiring go.etcd.io/etcd/server/v3 (its root is package main)
//   kube-apiserver, -controller-manager, -scheduler 1.34
//                                 a wrapper module requiring k8s.io/kubernetes with every staging module
//                                 replaced by its published v0.x version (the list read from kubernetes' go.mod)
//   kwok                          go install (no replace directives), the simulated kubelet
//   the Gateway API HTTPRoute CRD copied from the sigs.k8s.io/gateway-api module
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureCachedBuild, goOutput, runGo, silent, type Log } from '../build-cache.js';

export const KUBERNETES_VERSION = '1.34.4';
export const ETCD_VERSION = '3.6.16';
export const KWOK_VERSION = '0.7.0';
export const GATEWAY_API_VERSION = '1.6.3';

export interface KubeBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kwok: string;
  /** The Gateway API's HTTPRoute CustomResourceDefinition (standard channel), as YAML. */
  httpRouteCrd: string;
}

export interface BuildReport {
  binaries: KubeBinaries;
  /** Per tool: taken from the cache, or built now (and how long it took). */
  builds: { tool: string; version: string; outcome: 'cached' | 'built'; seconds: number }[];
}

export class KubeBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeBuildError';
  }
}

const CONTROL_PLANE = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

/** Builds whatever is missing (about 7 minutes cold on 2 cores: see docs/kubernetes.md) and returns every path. */
export async function ensureKubeBinaries(opts: { log?: Log } = {}): Promise<BuildReport> {
  const log = opts.log ?? silent;
  const builds: BuildReport['builds'] = [];
  const timed = async (tool: string, version: string, run: () => ReturnType<typeof ensureCachedBuild>) => {
    const started = Date.now();
    const result = await run();
    if (result.outcome === 'failed') {
      throw new KubeBuildError(
        `building ${tool} ${version} failed; the Go output above says why (the Go module proxy must be reachable)`,
      );
    }
    builds.push({ tool, version, outcome: result.outcome, seconds: (Date.now() - started) / 1000 });
    return result.directory;
  };

  const etcdDir = await timed('etcd', ETCD_VERSION, () =>
    ensureCachedBuild({
      tool: 'etcd',
      version: ETCD_VERSION,
      files: ['etcd'],
      log,
      build: (staging) =>
        buildInWrapper({
          label: `etcd ${ETCD_VERSION}`,
          module: 'medrelease.local/etcd-wrapper',
          requires: [`go.etcd.io/etcd/server/v3@v${ETCD_VERSION}`],
          packages: [{ path: 'go.etcd.io/etcd/server/v3', output: path.join(staging, 'etcd') }],
          log,
        }),
    }),
  );

  const kubeDir = await timed('kube', KUBERNETES_VERSION, () =>
    ensureCachedBuild({
      tool: 'kube',
      version: KUBERNETES_VERSION,
      files: CONTROL_PLANE,
      log,
      build: async (staging) => {
        const replaces = await stagingReplaces(KUBERNETES_VERSION);
        const [major, minor] = KUBERNETES_VERSION.split('.');
        const ldflags = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']
          .flatMap((pkg) => [
            `-X ${pkg}.gitVersion=v${KUBERNETES_VERSION}`,
            `-X ${pkg}.gitMajor=${major}`,
            `-X ${pkg}.gitMinor=${minor}`,
          ])
          .join(' ');
        return buildInWrapper({
          label: `Kubernetes ${KUBERNETES_VERSION} control plane (about 5 minutes cold on 2 cores)`,
          module: 'medrelease.local/kube-wrapper',
          godebug: 'default=go1.24',
          requires: [`k8s.io/kubernetes@v${KUBERNETES_VERSION}`],
          replaces,
          packages: CONTROL_PLANE.map((name) => ({
            path: `k8s.io/kubernetes/cmd/${name}`,
            output: path.join(staging, name),
          })),
          ldflags,
          log,
        });
      },
    }),
  );

  const kwokDir = await timed('kwok', KWOK_VERSION, () =>
    ensureCachedBuild({
      tool: 'kwok',
      version: KWOK_VERSION,
      files: ['kwok'],
      log,
      build: (staging) =>
        runGo({
          args: ['install', '-trimpath', '-ldflags', '-s -w', `sigs.k8s.io/kwok/cmd/kwok@v${KWOK_VERSION}`],
          env: { GOBIN: staging, CGO_ENABLED: '0' },
          label: `Building kwok ${KWOK_VERSION}`,
          log,
        }),
    }),
  );

  const gatewayDir = await timed('gateway-api', GATEWAY_API_VERSION, () =>
    ensureCachedBuild({
      tool: 'gateway-api',
      version: GATEWAY_API_VERSION,
      files: ['httproutes.yaml'],
      log,
      build: async (staging) => {
        const info = JSON.parse(
          await goOutput(['mod', 'download', '-json', `sigs.k8s.io/gateway-api@v${GATEWAY_API_VERSION}`]),
        ) as { Dir?: string; Error?: string };
        if (!info.Dir) {
          log(
            `go mod download sigs.k8s.io/gateway-api@v${GATEWAY_API_VERSION}: ${info.Error ?? 'no folder'}`,
          );
          return false;
        }
        await copyFile(
          path.join(info.Dir, 'config', 'crd', 'standard', 'gateway.networking.k8s.io_httproutes.yaml'),
          path.join(staging, 'httproutes.yaml'),
        );
        return true;
      },
    }),
  );

  return {
    binaries: {
      etcd: path.join(etcdDir, 'etcd'),
      kubeApiserver: path.join(kubeDir, 'kube-apiserver'),
      kubeControllerManager: path.join(kubeDir, 'kube-controller-manager'),
      kubeScheduler: path.join(kubeDir, 'kube-scheduler'),
      kwok: path.join(kwokDir, 'kwok'),
      httpRouteCrd: path.join(gatewayDir, 'httproutes.yaml'),
    },
    builds,
  };
}

/**
 * k8s.io/kubernetes points its staging modules at ./staging/src/…, which a module downloaded from the
 * proxy does not have; each is published separately as v0.<minor>.<patch>. The list comes from
 * kubernetes' own go.mod, so a new staging module cannot be missed.
 */
async function stagingReplaces(version: string): Promise<string[]> {
  const info = JSON.parse(await goOutput(['mod', 'download', '-json', `k8s.io/kubernetes@v${version}`])) as {
    GoMod?: string;
    Error?: string;
  };
  if (!info.GoMod) throw new KubeBuildError(`go mod download k8s.io/kubernetes@v${version}: ${info.Error}`);
  const goMod = await readFile(info.GoMod, 'utf8');
  const stagingVersion = `v0.${version.split('.').slice(1).join('.')}`;
  const modules = [...goMod.matchAll(/^\s*(?:replace\s+)?(k8s\.io\/[a-z0-9-]+)\s+=>\s+\.\/staging\//gm)].map(
    (match) => match[1]!,
  );
  if (modules.length === 0) throw new KubeBuildError(`no staging modules found in ${info.GoMod}`);
  return modules.map((module) => `${module} => ${module} ${stagingVersion}`);
}

interface WrapperBuild {
  label: string;
  module: string;
  godebug?: string;
  requires: string[];
  replaces?: string[];
  packages: { path: string; output: string }[];
  ldflags?: string;
  log: Log;
}

/**
 * Builds main packages of a module that cannot be `go install`ed directly (it has replace directives)
 * from a throw-away wrapper module that requires it. Each package is pinned at the required version as a
 * `tool` (a bare `go get -tool pkg` would upgrade the module to its newest version).
 */
async function buildInWrapper(spec: WrapperBuild): Promise<boolean> {
  const folder = await mkdtemp(path.join(tmpdir(), 'medrelease-go-wrapper-'));
  try {
    const lines = [`module ${spec.module}`, '', 'go 1.24', ''];
    if (spec.godebug) lines.push(`godebug ${spec.godebug}`, '');
    for (const replace of spec.replaces ?? []) lines.push(`replace ${replace}`);
    await writeFile(path.join(folder, 'go.mod'), `${lines.join('\n')}\n`);
    const version = (requirement: string) => requirement.slice(requirement.lastIndexOf('@'));
    const run = (args: string[], label: string, env: Record<string, string> = {}) =>
      runGo({ args, cwd: folder, env, label, log: spec.log });
    if (!(await run(['get', ...spec.requires], `${spec.label}: resolving`))) return false;
    const pinned = spec.packages.map((pkg) => `${pkg.path}${version(spec.requires[0]!)}`);
    if (!(await run(['get', '-tool', ...pinned], `${spec.label}: resolving its packages`))) return false;
    for (const pkg of spec.packages) {
      const args = [
        'build',
        '-trimpath',
        '-ldflags',
        `-s -w ${spec.ldflags ?? ''}`.trim(),
        '-o',
        pkg.output,
        pkg.path,
      ];
      if (!(await run(args, `Building ${path.basename(pkg.output)}`, { CGO_ENABLED: '0' }))) return false;
    }
    return true;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
