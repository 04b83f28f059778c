// The reference the orchestration benchmark compares a release against: a workflow that does nothing
// but call a no-op activity, in the same number and with the same parallelism as one release does.
// Bundled on its own (bundleWorkflowCode) into a worker on its own task queue, so it is deterministic
// workflow code: it imports nothing but @temporalio/workflow and @temporalio/common.
//
// The plan comes from a release's recorded history (see bench/history.ts): the release's parent
// workflow, cut into the workflow tasks that scheduled work, becomes a list of phases; within a phase
// the branches run in parallel; a branch is one activity, or a chain of sequential activities where
// the release ran a CloudRolloutWorkflow. The `mirror` switches add back, one at a time, the other
// things a release does, so the benchmark can say where the difference goes.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import {
  defineSignal,
  executeChild,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';

/** One step of a chain: an activity call, or an awaited signal to the parent. */
export type ChainOp = 'activity' | 'signal';

export interface BareBranch {
  /** The release ran this branch in a child workflow (a CloudRolloutWorkflow). */
  child: boolean;
  /** What the branch does, in order; a plain activity branch is ['activity']. */
  ops: ChainOp[];
}

export interface BarePhase {
  /** Search-attribute upserts the release made in the workflow task that started this phase. */
  upserts: number;
  branches: BareBranch[];
}

export interface BarePlan {
  phases: BarePhase[];
  mirror: {
    /** Run child branches as child workflows (else as plain sequential activity chains in the parent). */
    children: boolean;
    /**
     * Send the children's signals to the parent where the release sends them: 'awaited' as the
     * release does (each one a round trip before the child goes on), 'unawaited' sent along with the
     * next command and awaited together before the child returns (a what-if), or 'none'.
     */
    signals: 'none' | 'awaited' | 'unawaited';
    /** Upsert a search attribute as often, and in the same workflow tasks, as the release. */
    upserts: boolean;
  };
}

export interface BareActivities {
  noop(): Promise<void>;
}

export const bareProgressSignal = defineSignal<[number]>('bareProgress');
// An attribute the release registers anyway (infra/temporal.ts): the bare workflow needs no new one.
const StageKey = defineSearchAttributeKey('MedreleaseStage', SearchAttributeType.KEYWORD);

const { noop } = proxyActivities<BareActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

async function runChain(ops: ChainOp[], signals: BarePlan['mirror']['signals']): Promise<number> {
  const parent = workflowInfo().parent;
  const pending: Promise<void>[] = [];
  let activities = 0;
  for (const [index, op] of ops.entries()) {
    if (op === 'activity') {
      await noop();
      activities += 1;
    } else if (parent && signals !== 'none') {
      const sent = getExternalWorkflowHandle(parent.workflowId).signal(bareProgressSignal, index);
      if (signals === 'awaited') await sent;
      else pending.push(sent);
    }
  }
  await Promise.all(pending);
  return activities;
}

export async function BareWorkflow(plan: BarePlan): Promise<{ activities: number; signalsReceived: number }> {
  let signalsReceived = 0;
  setHandler(bareProgressSignal, () => {
    signalsReceived += 1;
  });
  let activities = 0;
  for (const [phaseIndex, phase] of plan.phases.entries()) {
    if (plan.mirror.upserts) {
      for (let upsert = 0; upsert < phase.upserts; upsert += 1) {
        upsertSearchAttributes([{ key: StageKey, value: `bare-${phaseIndex}-${upsert}` }]);
      }
    }
    const counts = await Promise.all(
      phase.branches.map((branch, branchIndex) =>
        branch.child && plan.mirror.children
          ? executeChild(BareChildWorkflow, {
              workflowId: `${workflowInfo().workflowId}--${phaseIndex}-${branchIndex}`,
              args: [branch.ops, plan.mirror.signals],
            })
          : runChain(
              branch.ops.filter((op) => op === 'activity'),
              'none',
            ),
      ),
    );
    activities += counts.reduce((sum, count) => sum + count, 0);
  }
  return { activities, signalsReceived };
}

export async function BareChildWorkflow(
  ops: ChainOp[],
  signals: BarePlan['mirror']['signals'],
): Promise<number> {
  return runChain(ops, signals);
}
