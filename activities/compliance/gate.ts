// The compliance gate as the release workflow's compliance stage runs it: the policy bundle's
// controls on the release manifest (artifact signature verified by the gate itself), the staging
// smoke test as a precondition, the waivers submitted so far, and the model's history from the
// gate's own records. Every report is written to the evidence store before it is returned.
//
// Without a manifest (allowed only when compliance.requireManifest is false) the gate runs just the
// built-in request checks — digest pin, data residency, staging smoke test — and says so.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ComplianceReport, ControlResult, Waiver } from '../../domain/compliance.js';
import type { ReleaseInput } from '../../domain/release.js';
import type { StagingReport } from '../../domain/status.js';
import { canonicalize } from '../../domain/canonical-json.js';
import { sha256Hex } from './cel.js';
import { decide } from './engine.js';
import { evaluateRelease } from './evaluate.js';
import type { ReleaseHistory } from './history.js';
import type { PolicyBundle } from './policy.js';

export interface GateRequest {
  input: ReleaseInput;
  staging: StagingReport;
  waivers?: Waiver[];
}

export interface ComplianceGate {
  evaluate(request: GateRequest): Promise<ComplianceReport>;
}

const DIGEST_PINNED = /^[^@\s]+@sha256:[a-f0-9]{64}$/;

function builtIn(
  id: string,
  title: string,
  passed: boolean,
  path: string,
  observed: unknown,
  expected: unknown,
): ControlResult {
  return {
    id,
    pack: 'built-in',
    title,
    severity: 'blocker',
    source: 'medrelease built-in request check',
    status: passed ? 'pass' : 'fail',
    evidence: [{ check: title, path, observed, expected, status: passed ? 'pass' : 'fail' }],
    ruleDigest: `sha256:${sha256Hex(id)}`,
  };
}

/** The checks a release without a manifest gets: the request's image, residency and staging. */
export function requestChecks(input: ReleaseInput, staging: StagingReport, now: Date): ComplianceReport {
  const allowed = input.dataResidency?.allowedJurisdictions;
  const outside = allowed ? input.clouds.filter((cloud) => !allowed.includes(cloud.jurisdiction)) : [];
  const controls = [
    builtIn(
      'HIPAA-164.312(c)(1)-IMAGE-DIGEST-PIN',
      'The model image is an immutable reference (pinned by sha256 digest)',
      DIGEST_PINNED.test(input.model.image),
      '/model/image',
      input.model.image,
      'name@sha256:<64 hex>',
    ),
    builtIn(
      'GDPR-ChV-Art44-46-EU-RESIDENCY',
      'Every target cloud is in a jurisdiction the release allows',
      outside.length === 0,
      '/dataResidency/allowedJurisdictions',
      input.clouds.map((cloud) => `${cloud.name}: ${cloud.region} (${cloud.jurisdiction})`),
      allowed ?? 'no restriction declared',
    ),
    builtIn(
      'STAGING-SMOKE-TEST',
      'The staged model answered its smoke test',
      staging.smokeTestPassed,
      '/staging/smokeTestPassed',
      staging.smokeTestPassed,
      true,
    ),
  ];
  const report = decide(controls, 100, {
    mode: 'request-checks',
    policy: {
      name: 'built-in request checks (no manifest: compliance.requireManifest is false)',
      version: '1',
      digest: `sha256:${sha256Hex('request-checks-v1')}`,
      packs: [],
    },
    evaluatedAt: now.toISOString(),
  });
  return report;
}

/** The request checks alone: the gate of deployments that do not require a manifest (tests, demos). */
export const requestChecksGate: ComplianceGate = {
  evaluate: ({ input, staging }) => Promise.resolve(requestChecks(input, staging, new Date())),
};

export interface PolicyGateOptions {
  bundle: PolicyBundle;
  history: ReleaseHistory;
  /** Where reports are written (one file per evaluation). */
  evidenceDir: string;
  requireManifest: boolean;
  clock?: () => Date;
}

export class PolicyGate implements ComplianceGate {
  private readonly clock: () => Date;

  constructor(private readonly options: PolicyGateOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  get bundle(): PolicyBundle {
    return this.options.bundle;
  }

  evaluate({ input, staging, waivers }: GateRequest): Promise<ComplianceReport> {
    const now = this.clock();
    let report: ComplianceReport;
    if (!input.manifest) {
      report = requestChecks(input, staging, now);
      if (this.options.requireManifest) {
        report.decision = 'blocked';
        report.passed = false;
        report.reasons.unshift('the release has no manifest, and this deployment requires one');
      }
    } else {
      report = evaluateRelease(input.manifest, this.options.bundle, {
        now,
        history: this.options.history.lookup(input.manifest.model.name),
        waivers: waivers ?? [],
      });
      if (!staging.smokeTestPassed) {
        report.decision = 'blocked';
        report.passed = false;
        report.awaitingWaivers = [];
        report.reasons.unshift('the staged model failed its smoke test');
      }
    }
    report.stored = this.store(input.releaseId, report);
    return Promise.resolve(report);
  }

  /** Writes the report as the record of this evaluation (HIPAA 164.316(b): kept as documentation). */
  private store(releaseId: string, report: ComplianceReport): { path: string; digest: string } {
    const directory = path.join(this.options.evidenceDir, releaseId);
    mkdirSync(directory, { recursive: true });
    const text = canonicalize(report);
    const digest = `sha256:${sha256Hex(text)}`;
    const file = path.join(
      directory,
      `compliance-${report.evaluatedAt.replaceAll(':', '')}-${digest.slice(7, 19)}.json`,
    );
    writeFileSync(file, `${text}\n`, { flag: 'w' });
    return { path: file, digest };
  }
}
