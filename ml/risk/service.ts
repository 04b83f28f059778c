// The risk model as the control worker runs it: the release history read incrementally from the audit
// trail, the model refitted when enough new outcomes have arrived since the last fit, and each
// release's features assembled from its staging and compliance reports, the gate's record of the
// deployed release and the clouds' traffic.
import type { ComplianceReport } from '../../domain/compliance.js';
import type { StagingReport } from '../../domain/status.js';
import { riskFeatures, type DeployedRecord } from './features.js';
import { ReleaseOutcomes, type HistoryRecord } from './history.js';
import { RiskModel, type RiskPrediction } from './model.js';

const PAGE = 5000;

export interface RiskServiceOptions {
  /** Up to `limit` audit records after `afterSeq`, in seq order (the control worker's audit store). */
  readRecords: (afterSeq: number, limit: number) => readonly HistoryRecord[];
  /** Refit after this many new outcomes. Default 5. */
  refitEvery?: number;
  log?: (line: string) => void;
}

export interface RiskRequest {
  model: string;
  version: string;
  clouds: readonly string[];
  staging?: StagingReport;
  compliance?: ComplianceReport;
  deployed: DeployedRecord;
  inputs: Record<string, string>;
  traffic: Record<string, readonly number[]>;
}

export class RiskService {
  private readonly outcomes = new ReleaseOutcomes();
  private model = RiskModel.prior();
  private fittedOn = 0;
  private fitting: Promise<void> | undefined;

  constructor(private readonly options: RiskServiceOptions) {}

  async assess(request: RiskRequest): Promise<RiskPrediction> {
    // Page by page: the first assessment after a start reads the whole trail, later ones what is new.
    for (;;) {
      const page = this.options.readRecords(this.outcomes.seq, PAGE);
      this.outcomes.apply(page);
      if (page.length < PAGE) break;
    }
    await this.refitIfDue();
    const features = riskFeatures({
      version: request.version,
      ...(request.staging ? { staging: request.staging } : {}),
      ...(request.compliance ? { compliance: request.compliance } : {}),
      deployed: request.deployed,
      inputs: request.inputs,
      modelFailureRate: this.outcomes.modelFailureRate(request.model),
      cloudFailureRate: Math.max(0, ...request.clouds.map((cloud) => this.outcomes.cloudFailureRate(cloud))),
      traffic: request.traffic,
    });
    return this.model.predict(features);
  }

  /** The model in use (for status pages and tests). */
  current(): RiskModel {
    return this.model;
  }

  private async refitIfDue(): Promise<void> {
    const examples = this.outcomes.examples();
    if (examples.length - this.fittedOn < (this.options.refitEvery ?? 5)) return;
    // One fit at a time; concurrent assessments wait for it.
    this.fitting ??= (async () => {
      const model = await RiskModel.train(examples);
      this.model = model;
      this.fittedOn = examples.length;
      this.options.log?.(
        `risk model ${model.info.source === 'trained' ? 'refitted' : 'kept at its prior'} on ${examples.length} release outcomes (${model.info.bad} bad): ${model.info.digest.slice(0, 19)}`,
      );
    })().finally(() => {
      this.fitting = undefined;
    });
    await this.fitting;
  }
}
