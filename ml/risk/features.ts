// The risk model's features of one release, from what the release has established before its canary:
// the staging evaluation, the compliance report, what changed against the deployed release (the gate's
// own record of it), the recent release history and the current traffic. Pure.
import type { ComplianceReport } from '../../domain/compliance.js';
import type { StagingReport } from '../../domain/status.js';
import type { RiskFeatures } from './model.js';

/** What the gate recorded about the deployed release that a change is measured against. */
export interface DeployedRecord {
  version: string | null;
  /** Digests and versions of the deployed release's inputs, by name (infra, sbom, riskFile, labeling, validation). */
  inputs: Record<string, string>;
}

export interface FeatureSources {
  version: string;
  staging?: StagingReport;
  compliance?: ComplianceReport;
  deployed: DeployedRecord;
  /** The same inputs of this release. */
  inputs: Record<string, string>;
  modelFailureRate: number;
  cloudFailureRate: number;
  /** Per target cloud, its recent request rate (oldest first). */
  traffic: Record<string, readonly number[]>;
}

export function riskFeatures(sources: FeatureSources): RiskFeatures {
  return {
    validationDrop: validationDrop(sources.staging),
    versionChange: versionChange(sources.deployed.version, sources.version),
    artifactChanges: Math.min(
      5,
      Object.keys(sources.inputs).filter(
        (name) =>
          sources.deployed.inputs[name] !== undefined &&
          sources.deployed.inputs[name] !== sources.inputs[name],
      ).length,
    ),
    complianceDeficit: sources.compliance ? clamp((100 - sources.compliance.score) / 100, 0, 1) : 0,
    complianceFindings: sources.compliance ? Math.min(10, complianceFindings(sources.compliance)) : 0,
    modelFailureRate: clamp(sources.modelFailureRate, 0, 1),
    cloudFailureRate: clamp(sources.cloudFailureRate, 0, 1),
    trafficLoad: trafficLoad(sources.traffic),
  };
}

/** Worst relative drop of a metric below the cleared baseline (metrics where higher is better). */
export function validationDrop(staging: StagingReport | undefined): number {
  if (!staging) return 0;
  let worst = 0;
  for (const [name, baseline] of Object.entries(staging.baseline)) {
    const measured = staging.metrics[name];
    if (measured === undefined || !Number.isFinite(measured) || !(baseline > 0)) continue;
    worst = Math.max(worst, (baseline - measured) / baseline);
  }
  return clamp(round4(worst), 0, 1);
}

/** 1 for a major change or a model's first release, 0.5 for a minor one, 0 otherwise. */
export function versionChange(deployed: string | null, next: string): number {
  if (!deployed) return 1;
  const parse = (version: string) => /^(\d+)\.(\d+)\.(\d+)/.exec(version)?.slice(1).map(Number);
  const [from, to] = [parse(deployed), parse(next)];
  if (!from || !to) return 1;
  if (from[0] !== to[0]) return 1;
  if (from[1] !== to[1]) return 0.5;
  return 0;
}

/** Findings the gate let through: failed or erroring minors, and waived controls. */
export function complianceFindings(report: ComplianceReport): number {
  return (report.controls ?? []).filter(
    (control) =>
      ((control.status === 'fail' || control.status === 'error') && control.severity === 'minor') ||
      control.waiver?.valid === true,
  ).length;
}

/** The busiest cloud's recent request rate (mean of the last 3 samples) over its median, at most 10; 1 without data. */
export function trafficLoad(traffic: Record<string, readonly number[]>): number {
  let load = 0;
  let measured = false;
  for (const series of Object.values(traffic)) {
    const finite = series.filter((value) => Number.isFinite(value) && value >= 0);
    if (finite.length < 3) continue;
    const sorted = [...finite].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const recent = finite.slice(-3).reduce((sum, value) => sum + value, 0) / 3;
    if (median > 0) {
      measured = true;
      load = Math.max(load, recent / median);
    }
  }
  // Bursty series can sit far above their median for a moment: beyond 10× it says nothing more.
  return measured ? clamp(round4(load), 0, 10) : 1;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function round4(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
