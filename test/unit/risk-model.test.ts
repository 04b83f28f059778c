// The release risk model: its documented prior, its refit from history (towards what the history
// shows, reproducibly, never on too little), its reasons, and the features and history it reads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '../../activities/telemetry/simulated.js';
import type { ComplianceReport } from '../../domain/compliance.js';
import {
  riskFeatures,
  trafficLoad,
  validationDrop,
  versionChange,
  complianceFindings,
} from '../../ml/risk/features.js';
import { ReleaseOutcomes, type HistoryRecord } from '../../ml/risk/history.js';
import {
  MIN_TRAINING_RELEASES,
  PRIOR,
  REFERENCE,
  RiskModel,
  featureProblems,
  type RiskExample,
  type RiskFeatures,
} from '../../ml/risk/model.js';
import { RiskService } from '../../ml/risk/service.js';

const typical: RiskFeatures = { ...REFERENCE };

/** A seeded history where only traffic predicts a bad release (the prior thinks it matters little). */
function trafficHistory(count: number, seed: string): RiskExample[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const trafficLoad = 0.5 + random() * 2.5;
    const bad = random() < (trafficLoad > 2 ? 0.6 : 0.05);
    return { features: { ...typical, trafficLoad, versionChange: random() < 0.5 ? 0 : 1 }, bad };
  });
}

describe('risk model', () => {
  test('the prior gives a typical release its documented base rate, with no reasons', () => {
    const prediction = RiskModel.prior().predict(typical);
    assert.equal(prediction.probability, Math.round((1 / (1 + Math.exp(-PRIOR.intercept))) * 1e6) / 1e6);
    assert.ok(Math.abs(prediction.probability - 0.069) < 0.001);
    assert.deepEqual(prediction.reasons, []);
    assert.equal(prediction.model.source, 'prior');
  });

  test('reasons are the contributions, largest first, with the measured values', () => {
    const prediction = RiskModel.prior().predict({
      ...typical,
      validationDrop: 0.05,
      versionChange: 0.5,
      trafficLoad: 0.5,
    });
    assert.deepEqual(
      prediction.reasons.map((reason) => [reason.feature, reason.contribution]),
      [
        ['validationDrop', 2],
        ['versionChange', 0.6],
        ['trafficLoad', -0.2],
      ],
    );
    assert.match(
      prediction.reasons[0]!.text,
      /a staging metric 5\.0 % below its cleared baseline \(\+2\.00 logit\)/,
    );
    assert.match(prediction.reasons[2]!.text, /traffic at 0\.50× its typical level \(−0\.20 logit\)/);
    const logit = PRIOR.intercept + 2 + 0.6 - 0.2;
    assert.ok(Math.abs(prediction.probability - 1 / (1 + Math.exp(-logit))) < 1e-6);
  });

  test('features out of range are refused, naming the feature and its range', () => {
    assert.deepEqual(featureProblems({ ...typical, validationDrop: -0.1, trafficLoad: Number.NaN }), [
      'validationDrop: must be a number in [0, 1] (got -0.1)',
      'trafficLoad: must be a number in [0, 10] (got NaN)',
    ]);
    assert.throws(
      () => RiskModel.prior().predict({ ...typical, versionChange: 2 }),
      /versionChange: must be a number in \[0, 1\]/,
    );
  });

  test('refitting on history moves the model towards what the history shows, reproducibly', async () => {
    const history = trafficHistory(300, 'traffic');
    const model = await RiskModel.train(history);
    assert.equal(model.info.source, 'trained');
    assert.equal(model.info.trainedOn, 300);
    assert.ok(
      model.info.weights.trafficLoad > PRIOR.weights.trafficLoad + 0.5,
      `traffic weight ${model.info.weights.trafficLoad}`,
    );
    const busy = { ...typical, trafficLoad: 2.8 };
    assert.ok(model.predict(busy).probability > RiskModel.prior().predict(busy).probability + 0.1);
    // Features the history holds no evidence about stay near the prior.
    assert.ok(Math.abs(model.info.weights.complianceDeficit - PRIOR.weights.complianceDeficit) < 0.5);
    const again = await RiskModel.train(history);
    assert.equal(again.info.digest, model.info.digest);
  });

  test('too little history, or only one kind of outcome, keeps the prior', async () => {
    const few = trafficHistory(MIN_TRAINING_RELEASES - 1, 'few');
    assert.equal((await RiskModel.train(few)).info.source, 'prior');
    const allGood = trafficHistory(50, 'good').map((example) => ({ ...example, bad: false }));
    assert.equal((await RiskModel.train(allGood)).info.source, 'prior');
  });

  test('a model rebuilt from recorded coefficients predicts the same', async () => {
    const model = await RiskModel.train(trafficHistory(100, 'rebuild'));
    const features = { ...typical, trafficLoad: 2.2, artifactChanges: 2 };
    assert.deepEqual(RiskModel.fromInfo(model.info).predict(features), model.predict(features));
  });
});

describe('risk features', () => {
  test('validation drop is the worst relative drop below the baseline', () => {
    assert.equal(
      validationDrop({
        deployedAt: '',
        smokeTestPassed: true,
        metrics: { auroc: 0.9, sensitivity: 0.95, evaluatedCases: 100 },
        baseline: { auroc: 0.93, sensitivity: 0.9 },
      }),
      0.0323,
    );
    assert.equal(validationDrop(undefined), 0);
  });

  test('version change: major and first releases 1, minor 0.5, patch 0', () => {
    assert.equal(versionChange(null, '1.0.0'), 1);
    assert.equal(versionChange('1.4.2', '2.0.0'), 1);
    assert.equal(versionChange('1.4.2', '1.5.0'), 0.5);
    assert.equal(versionChange('1.4.2', '1.4.3-rc.1'), 0);
  });

  test('traffic load is the busiest cloud’s recent rate over its median', () => {
    assert.equal(trafficLoad({ aws: [10, 10, 10, 10, 20, 20, 20], gcp: [5, 5, 5, 5, 5, 5] }), 2);
    assert.equal(trafficLoad({ aws: [] }), 1);
  });

  test('compliance findings count failed minors and valid waivers, not passes or failed majors', () => {
    const control = (status: string, severity: string, waived = false) =>
      ({
        status,
        severity,
        ...(waived ? { waiver: { valid: true } } : {}),
      }) as ComplianceReport['controls'][number];
    const report = {
      score: 92,
      controls: [
        control('fail', 'minor'),
        control('error', 'minor'),
        control('pass', 'major'),
        control('fail', 'major', true),
      ],
    } as unknown as ComplianceReport;
    assert.equal(complianceFindings(report), 3);
    const features = riskFeatures({
      version: '2.0.0',
      compliance: report,
      deployed: { version: '1.3.0', inputs: { infra: 'a', sbom: 'b', riskFile: '3' } },
      inputs: { infra: 'a', sbom: 'c', riskFile: '4', labeling: 'new' },
      modelFailureRate: 0.2,
      cloudFailureRate: 0.1,
      traffic: {},
    });
    assert.deepEqual(features, {
      validationDrop: 0,
      versionChange: 1,
      artifactChanges: 2,
      complianceDeficit: 0.08,
      complianceFindings: 3,
      modelFailureRate: 0.2,
      cloudFailureRate: 0.1,
      trafficLoad: 1,
    });
  });
});

describe('release history from the audit trail', () => {
  let seq = 0;
  const record = (
    releaseId: string,
    type: string,
    detail: Record<string, unknown>,
    at: string,
  ): HistoryRecord => ({
    seq: ++seq,
    releaseId,
    type,
    at,
    detail,
  });
  const release = (
    id: string,
    model: string,
    clouds: string[],
    end: HistoryRecord['type'],
    detail = {},
    at = '2026-11-28T10:00:00Z',
  ) => [
    record(id, 'release.created', { model: { name: model }, clouds }, at),
    record(id, 'risk.assessed', { features: { ...typical, trafficLoad: 1.5 } }, at),
    record(id, end, detail, at),
  ];

  test('canary failures are bad, completions good, other endings teach nothing', () => {
    const outcomes = new ReleaseOutcomes();
    outcomes.apply([
      ...release('r1', 'cxr', ['aws', 'gcp'], 'release.completed', {}, '2026-11-28T10:00:00Z'),
      ...release(
        'r2',
        'cxr',
        ['aws', 'gcp'],
        'release.rolled-back',
        { code: 'CANARY_VERDICT_FAILED', message: 'canary in gcp failed at 5%: latency' },
        '2026-11-28T11:00:00Z',
      ),
      ...release(
        'r3',
        'cxr',
        ['aws'],
        'release.rejected',
        { code: 'SIGNOFF_REJECTED' },
        '2026-11-28T12:00:00Z',
      ),
      ...release('r4', 'other', ['aws'], 'release.rolled-back', { code: 'ABORTED' }, '2026-11-28T13:00:00Z'),
      ...release(
        'r5',
        'other',
        ['aws', 'azure'],
        'release.failed',
        {
          code: 'RESTORE_FAILED',
          message: 'canary in azure failed at 5%: error_rate; then aws could not be restored: 403',
        },
        '2026-11-28T14:00:00Z',
      ),
      ...release(
        'r6',
        'other',
        ['aws'],
        'release.failed',
        { code: 'RESTORE_FAILED', message: 'aborted by op-dave: test; then aws could not be restored: 403' },
        '2026-11-28T15:00:00Z',
      ),
    ]);
    assert.deepEqual(
      outcomes.outcomes().map((entry) => [entry.releaseId, entry.bad, entry.failedCloud]),
      [
        ['r1', false, undefined],
        ['r2', true, 'gcp'],
        ['r5', true, 'azure'],
      ],
    );
    assert.equal(outcomes.examples().length, 3);
    assert.equal(outcomes.examples()[1]!.features.trafficLoad, 1.5);
    // Beta(1, 9) smoothing: (1 + failures) / (10 + releases).
    assert.equal(outcomes.modelFailureRate('cxr'), 2 / 12);
    assert.equal(outcomes.modelFailureRate('never-released'), 0.1);
    assert.equal(outcomes.cloudFailureRate('gcp'), 2 / 12);
    assert.equal(outcomes.cloudFailureRate('aws'), 1 / 13);
    assert.equal(outcomes.cloudFailureRate('azure'), 2 / 11);
    // Applying the same records again changes nothing.
    const before = outcomes.seq;
    outcomes.apply(
      [record('r1', 'release.completed', {}, '2026-11-28T14:00:00Z')].map((entry) => ({ ...entry, seq: 1 })),
    );
    assert.equal(outcomes.seq, before);
  });

  test('the service refits from the trail once enough outcomes have arrived', async () => {
    const records: HistoryRecord[] = [];
    const service = new RiskService({
      readRecords: (afterSeq, limit) => records.filter((entry) => entry.seq > afterSeq).slice(0, limit),
      refitEvery: 5,
    });
    const request = {
      model: 'cxr',
      version: '2.0.0',
      clouds: ['aws'],
      deployed: { version: '1.9.0', inputs: {} },
      inputs: {},
      traffic: {},
    };
    assert.equal((await service.assess(request)).model.source, 'prior');
    const random = seededRandom('service');
    for (let index = 0; index < 40; index++) {
      const bad = random() < 0.3;
      records.push(
        ...release(
          `s${index}`,
          'cxr',
          ['aws'],
          bad ? 'release.rolled-back' : 'release.completed',
          bad ? { code: 'CANARY_VERDICT_FAILED', message: 'canary in aws failed' } : {},
          new Date(Date.UTC(2026, 10, 28, 0, index)).toISOString(),
        ),
      );
    }
    const prediction = await service.assess(request);
    assert.equal(prediction.model.source, 'trained');
    assert.equal(prediction.model.trainedOn, 40);
    // The model's own failure rate comes from the same trail.
    assert.ok(prediction.features.modelFailureRate > 0.1);
  });
});
