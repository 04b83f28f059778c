// The canary judge as the release workflow uses it: one analysis window's series (canary, baseline
// and the stable track's history) in, one verdict out — pass, marginal (hold the weight and re-check)
// or fail — with a reason per metric naming the values.
//
// The anomaly model (ml/canary-scorer.ts) is fitted on the stable track's history and the baseline of
// the window, and scores the canary's samples; those scores go to the pure judge
// (canary-judge.ts) with the samples. A window collected before series existed is judged by the
// threshold judge it was collected for.
import type { CanarySettings } from '../../domain/release.js';
import type { TelemetryWindow, Verdict, VerdictReason } from '../../domain/status.js';
import { scoreCanarySeries } from '../../ml/canary-scorer.js';
import {
  judgeCanary as judgeSeries,
  type CanaryJudgement,
  type JudgeConfig,
  type MetricJudgement,
} from './canary-judge.js';
import type { Judge } from './judge.js';
import { judgeConfigFor } from './judge-config.js';
import { thresholdJudge } from './threshold-judge.js';

export interface CanaryJudgeOptions {
  /** Score the canary with the anomaly model (default true). */
  anomalyModel?: boolean;
}

export function createCanaryJudge(options: CanaryJudgeOptions = {}): Judge {
  const anomalyModel = options.anomalyModel ?? true;
  return {
    name: 'canary',
    async judge(window: TelemetryWindow, settings: CanarySettings): Promise<Verdict> {
      const series = window.series;
      if (!series) return thresholdJudge.judge(window, settings);
      const unavailable = window.telemetry?.unavailable ?? [];
      const config = withoutMetrics(judgeConfigFor(settings), unavailable);
      if (config.metrics.length === 0) return unavailableVerdict(unavailable, window);
      const hasBaseline = window.baseline !== undefined;
      const anomalyScores: Record<string, number[]> = {};
      if (anomalyModel && hasBaseline && series.history) {
        for (const metric of config.metrics) {
          const canary = series.canary[metric.name];
          const history = [...(series.history[metric.name] ?? []), ...(series.baseline[metric.name] ?? [])];
          if (!canary || canary.length === 0) continue;
          const scores = await scoreCanarySeries(history, canary);
          if (scores) anomalyScores[metric.name] = scores;
        }
      }
      const judgement = judgeSeries(
        {
          canary: series.canary,
          baseline: hasBaseline ? series.baseline : null,
          ...(Object.keys(anomalyScores).length > 0 ? { anomalyScores } : {}),
          ...(window.recheck ? { recheck: window.recheck } : {}),
        },
        config,
      );
      const verdict = toVerdict(judgement, config, anomalyScores);
      return unavailable.length > 0 ? holdForUnavailable(verdict, unavailable, window) : verdict;
    },
  };
}

// Telemetry that could not be read (the source unreachable or erroring after its retries) is unknown,
// not absent: it says nothing about the canary. The judge decides on the metrics it could read — a
// failure there still fails — but cannot pass a canary it did not fully see: a pass becomes marginal,
// so the step holds its weight and re-checks on a fresh window (up to marginalRechecks times).

function withoutMetrics(config: JudgeConfig, names: readonly string[]): JudgeConfig {
  if (names.length === 0) return config;
  const metrics = config.metrics.filter((metric) => !names.includes(metric.name));
  const { crashLoop, ...rest } = config;
  return {
    ...rest,
    metrics,
    ...(crashLoop && !names.includes(crashLoop.metric) ? { crashLoop } : {}),
  };
}

function unavailableReasons(names: readonly string[], window: TelemetryWindow): VerdictReason[] {
  return names.map((metric) => {
    const failed = window.telemetry?.queries.find(
      (query) => query.metric === metric && query.outcome === 'error',
    );
    return {
      metric,
      rule: 'telemetry-unavailable',
      observed: null,
      limit: null,
      passed: false,
      outcome: 'nodata',
      summary: `${metric}: telemetry unavailable${failed?.error ? ` (${failed.error})` : ''}: not judged, the step holds`,
    };
  });
}

function unavailableVerdict(names: readonly string[], window: TelemetryWindow): Verdict {
  return {
    judge: 'canary',
    passed: false,
    decision: 'marginal',
    score: 0,
    summary: `marginal: telemetry unavailable for every metric (${names.join(', ')}): holding the weight to re-check`,
    reasons: unavailableReasons(names, window),
  };
}

function holdForUnavailable(verdict: Verdict, names: readonly string[], window: TelemetryWindow): Verdict {
  const reasons = [...verdict.reasons, ...unavailableReasons(names, window)];
  if (verdict.decision !== 'pass') return { ...verdict, reasons };
  return {
    ...verdict,
    passed: false,
    decision: 'marginal',
    summary: `marginal: telemetry unavailable for ${names.join(', ')}; the rest passed (${verdict.summary})`,
    reasons,
  };
}

function toVerdict(
  judgement: CanaryJudgement,
  config: JudgeConfig,
  anomalyScores: Record<string, number[]>,
): Verdict {
  const threshold = config.anomalyThreshold ?? 0.9;
  return {
    judge: 'canary',
    passed: judgement.decision === 'pass',
    decision: judgement.decision,
    score: round(judgement.score),
    summary: judgement.summary,
    reasons: judgement.metrics.map((metric) =>
      reason(metric, config, anomalyScores[metric.metric], threshold),
    ),
  };
}

function reason(
  metric: MetricJudgement,
  config: JudgeConfig,
  scores: number[] | undefined,
  threshold: number,
): VerdictReason {
  const settings = config.metrics.find((candidate) => candidate.name === metric.metric);
  // The limit the canary broke: the ceiling when it is above it, else the floor (or the crash loop's).
  const value = metric.canaryValue;
  const limit =
    metric.rule !== 'hard-limit' || value === null
      ? null
      : settings?.hardMax !== undefined && value > settings.hardMax
        ? settings.hardMax
        : settings?.hardMin !== undefined && value < settings.hardMin
          ? settings.hardMin
          : config.crashLoop?.metric === metric.metric
            ? config.crashLoop.max
            : null;
  const finite = scores?.filter((score) => Number.isFinite(score));
  return {
    metric: metric.metric,
    rule: metric.rule,
    observed: roundOrNull(metric.canaryValue),
    limit,
    passed: metric.outcome === 'pass',
    outcome: metric.outcome,
    baseline: roundOrNull(metric.baselineValue),
    ...(metric.pValue !== undefined ? { pValue: Number(metric.pValue.toPrecision(3)) } : {}),
    ...(metric.shift !== undefined && Number.isFinite(metric.shift) ? { shift: round(metric.shift) } : {}),
    ...(metric.effectSize !== undefined ? { effectSize: round(metric.effectSize) } : {}),
    ...(finite && finite.length > 0
      ? {
          anomalies: {
            hits: finite.filter((score) => score >= threshold).length,
            scored: finite.length,
            maxScore: round(Math.max(...finite)),
          },
        }
      : {}),
    summary: metric.summary,
  };
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

function roundOrNull(value: number | null): number | null {
  return value === null || !Number.isFinite(value) ? value : Number(value.toPrecision(6));
}
