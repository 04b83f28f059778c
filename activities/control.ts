// Control-plane activities, run by the control worker (task queue `medrelease`): validation,
// staging, the compliance gate, credential checks, canary judging and the audit trail. Built by a
// factory so each dependency is injected, and workflows import only the type of the result.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { canonicalize } from '../domain/canonical-json.js';
import { FailureCode } from '../domain/errors.js';
import { fixedPlan, pacingPolicy, wavePlans } from '../domain/pacing.js';
import type { CanarySettings, CloudScaling, FaultPlan, ReleaseInput } from '../domain/release.js';
import { canaryStepProblems } from '../domain/rules.js';
import type {
  ComplianceReport,
  PacingStatus,
  StagingReport,
  StepVerdict,
  TelemetryWindow,
} from '../domain/status.js';
import { planCapacity } from '../ml/forecast/forecaster.js';
import { RiskService } from '../ml/risk/service.js';
import { earlyLook } from './analysis/early.js';
import { judgeConfigFor } from './analysis/judge-config.js';
import { previousReleaseOf } from './compliance/history.js';
import type { PreviousRelease } from './compliance/engine.js';
import type { LoadHistory } from './telemetry/source.js';
import { judgeStep, type Judge } from './analysis/judge.js';
import type { AuditEvent, AuditRecord } from './audit/store.js';
import type { Waiver } from '../domain/compliance.js';
import type { NormalizedManifest } from '../domain/manifest.js';
import type { ComplianceGate } from './compliance/gate.js';
import type { ReleaseHistory } from './compliance/history.js';
import type { CredentialVerifier, Verification } from '../security/oidc.js';
import type { StagingTarget } from './staging.js';

export interface ControlDependencies {
  audit: { appendAsync(event: AuditEvent): Promise<AuditRecord> };
  credentials: CredentialVerifier;
  staging: StagingTarget;
  gate: ComplianceGate;
  /** The gate's record of deployed versions (absent: nothing is recorded). */
  history?: ReleaseHistory;
  judges: readonly Judge[];
  /** The release risk model over the audit trail's history (absent: the prior, with no history). */
  risk?: RiskService;
  clock?: () => Date;
}

export function createControlActivities(dependencies: ControlDependencies) {
  const clock = dependencies.clock ?? (() => new Date());
  /**
   * A decision made by an activity goes on the audit trail from inside that activity, keyed by the
   * activity's identity: a retry finds the record already written, and the workflow never sees a
   * decision that was not recorded.
   */
  const recordDecision = async (
    releaseId: string,
    type: string,
    detail: Record<string, unknown>,
    digests: Record<string, string>,
  ): Promise<void> => {
    const { workflowExecution, activityId } = Context.current().info;
    await dependencies.audit.appendAsync({
      eventId: `${workflowExecution?.runId ?? 'standalone'}/${activityId}/${type}`,
      releaseId,
      type,
      actor: 'medrelease',
      at: clock().toISOString(),
      detail,
      digests,
    });
  };
  const recordVerdict = (releaseId: string, window: TelemetryWindow, verdict: StepVerdict) =>
    recordDecision(
      releaseId,
      'canary.verdict',
      {
        cloud: window.cloud,
        step: verdict.step,
        weight: verdict.weight,
        recheck: verdict.recheck ?? 0,
        decision: verdict.decision ?? (verdict.passed ? 'pass' : 'fail'),
        window: { from: window.from, to: window.to },
        ...(verdict.early ? { early: verdict.early } : {}),
        verdicts: verdict.verdicts.map((entry) => ({
          judge: entry.judge,
          decision: entry.decision ?? (entry.passed ? 'pass' : 'fail'),
          summary: entry.summary,
        })),
      },
      { verdict: digestOf(verdict) },
    );
  const risk = dependencies.risk ?? new RiskService({ readRecords: () => [] });
  return {
    /** Checks the workflow input itself, so a release started from the CLI gets the API's rules. */
    validateRelease(input: ReleaseInput): Promise<void> {
      const problems = [...canaryStepProblems(input.canary.steps)];
      const cloudNames = input.clouds.map((cloud) => cloud.name);
      const waveClouds = input.waves.flat();
      if (waveClouds.length !== cloudNames.length || !cloudNames.every((name) => waveClouds.includes(name))) {
        problems.push('waves: every target cloud must be in exactly one wave');
      }
      for (const name of cloudNames) {
        if (!input.taskQueues.clouds[name])
          problems.push(`clouds: '${name}' has no task queue (no worker is configured for it)`);
      }
      if (input.signoff.quorum < 1) problems.push('signoff.quorum: must be at least 1');
      if (problems.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `release ${input.releaseId} is invalid: ${problems.join('; ')}`,
          FailureCode.ValidationFailed,
          problems,
        );
      }
      return Promise.resolve();
    },

    async stageRelease(request: {
      releaseId: string;
      model: ReleaseInput['model'];
      faultPlan?: FaultPlan;
    }): Promise<StagingReport> {
      const report = await dependencies.staging.stageAndEvaluate(request);
      await recordDecision(
        request.releaseId,
        'staging.evaluated',
        { smokeTestPassed: report.smokeTestPassed, metrics: report.metrics, baseline: report.baseline },
        { report: digestOf(report) },
      );
      return report;
    },

    async evaluateCompliance(request: {
      input: ReleaseInput;
      staging: StagingReport;
      waivers?: Waiver[];
    }): Promise<ComplianceReport> {
      const report = await dependencies.gate.evaluate(request);
      await recordDecision(
        request.input.releaseId,
        'compliance.evaluated',
        {
          decision: report.decision,
          mode: report.mode,
          score: report.score,
          minScore: report.minScore,
          reasons: report.reasons,
          awaitingWaivers: report.awaitingWaivers,
          counts: report.counts,
          policy: { name: report.policy.name, version: report.policy.version },
          waivers: (request.waivers ?? []).map((waiver) => waiver.control),
        },
        {
          report: report.stored?.digest ?? digestOf(report),
          policyBundle: report.policy.digest,
          ...(report.manifestDigest ? { manifest: report.manifestDigest } : {}),
        },
      );
      return report;
    },

    /** After promotion: the gate's own record of what is deployed, for the next release's checks. */
    recordDeployed(request: { releaseId: string; manifest: NormalizedManifest }): Promise<void> {
      dependencies.history?.recordDeployed(request.manifest, request.releaseId, clock().toISOString());
      return Promise.resolve();
    },

    verifyCredential(request: { credential: string }): Promise<Verification> {
      return dependencies.credentials.verify(request.credential);
    },

    async judgeCanary(request: {
      releaseId: string;
      window: TelemetryWindow;
      settings: CanarySettings;
    }): Promise<StepVerdict> {
      const verdict = await judgeStep(dependencies.judges, request.window, request.settings, clock);
      await recordVerdict(request.releaseId, request.window, verdict);
      return verdict;
    },

    /**
     * Before the canary: the release's predicted risk and the canary plan chosen from it (adaptive
     * pacing), or the fixed plan with the risk still assessed and shown. Recorded on the audit trail
     * with every feature, so the history can retrain the model and an auditor can see why.
     */
    async planCanary(request: {
      input: ReleaseInput;
      staging?: StagingReport;
      compliance?: ComplianceReport;
      traffic: LoadHistory[];
    }): Promise<PacingStatus> {
      const { input } = request;
      const known = dependencies.history?.lookup(input.model.name) ?? {
        deployedVersion: null,
        previous: null,
      };
      const current = input.manifest ? changeInputs(previousReleaseOf(input.manifest)) : {};
      const prediction = await risk
        .assess({
          model: input.model.name,
          version: input.model.version,
          clouds: input.clouds.map((cloud) => cloud.name),
          ...(request.staging ? { staging: request.staging } : {}),
          ...(request.compliance ? { compliance: request.compliance } : {}),
          deployed: {
            version: known.deployedVersion,
            inputs: known.previous ? changeInputs(known.previous) : {},
          },
          inputs: current,
          traffic: Object.fromEntries(request.traffic.map((history) => [history.cloud, history.samples])),
        })
        .catch((error: unknown) => {
          // Features out of range cannot get better by retrying: the workflow falls back at once.
          if (error instanceof RangeError)
            throw ApplicationFailure.nonRetryable(error.message, 'RISK_FEATURES_INVALID');
          throw error;
        });
      const policy = input.pacing ?? pacingPolicy({ mode: 'fixed' });
      const waves =
        policy.mode === 'adaptive'
          ? wavePlans(prediction.probability, input.canary.analysisIntervalSeconds, policy)
          : undefined;
      const decision = waves
        ? waves.pilot
        : fixedPlan(
            input.canary.steps,
            input.canary.analysisIntervalSeconds,
            input.pacing
              ? 'the plan is fixed (the request pinned its steps, or the policy’s mode is fixed): the risk is shown, not used'
              : 'a release created before adaptive pacing: its plan as requested',
          );
      const status: PacingStatus = {
        mode: decision.mode,
        risk: {
          probability: prediction.probability,
          features: prediction.features,
          reasons: prediction.reasons,
          model: {
            source: prediction.model.source,
            trainedOn: prediction.model.trainedOn,
            bad: prediction.model.bad,
            digest: prediction.model.digest,
          },
        },
        position: Number.isFinite(decision.position) ? decision.position : null,
        plan: decision.plan,
        why: decision.why,
        ...(waves && input.waves.length > 1
          ? { laterWaves: { risk: waves.later.risk, plan: waves.later.plan, why: waves.later.why } }
          : {}),
        traffic: Object.fromEntries(
          request.traffic.map((history) => [
            history.cloud,
            {
              samples: history.samples.filter((value) => Number.isFinite(value)).length,
              source: history.source,
              ...(history.error ? { error: history.error } : {}),
            },
          ]),
        ),
        assessedAt: clock().toISOString(),
      };
      await recordDecision(
        input.releaseId,
        'risk.assessed',
        {
          probability: status.risk.probability,
          features: status.risk.features,
          reasons: status.risk.reasons.map((reason) => reason.text),
          model: status.risk.model,
          mode: status.mode,
          plan: status.plan,
          why: status.why,
          ...(status.laterWaves ? { laterWaves: status.laterWaves } : {}),
        },
        { riskModel: prediction.model.digest },
      );
      return status;
    },

    /**
     * One look into a step's analysis interval before its end (sequential analysis). The step
     * concludes early only when the evidence is already decisive: a hard limit broken; or the
     * sequential test finds a regression and the judge does not pass the window; or the sequential
     * test finds every metric within its allowed shift and the judge passes the window. Otherwise
     * nothing is decided (and nothing recorded): the release keeps watching.
     */
    async lookAtCanary(request: {
      releaseId: string;
      window: TelemetryWindow;
      settings: CanarySettings;
      look: number;
      looks: number;
    }): Promise<{ verdict?: StepVerdict; decision: 'pass' | 'fail' | 'continue'; summary: string }> {
      const verdict = await judgeStep(dependencies.judges, request.window, request.settings, clock);
      const series = request.window.series;
      const baseline =
        series && Object.values(series.baseline).some((values) => values.length > 0) ? series.baseline : null;
      const seen = Math.max(1, ...Object.values(series?.canary ?? {}).map((values) => values.length));
      const hardLimit =
        verdict.decision === 'fail' &&
        verdict.verdicts.some((entry) =>
          entry.reasons.some((reason) => !reason.passed && reason.rule === 'hard-limit'),
        );
      const { conclusion: concluded, look } = earlyLook({
        baseline,
        canary: series?.canary ?? {},
        config: judgeConfigFor(request.settings),
        plannedSamples: Math.round((seen * request.looks) / request.look),
        judgeDecision: verdict.decision ?? (verdict.passed ? 'pass' : 'fail'),
        hardLimitBroken: hardLimit,
      });
      if (!concluded) return { decision: 'continue', summary: look.summary };
      const early = {
        look: request.look,
        looks: request.looks,
        reason: hardLimit
          ? `a hard limit is broken: ${verdict.verdicts.map((entry) => entry.summary).join('; ')}`
          : look.summary,
      };
      const concludedVerdict: StepVerdict = { ...verdict, early };
      await recordVerdict(request.releaseId, request.window, concludedVerdict);
      return { verdict: concludedVerdict, decision: concluded, summary: early.reason };
    },

    /**
     * Predictive scaling: the model's capacity in a cloud for the next horizon, from its request-rate
     * history (the load forecaster), within the cloud's bounds; null without any history.
     */
    async planCapacity(request: {
      releaseId: string;
      cloud: string;
      history: LoadHistory;
      scaling: CloudScaling;
    }): Promise<{
      replicas: number;
      forecastPeak: number;
      reactiveReplicas: number;
      fallback: boolean;
    } | null> {
      const { scaling, history } = request;
      // Steps without a measurement carry the last one forward (the forecaster reads time of day from
      // the position); the leading ones are dropped. Nothing measured, or nothing recent: no basis for
      // a change, the capacity stays as it is.
      const measured = (value: number | undefined) =>
        value !== undefined && Number.isFinite(value) && value >= 0;
      if (!history.samples.slice(-3).some(measured)) return null;
      const filled: number[] = [];
      for (const value of history.samples) {
        if (measured(value)) filled.push(value);
        else if (filled.length > 0) filled.push(filled.at(-1)!);
      }
      return planCapacity(filled, {
        capacityPerReplica: scaling.requestsPerReplica,
        minReplicas: scaling.minReplicas,
        maxReplicas: scaling.maxReplicas,
        targetUtilisation: scaling.targetUtilisation,
        horizon: Math.max(1, Math.round((scaling.horizonMinutes * 60) / history.stepSeconds)),
        stepMinutes: history.stepSeconds / 60,
      });
    },

    async recordAudit(event: {
      releaseId: string;
      type: string;
      actor: string;
      detail: Record<string, unknown>;
      digests?: Record<string, string>;
    }): Promise<void> {
      // The scheduled activity's identity is stable across retries: it is the idempotency key.
      const { workflowExecution, activityId } = Context.current().info;
      await dependencies.audit.appendAsync({
        eventId: `${workflowExecution?.runId ?? 'standalone'}/${activityId}`,
        at: clock().toISOString(),
        ...event,
      });
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;

/** The inputs of a release whose change the risk model counts, by name. */
function changeInputs(record: PreviousRelease): Record<string, string> {
  const inputs: Record<string, string> = {};
  if (record.infraDigest) inputs.infra = record.infraDigest;
  if (record.sbomDigest) inputs.sbom = record.sbomDigest;
  if (record.riskFileVersion) inputs.riskFile = record.riskFileVersion;
  if (record.labelingVersion) inputs.labeling = record.labelingVersion;
  return inputs;
}

/** SHA-256 of a value's canonical JSON (as JSON would carry it: non-finite numbers become null). */
function digestOf(value: unknown): string {
  const plain: unknown = JSON.parse(JSON.stringify(value));
  return `sha256:${createHash('sha256').update(canonicalize(plain)).digest('hex')}`;
}
