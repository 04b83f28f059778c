// The violation catalog (bench/compliance/cases/) as manifests: every case loaded from its compiled
// module, and a manifest built from the compliant example with cases applied. Shared by
// bench:compliance and bench:paper.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { NormalizedManifest } from '../../domain/manifest.js';
import { compliantManifest, defaultContext, rebindApprovals } from '../../test/compliance/harness.js';
import type { CaseContext, ComplianceCase } from './cases/types.js';

export async function loadCases(): Promise<ComplianceCase[]> {
  const directory = fileURLToPath(new URL('./cases/', import.meta.url));
  const files = readdirSync(directory).filter((name) => name.endsWith('.js') && name !== 'types.js');
  const cases: ComplianceCase[] = [];
  for (const file of files.sort()) {
    const module = (await import(new URL(`./cases/${file}`, import.meta.url).href)) as {
      cases?: ComplianceCase[];
    };
    cases.push(...(module.cases ?? []));
  }
  return cases;
}

export interface Sample {
  label: string;
  /** Controls that must not pass. */
  violated: string[];
  /** Compliant: the whole manifest must pass. */
  compliant: boolean;
  manifest: NormalizedManifest;
  context: CaseContext;
}

export async function build(cases: ComplianceCase[], label: string, compliant: boolean): Promise<Sample> {
  const manifest = compliantManifest();
  rebindApprovals(manifest);
  const context = defaultContext();
  for (const entry of cases) await entry.mutate(manifest, context);
  if (!cases.some((entry) => entry.keepApprovalDigests)) rebindApprovals(manifest);
  return {
    label,
    violated: compliant ? [] : cases.map((entry) => entry.control),
    compliant,
    manifest,
    context,
  };
}
