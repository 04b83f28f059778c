// Violation catalog of the FDA pack (policies/fda-pccp.yaml): for each control, injected violations
// (the control must not pass) and near misses (suspicious but compliant: it must pass, and so must the
// whole manifest, also combined with other near misses). Every case edits a fresh copy of
// examples/manifests/compliant.yaml and, where the control reads the gate's own record of the model's
// history (facts.previous, facts.deployedVersion), the context. Near misses that touch the history
// tolerate a missing previous record, since another near miss may have made the release a first one.
import type { NormalizedManifest } from '../../../domain/manifest.js';
import { modelCard, modelContainer, nearMiss, type Obj, testSet, violation } from './helpers.js';
import type { CaseContext, ComplianceCase } from './types.js';

export const DOM = 'FDA-PCCP-DoM-IN-SCOPE';
export const INTENDED_USE = 'FDA-PCCP-INTENDED-USE-UNCHANGED';
export const INPUTS = 'FDA-PCCP-INPUT-MODALITY-UNCHANGED';
export const PERF = 'FDA-PCCP-PERF-ACCEPTANCE';
export const PROTOCOL = 'FDA-PCCP-PROTOCOL-CONFORMANCE';
export const SUBGROUPS = 'FDA-PCCP-SUBGROUP-ACCEPTANCE';
export const IMPACT = 'FDA-PCCP-IMPACT-ASSESSMENT';
export const LABELING = 'FDA-PCCP-UPDATE-PROCEDURES-LABELING';
export const TRACE = 'FDA-PCCP-TRACEABILITY';
export const SBOM = 'FDA-FDCA-524B(b)(3)-SBOM-VULN';

const OTHER_DIGEST = `sha256:${'ab'.repeat(32)}`;
const SOP_DX_PRESENTATION = '1.2.840.10008.5.1.4.1.1.1.1';
/** The frozen digest of TS-SEQ-2025B (registered, but not a test set of modification M1). */
const TS_2025B_DIGEST = 'sha256:8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b';

const fda = (m: NormalizedManifest) => m.regulatory!.fda!;
const change = (m: NormalizedManifest) => fda(m).change!;
const assessment = (m: NormalizedManifest) => change(m).impactAssessment!;
const labeling = (m: NormalizedManifest) => change(m).labeling!;
const validation = (m: NormalizedManifest) => m.validation!;
const metric = (m: NormalizedManifest, name: string) => validation(m).metrics![name]!;
const inputs = (m: NormalizedManifest) => m.model.inputs!;
const outputs = (m: NormalizedManifest) => m.model.outputs!;
const sbom = (m: NormalizedManifest) => m.model.artifact.sbom!;
const scan = (m: NormalizedManifest) => m.model.artifact.vulnScan!;
const rollout = (m: NormalizedManifest) => m.deployment.rollout!;

/** Copies the validation metrics to the model card, as the card must state exactly the validated metrics. */
function syncCard(m: NormalizedManifest): void {
  (modelCard(m).evaluation as Obj).metrics = structuredClone(validation(m).metrics);
}

function subgroup(m: NormalizedManifest, attribute: string, group: string) {
  const found = validation(m).subgroups!.find(
    (entry) => entry.attribute === attribute && entry.group === group,
  );
  if (!found) throw new Error(`the example has no subgroup ${attribute}=${group}`);
  return found;
}

/** The previous release's record of a subgroup, if the gate has a previous record with it. */
function previousSubgroup(context: CaseContext, attribute: string, group: string) {
  return context.history.previous?.validation?.subgroups?.find(
    (entry) => entry.attribute === attribute && entry.group === group,
  );
}

/** The release is the first the gate records: nothing deployed, no previous record, no predecessor. */
function firstRelease(m: NormalizedManifest, context: CaseContext): void {
  delete m.model.previousVersion;
  context.history = { deployedVersion: null, previous: null };
}

/** The deployed version (and the release it replaces) is `version` in the gate's record and the manifest. */
function replaces(m: NormalizedManifest, context: CaseContext, version: string): void {
  m.model.previousVersion = version;
  context.history.deployedVersion = version;
  if (context.history.previous) context.history.previous.version = version;
}

/** The release implements these modifications too, and its impact assessment covers them. */
function implement(m: NormalizedManifest, ...ids: string[]): void {
  change(m).modificationIds = [...new Set([...change(m).modificationIds, ...ids])];
  assessment(m).modificationIds = [...new Set([...assessment(m).modificationIds, ...ids])];
}

/** Adds acquisition-device manufacturers the release accepts. */
function acceptManufacturers(m: NormalizedManifest, ...names: string[]): void {
  inputs(m).manufacturers = [...new Set([...(inputs(m).manufacturers ?? []), ...names])];
}

/** The release implements modification M2 (local) too: every target is one of M2's sites. */
function withLocalRecalibration(m: NormalizedManifest): void {
  implement(m, 'M2');
  m.deployment.targets.forEach((target, index) => {
    target.site = index % 2 === 0 ? 'site-e' : 'site-f';
  });
}

/** A faithful partial copy of the registry's PCCP (policies/data/fda-pccp.yaml), as a submitter writes it. */
function pccpCopy(): NonNullable<ReturnType<typeof fda>['pccp']> {
  return {
    id: 'PCCP-CXR-01',
    version: '1.0',
    baseline: {
      intendedUse:
        'Radiological computer-assisted triage and notification software that analyses adult frontal chest\n' +
        'radiographs for suspected pneumothorax and flags cases for prioritised review by a radiologist.',
      inputModality: 'DX',
      bodyPart: 'CHEST',
      modelVersion: '2.0.0',
      architectureDigest: 'sha256:9d1c6f0a4b3e2d1c0f9e8d7c6b5a49382716f5e4d3c2b1a09f8e7d6c5b4a3921',
      metrics: { sensitivity: 0.9, specificity: 0.88, auc: 0.93 },
    },
    authorizedModifications: [
      {
        id: 'M1',
        type: 'retrain-same-architecture',
        implementation: 'manual',
        scope: 'global',
        allowedInputs: {
          modality: ['DX'],
          manufacturers: ['GE Healthcare', 'Siemens Healthineers', 'Philips', 'Fujifilm'],
          sopClassUids: [SOP_DX_PRESENTATION],
        },
        protocol: {
          testSetIds: ['TS-SEQ-2024A'],
          minSampleSize: 1500,
          statisticalMethod: 'one-sided 95% CI lower bound',
          acceptanceCriteria: { sensitivity: { min: 0.9 }, specificity: { min: 0.88 } },
          nonInferiorityMargin: { sensitivity: 0, specificity: 0 },
          subgroupCriteria: { sensitivity: { min: 0.85 } },
          allowedRollout: ['canary', 'shadow'],
        },
      },
    ],
  };
}

/** Rewrites the intended use in the regulatory record and the model card alike. */
function rewriteIntendedUse(m: NormalizedManifest, rewrite: (text: string) => string): void {
  const regulatory = m.regulatory!;
  regulatory.intendedUse = rewrite(regulatory.intendedUse!);
  modelCard(m).intendedUse = rewrite(modelCard(m).intendedUse as string);
}

const domInScope: ComplianceCase[] = [
  violation(DOM, 'another PCCP id', (m) => {
    fda(m).pccp!.id = 'PCCP-CXR-02';
  }),
  violation(DOM, 'a PCCP version that was never authorized', (m) => {
    fda(m).pccp!.version = '1.1';
  }),
  violation(DOM, 'no modification listed', (m) => {
    change(m).modificationIds = [];
  }),
  violation(DOM, 'a modification the PCCP does not enumerate', (m) => {
    change(m).modificationIds = ['M9'];
  }),
  violation(DOM, 'an unlisted modification next to an authorized one', (m) => {
    change(m).modificationIds = ['M1', 'M7-new-architecture'];
  }),
  violation(DOM, 'modification id in another case', (m) => {
    change(m).modificationIds = ['m1'];
  }),
  violation(DOM, 'retrain changed the cleared architecture', (m) => {
    m.model.architectureDigest = OTHER_DIGEST;
  }),
  violation(DOM, 'architecture digest missing', (m) => {
    delete m.model.architectureDigest;
  }),
  violation(DOM, 'change record missing', (m) => {
    delete fda(m).change;
  }),
  violation(DOM, 'FDA section missing although the model has an authorized PCCP', (m) => {
    delete m.regulatory!.fda;
  }),
  violation(DOM, 'model without a PCCP in the registry declares an FDA authorization', (m) => {
    m.model.name = 'chest-xray-triage-peds';
  }),
  violation(DOM, 'global modification, but one target runs another artifact digest', (m) => {
    modelContainer(m).image = `registry.example.org/models/chest-xray-triage:2.5.0@${OTHER_DIGEST}`;
  }),
  violation(DOM, 'global modification, artifact image pinned to another digest', (m) => {
    m.model.artifact.image = `registry.example.org/models/chest-xray-triage:2.5.0@${OTHER_DIGEST}`;
  }),
  violation(DOM, 'local modification, targets name no site', (m) => {
    change(m).modificationIds.push('M2');
  }),
  violation(DOM, 'local modification reaches a site it is not authorized for', (m) => {
    withLocalRecalibration(m);
    m.deployment.targets[2]!.site = 'site-x';
  }),
  violation(DOM, "the manifest's PCCP copy widens the baseline intended use", (m) => {
    const copy = pccpCopy();
    copy.baseline!.intendedUse = `${copy.baseline!.intendedUse!} Also for paediatric patients.`;
    fda(m).pccp = copy;
  }),
  violation(DOM, "the manifest's PCCP copy declares M1 automatic", (m) => {
    const copy = pccpCopy();
    copy.authorizedModifications![0]!.implementation = 'automatic';
    fda(m).pccp = copy;
  }),
  violation(DOM, "the manifest's PCCP copy lowers a baseline metric", (m) => {
    const copy = pccpCopy();
    copy.baseline!.metrics = { sensitivity: 0.85, specificity: 0.88, auc: 0.93 };
    fda(m).pccp = copy;
  }),
  violation(DOM, "the manifest's PCCP copy lowers the minimum sample size", (m) => {
    const copy = pccpCopy();
    copy.authorizedModifications![0]!.protocol!.minSampleSize = 500;
    fda(m).pccp = copy;
  }),
  nearMiss(DOM, "a faithful copy of the registry's PCCP (other line breaks)", (m) => {
    fda(m).pccp = pccpCopy();
  }),
  nearMiss(DOM, 'global M1 plus local M2, every target at an authorized site', (m) => {
    withLocalRecalibration(m);
  }),
  nearMiss(DOM, 'the same authorized modification listed twice', (m) => {
    change(m).modificationIds.push('M1');
  }),
];

const intendedUse: ComplianceCase[] = [
  violation(INTENDED_USE, 'intended use now includes diagnosis', (m) => {
    rewriteIntendedUse(m, (text) =>
      text.replace('flags cases for prioritised review', 'diagnoses pneumothorax'),
    );
  }),
  violation(INTENDED_USE, 'intended use extended to adolescents', (m) => {
    m.regulatory!.intendedUse = m.regulatory!.intendedUse!.replace('adult', 'adult and adolescent');
  }),
  violation(INTENDED_USE, 'intended use missing', (m) => {
    delete m.regulatory!.intendedUse;
  }),
  violation(INTENDED_USE, 'indications extended to paediatric patients', (m) => {
    m.regulatory!.indicationsForUse = m.regulatory!.indicationsForUse!.replace(
      'adults aged 18 and older',
      'patients of all ages',
    );
  }),
  violation(INTENDED_USE, 'indications for use missing', (m) => {
    delete m.regulatory!.indicationsForUse;
  }),
  violation(INTENDED_USE, "model card's intended use differs", (m) => {
    modelCard(m).intendedUse = 'Detects pneumothorax on chest radiographs.';
  }),
  violation(INTENDED_USE, "model card's intended use missing", (m) => {
    delete modelCard(m).intendedUse;
  }),
  violation(INTENDED_USE, "model card's indications differ", (m) => {
    modelCard(m).indicationsForUse = 'For use by emergency physicians without a radiologist.';
  }),
  violation(INTENDED_USE, 'triage output became a diagnosis', (m) => {
    outputs(m).type = 'diagnosis';
  }),
  violation(INTENDED_USE, 'a finding class was added', (m) => {
    outputs(m).labels = ['pneumothorax', 'pleural-effusion'];
  }),
  violation(INTENDED_USE, 'the cleared finding class was replaced', (m) => {
    outputs(m).labels = ['tension-pneumothorax'];
  }),
  violation(INTENDED_USE, 'no finding class', (m) => {
    outputs(m).labels = [];
  }),
  violation(INTENDED_USE, 'outputs missing', (m) => {
    delete m.model.outputs;
  }),
  violation(INTENDED_USE, 'model without a PCCP in the registry declares an FDA authorization', (m) => {
    m.model.name = 'chest-xray-triage-peds';
  }),
  nearMiss(INTENDED_USE, 'intended use re-wrapped, extra spaces and capitals', (m) => {
    rewriteIntendedUse(
      m,
      (text) => `  ${text.replace('Radiological', 'RADIOLOGICAL').replaceAll(' for ', '\n  for  ')}\n`,
    );
  }),
  nearMiss(INTENDED_USE, 'intended use with non-breaking spaces', (m) => {
    rewriteIntendedUse(m, (text) => text.replaceAll(' ', '\u00a0'));
  }),
  nearMiss(INTENDED_USE, 'indications for use re-wrapped', (m) => {
    const rewrap = (text: string) => text.replaceAll('; ', ';\n');
    m.regulatory!.indicationsForUse = rewrap(m.regulatory!.indicationsForUse!);
    modelCard(m).indicationsForUse = rewrap(modelCard(m).indicationsForUse as string);
  }),
];

const inputModality: ComplianceCase[] = [
  violation(INPUTS, 'CT instead of radiographs', (m) => {
    inputs(m).modality = 'CT';
  }),
  violation(INPUTS, 'computed radiography (CR) instead of DX', (m) => {
    inputs(m).modality = 'CR';
  }),
  violation(INPUTS, 'modality missing', (m) => {
    delete inputs(m).modality;
  }),
  violation(INPUTS, 'abdomen instead of chest', (m) => {
    inputs(m).bodyPart = 'ABDOMEN';
  }),
  violation(INPUTS, 'body part missing', (m) => {
    delete inputs(m).bodyPart;
  }),
  violation(INPUTS, 'a manufacturer not on the allow-list', (m) => {
    inputs(m).manufacturers = ['GE Healthcare', 'Siemens Healthineers', 'Carestream Health'];
  }),
  violation(INPUTS, 'manufacturer name not as on the allow-list', (m) => {
    inputs(m).manufacturers = ['GE Healthcare', 'Siemens'];
  }),
  violation(INPUTS, 'manufacturers missing', (m) => {
    delete inputs(m).manufacturers;
  }),
  violation(INPUTS, 'no manufacturer declared', (m) => {
    inputs(m).manufacturers = [];
  }),
  violation(INPUTS, 'CT image storage SOP class added', (m) => {
    inputs(m).sopClassUids = [SOP_DX_PRESENTATION, '1.2.840.10008.5.1.4.1.1.2'];
  }),
  violation(INPUTS, 'DX for-processing SOP class added', (m) => {
    inputs(m).sopClassUids = [SOP_DX_PRESENTATION, '1.2.840.10008.5.1.4.1.1.1.1.1'];
  }),
  violation(INPUTS, 'SOP classes missing', (m) => {
    delete inputs(m).sopClassUids;
  }),
  violation(INPUTS, 'inputs missing', (m) => {
    delete m.model.inputs;
  }),
  violation(INPUTS, 'the change implements no authorized modification', (m) => {
    change(m).modificationIds = ['M9'];
  }),
  nearMiss(INPUTS, 'Philips added: on the allow-list of M1', (m) => {
    acceptManufacturers(m, 'Philips');
  }),
  nearMiss(INPUTS, 'manufacturers in another order, SOP class listed twice', (m) => {
    inputs(m).manufacturers!.reverse();
    inputs(m).sopClassUids!.push(SOP_DX_PRESENTATION);
  }),
  nearMiss(INPUTS, 'Fujifilm added: on the allow-list of M1', (m) => {
    acceptManufacturers(m, 'Fujifilm');
  }),
];

const perfAcceptance: ComplianceCase[] = [
  violation(PERF, 'sensitivity CI lower bound just below the minimum', (m) => {
    metric(m, 'sensitivity').ci95 = [0.899, 0.942];
  }),
  violation(PERF, 'specificity CI lower bound below the minimum', (m) => {
    metric(m, 'specificity').ci95 = [0.87, 0.914];
  }),
  violation(PERF, 'sensitivity below the cleared baseline (CI copied from before)', (m) => {
    metric(m, 'sensitivity').value = 0.895;
    syncCard(m);
  }),
  violation(PERF, 'sensitivity missing', (m) => {
    delete validation(m).metrics!.sensitivity;
  }),
  violation(PERF, 'specificity CI missing', (m) => {
    delete metric(m, 'specificity').ci95;
  }),
  violation(PERF, 'validation metrics missing', (m) => {
    delete validation(m).metrics;
  }),
  violation(PERF, 'validation missing', (m) => {
    delete m.validation;
  }),
  violation(PERF, 'CI bounds swapped', (m) => {
    metric(m, 'sensitivity').ci95 = [0.942, 0.905];
  }),
  violation(PERF, 'a CI with one bound only', (m) => {
    (metric(m, 'sensitivity') as { ci95?: number[] }).ci95 = [0.905];
  }),
  violation(PERF, 'point estimate outside its CI', (m) => {
    metric(m, 'specificity').ci95 = [0.905, 0.93];
  }),
  violation(PERF, 'the change implements no authorized modification', (m) => {
    change(m).modificationIds = ['M9'];
  }),
  violation(PERF, 'model without a PCCP in the registry declares an FDA authorization', (m) => {
    m.model.name = 'chest-xray-triage-peds';
  }),
  nearMiss(PERF, 'sensitivity CI lower bound exactly at the minimum', (m) => {
    metric(m, 'sensitivity').ci95 = [0.9, 0.942];
    syncCard(m);
  }),
  nearMiss(PERF, 'specificity CI lower bound exactly at the minimum', (m) => {
    metric(m, 'specificity').ci95 = [0.88, 0.914];
    syncCard(m);
  }),
  nearMiss(PERF, 'sensitivity exactly the cleared baseline', (m) => {
    metric(m, 'sensitivity').value = 0.9;
    metric(m, 'sensitivity').ci95 = [0.9, 0.921];
    syncCard(m);
  }),
  nearMiss(PERF, 'AUC below the baseline: not an acceptance criterion of the protocol', (m) => {
    metric(m, 'auc').value = 0.925;
    metric(m, 'auc').ci95 = [0.915, 0.934];
    syncCard(m);
  }),
];

const protocolConformance: ComplianceCase[] = [
  violation(PROTOCOL, 'a frozen test set the protocol of M1 does not name', (m) => {
    testSet(m).id = 'TS-SEQ-2025B';
    testSet(m).digest = TS_2025B_DIGEST;
  }),
  violation(PROTOCOL, 'test set digest is not the frozen one', (m) => {
    testSet(m).digest = OTHER_DIGEST;
  }),
  violation(PROTOCOL, 'test set digest missing', (m) => {
    delete testSet(m).digest;
  }),
  violation(PROTOCOL, 'test set not sequestered', (m) => {
    testSet(m).sequestered = false;
  }),
  violation(PROTOCOL, 'sequestration not stated', (m) => {
    delete testSet(m).sequestered;
  }),
  violation(PROTOCOL, 'an ad-hoc local test set', (m) => {
    testSet(m).id = 'TS-LOCAL-01';
  }),
  violation(PROTOCOL, 'a second, unregistered test set', (m) => {
    validation(m).testSets!.push({
      ...structuredClone(testSet(m)),
      id: 'TS-EXTRA-01',
      digest: OTHER_DIGEST,
      n: 300,
    });
  }),
  violation(PROTOCOL, 'no test set', (m) => {
    validation(m).testSets = [];
  }),
  violation(PROTOCOL, 'sample size one below the minimum', (m) => {
    testSet(m).n = 1499;
  }),
  violation(PROTOCOL, 'two-sided instead of one-sided CI', (m) => {
    validation(m).statisticalMethod = 'two-sided 95% CI lower bound';
  }),
  violation(PROTOCOL, 'statistical method missing', (m) => {
    delete validation(m).statisticalMethod;
  }),
  violation(PROTOCOL, 'protocol version not the authorized PCCP version', (m) => {
    validation(m).protocolVersion = '1.1';
  }),
  violation(PROTOCOL, 'protocol version missing', (m) => {
    delete validation(m).protocolVersion;
  }),
  violation(PROTOCOL, 'training run record missing', (m) => {
    delete m.training;
  }),
  violation(PROTOCOL, 'training configuration digest missing', (m) => {
    delete m.training!.config;
  }),
  nearMiss(PROTOCOL, 'sample size exactly the minimum', (m) => {
    testSet(m).n = 1500;
  }),
  nearMiss(PROTOCOL, 'statistical method in other letter case and spacing', (m) => {
    validation(m).statisticalMethod = 'One-sided  95% CI lower bound';
  }),
  nearMiss(PROTOCOL, 'M1 plus M2: the shared frozen test set satisfies both protocols', (m) => {
    withLocalRecalibration(m);
  }),
];

const subgroupAcceptance: ComplianceCase[] = [
  violation(SUBGROUPS, 'a group below the subgroup criterion', (m) => {
    subgroup(m, 'race', 'Asian').metrics.sensitivity = { value: 0.84, ci95: [0.78, 0.89] };
  }),
  violation(SUBGROUPS, 'a group smaller than the minimum size', (m) => {
    subgroup(m, 'race', 'Asian').n = 99;
  }),
  violation(SUBGROUPS, 'an empty group', (m) => {
    subgroup(m, 'site', 'site-f').n = 0;
  }),
  violation(SUBGROUPS, 'ethnicity not reported', (m) => {
    validation(m).subgroups = validation(m).subgroups!.filter((entry) => entry.attribute !== 'ethnicity');
  }),
  violation(SUBGROUPS, 'subgroups not reported at all', (m) => {
    delete validation(m).subgroups;
  }),
  violation(SUBGROUPS, 'a group reports no sensitivity', (m) => {
    subgroup(m, 'sex', 'M').metrics = { specificity: { value: 0.9, ci95: [0.88, 0.92] } };
  }),
  violation(SUBGROUPS, 'women regressed by more than the allowed drop', (m) => {
    subgroup(m, 'sex', 'F').metrics.sensitivity = { value: 0.89, ci95: [0.861, 0.913] };
  }),
  violation(SUBGROUPS, 'site-f regressed, previous record stored in another order', (m, context) => {
    subgroup(m, 'site', 'site-f').metrics.sensitivity = { value: 0.895, ci95: [0.862, 0.921] };
    context.history.previous?.validation?.subgroups?.reverse();
  }),
  violation(SUBGROUPS, 'a new manufacturer group with too few cases', (m) => {
    validation(m).subgroups!.push({
      attribute: 'manufacturer',
      group: 'Philips',
      n: 60,
      metrics: { sensitivity: { value: 0.9, ci95: [0.8, 0.95] } },
    });
  }),
  violation(SUBGROUPS, 'a new site group below the criterion', (m) => {
    validation(m).subgroups!.push({
      attribute: 'site',
      group: 'site-g',
      n: 200,
      metrics: { sensitivity: { value: 0.849, ci95: [0.79, 0.89] } },
    });
  }),
  violation(SUBGROUPS, 'the change implements no authorized modification', (m) => {
    change(m).modificationIds = ['M9'];
  }),
  violation(SUBGROUPS, 'model without a PCCP in the registry declares an FDA authorization', (m) => {
    m.model.name = 'chest-xray-triage-peds';
  }),
  nearMiss(SUBGROUPS, 'a group exactly at the criterion (previous release was close)', (m, context) => {
    subgroup(m, 'race', 'Asian').metrics.sensitivity = { value: 0.85, ci95: [0.79, 0.895] };
    const previous = previousSubgroup(context, 'race', 'Asian');
    if (previous) previous.metrics.sensitivity = { value: 0.86, ci95: [0.8, 0.9] };
  }),
  nearMiss(SUBGROUPS, 'women dropped by exactly the allowed drop', (m, context) => {
    const previous = previousSubgroup(context, 'sex', 'F');
    if (previous) previous.metrics.sensitivity = { value: 0.915, ci95: [0.886, 0.938] };
    subgroup(m, 'sex', 'F').metrics.sensitivity = { value: 0.895, ci95: [0.866, 0.919] };
  }),
  nearMiss(SUBGROUPS, 'a group exactly the minimum size', (m) => {
    subgroup(m, 'race', 'Asian').n = 100;
  }),
  nearMiss(SUBGROUPS, 'no previous release recorded (first release)', (m, context) => {
    firstRelease(m, context);
  }),
];

const impactAssessment: ComplianceCase[] = [
  violation(IMPACT, 'assessment unknown to the document system', (m) => {
    change(m).impactAssessmentRef = 'doc://IA-2026-9999';
  }),
  violation(IMPACT, 'assessment reference missing', (m) => {
    delete change(m).impactAssessmentRef;
  }),
  violation(IMPACT, 'reference points at the release notes', (m) => {
    change(m).impactAssessmentRef = 'doc://RN-CXR-2.5.0';
  }),
  violation(IMPACT, 'assessment covers another modification', (m) => {
    assessment(m).modificationIds = ['M2'];
  }),
  violation(IMPACT, 'M2 added to the change but not to the assessment', (m) => {
    change(m).modificationIds.push('M2');
    assessment(m).modificationIds = assessment(m).modificationIds.filter((id) => id !== 'M2');
  }),
  violation(IMPACT, 'assessment missing', (m) => {
    delete change(m).impactAssessment;
  }),
  violation(IMPACT, 'cumulative impact not reviewed', (m) => {
    assessment(m).cumulativeReviewed = false;
  }),
  violation(IMPACT, 'risk file not updated since the previous release', (m) => {
    assessment(m).riskFileVersion = '6';
  }),
  violation(IMPACT, 'risk file older than the previous release', (m) => {
    assessment(m).riskFileVersion = '5';
  }),
  violation(IMPACT, 'risk file version missing', (m) => {
    delete assessment(m).riskFileVersion;
  }),
  violation(IMPACT, 'risk file version in another form than the previous one', (m) => {
    assessment(m).riskFileVersion = '7.0.0';
  }),
  violation(IMPACT, 'approved by someone without an approval', (m) => {
    assessment(m).approvedBy = 'oidc|u-9999';
  }),
  violation(IMPACT, 'approved by the clinical approver', (m) => {
    assessment(m).approvedBy = 'oidc|u-3003';
  }),
  violation(IMPACT, 'approver missing', (m) => {
    delete assessment(m).approvedBy;
  }),
  violation(IMPACT, 'the regulatory-qa approval is only a review', (m) => {
    m.approvals![0]!.meaning = 'review';
  }),
  nearMiss(IMPACT, 'risk file 10 after 9 (numeric, not text, order)', (m, context) => {
    assessment(m).riskFileVersion = '10';
    if (context.history.previous) context.history.previous.riskFileVersion = '9';
  }),
  nearMiss(IMPACT, 'semantic risk-file versions 1.10.0 after 1.9.0', (m, context) => {
    assessment(m).riskFileVersion = '1.10.0';
    if (context.history.previous) context.history.previous.riskFileVersion = '1.9.0';
  }),
  nearMiss(IMPACT, 'assessment covers more modifications than the change', (m) => {
    assessment(m).modificationIds = [...new Set([...assessment(m).modificationIds, 'M2', 'M3'])];
  }),
];

const updateProcedures: ComplianceCase[] = [
  violation(LABELING, 'labeling still at the previous version', (m) => {
    labeling(m).version = '2.4.1';
  }),
  violation(LABELING, 'labeling version missing', (m) => {
    delete (labeling(m) as Partial<ReturnType<typeof labeling>>).version;
  }),
  violation(LABELING, 'labeling marked unchanged although the metrics changed', (m) => {
    labeling(m).changed = false;
  }),
  violation(LABELING, 'labeling change not stated', (m) => {
    delete (labeling(m) as Partial<ReturnType<typeof labeling>>).changed;
  }),
  violation(LABELING, 'labeling missing', (m) => {
    delete change(m).labeling;
  }),
  violation(LABELING, 'release notes missing', (m) => {
    delete labeling(m).releaseNotesRef;
  }),
  violation(LABELING, 'release notes reference empty', (m) => {
    labeling(m).releaseNotesRef = '';
  }),
  violation(LABELING, 'release notes unknown to the document system', (m) => {
    labeling(m).releaseNotesRef = 'doc://RN-CXR-2.5.0-draft';
  }),
  violation(LABELING, 'user communication missing', (m) => {
    delete labeling(m).userCommunicationRef;
  }),
  violation(LABELING, 'user communication points at the release notes', (m) => {
    labeling(m).userCommunicationRef = 'doc://RN-CXR-2.5.0';
  }),
  violation(LABELING, 'big-bang rollout', (m) => {
    rollout(m).strategy = 'recreate';
  }),
  violation(LABELING, 'rollout missing', (m) => {
    delete m.deployment.rollout;
  }),
  violation(LABELING, 'rollback to an artifact that is not the previous release', (m) => {
    rollout(m).rollback = { previousDigest: OTHER_DIGEST };
  }),
  violation(LABELING, 'rollback digest missing', (m) => {
    delete rollout(m).rollback;
  }),
  nearMiss(LABELING, 'shadow rollout', (m) => {
    rollout(m).strategy = 'shadow';
  }),
  nearMiss(LABELING, 'first release: nothing to roll back to', (m, context) => {
    firstRelease(m, context);
    delete rollout(m).rollback;
  }),
  nearMiss(LABELING, 'M3 adds Canon and the labeling says so', (m) => {
    implement(m, 'M3');
    acceptManufacturers(m, 'Canon Medical Systems');
  }),
];

const traceability: ComplianceCase[] = [
  violation(TRACE, 'authorization number with five digits', (m) => {
    fda(m).authorizationNumber = 'K24123';
  }),
  violation(TRACE, 'authorization number in lower case', (m) => {
    fda(m).authorizationNumber = 'k241234';
  }),
  violation(TRACE, 'another 510(k) number', (m) => {
    fda(m).authorizationNumber = 'K241235';
  }),
  violation(TRACE, 'a PMA number for a 510(k) PCCP', (m) => {
    fda(m).authorizationNumber = 'P241234';
  }),
  violation(TRACE, 'De Novo pathway for a 510(k) PCCP', (m) => {
    fda(m).pathway = 'DeNovo';
  }),
  violation(TRACE, 'replaces a version that is not the deployed one', (m) => {
    m.model.previousVersion = '2.4.0';
  }),
  violation(TRACE, 'previous version missing although 2.4.1 is deployed', (m) => {
    delete m.model.previousVersion;
  }),
  violation(TRACE, 'claims a predecessor although nothing is deployed', (_m, context) => {
    context.history.deployedVersion = null;
  }),
  violation(TRACE, 'major version bump for a retrain', (m, context) => {
    replaces(m, context, '1.9.0');
  }),
  violation(TRACE, 'no version bump (same version released again)', (m, context) => {
    replaces(m, context, '2.5.0');
  }),
  violation(TRACE, 'version goes backwards', (m, context) => {
    replaces(m, context, '2.6.0');
  }),
  violation(TRACE, 'modification log entry never appended', (m) => {
    change(m).logEntryId = 'MODLOG-0043';
  }),
  violation(TRACE, 'modification log entry missing', (m) => {
    delete change(m).logEntryId;
  }),
  violation(TRACE, 'the change implements no authorized modification', (m) => {
    change(m).modificationIds = ['M9'];
  }),
  nearMiss(TRACE, 'minor bump that skips a minor version', (m, context) => {
    replaces(m, context, '2.3.2');
  }),
  nearMiss(TRACE, 'first release: bump from the cleared baseline 2.0.0', (m, context) => {
    firstRelease(m, context);
  }),
  nearMiss(TRACE, 'the log entry is an older entry of the log', (m) => {
    change(m).logEntryId = 'MODLOG-0037';
  }),
];

const sbomVuln: ComplianceCase[] = [
  violation(SBOM, 'proprietary SBOM format', (m) => {
    sbom(m).format = 'syft-json';
  }),
  violation(SBOM, 'SBOM missing', (m) => {
    delete m.model.artifact.sbom;
  }),
  violation(SBOM, 'SBOM of another image', (m) => {
    sbom(m).subjectDigest = OTHER_DIGEST;
  }),
  violation(SBOM, 'SBOM subject not stated', (m) => {
    delete sbom(m).subjectDigest;
  }),
  violation(SBOM, 'scan of another image', (m) => {
    scan(m).subjectDigest = OTHER_DIGEST;
  }),
  violation(SBOM, 'scan eight days old', (m, context) => {
    scan(m).scannedAt = new Date(context.now.getTime() - 8 * 86_400_000).toISOString();
  }),
  violation(SBOM, 'scan dated in the future', (m, context) => {
    scan(m).scannedAt = new Date(context.now.getTime() + 3_600_000).toISOString();
  }),
  violation(SBOM, 'scan missing', (m) => {
    delete m.model.artifact.vulnScan;
  }),
  violation(SBOM, 'a critical finding without waiver', (m) => {
    scan(m).critical = 1;
  }),
  violation(SBOM, 'a known-exploited finding without waiver', (m) => {
    scan(m).knownExploited = 1;
  }),
  violation(SBOM, 'a critical finding under an expired waiver', (m) => {
    scan(m).critical = 1;
    scan(m).waivedCves = [{ cve: 'CVE-2026-04410', waiverId: 'VW-2026-0002' }];
  }),
  violation(SBOM, 'a waiver listed for another CVE', (m) => {
    scan(m).critical = 1;
    scan(m).waivedCves = [{ cve: 'CVE-2026-99999', waiverId: 'VW-2026-0007' }];
  }),
  violation(SBOM, 'a waiver id unknown to the gate', (m) => {
    scan(m).critical = 1;
    scan(m).waivedCves = [{ cve: 'CVE-2026-10231', waiverId: 'VW-LOCAL-1' }];
  }),
  violation(SBOM, 'two critical findings, one waiver', (m) => {
    scan(m).critical = 2;
    scan(m).waivedCves = [{ cve: 'CVE-2026-10231', waiverId: 'VW-2026-0007' }];
  }),
  violation(SBOM, 'known-exploited finding under a waiver that covers critical only', (m) => {
    scan(m).knownExploited = 1;
    scan(m).waivedCves = [{ cve: 'CVE-2026-10231', waiverId: 'VW-2026-0007' }];
  }),
  violation(SBOM, 'one CVE listed twice to cover two criticals', (m) => {
    scan(m).critical = 2;
    scan(m).waivedCves = [
      { cve: 'CVE-2026-10231', waiverId: 'VW-2026-0007' },
      { cve: 'CVE-2026-10231', waiverId: 'VW-2026-0007' },
    ];
  }),
  nearMiss(SBOM, 'a critical finding covered by a valid waiver', (m) => {
    scan(m).critical = 1;
    scan(m).waivedCves = [{ cve: 'CVE-2026-10231', waiverId: 'VW-2026-0007' }];
  }),
  nearMiss(SBOM, 'a critical, known-exploited CVE covered by one waiver of both', (m) => {
    scan(m).critical = 1;
    scan(m).knownExploited = 1;
    scan(m).waivedCves = [{ cve: 'CVE-2026-11873', waiverId: 'VW-2026-0009' }];
  }),
  nearMiss(SBOM, 'scan exactly the maximum age', (m, context) => {
    scan(m).scannedAt = new Date(context.now.getTime() - 7 * 86_400_000).toISOString();
  }),
  nearMiss(SBOM, 'SPDX in capitals, many high findings', (m) => {
    sbom(m).format = 'SPDX';
    scan(m).high = 40;
  }),
];

export const cases: ComplianceCase[] = [
  ...domInScope,
  ...intendedUse,
  ...inputModality,
  ...perfAcceptance,
  ...protocolConformance,
  ...subgroupAcceptance,
  ...impactAssessment,
  ...updateProcedures,
  ...traceability,
  ...sbomVuln,
];
