// The Good Machine Learning Practice pack (policies/gmlp.yaml): the compliant example passes its four
// controls, every injected violation of bench/compliance/cases/gmlp.ts makes its control fail (or
// error: missing evidence), every near miss keeps it passing, the evidence points at the offending
// field, and the subgroup-size threshold is the FDA pack's minSubgroupN, with a fallback of its own.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { cases, INDEPENDENCE, MODEL_CARD, MONITORING, SUBGROUPS } from '../../bench/compliance/cases/gmlp.js';
import type { ControlResult } from '../../domain/compliance.js';
import {
  assertExamplePasses,
  assertPackControls,
  catalogCase,
  controlOf,
  type ControlSeverity,
  describeCatalogCases,
  evaluateWithPolicyData,
  explain,
  POLICY_DIR,
  problemAt,
  problems,
  runCaseOnce,
  shippedBundle,
} from './harness.js';

const CONTROLS: ControlSeverity[] = [
  [INDEPENDENCE, 'blocker'],
  [SUBGROUPS, 'major'],
  [MODEL_CARD, 'major'],
  [MONITORING, 'major'],
];
const IDS = CONTROLS.map(([id]) => id);

/** The result of a case's control (each case runs through the gate once). */
async function caseControl(control: string, name: string): Promise<ControlResult> {
  return (await runCaseOnce(catalogCase(cases, control, name))).control;
}

/** The subgroup-reporting control on the compliant example, with some policy data replaced. */
function subgroupsWith(data: Record<string, unknown>, drop: string[] = []): ControlResult {
  return controlOf(evaluateWithPolicyData(data, undefined, drop), SUBGROUPS);
}

describe('GMLP pack', () => {
  test('defines its four controls with the catalog severities', () => {
    const own = assertPackControls('gmlp', CONTROLS);
    assert.equal(
      shippedBundle().packs.find((pack) => pack.id === 'gmlp')?.title,
      'Good Machine Learning Practice',
    );
    for (const control of own)
      assert.equal(control.notApplicable, undefined, `${control.definition.id} is never N/A`);
  });

  test('the compliant example passes every GMLP control', async () => {
    await assertExamplePasses(IDS);
  });

  describeCatalogCases(cases, IDS, { perControl: true });

  describe('evidence', () => {
    test('test independence points at the overlap count, the attester and the undeclared shared site', async () => {
      const patients = await caseControl(INDEPENDENCE, 'one test patient is also in training');
      assert.equal(problemAt(patients, '/validation/testSets/0/overlap/patients').observed, 1);
      const attester = await caseControl(INDEPENDENCE, 'overlap counts typed in by a person');
      assert.equal(problemAt(attester, '/validation/testSets/0/overlap/attestedBy').observed, 'oidc|u-1001');
      const unattested = await caseControl(INDEPENDENCE, 'overlap counts not attested');
      assert.equal(unattested.status, 'error');
      const shared = await caseControl(INDEPENDENCE, 'shared site not declared in the overlap record');
      assert.deepEqual(
        problemAt(shared, '/validation/testSets/0/overlap/sitesSharedWithTraining').observed,
        [],
      );
      const same = await caseControl(INDEPENDENCE, 'test sites are all training sites');
      assert.deepEqual(problemAt(same, '/validation/testSets/0/sites').observed, ['site-a', 'site-b']);
    });

    test('subgroup reporting names the missing attribute and the incomplete group', async () => {
      const race = await caseControl(SUBGROUPS, 'no race results');
      assert.deepEqual(problemAt(race, '/validation/subgroups').observed, {
        attribute: 'race',
        reported: false,
      });
      const noCi = await caseControl(SUBGROUPS, 'a large group without a confidence interval');
      assert.deepEqual(problemAt(noCi, '/validation/subgroups/2/metrics').observed, {
        sensitivity: { value: 0.934 },
      });
      const noN = await caseControl(SUBGROUPS, 'a group without its size');
      assert.equal(problemAt(noN, '/validation/subgroups/7/n').status, 'error');
    });

    test('a small group is recorded as insufficient and passes', async () => {
      const small = await caseControl(SUBGROUPS, 'a small group reported as insufficient, without estimates');
      const item = small.evidence.find((entry) => entry.path === '/validation/subgroups/15/n');
      assert.equal(item?.observed, 12);
      assert.equal(item?.status, 'pass');
      assert.match(item?.check ?? '', /insufficient/);
    });

    test('the model card: a missing element is missing evidence, an inconsistency a failure', async () => {
      const limitations = await caseControl(MODEL_CARD, 'no limitations');
      assert.equal(limitations.status, 'error');
      assert.equal(problemAt(limitations, '/modelCard/limitations').status, 'error');
      const version = await caseControl(MODEL_CARD, 'card describes the previous version');
      assert.equal(problemAt(version, '/modelCard/version').observed, '2.4.1');
      const metric = await caseControl(
        MODEL_CARD,
        'card sensitivity differs from validation (0.93 vs 0.925)',
      );
      assert.deepEqual(problemAt(metric, '/modelCard/evaluation/metrics/sensitivity').observed, {
        value: 0.93,
        ci95: [0.905, 0.942],
      });
      const noCi = await caseControl(MODEL_CARD, 'card metrics without confidence intervals');
      assert.equal(noCi.status, 'fail');
      assert.ok(problems(noCi).some((item) => item.path === '/modelCard/evaluation/metrics/auc'));
    });

    test('monitoring points at the cadence, the owner and the unmonitored workload', async () => {
      const cadence = await caseControl(MONITORING, 'reviewed every 31 days');
      assert.equal(problemAt(cadence, '/deployment/monitoring/performance/cadence').observed, 'P31D');
      const owner = await caseControl(MONITORING, 'owned by a team');
      assert.equal(problemAt(owner, '/deployment/monitoring/performance/owner').observed, 'MLOps Team');
      const selector = await caseControl(MONITORING, 'ServiceMonitor selects another app');
      assert.deepEqual(problemAt(selector, '/kubernetesManifests/2').observed, []);
      const scraped = await caseControl(MONITORING, 'PodMonitor instead of a ServiceMonitor');
      const item = scraped.evidence.find((entry) => entry.path === '/kubernetesManifests/2');
      assert.deepEqual(item?.observed, ['PodMonitor/chest-xray-triage-pods']);
    });
  });

  describe('policy data', () => {
    test('minSubgroupN is read from the FDA pack, and the pack defines none of the keys others own', () => {
      const own = parseYaml(readFileSync(path.join(POLICY_DIR, 'data', 'gmlp.yaml'), 'utf8')) as {
        data: Record<string, unknown>;
      };
      for (const key of [
        'minSubgroupN',
        'minScore',
        'waivers',
        'signing',
        'authorizedPccps',
        'sequesteredTestSets',
      ])
        assert.ok(!(key in own.data), key);
      assert.deepEqual(own.data.requiredSubgroupAttributes, [
        'sex',
        'ageBand',
        'race',
        'ethnicity',
        'manufacturer',
        'site',
      ]);
    });

    test('groups below policy.minSubgroupN are insufficient; without it the fallback applies', () => {
      const strict = subgroupsWith({ minSubgroupN: 500 });
      assert.equal(strict.status, 'pass', explain(strict));
      assert.equal(strict.evidence.find((item) => item.path === '/validation/subgroups/2/n')?.observed, 420);
      const fallback = subgroupsWith({ subgroupMinNFallback: 950 }, ['minSubgroupN']);
      assert.equal(fallback.status, 'pass', explain(fallback));
      assert.equal(
        fallback.evidence.find((item) => item.path === '/validation/subgroups/0/n')?.observed,
        930,
      );
      const shipped = subgroupsWith({});
      assert.equal(
        shipped.evidence.find((item) => item.path === '/validation/subgroups/0')?.observed,
        'reported',
      );
    });
  });
});
