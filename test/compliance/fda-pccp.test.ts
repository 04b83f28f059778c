// The FDA pack (policies/fda-pccp.yaml): the compliant example passes each of its ten controls, every
// injected violation of bench/compliance/cases/fda-pccp.ts makes its control fail (or error: missing
// evidence), every near miss keeps it passing, the evidence points at the offending field, the PCCP
// controls are not applicable exactly when their rule says so, and the rules for releases that
// implement several modifications, first releases and pre-specified subgroups do what they say.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  cases,
  DOM,
  IMPACT,
  INPUTS,
  INTENDED_USE,
  LABELING,
  PERF,
  PROTOCOL,
  SBOM,
  SUBGROUPS,
  TRACE,
} from '../../bench/compliance/cases/fda-pccp.js';
import type { CaseContext, ComplianceCase } from '../../bench/compliance/cases/types.js';
import type { NormalizedManifest } from '../../domain/manifest.js';
import {
  assertDocumented,
  assertExamplePasses,
  assertPackControls,
  catalogCase,
  controlOf,
  type ControlSeverity,
  describeCatalogCases,
  explain,
  narrowBundleTo,
  problemAt,
  problems,
  runCase,
  runCaseOnce,
} from './harness.js';

const CONTROLS: ControlSeverity[] = [
  [DOM, 'blocker'],
  [INTENDED_USE, 'blocker'],
  [INPUTS, 'blocker'],
  [PERF, 'blocker'],
  [PROTOCOL, 'blocker'],
  [SUBGROUPS, 'blocker'],
  [IMPACT, 'major'],
  [LABELING, 'major'],
  [TRACE, 'major'],
  [SBOM, 'major'],
];
const IDS = CONTROLS.map(([id]) => id);
const PCCP_CONTROLS = IDS.filter((id) => id !== SBOM);

/** A case of the catalog run through the gate, once per file (the evidence tests reuse the result). */
const run = (control: string, name: string) => runCaseOnce(catalogCase(cases, control, name));

/** An ad-hoc case for the rule tests below. */
function adHoc(
  control: string,
  mutate: (manifest: NormalizedManifest, context: CaseContext) => void,
): ComplianceCase {
  return { control, name: 'ad hoc', kind: 'violation', mutate };
}

const change = (m: NormalizedManifest) => m.regulatory!.fda!.change!;

describe('FDA pack: PCCP and premarket cybersecurity', () => {
  // runCase evaluates the shipped bundle; the assertions here are about this pack only, so while this
  // file runs the bundle holds only this pack's controls, which keeps ~200 gate runs well under 5 s.
  narrowBundleTo(IDS);

  test('ships the ten controls with the catalog severities, each with a source and a description', () => {
    assertDocumented(assertPackControls('fda-pccp', CONTROLS));
  });

  test('the compliant example passes every control of the pack', async () => {
    await assertExamplePasses(IDS);
  });

  describeCatalogCases(cases, IDS);

  describe('evidence points at the offending field', () => {
    test('an unlisted modification: the id at its index', async () => {
      const { control } = await run(DOM, 'a modification the PCCP does not enumerate');
      const item = problemAt(control, '/regulatory/fda/change/modificationIds/0');
      assert.equal(item.observed, 'M9');
      assert.match(String(item.expected), /outside PCCP: route to Regulatory/);
    });

    test('a retrain that changed the architecture: the architecture digest', async () => {
      const { control } = await run(DOM, 'retrain changed the cleared architecture');
      assert.equal(problemAt(control, '/model/architectureDigest').status, 'fail');
    });

    test('a local site outside the allow-list: that target', async () => {
      const { control } = await run(DOM, 'local modification reaches a site it is not authorized for');
      assert.equal(problemAt(control, '/deployment/targets/2/site').observed, 'site-x');
    });

    test('a manufacturer not on the allow-list: that manufacturer', async () => {
      const { control } = await run(INPUTS, 'a manufacturer not on the allow-list');
      assert.equal(problemAt(control, '/model/inputs/manufacturers/2').observed, 'Carestream Health');
      assert.equal(problems(control).length, 1);
    });

    test('a CI lower bound below the minimum: the statistic the protocol names', async () => {
      const { control } = await run(PERF, 'sensitivity CI lower bound just below the minimum');
      const item = problemAt(control, '/validation/metrics/sensitivity/ci95/0');
      assert.equal(item.observed, 0.899);
      assert.equal(item.status, 'fail');
    });

    test('a missing metric is an error (missing evidence), not a pass', async () => {
      const { control } = await run(PERF, 'sensitivity missing');
      assert.equal(control.status, 'error');
      const item = problemAt(control, '/validation/metrics/sensitivity/ci95/0');
      assert.equal(item.observed, null);
      assert.match(item.message ?? '', /missing evidence/);
    });

    test('a test set that is not the frozen one: its digest', async () => {
      const { control } = await run(PROTOCOL, 'test set digest is not the frozen one');
      assert.equal(problemAt(control, '/validation/testSets/0/digest').status, 'fail');
    });

    test('a subgroup regression: the group metric, with the previous value', async () => {
      const { control } = await run(SUBGROUPS, 'women regressed by more than the allowed drop');
      const item = problemAt(control, '/validation/subgroups/0/metrics/sensitivity/value');
      assert.deepEqual(item.observed, { current: 0.89, previous: 0.915 });
    });

    test('a regression found although the previous record is stored in another order', async () => {
      const { control } = await run(SUBGROUPS, 'site-f regressed, previous record stored in another order');
      const item = problemAt(control, '/validation/subgroups/14/metrics/sensitivity/value');
      assert.deepEqual(item.observed, { current: 0.895, previous: 0.92 });
    });

    test('a risk file that was not updated: its version', async () => {
      const { control } = await run(IMPACT, 'risk file not updated since the previous release');
      assert.equal(
        problemAt(control, '/regulatory/fda/change/impactAssessment/riskFileVersion').observed,
        '6',
      );
    });

    test('a rollback to another artifact: the rollback digest', async () => {
      const { control } = await run(LABELING, 'rollback to an artifact that is not the previous release');
      assert.equal(problemAt(control, '/deployment/rollout/rollback/previousDigest').status, 'fail');
    });

    test('a major version bump: the version, with the bump class', async () => {
      const { control } = await run(TRACE, 'major version bump for a retrain');
      assert.deepEqual(problemAt(control, '/model/version').observed, {
        from: '1.9.0',
        to: '2.5.0',
        bump: 'major',
      });
    });

    test('an old scan: the scan time', async () => {
      const { control } = await run(SBOM, 'scan eight days old');
      assert.equal(problemAt(control, '/model/artifact/vulnScan/scannedAt').status, 'fail');
    });

    test('a critical finding whose waiver expired: the waiver and the count', async () => {
      const { control } = await run(SBOM, 'a critical finding under an expired waiver');
      assert.equal(
        problemAt(control, '/model/artifact/vulnScan/waivedCves/0/waiverId').observed,
        'VW-2026-0002',
      );
      assert.equal(problemAt(control, '/model/artifact/vulnScan/critical').observed, 1);
    });
  });

  describe('applicability', () => {
    test('not applicable: no PCCP in the registry and no regulatory.fda (SBOM-VULN still applies)', async () => {
      const { report } = await runCase(
        adHoc(DOM, (m) => {
          m.model.name = 'knee-mri-research';
          delete m.regulatory!.fda;
        }),
      );
      for (const id of PCCP_CONTROLS) {
        const control = controlOf(report.controls, id);
        assert.equal(control.status, 'not_applicable', explain(control));
        assert.match(control.notApplicableRule ?? '', /no FDA-authorized PCCP/);
      }
      assert.equal(controlOf(report.controls, SBOM).status, 'pass');
    });

    test('applies: the registry has the model but the manifest lacks regulatory.fda (missing evidence)', async () => {
      const { report } = await runCase(
        adHoc(DOM, (m) => {
          delete m.regulatory!.fda;
        }),
      );
      for (const id of [DOM, IMPACT, LABELING, TRACE]) {
        const control = controlOf(report.controls, id);
        assert.equal(control.status, 'error', explain(control));
      }
      assert.ok(
        problems(controlOf(report.controls, TRACE)).some(
          (item) => item.path === '/regulatory/fda/authorizationNumber',
        ),
      );
    });

    test('applies: the manifest declares an FDA authorization for a model the registry does not know', async () => {
      const { report } = await runCase(
        adHoc(DOM, (m) => {
          m.model.name = 'knee-mri-research';
        }),
      );
      for (const id of PCCP_CONTROLS.filter((entry) => entry !== IMPACT))
        assert.equal(problemAt(controlOf(report.controls, id), '/model/name').observed, 'knee-mri-research');
    });
  });

  describe('releases implementing several modifications', () => {
    test('inputs: each source must be allowed by an implemented modification (Philips is not on M2)', async () => {
      const { control } = await runCase(
        adHoc(INPUTS, (m) => {
          change(m).modificationIds = ['M2'];
          m.model.inputs!.manufacturers = ['GE Healthcare', 'Philips'];
        }),
      );
      assert.equal(problemAt(control, '/model/inputs/manufacturers/1').observed, 'Philips');
    });

    test('performance: the strictest criterion of M1 and M2 applies', async () => {
      const { control } = await runCase(
        adHoc(PERF, (m) => {
          change(m).modificationIds = ['M1', 'M2'];
          m.validation!.metrics!.specificity!.ci95 = [0.87, 0.914];
        }),
      );
      assert.equal(problemAt(control, '/validation/metrics/specificity/ci95/0').observed, 0.87);
    });

    test('protocol: a frozen test set used more often than allowed (M2)', async () => {
      const { control } = await runCase(
        adHoc(PROTOCOL, (m) => {
          change(m).modificationIds = ['M2'];
          const testSet = m.validation!.testSets![0]!;
          testSet.id = 'TS-SEQ-2023Z';
          testSet.digest = 'sha256:3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d';
        }),
      );
      assert.deepEqual(
        problems(control).map((item) => [item.path, item.observed]),
        [['policy:/sequesteredTestSets/TS-SEQ-2023Z/timesUsed', 6]],
      );
    });

    test('labeling: a new input source (M3) needs changed labeling even when no metric changed', async () => {
      const unchanged = (m: NormalizedManifest, context: CaseContext) => {
        change(m).labeling!.changed = false;
        context.history.previous!.validation!.metrics = structuredClone(m.validation!.metrics);
      };
      const { control: same } = await runCase(adHoc(LABELING, unchanged));
      assert.equal(same.status, 'pass', explain(same));
      const { control: newSource } = await runCase(
        adHoc(LABELING, (m, context) => {
          unchanged(m, context);
          change(m).modificationIds = ['M1', 'M3'];
          m.model.inputs!.manufacturers = ['GE Healthcare', 'Siemens Healthineers', 'Canon Medical Systems'];
        }),
      );
      assert.equal(problemAt(newSource, '/regulatory/fda/change/labeling/changed').observed, false);
    });
  });

  describe('history', () => {
    test('a first release: the regression and rollback comparisons are vacuous, and the evidence says so', async () => {
      const { report } = await run(TRACE, 'first release: bump from the cleared baseline 2.0.0');
      for (const id of [SUBGROUPS, LABELING]) {
        const control = controlOf(report.controls, id);
        assert.equal(control.status, 'pass', explain(control));
        const note = control.evidence.find((item) => item.path === 'facts:/previous');
        assert.ok(
          note && /vacuous|nothing to roll back|no rollback digest/.test(note.check),
          `${id} says so`,
        );
      }
      const bump = controlOf(report.controls, TRACE).evidence.find((item) => item.path === '/model/version');
      assert.deepEqual(bump?.observed, { from: '2.0.0', to: '2.5.0', bump: 'minor' });
    });

    test('without a previous record labeling is compared with the cleared baseline', async () => {
      const { control } = await runCase(
        adHoc(LABELING, (m, context) => {
          context.history.previous = null;
          change(m).labeling!.changed = false;
        }),
      );
      assert.equal(problemAt(control, '/regulatory/fda/change/labeling/changed').status, 'fail');
    });
  });

  describe('pre-specified subgroups', () => {
    test('a small group outside the pre-specified groups is reported, not acceptance-tested', async () => {
      const { control } = await runCase(
        adHoc(SUBGROUPS, (m) => {
          m.validation!.subgroups!.push({ attribute: 'race', group: 'Pacific Islander', n: 12, metrics: {} });
        }),
      );
      assert.equal(control.status, 'pass', explain(control));
    });

    test('a pre-specified group that is not reported fails, naming the group', async () => {
      const { control } = await runCase(
        adHoc(SUBGROUPS, (m) => {
          m.validation!.subgroups = m.validation!.subgroups!.filter((entry) => entry.group !== 'Black');
        }),
      );
      assert.equal(control.status, 'fail', explain(control));
      assert.deepEqual(problemAt(control, '/validation/subgroups').observed, {
        group: 'race=Black',
        reported: false,
      });
    });

    test('a pre-specified attribute without any result is missing evidence', async () => {
      const { control } = await run(SUBGROUPS, 'ethnicity not reported');
      assert.equal(control.status, 'fail', explain(control));
      const missing = problems(control).filter((item) => item.path === '/validation/subgroups');
      assert.ok(missing.some((item) => item.status === 'error' && item.observed === null));
    });
  });
});
