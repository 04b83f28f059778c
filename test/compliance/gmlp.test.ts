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
import type { ComplianceCase } from '../../bench/compliance/cases/types.js';
import type { ControlResult, EvidenceItem } from '../../domain/compliance.js';
import { evaluateManifest } from '../../activities/compliance/engine.js';
import type { PolicyBundle } from '../../activities/compliance/policy.js';
import {
  compliantManifest,
  defaultContext,
  evaluate,
  explain,
  POLICY_DIR,
  rebindApprovals,
  runCase,
  shippedBundle,
} from './harness.js';

const CONTROLS: [string, 'blocker' | 'major'][] = [
  [INDEPENDENCE, 'blocker'],
  [SUBGROUPS, 'major'],
  [MODEL_CARD, 'major'],
  [MONITORING, 'major'],
];

type CaseResult = Awaited<ReturnType<typeof runCase>>;
const results = new Map<ComplianceCase, Promise<CaseResult>>();
/** Runs a case through the whole gate once (the evidence tests reuse the result). */
function run(entry: ComplianceCase): Promise<CaseResult> {
  let result = results.get(entry);
  if (!result) {
    result = runCase(entry);
    results.set(entry, result);
  }
  return result;
}

async function controlOf(control: string, name: string): Promise<ControlResult> {
  const found = cases.find((entry) => entry.control === control && entry.name === name);
  if (!found) throw new Error(`no case '${name}' for ${control}`);
  return (await run(found)).control;
}

function problems(control: ControlResult): EvidenceItem[] {
  return control.evidence.filter((item) => item.status !== 'pass');
}

/** The one non-passing item at a pointer. */
function problemAt(control: ControlResult, pointer: string): EvidenceItem {
  const found = problems(control).filter((item) => item.path === pointer);
  assert.equal(found.length, 1, `${explain(control)}: expected one problem at ${pointer}`);
  return found[0]!;
}

/** The subgroup-reporting control on the compliant example, with some policy data replaced. */
function subgroupsWith(data: Record<string, unknown>, drop: string[] = []): ControlResult {
  const shipped = shippedBundle();
  const merged: Record<string, unknown> = { ...shipped.data, ...data };
  for (const key of drop) delete merged[key];
  const bundle: PolicyBundle = {
    ...shipped,
    controls: shipped.controls.filter((control) => control.definition.id === SUBGROUPS),
    data: merged,
  };
  const manifest = compliantManifest();
  rebindApprovals(manifest);
  const context = defaultContext();
  const report = evaluateManifest(manifest, bundle, {
    now: context.now,
    signature: null,
    history: context.history,
  });
  return report.controls[0]!;
}

describe('GMLP pack', () => {
  test('defines its four controls with the catalog severities', () => {
    const bundle = shippedBundle();
    const own = bundle.controls.filter((control) => control.pack === 'gmlp');
    assert.deepEqual(
      own.map((control) => [control.definition.id, control.severity]),
      CONTROLS,
    );
    assert.equal(bundle.packs.find((pack) => pack.id === 'gmlp')?.title, 'Good Machine Learning Practice');
    for (const control of own)
      assert.equal(control.notApplicable, undefined, `${control.definition.id} is never N/A`);
  });

  test('the compliant example passes every GMLP control', () => {
    const manifest = compliantManifest();
    rebindApprovals(manifest);
    const report = evaluate(manifest);
    for (const [id] of CONTROLS) {
      const control = report.controls.find((result) => result.id === id);
      assert.ok(control, id);
      assert.equal(control.status, 'pass', explain(control));
    }
  });

  for (const [id] of CONTROLS) {
    describe(id, () => {
      const own = cases.filter((entry) => entry.control === id);
      test('has at least 10 violations and 2 near misses, with unique names', () => {
        assert.ok(own.filter((entry) => entry.kind === 'violation').length >= 10);
        assert.ok(own.filter((entry) => entry.kind === 'near-miss').length >= 2);
        assert.equal(new Set(own.map((entry) => entry.name)).size, own.length);
      });
      test('every violation fails or errors, every near miss passes', async () => {
        const wrong: string[] = [];
        for (const entry of own) {
          const { control } = await run(entry);
          const ok =
            entry.kind === 'violation'
              ? control.status === 'fail' || control.status === 'error'
              : control.status === 'pass';
          if (!ok) wrong.push(`${entry.kind} '${entry.name}': ${explain(control)}`);
        }
        assert.deepEqual(wrong, []);
      });
    });
  }

  describe('evidence', () => {
    test('test independence points at the overlap count, the attester and the undeclared shared site', async () => {
      const patients = await controlOf(INDEPENDENCE, 'one test patient is also in training');
      assert.equal(problemAt(patients, '/validation/testSets/0/overlap/patients').observed, 1);
      const attester = await controlOf(INDEPENDENCE, 'overlap counts typed in by a person');
      assert.equal(problemAt(attester, '/validation/testSets/0/overlap/attestedBy').observed, 'oidc|u-1001');
      const unattested = await controlOf(INDEPENDENCE, 'overlap counts not attested');
      assert.equal(unattested.status, 'error');
      const shared = await controlOf(INDEPENDENCE, 'shared site not declared in the overlap record');
      assert.deepEqual(
        problemAt(shared, '/validation/testSets/0/overlap/sitesSharedWithTraining').observed,
        [],
      );
      const same = await controlOf(INDEPENDENCE, 'test sites are all training sites');
      assert.deepEqual(problemAt(same, '/validation/testSets/0/sites').observed, ['site-a', 'site-b']);
    });

    test('subgroup reporting names the missing attribute and the incomplete group', async () => {
      const race = await controlOf(SUBGROUPS, 'no race results');
      assert.deepEqual(problemAt(race, '/validation/subgroups').observed, {
        attribute: 'race',
        reported: false,
      });
      const noCi = await controlOf(SUBGROUPS, 'a large group without a confidence interval');
      assert.deepEqual(problemAt(noCi, '/validation/subgroups/2/metrics').observed, {
        sensitivity: { value: 0.934 },
      });
      const noN = await controlOf(SUBGROUPS, 'a group without its size');
      assert.equal(problemAt(noN, '/validation/subgroups/7/n').status, 'error');
    });

    test('a small group is recorded as insufficient and passes', async () => {
      const small = await controlOf(SUBGROUPS, 'a small group reported as insufficient, without estimates');
      const item = small.evidence.find((entry) => entry.path === '/validation/subgroups/15/n');
      assert.equal(item?.observed, 12);
      assert.equal(item?.status, 'pass');
      assert.match(item?.check ?? '', /insufficient/);
    });

    test('the model card: a missing element is missing evidence, an inconsistency a failure', async () => {
      const limitations = await controlOf(MODEL_CARD, 'no limitations');
      assert.equal(limitations.status, 'error');
      assert.equal(problemAt(limitations, '/modelCard/limitations').status, 'error');
      const version = await controlOf(MODEL_CARD, 'card describes the previous version');
      assert.equal(problemAt(version, '/modelCard/version').observed, '2.4.1');
      const metric = await controlOf(MODEL_CARD, 'card sensitivity differs from validation (0.93 vs 0.925)');
      assert.deepEqual(problemAt(metric, '/modelCard/evaluation/metrics/sensitivity').observed, {
        value: 0.93,
        ci95: [0.905, 0.942],
      });
      const noCi = await controlOf(MODEL_CARD, 'card metrics without confidence intervals');
      assert.equal(noCi.status, 'fail');
      assert.ok(problems(noCi).some((item) => item.path === '/modelCard/evaluation/metrics/auc'));
    });

    test('monitoring points at the cadence, the owner and the unmonitored workload', async () => {
      const cadence = await controlOf(MONITORING, 'reviewed every 31 days');
      assert.equal(problemAt(cadence, '/deployment/monitoring/performance/cadence').observed, 'P31D');
      const owner = await controlOf(MONITORING, 'owned by a team');
      assert.equal(problemAt(owner, '/deployment/monitoring/performance/owner').observed, 'MLOps Team');
      const selector = await controlOf(MONITORING, 'ServiceMonitor selects another app');
      assert.deepEqual(problemAt(selector, '/kubernetesManifests/2').observed, []);
      const scraped = await controlOf(MONITORING, 'PodMonitor instead of a ServiceMonitor');
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
