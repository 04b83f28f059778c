// bench:compliance — how well and how fast the compliance gate judges manifests. From the compliant
// example it generates a corpus: every injected violation of the violation catalog on its own, seeded
// random combinations of 2–4 violations of different controls, every near miss (suspicious but
// compliant) and combinations of near misses. It reports per-control recall (a violated control must
// not pass), the share of compliant manifests wrongly blocked, and the evaluation time per manifest.
//
//   npm run bench:compliance -- [--combined <n>] [--seed <s>] [--rounds <r>] [--chart <svg>]
//
// Last line: {"recall": …, "falseBlockRate": …, "msPerManifest": …, …}. Targets: recall 100 %,
// false blocks 0, under 20 ms per manifest.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateRelease } from '../activities/compliance/evaluate.js';
import type { ComplianceReport } from '../domain/compliance.js';
import {
  compliantManifest,
  defaultContext,
  rebindApprovals,
  shippedBundle,
} from '../test/compliance/harness.js';
import type { ComplianceCase } from './compliance/cases/types.js';
import { build, loadCases, type Sample } from './compliance/catalog.js';
import {
  asciiBars,
  asciiHistogram,
  cpuModel,
  fixed,
  histogram,
  median,
  percentile,
  round,
  svgBarPanel,
  svgDocument,
  svgHistogramPanel,
} from './report.js';

const { values: options } = parseArgs({
  options: {
    combined: { type: 'string', default: '400' },
    'near-miss-combined': { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    chart: { type: 'string', default: 'docs/images/bench-compliance.svg' },
  },
});

const progress = (line: string) => process.stderr.write(`[bench:compliance] ${line}\n`);

/** mulberry32: a small seeded generator, so the combined corpus is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function evaluate(sample: Sample): { report: ComplianceReport; ms: number } {
  const started = performance.now();
  const report = evaluateRelease(sample.manifest, shippedBundle(), sample.context);
  return { report, ms: performance.now() - started };
}

/** JSON pointers where two documents differ (an array whose length changed counts as one change). */
function differences(before: unknown, after: unknown, at = ''): string[] {
  if (before === after) return [];
  if (Array.isArray(before) && Array.isArray(after)) {
    if (before.length !== after.length) return [at];
    return before.flatMap((entry, index) => differences(entry, after[index], `${at}/${index}`));
  }
  if (
    before &&
    after &&
    typeof before === 'object' &&
    typeof after === 'object' &&
    !Array.isArray(before) &&
    !Array.isArray(after)
  ) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].flatMap((key) =>
      differences(
        (before as Record<string, unknown>)[key],
        (after as Record<string, unknown>)[key],
        `${at}/${key}`,
      ),
    );
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [at];
}

const overlaps = (a: string, b: string) => a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);

/**
 * What a case changes: the manifest pointers and the context fields. Cases are combined only when
 * their footprints are disjoint, so that one injected violation cannot undo or hide another.
 */
async function footprint(entry: ComplianceCase): Promise<string[]> {
  const base = compliantManifest();
  rebindApprovals(base);
  const manifest = structuredClone(base);
  const context = defaultContext();
  const original = JSON.stringify({ ...context, now: context.now.toISOString() });
  await entry.mutate(manifest, context);
  const changed = differences(base, manifest).filter(
    (pointer) => !/^\/approvals\/\d+\/signedPayloadDigest$/.test(pointer),
  );
  const after = JSON.stringify({ ...context, now: context.now.toISOString() });
  return [
    ...changed,
    ...(after !== original ? ['#context'] : []),
    ...(entry.keepApprovalDigests ? ['/approvals'] : []),
  ];
}

function pick<T>(items: T[], count: number, next: () => number): T[] {
  const pool = [...items];
  const chosen: T[] = [];
  while (chosen.length < count && pool.length > 0)
    chosen.push(pool.splice(Math.floor(next() * pool.length), 1)[0]!);
  return chosen;
}

async function main(): Promise<void> {
  const started = performance.now();
  const bundle = shippedBundle();
  const cases = await loadCases();
  const controls = bundle.controls.map((control) => control.definition.id);
  const violations = cases.filter((entry) => entry.kind === 'violation');
  const nearMisses = cases.filter((entry) => entry.kind === 'near-miss');
  progress(
    `${controls.length} controls in ${bundle.packs.length} packs (${bundle.digest.slice(0, 19)}…); ${violations.length} violations, ${nearMisses.length} near misses in the catalog`,
  );
  const missing = controls.filter((id) => violations.filter((entry) => entry.control === id).length < 10);
  if (missing.length > 0) progress(`warning: fewer than 10 violations for ${missing.join(', ')}`);

  const next = random(Number(options.seed));
  const samples: Sample[] = [await build([], 'the compliant example', true)];
  for (const entry of violations)
    samples.push(await build([entry], `${entry.control}: ${entry.name}`, false));
  for (const entry of nearMisses)
    samples.push(await build([entry], `near miss ${entry.control}: ${entry.name}`, true));
  const footprints = new Map<ComplianceCase, string[]>();
  for (const entry of cases) footprints.set(entry, await footprint(entry));
  const disjoint = (chosen: ComplianceCase[]) =>
    chosen.every((a, i) =>
      chosen
        .slice(i + 1)
        .every((b) => footprints.get(a)!.every((x) => footprints.get(b)!.every((y) => !overlaps(x, y)))),
    );
  /** Seeded combinations of 2–4 cases of different controls with disjoint footprints. */
  const combine = async (pool: ComplianceCase[], count: number, compliant: boolean, label: string) => {
    const byControl = new Map<string, ComplianceCase[]>();
    for (const entry of pool) byControl.set(entry.control, [...(byControl.get(entry.control) ?? []), entry]);
    let built = 0;
    let attempts = 0;
    while (built < count && attempts < count * 50 && byControl.size > 1) {
      attempts += 1;
      const chosenControls = pick([...byControl.keys()], 2 + Math.floor(next() * 3), next);
      const chosen = chosenControls.map((id) => pick(byControl.get(id)!, 1, next)[0]!);
      if (!disjoint(chosen)) continue;
      try {
        samples.push(
          await build(
            chosen,
            `${label}: ${chosen.map((entry) => `${entry.control} (${entry.name})`).join(' + ')}`,
            compliant,
          ),
        );
      } catch {
        continue; // a case that needs what another removed: not a valid combination
      }
      built += 1;
      if (built % 100 === 0) progress(`built ${built}/${count} ${label}`);
    }
    return built;
  };
  const combinedBuilt = await combine(violations, Number(options.combined), false, 'combined violations');
  const nearBuilt = await combine(
    nearMisses,
    Number(options['near-miss-combined']),
    true,
    'combined near misses',
  );
  progress(`${combinedBuilt} combined violations, ${nearBuilt} combined near misses (disjoint footprints)`);
  progress(`corpus: ${samples.length} manifests; evaluating ${options.rounds} round(s)`);

  // The first evaluation of each distinct signature bundle verifies it; later ones hit the cache, as
  // re-evaluations of a release do. Both costs are reported.
  const cold = evaluate(samples[0]!).ms;
  const times: number[] = [];
  const results: { sample: Sample; report: ComplianceReport }[] = [];
  for (let round_ = 0; round_ < Number(options.rounds); round_ += 1) {
    samples.forEach((sample, index) => {
      const { report, ms } = evaluate(sample);
      times.push(ms);
      if (round_ === 0) results.push({ sample, report });
      if (round_ === 0 && (index + 1) % 250 === 0) progress(`evaluated ${index + 1}/${samples.length}`);
    });
  }

  const perControl = new Map<
    string,
    { violations: number; detected: number; nearMisses: number; nearMissFalse: number }
  >();
  for (const id of controls)
    perControl.set(id, { violations: 0, detected: 0, nearMisses: 0, nearMissFalse: 0 });
  const misses: string[] = [];
  const falseBlocks: string[] = [];
  let compliantCount = 0;
  let blockedViolations = 0;
  let violationSamples = 0;
  for (const { sample, report } of results) {
    const status = new Map(report.controls.map((control) => [control.id, control.status]));
    if (sample.compliant) {
      compliantCount += 1;
      if (report.decision !== 'pass') falseBlocks.push(`${sample.label}: ${report.reasons.join('; ')}`);
      for (const entry of sample.label.startsWith('near miss ')
        ? [sample.label.slice(10).split(':')[0]!]
        : []) {
        const stats = perControl.get(entry);
        if (!stats) continue;
        stats.nearMisses += 1;
        if (status.get(entry) !== 'pass') stats.nearMissFalse += 1;
      }
      continue;
    }
    violationSamples += 1;
    if (report.decision === 'blocked') blockedViolations += 1;
    for (const id of sample.violated) {
      const stats = perControl.get(id);
      if (!stats) {
        misses.push(`${sample.label}: no control ${id} in the policy`);
        continue;
      }
      stats.violations += 1;
      const result = status.get(id);
      if (result === 'fail' || result === 'error') stats.detected += 1;
      else misses.push(`${sample.label}: ${id} is ${result}`);
    }
  }
  const totalViolations = [...perControl.values()].reduce((sum, stats) => sum + stats.violations, 0);
  const totalDetected = [...perControl.values()].reduce((sum, stats) => sum + stats.detected, 0);
  const recall = totalViolations === 0 ? 0 : totalDetected / totalViolations;
  const falseBlockRate = compliantCount === 0 ? 0 : falseBlocks.length / compliantCount;
  const ms = { median: median(times), p95: percentile(times, 95), max: Math.max(...times) };

  const machine = `${await cpuModel()}, ${os.cpus().length} cores, ${fixed(os.totalmem() / 2 ** 30, 1)} GiB RAM, Node ${process.versions.node}`;
  console.log(`\nbench:compliance — ${machine}`);
  console.log(
    `policy ${bundle.name} ${bundle.version}: ${controls.length} controls; corpus ${samples.length} manifests ` +
      `(${violationSamples} with violations, ${compliantCount} compliant), ${options.rounds} rounds, seed ${options.seed}\n`,
  );
  const idWidth = Math.max(...controls.map((id) => id.length));
  console.log(`${'control'.padEnd(idWidth)}  violations  detected  recall   near misses  wrongly failed`);
  for (const [id, stats] of perControl) {
    console.log(
      `${id.padEnd(idWidth)}  ${String(stats.violations).padStart(10)}  ${String(stats.detected).padStart(8)}  ${fixed(
        stats.violations === 0 ? 0 : (100 * stats.detected) / stats.violations,
        1,
      ).padStart(
        5,
      )} %  ${String(stats.nearMisses).padStart(11)}  ${String(stats.nearMissFalse).padStart(14)}`,
    );
  }
  console.log(
    `\nrecall ${fixed(100 * recall, 2)} % (${totalDetected}/${totalViolations}); manifests with violations blocked: ${blockedViolations}/${violationSamples}`,
  );
  console.log(
    `false blocks ${falseBlocks.length}/${compliantCount} compliant manifests (${fixed(100 * falseBlockRate, 2)} %)`,
  );
  console.log(
    `evaluation per manifest: median ${fixed(ms.median, 2)} ms, p95 ${fixed(ms.p95, 2)} ms, max ${fixed(ms.max, 2)} ms ` +
      `(${times.length} evaluations; first, with signature verification: ${fixed(cold, 1)} ms)`,
  );
  for (const line of asciiHistogram(histogram(times, 10), 40, 'ms', 2)) console.log(line);
  for (const miss of misses.slice(0, 20)) console.log(`  MISSED ${miss}`);
  for (const block of falseBlocks.slice(0, 20)) console.log(`  FALSE BLOCK ${block}`);
  const packRecall = bundle.packs.map((pack) => {
    const ids = bundle.controls
      .filter((control) => control.pack === pack.id)
      .map((control) => control.definition.id);
    const stats = ids.map((id) => perControl.get(id)!);
    const violationsOfPack = stats.reduce((sum, entry) => sum + entry.violations, 0);
    const detected = stats.reduce((sum, entry) => sum + entry.detected, 0);
    return {
      label: pack.id,
      value: violationsOfPack === 0 ? 0 : (100 * detected) / violationsOfPack,
      note: `${detected}/${violationsOfPack}`,
    };
  });
  console.log('\nrecall by pack');
  for (const line of asciiBars(packRecall, 40, ' %')) console.log(line);

  if (options.chart) {
    const svg = svgDocument(
      'bench:compliance — the compliance gate on generated manifests',
      [
        machine,
        `${samples.length} manifests; recall ${fixed(100 * recall, 2)} %, false blocks ${falseBlocks.length}/${compliantCount}, median ${fixed(ms.median, 2)} ms, p95 ${fixed(ms.p95, 2)} ms`,
      ],
      [
        svgBarPanel('Recall by policy pack (violated control not passed)', packRecall, ' %'),
        svgHistogramPanel('Evaluation time per manifest', histogram(times, 12), 'ms', 2),
      ],
    );
    await mkdir(path.dirname(options.chart), { recursive: true });
    await writeFile(options.chart, svg);
    progress(`chart written to ${options.chart}`);
  }
  progress(`done in ${fixed((performance.now() - started) / 1000, 1)} s`);
  console.log(
    JSON.stringify({
      recall: round(recall, 4),
      falseBlockRate: round(falseBlockRate, 4),
      msPerManifest: round(ms.median, 3),
      msPerManifestP95: round(ms.p95, 3),
      controls: controls.length,
      manifests: samples.length,
      violations: totalViolations,
      compliant: compliantCount,
      seconds: round((performance.now() - started) / 1000, 1),
    }),
  );
  if (recall < 1 || falseBlocks.length > 0) process.exitCode = 1;
}

await main();
