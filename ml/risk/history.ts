// The release history the risk model learns from, read from the audit trail this system writes (never
// from anything a requester supplies): per release its model, target clouds, the features it was
// assessed on ('risk.assessed') and how its canary ended ('release.*'). A release whose canary
// failed (CANARY_VERDICT_FAILED, or RESTORE_FAILED after a canary failure) is bad, one that completed is good; releases that never reached a
// verdict (rejected, blocked, aborted, expired, failed for other reasons) teach nothing and are left out.
import { FailureCode } from '../../domain/errors.js';
import { featureProblems, type RiskExample, type RiskFeatures } from './model.js';

/** The fields of an audit record this reads. */
export interface HistoryRecord {
  seq: number;
  releaseId: string;
  type: string;
  at: string;
  detail: Record<string, unknown>;
}

export interface ReleaseOutcome {
  releaseId: string;
  model?: string;
  clouds: string[];
  features?: RiskFeatures;
  /** true: the canary failed; false: completed; null: ended without a canary outcome, or still running. */
  bad: boolean | null;
  /** The cloud whose canary failed, when known. */
  failedCloud?: string;
  /** When the outcome was recorded. */
  endedAt?: string;
}

/** Smoothing of failure rates: a Beta(1, 9) prior, i.e. 10 pseudo-releases at a 10 % failure rate. */
const PRIOR_FAILURES = 1;
const PRIOR_RELEASES = 10;
/** How many of the most recent outcomes the rates look at. */
export const RECENT_MODEL_RELEASES = 20;
export const RECENT_CLOUD_RELEASES = 50;

/** Accumulates outcomes from audit records, in seq order, incrementally. */
export class ReleaseOutcomes {
  private readonly releases = new Map<string, ReleaseOutcome>();
  private lastSeq = 0;

  /** The highest seq applied: the next read starts after it. */
  get seq(): number {
    return this.lastSeq;
  }

  apply(records: Iterable<HistoryRecord>): void {
    for (const record of records) {
      if (record.seq <= this.lastSeq) continue;
      this.lastSeq = record.seq;
      const entry = this.entry(record.releaseId);
      const detail = record.detail;
      if (record.type === 'release.created') {
        const model = (detail.model as { name?: unknown } | undefined)?.name;
        if (typeof model === 'string') entry.model = model;
        if (Array.isArray(detail.clouds))
          entry.clouds = detail.clouds.filter((cloud) => typeof cloud === 'string');
      } else if (record.type === 'risk.assessed') {
        const features = detail.features as RiskFeatures | undefined;
        if (features && featureProblems(features).length === 0) entry.features = features;
      } else if (record.type === 'release.completed') {
        entry.bad = false;
        entry.endedAt = record.at;
      } else if (record.type.startsWith('release.')) {
        // A canary failure, also when a cloud then refused its restore (RESTORE_FAILED: the message
        // starts with the failure that started the rollback).
        const message = typeof detail.message === 'string' ? detail.message : '';
        const cloud = /^canary in ([a-z][a-z0-9-]*) failed/.exec(message)?.[1];
        if (
          detail.code === FailureCode.CanaryVerdictFailed ||
          (detail.code === FailureCode.RestoreFailed && cloud !== undefined)
        ) {
          entry.bad = true;
          entry.endedAt = record.at;
          if (cloud) entry.failedCloud = cloud;
        }
      }
    }
  }

  /** Releases with a known outcome, in the order they ended. */
  outcomes(): ReleaseOutcome[] {
    return [...this.releases.values()]
      .filter((release) => release.bad !== null && release.endedAt !== undefined)
      .sort((a, b) => a.endedAt!.localeCompare(b.endedAt!));
  }

  /** What the model trains on: assessed releases with a known outcome. */
  examples(): RiskExample[] {
    return this.outcomes().flatMap((release) =>
      release.features ? [{ features: release.features, bad: release.bad === true }] : [],
    );
  }

  /** Smoothed share of the model's recent releases whose canary failed. */
  modelFailureRate(model: string): number {
    const recent = this.outcomes()
      .filter((release) => release.model === model)
      .slice(-RECENT_MODEL_RELEASES);
    return smoothed(recent.filter((release) => release.bad).length, recent.length);
  }

  /** Smoothed share of the recent releases through `cloud` whose canary failed there. */
  cloudFailureRate(cloud: string): number {
    const recent = this.outcomes()
      .filter((release) => release.clouds.includes(cloud))
      .slice(-RECENT_CLOUD_RELEASES);
    // A failure with an unknown cloud counts against every cloud it went to.
    const failed = recent.filter(
      (release) => release.bad && (release.failedCloud === undefined || release.failedCloud === cloud),
    );
    return smoothed(failed.length, recent.length);
  }

  private entry(releaseId: string): ReleaseOutcome {
    let entry = this.releases.get(releaseId);
    if (!entry) {
      entry = { releaseId, clouds: [], bad: null };
      this.releases.set(releaseId, entry);
    }
    return entry;
  }
}

function smoothed(failures: number, releases: number): number {
  return (PRIOR_FAILURES + failures) / (PRIOR_RELEASES + releases);
}
