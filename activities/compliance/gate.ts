// The compliance gate: evaluates the release against controls and returns a report with evidence
// for each one. A failed blocker stops the release. This is the baseline gate of the release
// backbone; the full control catalog (compliance-controls.md) replaces it behind the same interface.
import type { ReleaseInput } from '../../domain/release.js';
import type { ComplianceFinding, ComplianceReport, StagingReport } from '../../domain/status.js';

export interface ComplianceGate {
  evaluate(input: ReleaseInput, staging: StagingReport): Promise<ComplianceReport>;
}

const DIGEST_PINNED = /^[^@\s]+@sha256:[a-f0-9]{64}$/;

export const baselineGate: ComplianceGate = {
  evaluate(input: ReleaseInput, staging: StagingReport): Promise<ComplianceReport> {
    const findings: ComplianceFinding[] = [
      imageDigestPinned(input),
      dataResidency(input),
      stagingSmokeTest(staging),
    ];
    return Promise.resolve({
      passed: findings.every((finding) => finding.passed || finding.severity !== 'blocker'),
      evaluatedAt: new Date().toISOString(),
      findings,
    });
  },
};

function imageDigestPinned(input: ReleaseInput): ComplianceFinding {
  const passed = DIGEST_PINNED.test(input.model.image);
  return {
    control: 'HIPAA-164.312(c)(1)-IMAGE-DIGEST-PIN',
    title: 'The model image is an immutable reference (pinned by sha256 digest)',
    severity: 'blocker',
    passed,
    evidence: passed
      ? `model.image ${input.model.image} is pinned by digest`
      : `model.image '${input.model.image}' is not pinned by digest (expected name@sha256:<64 hex>)`,
  };
}

function dataResidency(input: ReleaseInput): ComplianceFinding {
  const control = 'GDPR-ChV-Art44-46-EU-RESIDENCY';
  const title = 'Every target cloud is in a jurisdiction the release allows';
  const allowed = input.dataResidency?.allowedJurisdictions;
  if (!allowed) {
    return {
      control,
      title,
      severity: 'blocker',
      passed: true,
      evidence: 'the request declares no data-residency restriction',
    };
  }
  const outside = input.clouds.filter((cloud) => !allowed.includes(cloud.jurisdiction));
  return {
    control,
    title,
    severity: 'blocker',
    passed: outside.length === 0,
    evidence:
      outside.length === 0
        ? `all targets (${input.clouds.map((cloud) => `${cloud.name}: ${cloud.region}, ${cloud.jurisdiction}`).join('; ')}) are in ${allowed.join(', ')}`
        : `${outside.map((cloud) => `${cloud.name} (${cloud.region}, ${cloud.jurisdiction})`).join(', ')} outside the allowed jurisdictions ${allowed.join(', ')}`,
  };
}

function stagingSmokeTest(staging: StagingReport): ComplianceFinding {
  return {
    control: 'STAGING-SMOKE-TEST',
    title: 'The staged model answered its smoke test',
    severity: 'blocker',
    passed: staging.smokeTestPassed,
    evidence: staging.smokeTestPassed ? 'smoke test passed in staging' : 'smoke test failed in staging',
  };
}
