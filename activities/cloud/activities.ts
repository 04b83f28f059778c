// Cloud activities, run by the cloud worker of one cloud (task queue `cloud-<name>`), which holds
// only that cloud's credentials. Each derives a deterministic operation id from the release and
// the step, so the driver can make every change exactly once.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { CloudOperation as OperationName, FaultPlan } from '../../domain/release.js';
import type { TelemetryWindow } from '../../domain/status.js';
import type { TelemetrySource } from '../telemetry/source.js';
import { FailureCode } from '../../domain/errors.js';
import { CloudConflictError, type CloudDriver, type DeploymentState } from './driver.js';

export interface CloudDependencies {
  driver: CloudDriver;
  telemetry: TelemetrySource;
}

interface Target {
  releaseId: string;
  model: { name: string; version: string; image: string };
  faultPlan?: FaultPlan;
}

export function createCloudActivities({ driver, telemetry }: CloudDependencies) {
  /** Applies the fault plan's injected driver failures (simulated clouds only: the API refuses fault plans otherwise). */
  const injectFaults = async (operation: OperationName, target: Target): Promise<void> => {
    if (driver.kind !== 'simulated') return;
    const fault = target.faultPlan?.driver?.find(
      (entry) => entry.cloud === driver.cloud && entry.operation === operation,
    );
    if (!fault) return;
    if (fault.latencyMs) await new Promise((resolve) => setTimeout(resolve, fault.latencyMs));
    if (Context.current().info.attempt <= fault.failures) {
      throw ApplicationFailure.retryable(
        `injected fault: ${driver.cloud} ${operation} failed (attempt ${Context.current().info.attempt})`,
        'INJECTED_FAULT',
      );
    }
  };
  /** A conflict is a business failure: retrying cannot fix it, so it fails the activity at once. */
  const classify = async <T>(change: Promise<T>): Promise<T> => {
    try {
      return await change;
    } catch (error) {
      if (error instanceof CloudConflictError) {
        throw ApplicationFailure.nonRetryable(error.message, FailureCode.CloudConflict);
      }
      throw error;
    }
  };
  const operation = (target: Target, suffix: string) => ({
    operationId: `${target.releaseId}:${driver.cloud}:${suffix}`,
    releaseId: target.releaseId,
    model: target.model,
  });

  return {
    async deployCanary(target: Target): Promise<DeploymentState> {
      await injectFaults('deployCanary', target);
      return classify(driver.deployCanary(operation(target, 'deploy-canary')));
    },

    async setCanaryWeight(target: Target & { step: number; weight: number }): Promise<DeploymentState> {
      await injectFaults('setCanaryWeight', target);
      return classify(
        driver.setCanaryWeight({
          ...operation(target, `step-${target.step}-weight-${target.weight}`),
          weight: target.weight,
        }),
      );
    },

    async collectTelemetry(
      target: Target & { step: number; weight: number; windowSeconds: number },
    ): Promise<TelemetryWindow> {
      await injectFaults('collectTelemetry', target);
      const deployment = await driver.describe(target.model.name);
      return telemetry.collect({
        releaseId: target.releaseId,
        cloud: driver.cloud,
        model: target.model,
        ...(deployment?.stable ? { stableVersion: deployment.stable.version } : {}),
        step: target.step,
        weight: target.weight,
        windowSeconds: target.windowSeconds,
        ...(target.faultPlan ? { faultPlan: target.faultPlan } : {}),
      });
    },

    async promote(target: Target): Promise<DeploymentState> {
      await injectFaults('promote', target);
      return classify(driver.promote(operation(target, 'promote')));
    },

    async rollback(target: Target & { reason: string }): Promise<DeploymentState> {
      await injectFaults('rollback', target);
      return classify(driver.rollback(operation(target, 'rollback')));
    },

    async retirePrevious(target: Target): Promise<DeploymentState> {
      await injectFaults('retirePrevious', target);
      return classify(driver.retirePrevious(operation(target, 'retire-previous')));
    },
  };
}

export type CloudActivities = ReturnType<typeof createCloudActivities>;
