// Violation catalog of the Good Machine Learning Practice pack (policies/gmlp.yaml): for each control,
// injected violations (the control must not pass) and near misses (suspicious but compliant: it must
// pass). Every case edits a fresh copy of examples/manifests/compliant.yaml: one training dataset from
// sites a-d, one sequestered test set from sites e-f with an attested zero overlap, subgroup results
// for six attributes, a complete model card, and weekly monitoring scraped by a ServiceMonitor.
import type { NormalizedManifest } from '../../../domain/manifest.js';
import {
  drop,
  k8s,
  MODEL_LABELS,
  modelCard,
  NAMESPACE,
  nearMiss,
  type Obj,
  removeK8s,
  testSet,
  violation,
} from './helpers.js';
import type { ComplianceCase } from './types.js';

export const INDEPENDENCE = 'GMLP-P4-TEST-INDEPENDENCE';
export const SUBGROUPS = 'GMLP-P3-SUBGROUP-REPORTING';
export const MODEL_CARD = 'GMLP-P9-MODEL-CARD-COMPLETE';
export const MONITORING = 'GMLP-P10-MONITORING';

const overlap = (m: NormalizedManifest) => testSet(m).overlap!;
const subgroups = (m: NormalizedManifest) => m.validation!.subgroups!;
const cardPart = (m: NormalizedManifest, key: string) => modelCard(m)[key] as Obj;
const cardMetrics = (m: NormalizedManifest) => cardPart(m, 'evaluation').metrics as Record<string, Obj>;
const performance = (m: NormalizedManifest) => m.deployment.monitoring!.performance;

const serviceMonitor = (m: NormalizedManifest) => k8s(m, 'ServiceMonitor');
const serviceMonitorSpec = (m: NormalizedManifest) => serviceMonitor(m).spec as Obj;

/** A PodMonitor selecting the pods with these labels (in the release namespace unless told). */
function podMonitor(selector: Obj, namespace = NAMESPACE): Obj {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: { name: 'chest-xray-triage-pods', namespace },
    spec: { selector, podMetricsEndpoints: [{ port: 'http', path: '/metrics' }] },
  };
}

const independence: ComplianceCase[] = [
  violation(INDEPENDENCE, 'one test patient is also in training', (m) => {
    overlap(m).patients = 1;
  }),
  violation(INDEPENDENCE, 'three test studies are also in training', (m) => {
    overlap(m).studies = 3;
  }),
  violation(INDEPENDENCE, 'no overlap record', (m) => {
    drop(testSet(m), 'overlap');
  }),
  violation(INDEPENDENCE, 'overlap counts not attested', (m) => {
    drop(overlap(m), 'attestedBy');
  }),
  violation(INDEPENDENCE, 'overlap counts typed in by a person', (m) => {
    overlap(m).attestedBy = 'oidc|u-1001';
  }),
  violation(INDEPENDENCE, 'overlap attested by the build pipeline, not the dedupe job', (m) => {
    overlap(m).attestedBy = 'ci|pipeline-77';
  }),
  violation(INDEPENDENCE, 'test set is the training dataset (same digest)', (m) => {
    testSet(m).digest = m.trainingData![0]!.digest;
  }),
  violation(INDEPENDENCE, 'test sites are all training sites', (m) => {
    testSet(m).sites = ['site-a', 'site-b'];
    overlap(m).sitesSharedWithTraining = ['site-a', 'site-b'];
  }),
  violation(INDEPENDENCE, 'three of four test sites are training sites (25% external)', (m) => {
    testSet(m).sites = ['site-a', 'site-b', 'site-c', 'site-e'];
    overlap(m).sitesSharedWithTraining = ['site-a', 'site-b', 'site-c'];
  }),
  violation(INDEPENDENCE, 'shared site not declared in the overlap record', (m) => {
    testSet(m).sites = ['site-a', 'site-e', 'site-f'];
  }),
  violation(INDEPENDENCE, 'test sites not recorded', (m) => {
    drop(testSet(m), 'sites');
  }),
  violation(INDEPENDENCE, 'second test set overlaps two patients', (m) => {
    m.validation!.testSets!.push({
      ...structuredClone(testSet(m)),
      id: 'TS-EXT-2025B',
      digest: 'sha256:6f5e4d3c2b1a0f9e8d7c6b5a49382716f5e4d3c2b1a09f8e7d6c5b4a392817f6',
      overlap: { patients: 2, studies: 0, sitesSharedWithTraining: [], attestedBy: 'ci|dedupe-job-312' },
    });
  }),
  violation(INDEPENDENCE, 'no training data to compare with', (m) => {
    drop(m, 'trainingData');
  }),
  nearMiss(INDEPENDENCE, 'one declared shared site of four (75% external)', (m) => {
    testSet(m).sites = ['site-a', 'site-e', 'site-f', 'site-g'];
    overlap(m).sitesSharedWithTraining = ['site-a'];
  }),
  nearMiss(INDEPENDENCE, 'exactly half of the test sites external', (m) => {
    testSet(m).sites = ['site-a', 'site-e'];
    overlap(m).sitesSharedWithTraining = ['site-a'];
  }),
  nearMiss(INDEPENDENCE, 'attested by another run of the dedupe job', (m) => {
    overlap(m).attestedBy = 'ci|dedupe-job-9';
  }),
];

const subgroupCases: ComplianceCase[] = [
  violation(SUBGROUPS, 'no race results', (m) => {
    m.validation!.subgroups = subgroups(m).filter((group) => group.attribute !== 'race');
  }),
  violation(SUBGROUPS, 'no site results', (m) => {
    m.validation!.subgroups = subgroups(m).filter((group) => group.attribute !== 'site');
  }),
  violation(SUBGROUPS, 'sex reported under another attribute name (gender)', (m) => {
    for (const group of subgroups(m)) if (group.attribute === 'sex') group.attribute = 'gender';
  }),
  violation(SUBGROUPS, 'no subgroup results at all', (m) => {
    drop(m.validation!, 'subgroups');
  }),
  violation(SUBGROUPS, 'a large group without the primary metric', (m) => {
    subgroups(m)[0]!.metrics = { specificity: { value: 0.9, ci95: [0.88, 0.92] } };
  }),
  violation(SUBGROUPS, 'a large group without a confidence interval', (m) => {
    subgroups(m)[2]!.metrics = { sensitivity: { value: 0.934 } };
  }),
  violation(SUBGROUPS, 'a confidence interval that excludes the estimate', (m) => {
    subgroups(m)[5]!.metrics = { sensitivity: { value: 0.912, ci95: [0.92, 0.95] } };
  }),
  violation(SUBGROUPS, 'a large group with no metrics', (m) => {
    subgroups(m)[11]!.metrics = {};
  }),
  violation(SUBGROUPS, 'a group without its size', (m) => {
    drop(subgroups(m)[7]!, 'n');
  }),
  violation(SUBGROUPS, 'a group size that is not a whole number', (m) => {
    subgroups(m)[9]!.n = 259.5;
  }),
  violation(SUBGROUPS, 'a metric reported as a bare number', (m) => {
    (subgroups(m)[13]!.metrics as Obj).sensitivity = 0.923;
  }),
  nearMiss(SUBGROUPS, 'a small group reported as insufficient, without estimates', (m) => {
    subgroups(m).push({ attribute: 'race', group: 'American Indian or Alaska Native', n: 12, metrics: {} });
  }),
  nearMiss(SUBGROUPS, 'a group exactly at the minimum size with its CI', (m) => {
    subgroups(m).push({
      attribute: 'ethnicity',
      group: 'Unknown',
      n: 100,
      metrics: { sensitivity: { value: 0.91, ci95: [0.84, 0.95] } },
    });
  }),
  nearMiss(SUBGROUPS, 'an extra attribute beyond the required ones', (m) => {
    subgroups(m).push({
      attribute: 'bmiBand',
      group: '30+',
      n: 410,
      metrics: { sensitivity: { value: 0.915, ci95: [0.879, 0.941] } },
    });
  }),
];

const modelCardCases: ComplianceCase[] = [
  violation(MODEL_CARD, 'no limitations', (m) => {
    drop(modelCard(m), 'limitations');
  }),
  violation(MODEL_CARD, 'empty intended users', (m) => {
    modelCard(m).intendedUsers = '';
  }),
  violation(MODEL_CARD, 'contact is only whitespace', (m) => {
    modelCard(m).contact = '   ';
  }),
  violation(MODEL_CARD, 'training demographics missing', (m) => {
    drop(cardPart(m, 'trainingData'), 'demographics');
  }),
  violation(MODEL_CARD, 'card metrics without confidence intervals', (m) => {
    cardPart(m, 'evaluation').metrics = { sensitivity: 0.925, specificity: 0.902, auc: 0.957 };
  }),
  violation(MODEL_CARD, 'card describes the previous version', (m) => {
    modelCard(m).version = '2.4.1';
  }),
  violation(MODEL_CARD, 'card intended use differs from the regulatory record', (m) => {
    modelCard(m).intendedUse = 'Detects pneumothorax on chest radiographs of adults and children.';
  }),
  violation(MODEL_CARD, 'card sensitivity differs from validation (0.93 vs 0.925)', (m) => {
    cardMetrics(m).sensitivity = { value: 0.93, ci95: [0.905, 0.942] };
  }),
  violation(MODEL_CARD, 'card sensitivity CI differs from validation', (m) => {
    cardMetrics(m).sensitivity = { value: 0.925, ci95: [0.915, 0.942] };
  }),
  violation(MODEL_CARD, 'card leaves out the AUC', (m) => {
    drop(cardMetrics(m), 'auc');
  }),
  violation(MODEL_CARD, 'card shows a metric that was not validated (PPV)', (m) => {
    cardMetrics(m).ppv = { value: 0.61, ci95: [0.55, 0.67] };
  }),
  violation(MODEL_CARD, 'card names a test set that was not used', (m) => {
    cardPart(m, 'evaluation').testSets = ['TS-SEQ-2023Z'];
  }),
  violation(MODEL_CARD, 'no model card', (m) => {
    drop(m, 'modelCard');
  }),
  nearMiss(MODEL_CARD, 'intended use re-wrapped and re-cased', (m) => {
    modelCard(m).intendedUse = m.regulatory!.intendedUse!.toUpperCase().replaceAll(' ', '\n  ');
  }),
  nearMiss(MODEL_CARD, 'inputs described as a structured object', (m) => {
    modelCard(m).inputs = { modality: 'DX', view: 'frontal', sopClassUid: '1.2.840.10008.5.1.4.1.1.1.1' };
  }),
  nearMiss(MODEL_CARD, 'card metrics listed in another order', (m) => {
    const metrics = cardMetrics(m);
    cardPart(m, 'evaluation').metrics = {
      auc: metrics.auc,
      specificity: metrics.specificity,
      sensitivity: metrics.sensitivity,
    };
  }),
];

const monitoring: ComplianceCase[] = [
  violation(MONITORING, 'performance monitoring disabled', (m) => {
    performance(m).enabled = false;
  }),
  violation(MONITORING, 'lagged PPV not monitored', (m) => {
    performance(m).metrics = performance(m).metrics.filter((metric) => metric !== 'lagged_ppv');
  }),
  violation(MONITORING, 'no drift thresholds', (m) => {
    performance(m).driftThresholds = {};
  }),
  violation(MONITORING, 'reviewed every 31 days', (m) => {
    performance(m).cadence = 'P31D';
  }),
  violation(MONITORING, 'reviewed every 5 weeks', (m) => {
    performance(m).cadence = 'P5W';
  }),
  violation(MONITORING, 'owned by a team', (m) => {
    performance(m).owner = 'MLOps Team';
  }),
  violation(MONITORING, 'owned by a mailbox', (m) => {
    performance(m).owner = 'ai-safety@example-hospital.org';
  }),
  violation(MONITORING, 'no monitoring section', (m) => {
    drop(m.deployment, 'monitoring');
  }),
  violation(MONITORING, 'ServiceMonitor selects another app', (m) => {
    serviceMonitorSpec(m).selector = { matchLabels: { 'app.kubernetes.io/name': 'other-model' } };
  }),
  violation(MONITORING, 'ServiceMonitor in another namespace without a namespace selector', (m) => {
    (serviceMonitor(m).metadata as Obj).namespace = 'monitoring';
  }),
  violation(MONITORING, 'Service carries no labels for the ServiceMonitor', (m) => {
    drop(k8s(m, 'Service').metadata as Obj, 'labels');
  }),
  violation(MONITORING, 'only a PrometheusRule, no monitor', (m) => {
    removeK8s(m, 'ServiceMonitor');
    m.kubernetesManifests.push({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: 'chest-xray-triage-alerts', namespace: 'radiology-ai' },
      spec: { groups: [] },
    });
  }),
  violation(MONITORING, 'PodMonitor whose expression excludes the model pods', (m) => {
    removeK8s(m, 'ServiceMonitor');
    m.kubernetesManifests.push(
      podMonitor({
        matchExpressions: [
          { key: 'app.kubernetes.io/name', operator: 'NotIn', values: ['chest-xray-triage'] },
        ],
      }),
    );
  }),
  nearMiss(MONITORING, 'reviewed exactly every 30 days', (m) => {
    performance(m).cadence = 'P30D';
  }),
  nearMiss(MONITORING, 'PodMonitor instead of a ServiceMonitor', (m) => {
    removeK8s(m, 'ServiceMonitor');
    m.kubernetesManifests.push(podMonitor({ matchLabels: MODEL_LABELS }));
  }),
  nearMiss(MONITORING, 'ServiceMonitor in the monitoring namespace selecting the release namespace', (m) => {
    (serviceMonitor(m).metadata as Obj).namespace = 'monitoring';
    serviceMonitorSpec(m).namespaceSelector = { matchNames: ['radiology-ai'] };
  }),
  nearMiss(MONITORING, 'no Prometheus Operator objects in the release', (m) => {
    removeK8s(m, 'ServiceMonitor');
  }),
  nearMiss(MONITORING, 'owner given as an individual user id', (m) => {
    performance(m).owner = 'oidc|u-4004';
  }),
];

export const cases: ComplianceCase[] = [...independence, ...subgroupCases, ...modelCardCases, ...monitoring];
