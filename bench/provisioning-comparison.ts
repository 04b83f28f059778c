// The three provisioning policies of ml/forecast/provisioning.ts on one load series, as bench:scaling
// and bench:paper run them: static, reactive (the HPA) and predictive (the TensorFlow.js forecaster
// observing each sample as it comes, refitting online, with the daily period of the series' step).
import { LoadForecaster, PREDICTIVE_FORECASTER, type ForecasterOptions } from '../ml/forecast/forecaster.js';
import {
  PREDICTIVE_DEFAULTS,
  SCALING_DEFAULTS,
  capacityFromWarmup,
  predictivePolicy,
  reactivePolicy,
  simulateProvisioning,
  staticPolicy,
  type PredictiveOptions,
  type ProvisioningScore,
  type ScalingSettings,
} from '../ml/forecast/provisioning.js';

export const POLICIES = ['static', 'reactive', 'predictive'] as const;
export type PolicyName = (typeof POLICIES)[number];

export interface PolicyComparison {
  capacityPerReplica: number;
  scores: Record<PolicyName, ProvisioningScore>;
  /** Time spent in the forecaster (observe, refits, forecast) over the whole series. */
  forecastSeconds: number;
  /** Scored samples whose forecast was the fallback. */
  fallbacks: number;
}

/**
 * Scores the three policies over `load` (the first `warmupSamples` train and are not scored). A
 * replica's capacity is a quarter of the warm-up's median load (capacityFromWarmup).
 */
export async function comparePolicies(
  load: readonly number[],
  options: {
    stepMinutes: number;
    warmupSamples: number;
    forecaster?: Partial<ForecasterOptions>;
    predictive?: PredictiveOptions;
    onProgress?: (samples: number) => void;
  },
): Promise<PolicyComparison> {
  const { stepMinutes, warmupSamples } = options;
  const settings: ScalingSettings = {
    ...SCALING_DEFAULTS,
    stepMinutes,
    warmupSamples,
    capacityPerReplica: capacityFromWarmup(load.slice(0, warmupSamples)),
  };
  const scores = {} as Record<PolicyName, ProvisioningScore>;
  scores.static = await simulateProvisioning(load, staticPolicy(settings), settings);
  scores.reactive = await simulateProvisioning(load, reactivePolicy(settings), settings);
  const forecaster = await LoadForecaster.create({
    period: Math.round(1440 / stepMinutes),
    ...(options.forecaster ?? PREDICTIVE_FORECASTER),
  });
  let fallbacks = 0;
  const started = performance.now();
  try {
    const forecast = async (value: number, t: number) => {
      await forecaster.observe(value);
      const next = forecaster.forecast();
      if (next.fallback && t >= warmupSamples) fallbacks += 1;
      if ((t + 1) % 1000 === 0) options.onProgress?.(t + 1);
      return next.peak;
    };
    scores.predictive = await simulateProvisioning(
      load,
      predictivePolicy(settings, forecast, options.predictive ?? PREDICTIVE_DEFAULTS),
      settings,
    );
  } finally {
    forecaster.dispose();
  }
  return {
    capacityPerReplica: settings.capacityPerReplica,
    scores,
    forecastSeconds: (performance.now() - started) / 1000,
    fallbacks,
  };
}
