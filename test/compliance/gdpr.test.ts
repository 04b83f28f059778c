// The GDPR pack (policies/gdpr.yaml): the compliant example passes its five controls, every injected
// violation of bench/compliance/cases/gdpr.ts makes its control fail (or error: missing evidence),
// every near miss keeps it passing, the evidence points at the offending field, the not-applicable rule
// does what it says, and the policy data (EEA regions, region countries, adequacy decisions) is
// consistent.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cases, DPIA, RESIDENCY, STORAGE, TELEMETRY, TRAINING } from '../../bench/compliance/cases/gdpr.js';
import type { ControlResult } from '../../domain/compliance.js';
import {
  assertExamplePasses,
  assertPackControls,
  catalogCase,
  compliantManifest,
  controlOf,
  type ControlSeverity,
  describeCatalogCases,
  evaluate,
  explain,
  problemAt,
  problems,
  rebindApprovals,
  runCaseOnce,
  shippedBundle,
} from './harness.js';

const CONTROLS: ControlSeverity[] = [
  [RESIDENCY, 'blocker'],
  [TELEMETRY, 'major'],
  [STORAGE, 'major'],
  [DPIA, 'major'],
  [TRAINING, 'major'],
];
const IDS = CONTROLS.map(([id]) => id);
const GDPR_ONLY = [RESIDENCY, TELEMETRY, STORAGE, DPIA];

/** The result of a case's control (each case runs through the gate once). */
async function caseControl(control: string, name: string): Promise<ControlResult> {
  return (await runCaseOnce(catalogCase(cases, control, name))).control;
}

describe('GDPR pack', () => {
  test('defines its five controls with the catalog severities', () => {
    assertPackControls('gdpr', CONTROLS);
    const pack = shippedBundle().packs.find((entry) => entry.id === 'gdpr');
    assert.equal(pack?.title, 'GDPR: residency, transfers, storage limitation, DPIA, lawful basis');
  });

  test('the compliant example passes every GDPR control', async () => {
    await assertExamplePasses(IDS);
  });

  describeCatalogCases(cases, IDS, { perControl: true });

  describe('evidence', () => {
    test('a London target fails at its region, with the region observed', async () => {
      const control = await caseControl(RESIDENCY, 'AWS target in London (eu-west-2) without a transfer');
      const item = problemAt(control, '/deployment/targets/0/region');
      assert.equal(item.status, 'fail');
      assert.equal(item.observed, 'eu-west-2');
    });

    test('an unknown region is missing evidence, not a pass', async () => {
      const control = await caseControl(RESIDENCY, 'unknown region name');
      assert.equal(control.status, 'error');
      const item = problemAt(control, '/deployment/targets/0/region');
      assert.equal(item.status, 'error');
      assert.equal(item.observed, null);
    });

    test('an SCC transfer without a TIA points at the missing tiaRef and fails the US region', async () => {
      const control = await caseControl(RESIDENCY, 'SCC transfer without a transfer impact assessment');
      assert.equal(problemAt(control, '/regulatory/gdpr/transfers/0/tiaRef').status, 'error');
      assert.equal(problemAt(control, '/deployment/targets/2/region').observed, 'us-central1');
    });

    test('a DPF transfer to the UK fails at its mechanism', async () => {
      const control = await caseControl(RESIDENCY, 'DPF used for a UK target');
      const item = problemAt(control, '/regulatory/gdpr/transfers/1/mechanism');
      assert.equal(item.observed, 'DPF');
    });

    test('a missing GDPR record is an error, not a pass or a silent N/A', async () => {
      const control = await caseControl(RESIDENCY, 'GDPR record missing while targets are in the EEA');
      assert.equal(control.status, 'error');
      assert.equal(problemAt(control, '/regulatory/gdpr/euDataSubjects').status, 'error');
    });

    test('a Japanese Datadog site in a container env is reported at that env value', async () => {
      const control = await caseControl(TELEMETRY, 'Datadog AP1 (Japan) site in a container env');
      const [item] = problems(control);
      assert.ok(item);
      assert.match(
        item.path,
        /^\/kubernetesManifests\/2\/spec\/template\/spec\/containers\/0\/env\/2\/value$/,
      );
      assert.equal(item.observed, 'ap1.datadoghq.com');
    });

    test('a sink outside the EEA fails at its region; an undeclared vendor at its vendor', async () => {
      const sydney = await caseControl(TELEMETRY, 'metrics sink in Sydney (ap-southeast-2)');
      assert.equal(problemAt(sydney, '/deployment/logging/sinks/0/region').observed, 'ap-southeast-2');
      const vendor = await caseControl(TELEMETRY, 'sink vendor is not a declared processor');
      assert.equal(problemAt(vendor, '/deployment/logging/sinks/2/vendor').observed, 'honeycomb');
    });

    test('retention past the limit and a mismatched lifecycle rule are reported with their values', async () => {
      const over = await caseControl(STORAGE, 'inputs kept one day past the limit (31)');
      assert.equal(problemAt(over, '/deployment/dataRetention/inferenceInputsDays').observed, 31);
      const indefinite = await caseControl(STORAGE, 'inputs kept indefinitely');
      assert.equal(
        problemAt(indefinite, '/deployment/dataRetention/inferenceInputsDays').observed,
        'indefinite',
      );
      const lifecycle = await caseControl(STORAGE, 'input bucket lifecycle longer than declared (60 vs 30)');
      assert.equal(problemAt(lifecycle, '/deployment/storage/0/lifecycleDays').observed, 60);
      const noRule = await caseControl(STORAGE, 'input bucket without a lifecycle rule');
      assert.equal(problemAt(noRule, '/deployment/storage/0/lifecycleDays').status, 'fail');
    });

    test('a DPIA that misses a region or is too old points at that field', async () => {
      const region = await caseControl(DPIA, 'DPIA does not cover the US target');
      assert.equal(problemAt(region, '/deployment/targets/2/region').observed, 'us-central1');
      const old = await caseControl(DPIA, 'DPIA approved 366 days ago');
      assert.equal(problemAt(old, '/regulatory/gdpr/dpia/approvedAt').observed, '2025-11-27T12:00:00Z');
    });

    test('an EU-sourced dataset without a basis is missing evidence at its gdprBasis', async () => {
      const control = await caseControl(TRAINING, 'EU-sourced training data without a GDPR basis');
      assert.equal(problemAt(control, '/trainingData/0/gdprBasis').status, 'error');
      const consent = await caseControl(TRAINING, 'HIPAA basis "consent" is not an accepted basis');
      assert.equal(problemAt(consent, '/trainingData/0/hipaaBasis').observed, 'consent');
    });
  });

  describe('applicability', () => {
    const outsideEea = () => {
      const manifest = compliantManifest();
      manifest.regulatory!.gdpr!.euDataSubjects = false;
      manifest.deployment.targets[0]!.region = 'us-east-1';
      manifest.deployment.targets[1]!.region = 'eastus';
      rebindApprovals(manifest);
      return manifest;
    };

    test('no EU data subjects and no EEA target: the GDPR-only controls are N/A, with the rule recorded', () => {
      const report = evaluate(outsideEea());
      for (const id of GDPR_ONLY) {
        const control = controlOf(report.controls, id);
        assert.equal(control.status, 'not_applicable', explain(control));
        assert.match(
          control.notApplicableRule ?? '',
          /euDataSubjects is false and no deployment target region/,
        );
      }
    });

    test('the training-data basis still applies (its HIPAA part always does)', () => {
      const manifest = outsideEea();
      manifest.trainingData![0]!.hipaaBasis = 'consent';
      const training = controlOf(evaluate(manifest).controls, TRAINING);
      assert.equal(training.status, 'fail', explain(training));
      assert.equal(problemAt(training, '/trainingData/0/hipaaBasis').observed, 'consent');
    });

    test('datasets not sourced in the EU need no Art. 6/9 basis outside GDPR scope', () => {
      const manifest = outsideEea();
      for (const dataset of [...manifest.trainingData!, ...manifest.validation!.testSets!]) {
        delete dataset.euSourced;
        delete dataset.gdprBasis;
      }
      const training = controlOf(evaluate(manifest).controls, TRAINING);
      assert.equal(training.status, 'pass', explain(training));
    });

    test('no EU data subjects but a target in the EEA: the controls still apply', () => {
      const manifest = compliantManifest();
      manifest.regulatory!.gdpr!.euDataSubjects = false;
      rebindApprovals(manifest);
      const report = evaluate(manifest);
      for (const id of GDPR_ONLY) assert.equal(controlOf(report.controls, id).status, 'pass');
    });
  });

  describe('policy data', () => {
    const data = shippedBundle().data as {
      eeaCountries: string[];
      eeaRegions: string[];
      regionCountries: Record<string, string>;
      adequacyDecisions: { id: string; country: string; adoptedAt: string; validUntil?: string }[];
      transferMechanisms: { id: string; requiresTia: boolean }[];
    };

    test('the EEA is the 27 EU member states plus Iceland, Liechtenstein and Norway', () => {
      assert.equal(new Set(data.eeaCountries).size, 30);
      for (const country of ['IS', 'LI', 'NO', 'DE', 'IE'])
        assert.ok(data.eeaCountries.includes(country), country);
      for (const country of ['GB', 'CH']) assert.ok(!data.eeaCountries.includes(country), country);
    });

    test('eeaRegions are exactly the known regions located in EEA countries', () => {
      for (const region of data.eeaRegions) {
        const country = data.regionCountries[region];
        assert.ok(country !== undefined && data.eeaCountries.includes(country), `${region} (${country})`);
      }
      for (const [region, country] of Object.entries(data.regionCountries))
        if (data.eeaCountries.includes(country)) assert.ok(data.eeaRegions.includes(region), region);
      for (const region of [
        'eu-west-2',
        'eu-central-2',
        'uksouth',
        'ukwest',
        'switzerlandnorth',
        'europe-west2',
        'europe-west6',
      ])
        assert.ok(!data.eeaRegions.includes(region), `${region} is not in the EEA`);
      for (const country of Object.values(data.regionCountries)) assert.match(country, /^[A-Z]{2}$/);
    });

    test('adequacy decisions are dated, unique and current; SCCs and BCRs require a TIA', () => {
      assert.equal(
        new Set(data.adequacyDecisions.map((decision) => decision.id)).size,
        data.adequacyDecisions.length,
      );
      for (const decision of data.adequacyDecisions) {
        assert.ok(Number.isFinite(Date.parse(decision.adoptedAt)), decision.id);
        if (decision.validUntil) assert.ok(Date.parse(decision.validUntil) > Date.parse(decision.adoptedAt));
        assert.ok(!data.eeaCountries.includes(decision.country), decision.id);
      }
      const tia = new Map(data.transferMechanisms.map((mechanism) => [mechanism.id, mechanism.requiresTia]));
      assert.equal(tia.get('SCC-2021/914'), true);
      assert.equal(tia.get('BCR'), true);
      assert.equal(tia.get('DPF'), false);
    });
  });
});
