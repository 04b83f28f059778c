// Staging: deploy the new version to the staging target, smoke-test it and evaluate it on its
// reference data set. The measured metrics feed the compliance gate and the sign-off.
import type { FaultPlan } from '../domain/release.js';
import type { StagingReport } from '../domain/status.js';
import { seededRandom } from './telemetry/simulated.js';

export interface StagingTarget {
  readonly kind: 'simulated';
  stageAndEvaluate(request: {
    releaseId: string;
    model: { name: string; version: string; image: string };
    faultPlan?: FaultPlan;
  }): Promise<StagingReport>;
}

/**
 * SIMULATION of a staging cluster and evaluation job: reproducible metrics per model version, close
 * to a cleared baseline, or clearly below it when the fault plan asks for a staging regression.
 */
export class SimulatedStagingTarget implements StagingTarget {
  readonly kind = 'simulated' as const;

  stageAndEvaluate(request: Parameters<StagingTarget['stageAndEvaluate']>[0]): Promise<StagingReport> {
    const random = seededRandom(`${request.model.name}@${request.model.version}`);
    const regression = request.faultPlan?.stagingRegression ? 0.08 : 0;
    const baseline = { auroc: 0.93, sensitivity: 0.9, specificity: 0.88 };
    const metrics = {
      auroc: round(baseline.auroc + (random() - 0.3) * 0.02 - regression),
      sensitivity: round(baseline.sensitivity + (random() - 0.3) * 0.03 - regression),
      specificity: round(baseline.specificity + (random() - 0.3) * 0.03 - regression / 2),
      evaluatedCases: 1820,
    };
    return Promise.resolve({
      deployedAt: new Date().toISOString(),
      smokeTestPassed: true,
      metrics,
      baseline,
    });
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
