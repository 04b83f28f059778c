// Control-plane activities, run by the control worker (task queue `medrelease`): validation,
// staging, the compliance gate, credential checks, canary judging and the audit trail. Built by a
// factory so each dependency is injected, and workflows import only the type of the result.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import { canonicalize } from '../domain/canonical-json.js';
import { FailureCode } from '../domain/errors.js';
import type { CanarySettings, FaultPlan, ReleaseInput } from '../domain/release.js';
import { canaryStepProblems } from '../domain/rules.js';
import type { ComplianceReport, StagingReport, StepVerdict, TelemetryWindow } from '../domain/status.js';
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
      await recordDecision(
        request.releaseId,
        'canary.verdict',
        {
          cloud: request.window.cloud,
          step: verdict.step,
          weight: verdict.weight,
          recheck: verdict.recheck ?? 0,
          decision: verdict.decision ?? (verdict.passed ? 'pass' : 'fail'),
          window: { from: request.window.from, to: request.window.to },
          verdicts: verdict.verdicts.map((entry) => ({
            judge: entry.judge,
            decision: entry.decision ?? (entry.passed ? 'pass' : 'fail'),
            summary: entry.summary,
          })),
        },
        { verdict: digestOf(verdict) },
      );
      return verdict;
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

/** SHA-256 of a value's canonical JSON (as JSON would carry it: non-finite numbers become null). */
function digestOf(value: unknown): string {
  const plain: unknown = JSON.parse(JSON.stringify(value));
  return `sha256:${createHash('sha256').update(canonicalize(plain)).digest('hex')}`;
}
