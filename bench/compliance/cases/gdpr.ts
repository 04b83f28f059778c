// Violation catalog of the GDPR pack (policies/gdpr.yaml): for each control, injected violations (the
// control must not pass) and near misses (suspicious but compliant: it must pass). Every case edits a
// fresh copy of examples/manifests/compliant.yaml: EU targets in eu-central-1 (AWS) and westeurope
// (Azure), a US target (us-central1, GCP) under a declared SCC transfer with a TIA, EU sinks and backups.
import type { NormalizedManifest } from '../../../domain/manifest.js';
import {
  auditSink,
  configMap,
  containerEnv,
  drop,
  gdpr,
  logging,
  modelContainer,
  nearMiss,
  retention,
  storage,
  target,
  testSet,
  violation,
} from './helpers.js';
import type { ComplianceCase } from './types.js';

export const RESIDENCY = 'GDPR-ChV-Art44-46-EU-RESIDENCY';
export const TELEMETRY = 'GDPR-Art44-ONWARD-TELEMETRY-RESIDENCY';
export const STORAGE = 'GDPR-Art5(1)(e)-STORAGE-LIMITATION';
export const DPIA = 'GDPR-Art35(3)(b)-DPIA';
export const TRAINING = 'GDPR-Art9(2)+HIPAA-164.514-TRAINING-DATA-BASIS';

const transfer = (m: NormalizedManifest) => gdpr(m).transfers![0]!;
const dpia = (m: NormalizedManifest) => gdpr(m).dpia!;
const sink = (m: NormalizedManifest, index: number) => logging(m).sinks![index]!;
const trainingSet = (m: NormalizedManifest) => m.trainingData![0]!;

/** Adds an environment variable to the model-server container. */
function addEnv(m: NormalizedManifest, name: string, value: string): void {
  containerEnv(modelContainer(m)).push({ name, value });
}

/** Adds a ConfigMap to the release. */
function addConfigMap(m: NormalizedManifest, name: string, data: Record<string, string>): void {
  m.kubernetesManifests.push(configMap(name, data));
}

/** Moves the GCP target (and everything that names its region) to another region. */
function moveGcpTarget(m: NormalizedManifest, region: string): void {
  target(m, 2).region = region;
  dpia(m).targets = dpia(m).targets.map((entry) => (entry === 'us-central1' ? region : entry));
  for (const processor of gdpr(m).processors ?? [])
    processor.regions = processor.regions.map((entry) => (entry === 'us-central1' ? region : entry));
}

const residency: ComplianceCase[] = [
  violation(RESIDENCY, 'AWS target in London (eu-west-2) without a transfer', (m) => {
    target(m, 0).region = 'eu-west-2';
  }),
  violation(RESIDENCY, 'Azure target in Zurich (switzerlandnorth) without a transfer', (m) => {
    target(m, 1).region = 'switzerlandnorth';
  }),
  violation(RESIDENCY, 'the US transfer is removed', (m) => {
    gdpr(m).transfers = [];
  }),
  violation(RESIDENCY, 'SCC transfer without a transfer impact assessment', (m) => {
    drop(transfer(m), 'tiaRef');
  }),
  violation(RESIDENCY, 'transfer without a reference to its instrument', (m) => {
    drop(transfer(m), 'ref');
  }),
  violation(RESIDENCY, 'consent is not an accepted transfer mechanism', (m) => {
    transfer(m).mechanism = 'consent';
  }),
  violation(RESIDENCY, 'transfer declared to Canada, target in the US', (m) => {
    transfer(m).toCountry = 'CA';
  }),
  violation(RESIDENCY, 'adequacy decision of another country (Japan) for the US', (m) => {
    transfer(m).mechanism = 'adequacy:JP';
  }),
  violation(RESIDENCY, 'DPF used for a UK target', (m) => {
    target(m, 0).region = 'eu-west-2';
    gdpr(m).transfers!.push({ toCountry: 'GB', mechanism: 'DPF', ref: 'doc://DPF-UK' });
  }),
  violation(RESIDENCY, 'BCR transfer without a TIA', (m) => {
    transfer(m).mechanism = 'BCR';
    drop(transfer(m), 'tiaRef');
  }),
  violation(RESIDENCY, 'inference-input storage in Sydney (ap-southeast-2)', (m) => {
    storage(m, 0).region = 'ap-southeast-2';
  }),
  violation(RESIDENCY, 'unknown region name', (m) => {
    target(m, 0).region = 'mars-north-1';
  }),
  violation(RESIDENCY, 'Brazil adequacy relied on before it was adopted', (m, context) => {
    context.now = new Date('2025-12-01T12:00:00Z');
    moveGcpTarget(m, 'southamerica-east1');
    gdpr(m).transfers = [{ toCountry: 'BR', mechanism: 'adequacy:BR', ref: 'doc://ADEQ-BR' }];
  }),
  violation(RESIDENCY, 'no EU data subjects but EU targets, and the US transfer removed', (m) => {
    gdpr(m).euDataSubjects = false;
    gdpr(m).transfers = [];
  }),
  violation(RESIDENCY, 'GDPR record missing while targets are in the EEA', (m) => {
    drop(m.regulatory!, 'gdpr');
  }),
  nearMiss(RESIDENCY, 'UK target under the UK adequacy decision', (m) => {
    moveGcpTarget(m, 'europe-west2');
    gdpr(m).transfers = [{ toCountry: 'GB', mechanism: 'adequacy:UK', ref: 'doc://ADEQ-UK-2025' }];
  }),
  nearMiss(RESIDENCY, 'UK written with the EU code UK', (m) => {
    moveGcpTarget(m, 'europe-west2');
    gdpr(m).transfers = [{ toCountry: 'UK', mechanism: 'adequacy:UK', ref: 'doc://ADEQ-UK-2025' }];
  }),
  nearMiss(RESIDENCY, 'US target under the Data Privacy Framework (no TIA needed)', (m) => {
    gdpr(m).transfers = [{ toCountry: 'US', mechanism: 'DPF', ref: 'doc://DPF-GOOGLE' }];
  }),
  nearMiss(RESIDENCY, 'every target in the EEA and no transfer at all', (m) => {
    moveGcpTarget(m, 'europe-west4');
    gdpr(m).transfers = [];
  }),
];

const telemetry: ComplianceCase[] = [
  violation(TELEMETRY, 'metrics sink in Sydney (ap-southeast-2)', (m) => {
    sink(m, 0).region = 'ap-southeast-2';
  }),
  violation(TELEMETRY, 'log sink in London (eu-west-2)', (m) => {
    sink(m, 1).region = 'eu-west-2';
  }),
  violation(TELEMETRY, 'audit-event sink in Zurich (eu-central-2)', (m) => {
    auditSink(m).region = 'eu-central-2';
  }),
  violation(TELEMETRY, 'backup in Canada (ca-central-1)', (m) => {
    m.deployment.backups![0]!.region = 'ca-central-1';
  }),
  violation(TELEMETRY, 'unknown sink region', (m) => {
    sink(m, 0).region = 'eu-moon-1';
  }),
  violation(TELEMETRY, 'US metrics sink while the SCC lacks a TIA', (m) => {
    sink(m, 0).region = 'us-east-1';
    drop(transfer(m), 'tiaRef');
  }),
  violation(TELEMETRY, 'sink vendor is not a declared processor', (m) => {
    logging(m).sinks!.push({ type: 'traces', vendor: 'honeycomb', region: 'eu-west-1' });
  }),
  violation(TELEMETRY, 'backup vendor is not a declared processor', (m) => {
    m.deployment.backups![0]!.vendor = 'backblaze';
  }),
  violation(TELEMETRY, 'Datadog AP1 (Japan) site in a container env', (m) => {
    addEnv(m, 'DD_SITE', 'ap1.datadoghq.com');
  }),
  violation(TELEMETRY, 'Sumo Logic Japan collector URL in a container env', (m) => {
    addEnv(m, 'SUMO_ENDPOINT', 'https://collectors.jp.sumologic.com/receiver/v1/http/abc');
  }),
  violation(TELEMETRY, 'US Sentry DSN in a container env without a US transfer', (m) => {
    gdpr(m).transfers = [];
    addEnv(m, 'SENTRY_DSN', 'https://0123abcd@o4501.ingest.sentry.io/4502');
  }),
  violation(TELEMETRY, 'OTel collector ConfigMap exporting to New Relic US without a US transfer', (m) => {
    gdpr(m).transfers = [];
    addConfigMap(m, 'otel-collector', {
      'config.yaml': 'exporters:\n  otlphttp:\n    endpoint: https://otlp.nr-data.net:4318\n',
    });
  }),
  violation(TELEMETRY, 'GDPR record missing while targets are in the EEA', (m) => {
    drop(m.regulatory!, 'gdpr');
  }),
  nearMiss(TELEMETRY, 'Datadog EU site in a container env', (m) => {
    addEnv(m, 'DD_SITE', 'datadoghq.eu');
  }),
  nearMiss(TELEMETRY, 'Sentry EU (Frankfurt) DSN in a container env', (m) => {
    addEnv(m, 'SENTRY_DSN', 'https://0123abcd@o4501.ingest.de.sentry.io/4502');
  }),
  nearMiss(TELEMETRY, 'US metrics sink covered by the declared US SCC', (m) => {
    sink(m, 0).region = 'us-east-1';
    const grafana = gdpr(m).processors!.find((processor) => processor.name === 'grafana-labs')!;
    grafana.regions.push('us-east-1');
  }),
  nearMiss(TELEMETRY, 'New Relic US endpoint covered by the declared US SCC', (m) => {
    addEnv(m, 'OTEL_EXPORTER_OTLP_ENDPOINT', 'https://otlp.nr-data.net:4317');
  }),
];

const storageLimitation: ComplianceCase[] = [
  violation(STORAGE, 'inputs kept one day past the limit (31)', (m) => {
    retention(m).inferenceInputsDays = 31;
    storage(m, 0).lifecycleDays = 31;
  }),
  violation(STORAGE, 'outputs kept one day past the limit (366)', (m) => {
    retention(m).inferenceOutputsDays = 366;
    storage(m, 1).lifecycleDays = 366;
  }),
  violation(STORAGE, 'inputs kept indefinitely', (m) => {
    retention(m).inferenceInputsDays = 'indefinite';
  }),
  violation(STORAGE, 'outputs kept indefinitely', (m) => {
    retention(m).inferenceOutputsDays = 'indefinite';
  }),
  violation(STORAGE, 'input retention not declared', (m) => {
    drop(retention(m), 'inferenceInputsDays');
  }),
  violation(STORAGE, 'input retention in fractional days', (m) => {
    retention(m).inferenceInputsDays = 7.5;
  }),
  violation(STORAGE, 'output retention given as a string', (m) => {
    retention(m).inferenceOutputsDays = '365';
  }),
  violation(STORAGE, 'input bucket without a lifecycle rule', (m) => {
    drop(storage(m, 0), 'lifecycleDays');
  }),
  violation(STORAGE, 'input bucket lifecycle longer than declared (60 vs 30)', (m) => {
    storage(m, 0).lifecycleDays = 60;
  }),
  violation(STORAGE, 'output bucket lifecycle shorter than declared (90 vs 365)', (m) => {
    storage(m, 1).lifecycleDays = 90;
  }),
  violation(STORAGE, 'second input bucket without a lifecycle rule', (m) => {
    m.deployment.storage!.push({
      purpose: 'inference-inputs',
      provider: 'azure',
      encryption: 'kms-cmek',
      kmsKeyRef: 'https://kv-radiology.vault.azure.net/keys/inputs/1',
      region: 'westeurope',
    });
  }),
  violation(STORAGE, 'retention section missing', (m) => {
    drop(m.deployment, 'dataRetention');
  }),
  nearMiss(STORAGE, 'retention exactly at both limits, enforced by a second input bucket too', (m) => {
    retention(m).inferenceInputsDays = 30;
    retention(m).inferenceOutputsDays = 365;
    m.deployment.storage!.push({
      ...structuredClone(storage(m, 0)),
      region: 'westeurope',
      provider: 'azure',
    });
  }),
  nearMiss(STORAGE, 'shorter retention (14 and 180 days) matched by the lifecycle rules', (m) => {
    retention(m).inferenceInputsDays = 14;
    retention(m).inferenceOutputsDays = 180;
    storage(m, 0).lifecycleDays = 14;
    storage(m, 1).lifecycleDays = 180;
  }),
  nearMiss(STORAGE, 'inputs not kept at all (0 days, lifecycle 0)', (m) => {
    retention(m).inferenceInputsDays = 0;
    storage(m, 0).lifecycleDays = 0;
  }),
  nearMiss(STORAGE, 'model-artifact bucket without a lifecycle rule', (m) => {
    m.deployment.storage!.push({
      purpose: 'model-artifacts',
      provider: 'aws',
      encryption: 'kms-cmek',
      kmsKeyRef: 'arn:aws:kms:eu-central-1:111122223333:key/9a8b7c6d',
      region: 'eu-central-1',
    });
  }),
];

const dpiaCases: ComplianceCase[] = [
  violation(DPIA, 'DPIA reference missing', (m) => {
    drop(dpia(m), 'ref');
  }),
  violation(DPIA, 'DPIA reference blank', (m) => {
    dpia(m).ref = ' ';
  }),
  violation(DPIA, 'DPIA approved 366 days ago', (m) => {
    dpia(m).approvedAt = '2025-11-27T12:00:00Z';
  }),
  violation(DPIA, 'DPIA approved after the evaluation time', (m) => {
    dpia(m).approvedAt = '2026-12-01T00:00:00Z';
  }),
  violation(DPIA, 'DPIA approval date is not a date', (m) => {
    dpia(m).approvedAt = 'last spring';
  }),
  violation(DPIA, 'DPIA covers only 2.4.x', (m) => {
    dpia(m).coversModelVersions = '2.4.x';
  }),
  violation(DPIA, 'DPIA covers the previous major version', (m) => {
    dpia(m).coversModelVersions = '1.x';
  }),
  violation(DPIA, 'DPIA version range is not a range', (m) => {
    dpia(m).coversModelVersions = 'all versions';
  }),
  violation(DPIA, 'model version 3.0.0 outside the 2.x DPIA', (m) => {
    m.model.version = '3.0.0';
  }),
  violation(DPIA, 'DPIA does not cover the US target', (m) => {
    dpia(m).targets = ['eu-central-1', 'westeurope'];
  }),
  violation(DPIA, 'a new target in eu-west-1 not in the DPIA', (m) => {
    m.deployment.targets.push({
      ...structuredClone(target(m, 0)),
      region: 'eu-west-1',
      clusterId: 'eks-radiology-ie',
    });
  }),
  violation(DPIA, 'no DPIA', (m) => {
    drop(gdpr(m), 'dpia');
  }),
  nearMiss(DPIA, 'DPIA approved exactly 365 days ago', (m) => {
    dpia(m).approvedAt = '2025-11-28T12:00:00Z';
  }),
  nearMiss(DPIA, 'DPIA range written as >=2.0.0 <3.0.0', (m) => {
    dpia(m).coversModelVersions = '>=2.0.0 <3.0.0';
  }),
  nearMiss(DPIA, 'DPIA covers more regions than used', (m) => {
    dpia(m).targets.push('europe-west4', 'northeurope');
  }),
];

const training: ComplianceCase[] = [
  violation(TRAINING, 'training dataset without a digest', (m) => {
    drop(trainingSet(m), 'digest');
  }),
  violation(TRAINING, 'test set without a digest', (m) => {
    drop(testSet(m), 'digest');
  }),
  violation(TRAINING, 'training dataset with no sites', (m) => {
    trainingSet(m).sites = [];
  }),
  violation(TRAINING, 'test set sites not recorded', (m) => {
    drop(testSet(m), 'sites');
  }),
  violation(TRAINING, 'HIPAA basis "consent" is not an accepted basis', (m) => {
    trainingSet(m).hipaaBasis = 'consent';
  }),
  violation(TRAINING, 'test set HIPAA basis missing', (m) => {
    drop(testSet(m), 'hipaaBasis');
  }),
  violation(TRAINING, 'EU-sourced training data without a GDPR basis', (m) => {
    drop(trainingSet(m), 'gdprBasis');
  }),
  violation(TRAINING, 'EU-sourced test set without an Art. 9(2) condition', (m) => {
    drop(testSet(m).gdprBasis!, 'art9');
  }),
  violation(TRAINING, 'Art. 6 basis that cites no point of Art. 6(1)', (m) => {
    trainingSet(m).gdprBasis!.art6 = 'legitimate interest';
  }),
  violation(TRAINING, 'Art. 9 condition citing Art. 6 instead', (m) => {
    trainingSet(m).gdprBasis!.art9 = '6(1)(e) public task';
  }),
  violation(TRAINING, 'anonymised without the anonymisation record and no GDPR basis', (m) => {
    drop(trainingSet(m), 'gdprBasis');
    trainingSet(m).deidentification = { method: 'anonymised' };
  }),
  violation(TRAINING, 'EU sourcing undeclared in an EU release, no GDPR basis', (m) => {
    drop(trainingSet(m), 'euSourced');
    drop(trainingSet(m), 'gdprBasis');
  }),
  violation(TRAINING, 'no training data declared', (m) => {
    drop(m, 'trainingData');
  }),
  nearMiss(TRAINING, 'non-EU dataset without a GDPR basis', (m) => {
    trainingSet(m).euSourced = false;
    drop(trainingSet(m), 'gdprBasis');
  }),
  nearMiss(TRAINING, 'anonymised EU dataset with its record and no Art. 6/9 basis', (m) => {
    drop(trainingSet(m), 'gdprBasis');
    trainingSet(m).deidentification = { method: 'anonymised', ref: 'doc://ANON-2024-07' };
  }),
  nearMiss(TRAINING, 'limited data set under a data use agreement', (m) => {
    trainingSet(m).hipaaBasis = 'limited-data-set-dua';
  }),
];

export const cases: ComplianceCase[] = [
  ...residency,
  ...telemetry,
  ...storageLimitation,
  ...dpiaCases,
  ...training,
];
