// What the gate knows of each model's past from its own records (never from the manifest): the
// version deployed now and the record of the release that deployed it — its artifact digest, risk
// file and labeling versions and validation results — which the PCCP controls compare against.
// One JSON file per model, rewritten atomically when a release completes.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NormalizedManifest } from '../../domain/manifest.js';
import type { PreviousRelease } from './engine.js';
import { documentDigest } from './facts.js';

export interface ModelHistory {
  deployedVersion: string | null;
  previous: PreviousRelease | null;
}

export interface ReleaseHistory {
  lookup(model: string): ModelHistory;
  recordDeployed(manifest: NormalizedManifest, releaseId: string, at: string): void;
}

interface HistoryFile {
  model: string;
  deployedVersion: string;
  releases: (PreviousRelease & { releaseId: string; deployedAt: string })[];
}

export function previousReleaseOf(manifest: NormalizedManifest): PreviousRelease {
  const change = manifest.regulatory?.fda?.change;
  const sbom = manifest.model.artifact.sbom?.digest;
  return {
    version: manifest.model.version,
    artifactDigest: manifest.model.artifact.digest,
    ...(sbom ? { sbomDigest: sbom } : {}),
    infraDigest: documentDigest(manifest.kubernetesManifests),
    ...(change?.impactAssessment?.riskFileVersion
      ? { riskFileVersion: change.impactAssessment.riskFileVersion }
      : {}),
    ...(change?.labeling?.version ? { labelingVersion: change.labeling.version } : {}),
    ...(manifest.validation
      ? {
          validation: {
            metrics: manifest.validation.metrics ?? {},
            subgroups: manifest.validation.subgroups ?? [],
          },
        }
      : {}),
  };
}

export class FileReleaseHistory implements ReleaseHistory {
  constructor(private readonly directory: string) {}

  /**
   * Records a deployment that happened outside medrelease (an installation's starting point, the
   * demo's seeded clouds): the version deployed now and its release record. Does nothing when the
   * model already has a history.
   */
  seed(model: string, history: { deployedVersion: string; previous: PreviousRelease }, at: string): boolean {
    if (this.read(model)) return false;
    this.write(model, {
      model,
      deployedVersion: history.deployedVersion,
      releases: [{ ...history.previous, releaseId: 'seeded', deployedAt: at }],
    });
    return true;
  }

  private write(model: string, history: HistoryFile): void {
    mkdirSync(this.directory, { recursive: true });
    const temporary = `${this.file(model)}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(history, null, 2)}\n`);
    renameSync(temporary, this.file(model));
  }

  private file(model: string): string {
    return path.join(this.directory, `${model}.json`);
  }

  private read(model: string): HistoryFile | undefined {
    try {
      return JSON.parse(readFileSync(this.file(model), 'utf8')) as HistoryFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  lookup(model: string): ModelHistory {
    const history = this.read(model);
    if (!history) return { deployedVersion: null, previous: null };
    const previous =
      history.releases.findLast((release) => release.version === history.deployedVersion) ?? null;
    if (!previous) return { deployedVersion: history.deployedVersion, previous: null };
    const { releaseId: _releaseId, deployedAt: _deployedAt, ...record } = previous;
    return { deployedVersion: history.deployedVersion, previous: record };
  }

  recordDeployed(manifest: NormalizedManifest, releaseId: string, at: string): void {
    const model = manifest.model.name;
    const history = this.read(model) ?? { model, deployedVersion: manifest.model.version, releases: [] };
    // Idempotent: a retried activity records the release once.
    if (!history.releases.some((release) => release.releaseId === releaseId))
      history.releases.push({ ...previousReleaseOf(manifest), releaseId, deployedAt: at });
    history.deployedVersion = manifest.model.version;
    this.write(model, history);
  }
}
