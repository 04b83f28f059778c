// Cloud activities, run by the cloud worker of one cloud (task queue `cloud-<name>`), which holds
// only that cloud's credentials. Each derives a deterministic operation id from the release and
// the step, so the driver can make every change exactly once.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { TemporalFailure } from '@temporalio/common';
import type { CloudOperation as OperationName, FaultPlan, TelemetrySettings } from '../../domain/release.js';
import type { TelemetryWindow } from '../../domain/status.js';
import type { LoadHistory, TelemetrySource } from '../telemetry/source.js';
import { FailureCode } from '../../domain/errors.js';
import {
  CloudConflictError,
  CloudRejectedError,
  RolloutFailedError,
  type CloudDriver,
  type DeploymentState,
} from './driver.js';

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
  /**
   * Runs one cloud call: injected faults first, then the call itself while heartbeating (a real
   * rollout takes longer than the heartbeat timeout, which exists so that a killed worker's call is
   * retried within seconds), with a conflict turned into a non-retryable business failure.
   */
  const run = async <T>(name: OperationName, target: Target, call: () => Promise<T>): Promise<T> => {
    const context = Context.current();
    const interval = context.info.heartbeatTimeoutMs
      ? Math.max(200, context.info.heartbeatTimeoutMs / 3)
      : undefined;
    const heartbeat = interval ? setInterval(() => context.heartbeat(), interval) : undefined;
    try {
      await injectFaults(name, target);
      return await call();
    } catch (error) {
      if (error instanceof CloudConflictError) {
        throw ApplicationFailure.nonRetryable(error.message, FailureCode.CloudConflict);
      }
      if (error instanceof CloudRejectedError) {
        throw ApplicationFailure.nonRetryable(error.message, FailureCode.CloudRejected);
      }
      if (error instanceof RolloutFailedError) {
        throw ApplicationFailure.nonRetryable(error.message, FailureCode.RolloutFailed);
      }
      // Anything unexpected (a bug, a malformed answer) is retried like a transient failure, and
      // says which cloud and which step it came from.
      if (
        error instanceof Error &&
        !(error instanceof TemporalFailure) &&
        !error.message.startsWith(`${driver.cloud}:`)
      ) {
        throw ApplicationFailure.retryable(`${driver.cloud}: ${name} failed: ${error.message}`, error.name);
      }
      throw error;
    } finally {
      clearInterval(heartbeat);
    }
  };
  const operation = (target: Target, suffix: string) => ({
    operationId: `${target.releaseId}:${driver.cloud}:${suffix}`,
    releaseId: target.releaseId,
    model: target.model,
  });

  return {
    deployCanary(target: Target): Promise<DeploymentState> {
      return run('deployCanary', target, () => driver.deployCanary(operation(target, 'deploy-canary')));
    },

    setCanaryWeight(target: Target & { step: number; weight: number }): Promise<DeploymentState> {
      return run('setCanaryWeight', target, () =>
        driver.setCanaryWeight({
          ...operation(target, `step-${target.step}-weight-${target.weight}`),
          weight: target.weight,
        }),
      );
    },

    collectTelemetry(
      target: Target & {
        step: number;
        weight: number;
        windowSeconds: number;
        recheck?: number;
        metrics?: string[];
        telemetry?: TelemetrySettings;
        look?: number;
        looks?: number;
      },
    ): Promise<TelemetryWindow> {
      return run('collectTelemetry', target, async () => {
        const deployment = await driver.describe(target.model.name);
        return telemetry.collect({
          ...(target.metrics ? { metrics: target.metrics } : {}),
          ...(target.telemetry ? { settings: target.telemetry } : {}),
          signal: Context.current().cancellationSignal,
          releaseId: target.releaseId,
          cloud: driver.cloud,
          model: target.model,
          ...(deployment?.stable ? { stableVersion: deployment.stable.version } : {}),
          step: target.step,
          weight: target.weight,
          windowSeconds: target.windowSeconds,
          ...(target.recheck ? { recheck: target.recheck } : {}),
          ...(target.faultPlan ? { faultPlan: target.faultPlan } : {}),
          ...(target.looks && target.looks > 1
            ? { look: target.look ?? target.looks, looks: target.looks }
            : {}),
        });
      });
    },

    /**
     * The model's recent request rate in this cloud (the forecaster's and the risk model's input).
     * Never fails for want of data: an unreachable source is reported in the result, and the release
     * goes on without a forecast.
     */
    async loadHistory(request: {
      releaseId: string;
      model: { name: string };
      samples: number;
      stepSeconds: number;
    }): Promise<LoadHistory> {
      try {
        return await telemetry.loadHistory({
          cloud: driver.cloud,
          model: request.model.name,
          samples: request.samples,
          stepSeconds: request.stepSeconds,
          signal: Context.current().cancellationSignal,
        });
      } catch (error) {
        if (Context.current().cancellationSignal.aborted) throw error;
        return {
          cloud: driver.cloud,
          samples: [],
          stepSeconds: request.stepSeconds,
          source: 'unavailable',
          error: (error as Error).message,
        };
      }
    },

    /** Sets the model's capacity in this cloud (predictive scaling), once per release and step. */
    scale(target: Target & { step: number; replicas: number }): Promise<DeploymentState> {
      return run('scale', target, () =>
        driver.scale({
          ...operation(target, `step-${target.step}-scale-${target.replicas}`),
          replicas: target.replicas,
        }),
      );
    },

    promote(target: Target): Promise<DeploymentState> {
      return run('promote', target, () => driver.promote(operation(target, 'promote')));
    },

    rollback(target: Target & { reason: string }): Promise<DeploymentState> {
      return run('rollback', target, () => driver.rollback(operation(target, 'rollback')));
    },

    retirePrevious(target: Target): Promise<DeploymentState> {
      return run('retirePrevious', target, () => driver.retirePrevious(operation(target, 'retire-previous')));
    },
  };
}

export type CloudActivities = ReturnType<typeof createCloudActivities>;
