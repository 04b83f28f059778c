// The deployment artefacts a user applies as they are: the Kubernetes manifests (probes, security,
// labels, and an environment the server accepts), the Dockerfile, and the README's coverage of the
// configuration and the metrics.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ENVIRONMENT_VARIABLES, loadServerConfig } from '../../examples/model-server/config.js';
import { exampleSourceDir } from './helpers.js';

interface Container {
  name: string;
  ports: { name: string; containerPort: number }[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: {
    runAsNonRoot: boolean;
    allowPrivilegeEscalation: boolean;
    readOnlyRootFilesystem: boolean;
    capabilities: { drop: string[] };
  };
  volumeMounts: { name: string; mountPath: string }[];
}

interface Deployment {
  kind: 'Deployment';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        securityContext: { runAsNonRoot: boolean; runAsUser: number; seccompProfile: { type: string } };
        containers: Container[];
        volumes: { name: string; emptyDir?: object }[];
      };
    };
  };
}

type Manifest = {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
};

const dir = exampleSourceDir();
const manifests: Manifest[] = [];

before(async () => {
  const kustomization = parseAllDocuments(
    await readFile(path.join(dir, 'k8s', 'kustomization.yaml'), 'utf8'),
  )[0]!.toJS() as {
    resources: string[];
  };
  for (const file of kustomization.resources) {
    for (const document of parseAllDocuments(await readFile(path.join(dir, 'k8s', file), 'utf8'))) {
      assert.equal(document.errors.length, 0, `${file}: ${document.errors.join('; ')}`);
      manifests.push(document.toJS() as Manifest);
    }
  }
});

describe('the Kubernetes manifests', () => {
  test('hold a stable and a canary Deployment, a Service over both and a ServiceMonitor', () => {
    assert.deepEqual(manifests.map((manifest) => manifest.kind).sort(), [
      'Deployment',
      'Deployment',
      'Service',
      'ServiceMonitor',
    ]);
    const tracks = deployments().map((deployment) => deployment.spec.template.metadata.labels.track);
    assert.deepEqual(tracks.sort(), ['canary', 'stable']);
    const service = manifests.find((manifest) => manifest.kind === 'Service')!;
    const selector = service.spec.selector as Record<string, string>;
    for (const deployment of deployments()) {
      const labels = deployment.spec.template.metadata.labels;
      for (const [key, value] of Object.entries(selector)) assert.equal(labels[key], value);
      for (const [key, value] of Object.entries(deployment.spec.selector.matchLabels))
        assert.equal(labels[key], value);
    }
    const monitor = manifests.find((manifest) => manifest.kind === 'ServiceMonitor')!;
    const endpoints = monitor.spec.endpoints as { port: string; path: string }[];
    assert.deepEqual(
      endpoints.map((endpoint) => [endpoint.port, endpoint.path]),
      [['http', '/metrics']],
    );
  });

  for (const track of ['stable', 'canary']) {
    test(`the ${track} pod: labels, scrape annotations, probes, resources and a locked-down security context`, () => {
      const deployment = deployments().find((entry) => entry.spec.template.metadata.labels.track === track)!;
      const pod = deployment.spec.template;
      for (const label of ['app', 'model', 'version', 'track']) assert.ok(pod.metadata.labels[label], label);
      const [container] = pod.spec.containers;
      assert.ok(container);
      const port = container.ports.find((entry) => entry.name === 'http')!;
      assert.deepEqual(pod.metadata.annotations, {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(port.containerPort),
        'prometheus.io/path': '/metrics',
      });
      assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
      assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
      for (const kind of ['requests', 'limits'] as const) {
        assert.ok(container.resources[kind].cpu && container.resources[kind].memory, kind);
      }
      assert.equal(pod.spec.securityContext.runAsNonRoot, true);
      assert.ok(pod.spec.securityContext.runAsUser > 0);
      assert.equal(pod.spec.securityContext.seccompProfile.type, 'RuntimeDefault');
      assert.deepEqual(container.securityContext, {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      // The root filesystem is read-only: the model directory and /tmp are emptyDirs.
      const env = resolveEnv(container, pod.metadata.labels);
      const mounts = container.volumeMounts.map((mount) => {
        const volume = pod.spec.volumes.find((entry) => entry.name === mount.name);
        assert.ok(volume?.emptyDir, `${mount.name} is not an emptyDir`);
        return mount.mountPath;
      });
      assert.ok(mounts.includes('/tmp'));
      assert.ok(
        mounts.some((mount) => env.MODEL_DIR!.startsWith(`${mount}/`) || env.MODEL_DIR === mount),
        `MODEL_DIR ${env.MODEL_DIR} is not on a mounted volume`,
      );

      // The server accepts this environment, and labels its metrics as the pod is labelled.
      const config = loadServerConfig(env);
      assert.equal(config.track, track);
      assert.equal(config.version, pod.metadata.labels.version);
      assert.equal(config.modelName, pod.metadata.labels.model);
      assert.equal(config.cloud, pod.metadata.labels.cloud);
      assert.equal(config.port, port.containerPort);
      assert.equal(config.host, '0.0.0.0');
      assert.equal(config.adminFaults, false);
    });
  }
});

describe('the Dockerfile', () => {
  test('multi-stage node:20-slim, production dependencies only, non-root, probes /healthz', async () => {
    const dockerfile = await readFile(path.join(dir, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:20-slim$/m);
    assert.equal(dockerfile.match(/^FROM /gm)?.length, 2);
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /npx tsc -p examples\/model-server\/tsconfig\.build\.json/);
    const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
    assert.ok(user && !/^(0|root)(:|$)/.test(user), `USER ${user}`);
    assert.match(dockerfile, /^HEALTHCHECK .*/m);
    assert.match(dockerfile, /\/healthz/);
    assert.match(dockerfile, /^CMD \["node", "dist\/examples\/model-server\/server\.js"\]$/m);
  });
});

describe('the README', () => {
  test('documents every environment variable and every metric', async () => {
    const readme = await readFile(path.join(dir, 'README.md'), 'utf8');
    for (const variable of ENVIRONMENT_VARIABLES) assert.ok(readme.includes(`\`${variable}\``), variable);
    for (const metric of [
      'inference_requests_total',
      'inference_request_duration_seconds',
      'inference_prediction_confidence',
      'inference_predictions_total',
      'inference_input_drift',
      'inference_input_drift_max',
      'inference_model_loaded',
      'process_start_time_seconds',
    ]) {
      assert.ok(readme.includes(`\`${metric}\``), metric);
    }
  });
});

function deployments(): Deployment[] {
  return manifests.filter((manifest) => manifest.kind === 'Deployment') as unknown as Deployment[];
}

/** The container's environment with downward-API label references resolved from the pod's labels. */
function resolveEnv(container: Container, labels: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of container.env) {
    if (entry.value !== undefined) {
      env[entry.name] = entry.value;
      continue;
    }
    const fieldPath = entry.valueFrom?.fieldRef?.fieldPath ?? '';
    const label = /^metadata\.labels\['([^']+)'\]$/.exec(fieldPath)?.[1];
    assert.ok(label, `${entry.name}: unsupported ${fieldPath}`);
    assert.ok(labels[label] !== undefined, `${entry.name} refers to the missing pod label ${label}`);
    env[entry.name] = labels[label];
  }
  return env;
}
