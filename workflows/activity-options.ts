// Activity options shared by the release workflow and its cloud rollouts, each default stated once.
import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_FAILURES } from '../domain/errors.js';

/**
 * Quick control-plane activities (validation, the gate, judging, credential checks, audit): a short
 * timeout, so a crashed control worker's task is retried by another within seconds.
 */
export function controlOptions(
  taskQueue: string,
  startToCloseTimeout: ActivityOptions['startToCloseTimeout'] = '20 seconds',
): ActivityOptions {
  return {
    taskQueue,
    startToCloseTimeout,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: 10,
      nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
    },
  };
}

/**
 * Activities that change a cloud. They heartbeat, so a killed worker's call is retried within
 * seconds; a change must have finished (or been refused) before a cancellation completes, or a late
 * weight change could land after the rollback. Forward steps give up after `boundedAttempts` (default 8); restoring a
 * cloud never does: an unreachable cloud keeps the release visibly 'rolling-back' until it answers.
 */
export function cloudOptions(
  taskQueue: string | undefined,
  timeoutSeconds: number,
  retry: 'bounded' | 'until-done',
  boundedAttempts = 8,
): ActivityOptions {
  return {
    ...(taskQueue ? { taskQueue } : {}),
    startToCloseTimeout: timeoutSeconds * 1000,
    heartbeatTimeout: Math.max(timeoutSeconds * 500, 5000),
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: retry === 'bounded' ? '20 seconds' : '1 minute',
      ...(retry === 'bounded' ? { maximumAttempts: boundedAttempts } : {}),
      nonRetryableErrorTypes: NON_RETRYABLE_FAILURES,
    },
  };
}

/**
 * Reads of a cloud that a release can do without (the traffic history for the risk model): bounded in
 * total time, so a cloud whose worker is down delays the release by at most `seconds`, never holds it.
 */
export function optionalCloudReadOptions(taskQueue: string | undefined, seconds = 60): ActivityOptions {
  return {
    ...(taskQueue ? { taskQueue } : {}),
    scheduleToCloseTimeout: seconds * 1000,
    startToCloseTimeout: Math.min(30, seconds) * 1000,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds' },
  };
}
