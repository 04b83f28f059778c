// CloudRolloutWorkflow: the canary of one release in one cloud. It runs on that cloud's task queue,
// so its cloud activities execute in the worker that holds that cloud's credentials; judging runs
// on the control queue. On a failing verdict it restores its own cloud at once and fails, and the
// parent then restores every other cloud it touched.
import {
  ApplicationFailure,
  condition,
  isCancellation,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { CloudActivities } from '../activities/cloud/activities.js';
import type { DeploymentState } from '../activities/cloud/driver.js';
import type { ControlActivities } from '../activities/control.js';
import { FailureCode, innermostMessage } from '../domain/errors.js';
import type { CanarySettings, CloudScaling, FaultPlan } from '../domain/release.js';
import type { StepVerdict } from '../domain/status.js';
import { cloudOptions, controlOptions } from './activity-options.js';
import { cloudProgressSignal, setPausedSignal, type CloudProgress } from './messages.js';

export interface CloudRolloutInput {
  releaseId: string;
  parentWorkflowId: string;
  cloud: string;
  model: { name: string; version: string; image: string };
  canary: CanarySettings;
  /** Predictive scaling of this cloud; absent: its capacity is left as it is. */
  scaling?: CloudScaling;
  activityTimeoutSeconds: number;
  cloudStepAttempts?: number;
  controlTaskQueue: string;
  paused: boolean;
  faultPlan?: FaultPlan;
}

export interface CloudRolloutResult {
  cloud: string;
  steps: StepVerdict[];
}

export async function CloudRolloutWorkflow(input: CloudRolloutInput): Promise<CloudRolloutResult> {
  // The cloud's own task queue: this workflow runs there.
  const cloud = proxyActivities<CloudActivities>(
    cloudOptions(undefined, input.activityTimeoutSeconds, 'bounded', input.cloudStepAttempts),
  );
  const control = proxyActivities<ControlActivities>(controlOptions(input.controlTaskQueue));

  let paused = input.paused;
  setHandler(setPausedSignal, (value) => {
    paused = value;
  });
  const parent = getExternalWorkflowHandle(input.parentWorkflowId);
  // Progress reports used to be awaited one by one: each was a round trip to the server on the
  // canary's critical path (about 2 s of a release's 6 s in bench:orchestration). They now go out
  // with the next command and are awaited together before the rollout ends; the patch keeps
  // rollouts that started under the old code replaying as they ran.
  const batchReports = patched('progress-reports-not-awaited');
  const pendingReports: Promise<void>[] = [];
  let reportSeq = 0;
  const report = async (progress: Omit<CloudProgress, 'cloud'>): Promise<void> => {
    const sent = parent.signal(cloudProgressSignal, { cloud: input.cloud, seq: ++reportSeq, ...progress });
    if (!batchReports) return sent;
    // Observed below; this only keeps a report that fails before then from being unhandled.
    sent.catch(() => undefined);
    pendingReports.push(sent);
  };
  const reportsDelivered = () => Promise.all(pendingReports);
  const target = { releaseId: input.releaseId, model: input.model, faultPlan: input.faultPlan };

  // Desired state changed by hand in the cloud is restored by the driver and goes on the record here.
  const recordCorrections = async (state: DeploymentState, step: number | null, weight: number) => {
    if (!state.corrections?.length) return;
    await report({
      state: step === null ? 'deploying' : 'canary',
      step,
      weight,
      event: `restored desired state changed outside medrelease: ${state.corrections.join('; ')}`,
    });
  };

  /**
   * Predictive scaling: the capacity for the forecast load is in place before traffic moves. It is an
   * optimisation: if the history, the forecast or the change fails, the capacity is left as it is and
   * the timeline says why; the canary goes on.
   */
  const scaleAhead = async (step: number, weight: number, previousWeight: number): Promise<void> => {
    const scaling = input.scaling!;
    try {
      const history = await cloud.loadHistory({
        releaseId: input.releaseId,
        model: { name: input.model.name },
        samples: scaling.historySamples,
        stepSeconds: scaling.stepSeconds,
      });
      const capacity = await control.planCapacity({
        releaseId: input.releaseId,
        cloud: input.cloud,
        history,
        scaling,
      });
      if (!capacity) {
        await report({
          state: step === 0 ? 'deploying' : 'canary',
          step,
          weight: previousWeight,
          event: `capacity left as it is: no request-rate history (${history.source}${history.error ? `: ${history.error}` : ''})`,
        });
      } else {
        await recordCorrections(
          await cloud.scale({ ...target, step, replicas: capacity.replicas }),
          step,
          previousWeight,
        );
        await report({
          state: step === 0 ? 'deploying' : 'canary',
          step,
          weight: previousWeight,
          capacity: { step, ...capacity, at: new Date().toISOString() },
          event:
            `capacity set to ${capacity.replicas} replicas ahead of ${weight}%: ` +
            (capacity.fallback
              ? `too little request-rate history to forecast (${history.source}${history.error ? `: ${history.error}` : ''}), sized for the recent peak ${capacity.forecastPeak.toFixed(1)} req/s`
              : `forecast peak ${capacity.forecastPeak.toFixed(1)} req/s over the next ${scaling.horizonMinutes} min (the reactive autoscaler would set ${capacity.reactiveReplicas})`),
        });
      }
    } catch (error) {
      if (isCancellation(error)) throw error;
      await report({
        state: step === 0 ? 'deploying' : 'canary',
        step,
        weight: previousWeight,
        event: `capacity left as it is: predictive scaling failed (${innermostMessage(error)})`,
      });
    }
  };

  await report({ state: 'deploying', step: null, weight: 0, event: 'canary deployment started' });
  await recordCorrections(await cloud.deployCanary(target), null, 0);

  const steps: StepVerdict[] = [];
  for (const [step, weight] of input.canary.steps.entries()) {
    if (paused) {
      await report({ state: 'canary', step, weight: steps.at(-1)?.weight ?? 0, event: 'paused before step' });
      await condition(() => !paused);
    }
    // Predictive scaling: the capacity for the forecast load is in place before traffic moves.
    if (input.scaling && patched('predictive-scaling'))
      await scaleAhead(step, weight, steps.at(-1)?.weight ?? 0);
    await recordCorrections(await cloud.setCanaryWeight({ ...target, step, weight }), step, weight);
    await report({ state: 'canary', step, weight, event: `canary weight set to ${weight}%` });
    const interval = input.canary.analysisIntervalSeconds;
    // Sequential analysis: the interval is looked at `looks` times; from the earliest look on, a step
    // concludes as soon as the evidence is decisive, and otherwise at the interval's end as before.
    // (Rollouts whose history was recorded without looks replay as one look per interval.)
    const looks =
      interval > 0 && (input.canary.looks ?? 1) > 1 && patched('sequential-looks') ? input.canary.looks! : 1;
    const collect = (recheck: number, look: number) =>
      cloud.collectTelemetry({
        ...target,
        step,
        weight,
        windowSeconds: (interval * look) / looks,
        ...(recheck > 0 ? { recheck } : {}),
        ...(looks > 1 ? { look, looks } : {}),
        ...(input.canary.judge ? { metrics: input.canary.judge.metrics.map((metric) => metric.name) } : {}),
        ...(input.canary.telemetry ? { telemetry: input.canary.telemetry } : {}),
      });
    const analyse = async (recheck: number): Promise<StepVerdict> => {
      const earliest = Math.ceil((input.canary.earliestLook ?? 1) * looks - 1e-9);
      for (let look = 1; look < looks; look++) {
        await sleep((interval * 1000) / looks);
        if (look < earliest) continue;
        const early = await control.lookAtCanary({
          releaseId: input.releaseId,
          window: await collect(recheck, look),
          settings: input.canary,
          look,
          looks,
        });
        if (early.verdict) return early.verdict;
      }
      // A zero interval (tests, benchmarks) still costs a timer round trip on the server: skip it.
      if (interval > 0) await sleep((interval * 1000) / looks);
      const window = await collect(recheck, looks);
      return control.judgeCanary({ releaseId: input.releaseId, window, settings: input.canary });
    };

    // A marginal verdict holds the weight and re-checks the step on a fresh window, a bounded number of
    // times; still marginal after that, the step fails: a canary that cannot show it is fine is not.
    // (Verdicts of releases judged before marginal existed have no decision and never re-check.)
    const maxRechecks = input.canary.marginalRechecks ?? DEFAULT_MARGINAL_RECHECKS;
    let stepVerdict = await analyse(0);
    let summary = summaryOf(stepVerdict);
    let undecided = false;
    for (let recheck = 1; stepVerdict.decision === 'marginal'; recheck++) {
      steps.push(stepVerdict);
      if (recheck > maxRechecks) {
        undecided = true;
        break;
      }
      await report({
        state: 'canary',
        step,
        weight,
        verdict: stepVerdict,
        event: `step ${step + 1} marginal at ${weight}%, holding for re-check ${recheck} of ${maxRechecks}: ${summary}`,
      });
      stepVerdict = await analyse(recheck);
      summary = summaryOf(stepVerdict);
    }
    if (!undecided) steps.push(stepVerdict);
    if (undecided || !stepVerdict.passed) {
      const because = undecided
        ? `still marginal after ${maxRechecks} re-check${maxRechecks === 1 ? '' : 's'}: ${summary}`
        : summary;
      await report({
        state: 'failed',
        step,
        weight,
        verdict: stepVerdict,
        event: `step ${step + 1} failed: ${because}`,
      });
      await cloud.rollback({ ...target, reason: `canary verdict failed at ${weight}%` });
      await report({
        state: 'rolled-back',
        step,
        weight: 0,
        verdict: stepVerdict,
        event: 'cloud restored to the stable version',
      });
      await reportsDelivered();
      throw ApplicationFailure.nonRetryable(
        `canary in ${input.cloud} failed at ${weight}%: ${because}`,
        FailureCode.CanaryVerdictFailed,
        { cloud: input.cloud, verdict: stepVerdict },
      );
    }
    await report({
      state: 'canary',
      step,
      weight,
      verdict: stepVerdict,
      event: `step ${step + 1} passed at ${weight}%${stepVerdict.early ? ` early, at look ${stepVerdict.early.look} of ${stepVerdict.early.looks}: ${stepVerdict.early.reason}` : ''}`,
    });
  }
  await report({
    state: 'passed',
    step: input.canary.steps.length - 1,
    weight: 100,
    event: 'canary passed every step',
  });
  await reportsDelivered();
  return { cloud: input.cloud, steps };
}

/** Re-checks of a marginal step for releases whose input predates the setting. */
const DEFAULT_MARGINAL_RECHECKS = 2;

function summaryOf(verdict: StepVerdict): string {
  return verdict.verdicts.map((entry) => entry.summary).join('; ');
}

/** Deterministic child id: a retried parent finds its own children again. */
export function cloudRolloutWorkflowId(releaseId: string, cloudName: string): string {
  return `${releaseId}--${cloudName}`;
}
