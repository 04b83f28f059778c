// ReleaseWorkflow: one release of one model version, from validation to a terminal state.
// validating → staging → compliance → awaiting-signoff → canary (pilot wave, then the rest) →
// promoting (previous version kept warm) → completed; or rolled-back / rejected / expired / failed /
// aborted. Every cloud that is changed registers a compensation first; any failure, abort or manual
// rollback after that runs them newest first in a scope that cannot be cancelled.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CloudActivities } from '../activities/cloud/activities.js';
import type { ControlActivities } from '../activities/control.js';
import { FailureCode, innermostMessage } from '../domain/errors.js';
import {
  isTerminal,
  type Person,
  type ReleaseInput,
  type Stage,
  type TerminalStage,
} from '../domain/release.js';
import { operatorRefusal, signoffRefusal, waiverRefusal } from '../domain/rules.js';
import { CloudsKey, ModelNameKey, ModelVersionKey, StageKey } from '../domain/search-attributes.js';
import type { OperatorAction, ReleaseStatus, SignoffRecord, TimelineEvent } from '../domain/status.js';
import { cloudOptions, controlOptions, optionalCloudReadOptions } from './activity-options.js';
import { CloudRolloutWorkflow, cloudRolloutWorkflowId } from './cloud-rollout.js';
import {
  cloudProgressSignal,
  operateSignal,
  operateUpdate,
  setPausedSignal,
  signoffSignal,
  signoffUpdate,
  waiverUpdate,
  type WaiverArgs,
  type WaiverResult,
  statusQuery,
  type OperateArgs,
  type OperateResult,
  type SignoffArgs,
  type SignoffResult,
} from './messages.js';

const TIMELINE_LIMIT = 500;
/** Traffic history the risk model reads from a cloud without predictive scaling: a day of 5-minute steps. */
const TRAFFIC_SAMPLES = 288;
const TRAFFIC_STEP_SECONDS = 300;

interface StopRequest {
  action: 'abort' | 'rollback';
  by: string;
  reason: string;
}

export async function ReleaseWorkflow(input: ReleaseInput): Promise<ReleaseStatus> {
  const control = proxyActivities<ControlActivities>(controlOptions(input.taskQueues.control));
  // Staging evaluates a model on its reference set and may take minutes.
  const staging = proxyActivities<ControlActivities>(controlOptions(input.taskQueues.control, '10 minutes'));
  const cloudActivities = (cloudName: string, retry: 'bounded' | 'until-done') =>
    proxyActivities<CloudActivities>(
      cloudOptions(
        input.taskQueues.clouds[cloudName],
        input.activityTimeoutSeconds,
        retry,
        input.cloudStepAttempts,
      ),
    );

  // Releases started before the audit trail recorded stages, cloud changes and refused actions
  // replay without those records.
  const auditEverything = patched('audit-trail-v2');
  const now = () => new Date().toISOString();
  const status: ReleaseStatus = {
    releaseId: input.releaseId,
    model: { name: input.model.name, version: input.model.version, image: input.model.image },
    requestedBy: { id: input.requestedBy.id, name: input.requestedBy.name },
    requestedAt: input.requestedAt,
    stage: 'validating',
    paused: false,
    waves: input.waves,
    clouds: Object.fromEntries(
      input.waves.flatMap((wave, waveIndex) =>
        wave.map((cloudName) => [
          cloudName,
          { cloud: cloudName, wave: waveIndex, state: 'pending', step: null, weight: 0, updatedAt: now() },
        ]),
      ),
    ),
    signoff: { quorum: input.signoff.quorum, approvals: [], rejections: [], refused: [] },
    operatorActions: [],
    timeline: [],
    updatedAt: now(),
  };
  const record = (event: string, cloudName?: string) => {
    status.timeline.push({
      at: now(),
      stage: status.stage,
      event,
      ...(cloudName ? { cloud: cloudName } : {}),
    });
    if (status.timeline.length > TIMELINE_LIMIT)
      status.timeline.splice(0, status.timeline.length - TIMELINE_LIMIT);
    status.updatedAt = now();
  };
  const enter = (stage: Stage, event?: string) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: StageKey, value: stage }]);
    record(event ?? `entered ${stage}`);
  };
  /** The digests a person's decision was made on: the compliance report and the manifest. */
  const decisionDigests = (): Record<string, string> => ({
    ...(status.compliance?.stored ? { complianceReport: status.compliance.stored.digest } : {}),
    ...(status.compliance?.manifestDigest ? { manifest: status.compliance.manifestDigest } : {}),
    ...imageDigest(input.model.image),
  });
  const audit = async (type: string, actor: string, detail: Record<string, unknown>) => {
    if (!auditEverything) return;
    await control.recordAudit({
      releaseId: input.releaseId,
      type,
      actor,
      detail,
      digests: decisionDigests(),
    });
  };
  const enterAudited = async (stage: Stage, event?: string) => {
    enter(stage, event);
    await audit('stage.entered', 'medrelease', { stage, ...(event ? { event } : {}) });
  };

  // Compensations, one per cloud changed, registered before the change is made.
  const compensations: { cloud: string; restore: (reason: string) => Promise<void> }[] = [];
  const runningChildren = new Map<string, { signal: (paused: boolean) => Promise<void> }>();
  let stopRequest: StopRequest | undefined;
  const main = new CancellationScope();

  // ---- queries and messages -------------------------------------------------------------------
  setHandler(statusQuery, () => status);

  const acceptSignoff = async (
    approver: Person,
    decision: 'approve' | 'reject',
    comment: string,
    via: 'update' | 'signal',
  ): Promise<SignoffResult> => {
    const signoffRecord: SignoffRecord = {
      approver: { id: approver.id, name: approver.name },
      decision,
      comment,
      at: now(),
      via,
    };
    (decision === 'approve' ? status.signoff.approvals : status.signoff.rejections).push(signoffRecord);
    record(`${decision === 'approve' ? 'approved' : 'rejected'} by ${approver.id} (${via})`);
    const settles = decision === 'reject' || status.signoff.approvals.length >= input.signoff.quorum;
    await control.recordAudit({
      releaseId: input.releaseId,
      type: `signoff.${decision}`,
      actor: approver.id,
      detail: {
        comment,
        via,
        approvals: status.signoff.approvals.length,
        quorum: input.signoff.quorum,
      },
      ...(auditEverything ? { digests: decisionDigests() } : {}),
    });
    return {
      accepted: true,
      decision,
      approvals: status.signoff.approvals.length,
      quorum: input.signoff.quorum,
      stage: settles ? (decision === 'reject' ? 'rejected' : 'canary') : status.stage,
    };
  };

  /**
   * The person an Update really comes from: its credential verified by the control worker, and the
   * same person the caller named. Throws (nothing changes) otherwise. Releases started before updates
   * carried credentials replay without the check.
   */
  const verifiedActor = async (claimed: Person, credential: string | undefined): Promise<Person> => {
    if (!patched('verified-updates')) return claimed;
    if (!credential) {
      throw ApplicationFailure.nonRetryable(
        'this action needs the caller’s credential',
        FailureCode.CredentialInvalid,
      );
    }
    const verified = await control.verifyCredential({ credential });
    if (!verified.valid)
      throw ApplicationFailure.nonRetryable(verified.reason, FailureCode.CredentialInvalid);
    if (verified.person.id !== claimed.id) {
      throw ApplicationFailure.nonRetryable(
        `the credential is ${verified.person.id}'s, not ${claimed.id}'s`,
        FailureCode.CredentialInvalid,
      );
    }
    return verified.person;
  };
  const refuseIf = (refusal: { code: string; message: string } | undefined) => {
    if (refusal) throw ApplicationFailure.nonRetryable(refusal.message, refusal.code);
  };

  setHandler(
    signoffUpdate,
    async (args) => {
      const approver = await verifiedActor(args.approver, args.credential);
      // Checked again as the verified person: the state may have moved while the token was checked.
      refuseIf(signoffRefusal(status, approver, args.comment));
      return acceptSignoff(approver, args.decision, args.comment, 'update');
    },
    {
      validator: (args: SignoffArgs) => refuseIf(signoffRefusal(status, args.approver, args.comment)),
    },
  );

  setHandler(signoffSignal, async (args) => {
    const verified = await control.verifyCredential({ credential: args.credential });
    const refusal = verified.valid
      ? signoffRefusal(status, verified.person, args.comment)
      : { code: FailureCode.CredentialInvalid, message: verified.reason };
    if (refusal || !verified.valid) {
      status.signoff.refused.push({
        claimedBy: verified.valid ? verified.person.id : 'unverified',
        at: now(),
        via: 'signal',
        code: refusal!.code,
        reason: refusal!.message,
      });
      record(`sign-off refused: ${refusal!.message}`);
      await audit('signoff.refused', verified.valid ? verified.person.id : 'unverified', {
        decision: args.decision,
        via: 'signal',
        code: refusal!.code,
        reason: refusal!.message,
      });
      return;
    }
    await acceptSignoff(verified.person, args.decision, args.comment, 'signal');
  });

  let waiverChanges = 0;
  setHandler(
    waiverUpdate,
    async (claimedArgs: WaiverArgs): Promise<WaiverResult> => {
      const args = { ...claimedArgs, by: await verifiedActor(claimedArgs.by, claimedArgs.credential) };
      refuseIf(waiverRefusal(status, args.by, args, Date.now()));
      const at = now();
      const waivers = (status.waivers ??= []);
      let waiver = waivers.find((candidate) => candidate.control === args.control);
      const approval = { by: { id: args.by.id, name: args.by.name }, role: '', at };
      const roles = status.compliance?.waiverPolicy?.approverRoles ?? [];
      approval.role = roles.find((role) => (args.by.roles as string[]).includes(role)) ?? '';
      if (!waiver) {
        waiver = {
          control: args.control,
          justification: args.justification,
          expiresAt: args.expiresAt,
          requestedBy: { id: args.by.id, name: args.by.name },
          approvals: [],
        };
        waivers.push(waiver);
      } else if (Date.parse(args.expiresAt) < Date.parse(waiver.expiresAt)) {
        // Every approver agrees to the shortest of the proposed terms.
        waiver.expiresAt = args.expiresAt;
      }
      waiver.approvals.push(approval);
      record(`waiver of ${args.control} approved by ${args.by.id} as ${approval.role}`);
      waiverChanges += 1;
      await control.recordAudit({
        releaseId: input.releaseId,
        type: 'compliance.waiver',
        actor: args.by.id,
        detail: {
          control: args.control,
          role: approval.role,
          justification: args.justification,
          expiresAt: args.expiresAt,
        },
        ...(auditEverything ? { digests: decisionDigests() } : {}),
      });
      const approvedRoles = new Set(waiver.approvals.map((entry) => entry.role));
      return {
        accepted: true,
        waiver,
        missingRoles: roles.filter((role) => !approvedRoles.has(role)),
      };
    },
    {
      validator: (args: WaiverArgs) => {
        const refusal = waiverRefusal(status, args.by, args, Date.now());
        if (refusal) throw ApplicationFailure.nonRetryable(refusal.message, refusal.code);
      },
    },
  );

  const operate = async (args: OperateArgs, via: 'update' | 'signal'): Promise<OperateResult> => {
    const action: OperatorAction = {
      action: args.action,
      by: args.by.id,
      reason: args.reason,
      at: now(),
      via,
    };
    status.operatorActions.push(action);
    record(`${args.action} by ${args.by.id}: ${args.reason}`);
    if (args.action === 'pause' || args.action === 'resume') {
      status.paused = args.action === 'pause';
      for (const child of runningChildren.values()) void child.signal(status.paused);
    } else {
      stopRequest = { action: args.action, by: args.by.id, reason: args.reason };
      main.cancel();
    }
    await control.recordAudit({
      releaseId: input.releaseId,
      type: `operator.${args.action}`,
      actor: args.by.id,
      detail: { reason: args.reason, via },
    });
    return { accepted: true, action: args.action, stage: status.stage, paused: status.paused };
  };
  // Once the warm window is over the previous version is retired: from then on nothing can be undone.
  let committed = false;
  const stopRefusal = (): { code: string; message: string } | undefined =>
    stopRequest
      ? { code: 'INVALID_STATE', message: `the release is already stopping (${stopRequest.action})` }
      : committed
        ? {
            code: 'INVALID_STATE',
            message: 'the release is being finalised: the previous version has been retired',
          }
        : undefined;
  const operatorState = () => ({
    stage: status.stage,
    paused: status.paused,
    cloudsTouched: compensations.length > 0,
  });

  const operateRefusal = (by: Person, action: OperateArgs['action']) =>
    (action === 'abort' || action === 'rollback' ? stopRefusal() : undefined) ??
    operatorRefusal(operatorState(), by, action);
  setHandler(
    operateUpdate,
    async (args) => {
      const by = await verifiedActor(args.by, args.credential);
      refuseIf(operateRefusal(by, args.action));
      return operate({ action: args.action, by, reason: args.reason }, 'update');
    },
    { validator: (args: OperateArgs) => refuseIf(operateRefusal(args.by, args.action)) },
  );

  setHandler(operateSignal, async (args) => {
    const verified = await control.verifyCredential({ credential: args.credential });
    const refusal = !verified.valid
      ? { code: FailureCode.CredentialInvalid, message: verified.reason }
      : ((args.action === 'abort' || args.action === 'rollback' ? stopRefusal() : undefined) ??
        operatorRefusal(operatorState(), verified.person, args.action));
    if (refusal || !verified.valid) {
      record(`${args.action} refused: ${refusal!.message}`);
      await audit(`operator.${args.action}.refused`, verified.valid ? verified.person.id : 'unverified', {
        via: 'signal',
        code: refusal!.code,
        reason: refusal!.message,
      });
      return;
    }
    await operate({ action: args.action, by: verified.person, reason: args.reason }, 'signal');
  });

  const lastReportSeq = new Map<string, number>();
  // Reports are sent without waiting for each other and can arrive out of order: a late one goes on
  // the timeline before the first report of its cloud that was sent after it, at that report's time.
  const reportSeqOf = new WeakMap<TimelineEvent, number>();
  const recordInOrder = (event: string, cloudName: string, seq: number) => {
    const index = status.timeline.findIndex(
      (entry) => entry.cloud === cloudName && (reportSeqOf.get(entry) ?? -1) > seq,
    );
    if (index < 0) {
      record(event, cloudName);
      return;
    }
    const later = status.timeline[index]!;
    const entry: TimelineEvent = { at: later.at, stage: later.stage, event, cloud: cloudName };
    reportSeqOf.set(entry, seq);
    status.timeline.splice(index, 0, entry);
    status.updatedAt = now();
  };
  setHandler(cloudProgressSignal, (progress) => {
    const cloudStatus = status.clouds[progress.cloud];
    if (!cloudStatus || isTerminal(status.stage)) return;
    // A report older than one already applied still goes on the timeline, but must not move the
    // cloud's state backwards.
    const last = lastReportSeq.get(progress.cloud) ?? 0;
    const stale = progress.seq !== undefined && progress.seq <= last;
    if (!stale) {
      if (progress.seq !== undefined) lastReportSeq.set(progress.cloud, progress.seq);
      Object.assign(cloudStatus, {
        state: progress.state,
        step: progress.step,
        weight: progress.weight,
        updatedAt: now(),
      });
    }
    if (progress.capacity && progress.capacity.step >= (cloudStatus.capacity?.step ?? -1)) {
      cloudStatus.capacity = progress.capacity;
    }
    // A late report may still carry the newest verdict (it was sent just before the final report).
    if (progress.verdict && progress.verdict.step >= (cloudStatus.lastVerdict?.step ?? -1)) {
      cloudStatus.lastVerdict = progress.verdict;
    }
    if (stale && progress.seq !== undefined) recordInOrder(progress.event, progress.cloud, progress.seq);
    else {
      record(progress.event, progress.cloud);
      if (progress.seq !== undefined) reportSeqOf.set(status.timeline.at(-1)!, progress.seq);
    }
  });

  // ---- the stages ------------------------------------------------------------------------------
  const finish = async (
    outcome: TerminalStage,
    reason?: { code: string; message: string },
  ): Promise<ReleaseStatus> => {
    status.outcome = outcome;
    if (reason) status.reason = reason;
    enter(outcome, reason ? `${outcome}: ${reason.message}` : outcome);
    await control.recordAudit({
      releaseId: input.releaseId,
      type: `release.${outcome}`,
      actor: 'medrelease',
      detail: {
        ...(reason ?? {}),
        clouds: Object.fromEntries(
          Object.values(status.clouds).map((cloud) => [
            cloud.cloud,
            { state: cloud.state, weight: cloud.weight },
          ]),
        ),
      },
      ...(auditEverything ? { digests: decisionDigests() } : {}),
    });
    await condition(allHandlersFinished);
    return status;
  };
  const holdWhilePaused = () => condition(() => !status.paused);

  /** Each cloud's recent traffic, then the risk model and the pacing policy (control activity). */
  const assessRisk = async () => {
    const traffic = await Promise.all(
      input.clouds.map(async (cloud) => {
        const stepSeconds = cloud.scaling?.stepSeconds ?? TRAFFIC_STEP_SECONDS;
        try {
          return await proxyActivities<CloudActivities>(
            optionalCloudReadOptions(input.taskQueues.clouds[cloud.name]),
          ).loadHistory({
            releaseId: input.releaseId,
            model: { name: input.model.name },
            samples: cloud.scaling?.historySamples ?? TRAFFIC_SAMPLES,
            stepSeconds,
          });
        } catch (error) {
          // A cloud whose worker cannot answer: its traffic is unknown, the risk is assessed without it.
          if (isCancellation(error)) throw error;
          return {
            cloud: cloud.name,
            samples: [],
            stepSeconds,
            source: 'unavailable' as const,
            error: innermostMessage(error),
          };
        }
      }),
    );
    try {
      return await control.planCanary({
        input,
        ...(status.staging ? { staging: status.staging } : {}),
        ...(status.compliance ? { compliance: status.compliance } : {}),
        traffic,
      });
    } catch (error) {
      // Without a risk assessment the release runs the plan it asked for (or the default): pacing is
      // an optimisation, never a reason to fail a release.
      if (isCancellation(error)) throw error;
      record(`risk could not be assessed (${innermostMessage(error)}): running the requested canary plan`);
      return undefined;
    }
  };

  /** The canary settings each cloud runs: the chosen plan's steps, interval and looks. */
  const plannedCanary = (waveIndex: number) => {
    const plan =
      waveIndex > 0 && status.pacing?.laterWaves ? status.pacing.laterWaves.plan : status.pacing?.plan;
    if (!plan) return input.canary;
    return {
      ...input.canary,
      steps: plan.steps,
      analysisIntervalSeconds: plan.analysisIntervalSeconds,
      ...(plan.looks > 1 ? { looks: plan.looks, earliestLook: plan.earliestLook } : {}),
    };
  };

  const scalingOf = (cloudName: string) => input.clouds.find((cloud) => cloud.name === cloudName)?.scaling;

  const runCanary = async (): Promise<void> => {
    for (const [waveIndex, wave] of input.waves.entries()) {
      await holdWhilePaused();
      if (waveIndex > 0 && status.pacing?.laterWaves) {
        const plan = status.pacing.laterWaves.plan;
        record(
          `pilot passed: risk now ${(status.pacing.laterWaves.risk * 100).toFixed(1)} %, wave ${waveIndex + 1} runs ${plan.steps.join(' → ')} %, ${plan.analysisIntervalSeconds} s intervals`,
        );
      }
      const waveScope = new CancellationScope();
      const rollouts = wave.map((cloudName) =>
        waveScope.run(async () => {
          const activities = cloudActivities(cloudName, 'until-done');
          compensations.push({
            cloud: cloudName,
            restore: async (reason) => {
              await activities.rollback({
                releaseId: input.releaseId,
                model: input.model,
                faultPlan: input.faultPlan,
                reason,
              });
              Object.assign(status.clouds[cloudName]!, { state: 'rolled-back', weight: 0, updatedAt: now() });
              record('restored to the stable version', cloudName);
              await audit('cloud.restored', 'medrelease', { cloud: cloudName, reason });
            },
          });
          const child = await startChild(CloudRolloutWorkflow, {
            workflowId: cloudRolloutWorkflowId(input.releaseId, cloudName),
            taskQueue: input.taskQueues.clouds[cloudName]!,
            cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
            parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
            args: [
              {
                releaseId: input.releaseId,
                parentWorkflowId: workflowInfo().workflowId,
                cloud: cloudName,
                model: input.model,
                canary: plannedCanary(waveIndex),
                ...(scalingOf(cloudName) ? { scaling: scalingOf(cloudName)! } : {}),
                activityTimeoutSeconds: input.activityTimeoutSeconds,
                ...(input.cloudStepAttempts ? { cloudStepAttempts: input.cloudStepAttempts } : {}),
                controlTaskQueue: input.taskQueues.control,
                paused: status.paused,
                faultPlan: input.faultPlan,
              },
            ],
          });
          runningChildren.set(cloudName, { signal: (paused) => child.signal(setPausedSignal, paused) });
          try {
            return await child.result();
          } finally {
            runningChildren.delete(cloudName);
          }
        }),
      );
      // The first failure in a wave cancels its siblings; wait for all of them to settle so no
      // cloud is still changing when the saga starts.
      const settled = await Promise.allSettled(
        rollouts.map((rollout) =>
          rollout.catch((error: unknown) => {
            waveScope.cancel();
            throw error;
          }),
        ),
      );
      const failures = settled.filter(
        (result): result is PromiseRejectedResult => result.status === 'rejected',
      );
      const realFailure = failures.find((failure) => !isCancellation(failure.reason));
      if (realFailure) throw realFailure.reason;
      if (failures.length > 0) throw failures[0]!.reason;
    }
  };

  const promote = async (): Promise<void> => {
    await Promise.all(
      input.waves.flat().map(async (cloudName) => {
        await cloudActivities(cloudName, 'bounded').promote({
          releaseId: input.releaseId,
          model: input.model,
          faultPlan: input.faultPlan,
        });
        Object.assign(status.clouds[cloudName]!, { state: 'promoted', weight: 100, updatedAt: now() });
        record(`promoted ${input.model.version} to stable`, cloudName);
        await audit('cloud.promoted', 'medrelease', { cloud: cloudName, version: input.model.version });
      }),
    );
  };

  const body = async (): Promise<ReleaseStatus> => {
    upsertSearchAttributes([
      { key: StageKey, value: 'validating' },
      { key: ModelNameKey, value: input.model.name },
      { key: ModelVersionKey, value: input.model.version },
      { key: CloudsKey, value: input.waves.flat() },
    ]);
    await control.recordAudit({
      releaseId: input.releaseId,
      type: 'release.created',
      actor: input.requestedBy.id,
      detail: {
        model: input.model,
        clouds: input.waves.flat(),
        waves: input.waves,
        canarySteps: input.canary.steps,
        quorum: input.signoff.quorum,
      },
      ...(auditEverything ? { digests: imageDigest(input.model.image) } : {}),
    });
    await control.validateRelease(input);

    await holdWhilePaused();
    await enterAudited('staging');
    status.staging = await staging.stageRelease({
      releaseId: input.releaseId,
      model: input.model,
      faultPlan: input.faultPlan,
    });

    await holdWhilePaused();
    await enterAudited('compliance');
    const evaluate = async () => {
      status.compliance = await control.evaluateCompliance({
        input,
        staging: status.staging!,
        waivers: status.waivers ?? [],
      });
      record(
        `compliance gate: ${status.compliance.decision}, score ${status.compliance.score}` +
          ((status.compliance.awaitingWaivers ?? []).length > 0
            ? `, awaiting waivers of ${status.compliance.awaitingWaivers.join(', ')}`
            : ''),
      );
    };
    await evaluate();
    // Failed majors can be released by waivers: wait for them (each one re-evaluates the gate).
    const waiverDeadline = Date.now() + (input.waiverDeadlineSeconds ?? 0) * 1000;
    while (!status.compliance!.passed && (status.compliance!.awaitingWaivers ?? []).length > 0) {
      const remaining = waiverDeadline - Date.now();
      if (remaining <= 0) break;
      const seen = waiverChanges;
      if (!(await condition(() => waiverChanges !== seen, remaining))) break;
      await evaluate();
    }
    if (!status.compliance!.passed) {
      const report = status.compliance!;
      const failing = (report.controls ?? [])
        .filter((result) => result.status === 'fail' || result.status === 'error')
        .filter((result) => result.severity !== 'minor')
        .map((result) => `${result.id} (${result.status})`);
      const reasons = (report.reasons ?? []).slice(0, 5).join('; ');
      return finish(patched('compliance-blocked-outcome') ? 'blocked' : 'failed', {
        code: FailureCode.ComplianceBlocked,
        message:
          `compliance gate blocked the release (score ${report.score}): ${reasons}` +
          (failing.length > 0 ? `; failing: ${failing.join(', ')}` : ''),
      });
    }

    // The release's predicted risk and the canary plan it gets, shown to the approvers before they
    // sign. Releases started before pacing existed run their requested plan.
    if (patched('risk-adaptive-pacing')) {
      await holdWhilePaused();
      const pacing = await assessRisk();
      if (pacing) {
        status.pacing = pacing;
        const { plan, risk } = pacing;
        record(
          `risk ${(risk.probability * 100).toFixed(1)} %: ${pacing.mode} canary plan ${plan.steps.join(' → ')} %, ` +
            `${plan.analysisIntervalSeconds} s intervals${plan.looks > 1 ? `, ${plan.looks} looks each` : ''}`,
        );
      }
    }

    await holdWhilePaused();
    const deadline = Date.now() + input.signoff.deadlineSeconds * 1000;
    status.signoff.deadline = new Date(deadline).toISOString();
    await enterAudited('awaiting-signoff');
    const decided = await condition(
      () => status.signoff.rejections.length > 0 || status.signoff.approvals.length >= input.signoff.quorum,
      input.signoff.deadlineSeconds * 1000,
    );
    if (status.signoff.rejections.length > 0) {
      const rejection = status.signoff.rejections[0]!;
      return finish('rejected', {
        code: 'SIGNOFF_REJECTED',
        message: `rejected by ${rejection.approver.id}: ${rejection.comment}`,
      });
    }
    if (!decided) {
      return finish('expired', {
        code: 'SIGNOFF_EXPIRED',
        message: `${status.signoff.approvals.length} of ${input.signoff.quorum} approvals by the deadline ${status.signoff.deadline}`,
      });
    }

    await holdWhilePaused();
    await enterAudited('canary');
    await runCanary();

    await enterAudited('promoting');
    await promote();
    if (input.keepWarmSeconds > 0) {
      status.warmUntil = new Date(Date.now() + input.keepWarmSeconds * 1000).toISOString();
      record(`previous version kept warm until ${status.warmUntil}`);
      await condition(() => false, input.keepWarmSeconds * 1000);
    }
    committed = true;
    await CancellationScope.nonCancellable(() =>
      Promise.all(
        input.waves.flat().map((cloudName) =>
          cloudActivities(cloudName, 'until-done').retirePrevious({
            releaseId: input.releaseId,
            model: input.model,
            faultPlan: input.faultPlan,
          }),
        ),
      ),
    );
    if (input.manifest && patched('record-deployed')) {
      await control.recordDeployed({ releaseId: input.releaseId, manifest: input.manifest });
    }
    return finish('completed');
  };

  try {
    return await main.run(body);
  } catch (error) {
    const reason = failureReason(error, stopRequest);
    if (compensations.length === 0) {
      return finish(stopRequest ? 'aborted' : 'failed', reason);
    }
    await enterAudited('rolling-back', `rolling back ${compensations.length} cloud(s): ${reason.message}`);
    const unrestored = await CancellationScope.nonCancellable(async () => {
      // Every cloud is restored at once, so one unreachable cloud (whose restore is retried until it
      // answers) cannot hold the others on the new version, and a cloud that refuses its restore
      // (a non-retryable answer such as 403) does not stop the others. Releases that began rolling
      // back under the earlier code restored one cloud after another and replay that way.
      if (patched('parallel-restores')) {
        const results = await Promise.allSettled(
          compensations.map((compensation) => compensation.restore(reason.message)),
        );
        return results.flatMap((result, index) =>
          result.status === 'rejected'
            ? [{ cloud: compensations[index]!.cloud, message: innermostMessage(result.reason) }]
            : [],
        );
      }
      for (const compensation of [...compensations].reverse()) {
        await compensation.restore(reason.message);
      }
      return [];
    });
    if (unrestored.length > 0) {
      for (const { cloud, message } of unrestored) {
        Object.assign(status.clouds[cloud]!, { state: 'restore-failed', updatedAt: now() });
        record(`could not be restored, needs a person: ${message}`, cloud);
      }
      return finish('failed', {
        code: FailureCode.RestoreFailed,
        message: `${reason.message}; then ${unrestored.map((entry) => entry.cloud).join(', ')} could not be restored: ${unrestored.map((entry) => entry.message).join('; ')}`,
      });
    }
    return finish('rolled-back', reason);
  }
}

function failureReason(
  error: unknown,
  stopRequest: StopRequest | undefined,
): { code: string; message: string } {
  if (stopRequest && isCancellation(error)) {
    return stopRequest.action === 'abort'
      ? { code: 'ABORTED', message: `aborted by ${stopRequest.by}: ${stopRequest.reason}` }
      : { code: 'MANUAL_ROLLBACK', message: `rollback forced by ${stopRequest.by}: ${stopRequest.reason}` };
  }
  // The business reason is the innermost ApplicationFailure with one of our codes (a child's
  // failing verdict arrives as ChildWorkflowFailure → ApplicationFailure); anything else is an
  // activity or workflow that failed past its retries.
  const chain: Error[] = [];
  for (let cursor = error; cursor instanceof Error; cursor = cursor.cause) chain.push(cursor);
  const coded = chain
    .reverse()
    .find((failure) => failure instanceof ApplicationFailure && KNOWN_CODES.has(failure.type ?? ''));
  if (coded instanceof ApplicationFailure) return { code: coded.type!, message: coded.message };
  const activity = chain.find((failure): failure is ActivityFailure => failure instanceof ActivityFailure);
  const innermost = chain[0];
  const detail = innermost?.message ?? String(error);
  return {
    code: 'ACTIVITY_FAILED',
    message: activity ? `activity ${activity.activityType} failed after its retries: ${detail}` : detail,
  };
}

const KNOWN_CODES = new Set<string>(Object.values(FailureCode));

/** The image's content digest, when its reference pins one. */
function imageDigest(image: string): Record<string, string> {
  const digest = /@(sha256:[0-9a-f]{64})$/.exec(image)?.[1];
  return digest ? { image: digest } : {};
}
