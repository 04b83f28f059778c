// Control-plane activities, run by the control worker (task queue `medrelease`): validation,
// staging, the compliance gate, credential checks, canary judging and the audit trail. Built by a
// factory so each dependency is injected, and workflows import only the type of the result.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { FailureCode } from '../domain/errors.js';
import type { CanarySettings, FaultPlan, ReleaseInput } from '../domain/release.js';
import { canaryStepProblems } from '../domain/rules.js';
import type { ComplianceReport, StagingReport, StepVerdict, TelemetryWindow } from '../domain/status.js';
import { judgeStep, type Judge } from './analysis/judge.js';
import type { FileAuditStore } from './audit.js';
import type { Waiver } from '../domain/compliance.js';
import type { NormalizedManifest } from '../domain/manifest.js';
import type { ComplianceGate } from './compliance/gate.js';
import type { ReleaseHistory } from './compliance/history.js';
import type { TokenVerifier, Verification } from './credentials.js';
import type { StagingTarget } from './staging.js';

export interface ControlDependencies {
  audit: FileAuditStore;
  credentials: TokenVerifier;
  staging: StagingTarget;
  gate: ComplianceGate;
  /** The gate's record of deployed versions (absent: nothing is recorded). */
  history?: ReleaseHistory;
  judges: readonly Judge[];
  clock?: () => Date;
}

export function createControlActivities(dependencies: ControlDependencies) {
  const clock = dependencies.clock ?? (() => new Date());
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

    stageRelease(request: {
      releaseId: string;
      model: ReleaseInput['model'];
      faultPlan?: FaultPlan;
    }): Promise<StagingReport> {
      return dependencies.staging.stageAndEvaluate(request);
    },

    evaluateCompliance(request: {
      input: ReleaseInput;
      staging: StagingReport;
      waivers?: Waiver[];
    }): Promise<ComplianceReport> {
      return dependencies.gate.evaluate(request);
    },

    /** After promotion: the gate's own record of what is deployed, for the next release's checks. */
    recordDeployed(request: { releaseId: string; manifest: NormalizedManifest }): Promise<void> {
      dependencies.history?.recordDeployed(request.manifest, request.releaseId, clock().toISOString());
      return Promise.resolve();
    },

    verifyCredential(request: { credential: string }): Promise<Verification> {
      return Promise.resolve(dependencies.credentials.verify(request.credential));
    },

    judgeCanary(request: {
      releaseId: string;
      window: TelemetryWindow;
      settings: CanarySettings;
    }): Promise<StepVerdict> {
      return judgeStep(dependencies.judges, request.window, request.settings, clock);
    },

    async recordAudit(event: {
      releaseId: string;
      type: string;
      actor: string;
      detail: unknown;
    }): Promise<void> {
      // The scheduled activity's identity is stable across retries: it is the idempotency key.
      const { workflowExecution, activityId } = Context.current().info;
      await dependencies.audit.append({
        eventId: `${workflowExecution?.runId ?? 'standalone'}/${activityId}`,
        at: clock().toISOString(),
        ...event,
      });
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
