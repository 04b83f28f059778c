// `medrelease` — the compliance gate on the command line, as conftest runs policies: the same
// policy bundle, engine and signature verification as the release workflow, offline, so a team can
// run the gate in its own CI before it asks for a release.
//
//   medrelease check <manifest> [--policy <dir>] [--data <file>]... [--format text|json|sarif]
//                    [--at <time>] [--history <file>] [--waivers <file>] [--output <file>]
//   medrelease schema
//   medrelease audit <verify|export|prune> …   (cli/audit.ts)
//   medrelease keys <init|rotate-payload|rotate-audit|show>   (cli/keys.ts)
//
// Exit status: 0 the manifest passes, 1 the gate blocks it, 2 the input is invalid (unreadable,
// not a valid manifest, an invalid policy bundle or bad arguments).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { ENGINE } from '../activities/compliance/engine.js';
import { evaluateRelease, type EvaluationContext } from '../activities/compliance/evaluate.js';
import { readManifest } from '../activities/compliance/manifest.js';
import { loadPolicyBundle, PolicyError } from '../activities/compliance/policy.js';
import type { ComplianceReport, ControlResult, Waiver } from '../domain/compliance.js';
import { ReleaseManifestSchema } from '../domain/manifest.js';
import { auditMain } from './audit.js';
import { keysMain } from './keys.js';

export const EXIT = { pass: 0, blocked: 1, invalid: 2 } as const;
const SHIPPED_POLICY_DIR = fileURLToPath(new URL('../../policies', import.meta.url));

const USAGE = `usage:
  medrelease check <manifest.yaml|json> [options]   evaluate a release manifest with the compliance gate
  medrelease schema                                  print the release manifest's JSON Schema
  medrelease audit <verify|export|prune> [options]   check, export or prune the audit trail (audit --help)
  medrelease keys <init|rotate-payload|rotate-audit|show>   provision and rotate keys (keys --help)

options of check:
  --policy <dir>     policy packs (*.yaml) and data (data/*.yaml); default: the shipped policies/
  --data <file>      more policy data (repeatable), e.g. your registries and thresholds
  --format <f>       text (default), json (the full report) or sarif (SARIF 2.1.0, for code scanning)
  --at <time>        evaluate as of this RFC 3339 time (default: now); examples are dated
  --history <file>   JSON {deployedVersion, previous} the gate compares against (default: none)
  --waivers <file>   JSON list of waivers [{control, justification, expiresAt, requestedBy, approvals}]
  --output <file>    write the report there instead of standard output

exit status: 0 pass, 1 blocked, 2 invalid input`;

class InvalidInput extends Error {}

function readJson(file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (error) {
    throw new InvalidInput(`cannot read the ${what} ${file}: ${(error as Error).message}`);
  }
}

/** Maps JSON pointers of the manifest to lines of its YAML/JSON text (for SARIF and the text report). */
export function lineFinder(text: string): (pointer: string) => number | undefined {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter });
  return (pointer) => {
    let node: unknown = document.contents;
    let line: number | undefined;
    const lineOf = (candidate: unknown) => {
      const range = (candidate as Node | undefined)?.range;
      if (range) line = lineCounter.linePos(range[0]).line;
    };
    lineOf(node);
    for (const raw of pointer.split('/').slice(1)) {
      const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
        if (!pair) break;
        lineOf(pair.key);
        node = pair.value;
      } else if (isSeq(node)) {
        node = node.items[Number(key)];
        if (node === undefined) break;
        lineOf(node);
      } else break;
    }
    return line;
  };
}

function value(text: unknown): string {
  const json = JSON.stringify(text);
  return json === undefined ? 'undefined' : json.length > 120 ? `${json.slice(0, 117)}...` : json;
}

export function textReport(
  report: ComplianceReport,
  file: string,
  line: (pointer: string) => number | undefined,
): string {
  const out: string[] = [];
  const mark = report.decision === 'pass' ? 'PASS' : 'BLOCKED';
  out.push(`${mark}  ${file}  score ${report.score} (minimum ${report.minScore})`);
  out.push(
    `  ${report.counts.pass} pass, ${report.counts.fail} fail, ${report.counts.error} error, ${report.counts.not_applicable} not applicable`,
  );
  for (const reason of report.reasons) out.push(`  - ${reason}`);
  const failing = report.controls.filter(
    (control) => control.status === 'fail' || control.status === 'error',
  );
  if (failing.length > 0) out.push('', 'Controls that did not pass (blockers first):');
  for (const control of failing) {
    out.push(
      `  ${control.status.toUpperCase().padEnd(5)} ${control.severity.padEnd(7)} ${control.id} — ${control.title}`,
    );
    for (const item of control.evidence.filter((entry) => entry.status !== 'pass').slice(0, 8)) {
      const at = line(item.path);
      out.push(
        `        ${item.path || '(manifest)'}${at ? ` (line ${at})` : ''}: observed ${value(item.observed)}, expected ${value(item.expected)}${item.message ? ` — ${item.message}` : ''}`,
      );
    }
    if (control.waiver)
      out.push(
        `        waiver: ${control.waiver.valid ? 'valid' : `not valid (${control.waiver.problems.join('; ')})`}`,
      );
  }
  const notApplicable = report.controls.filter((control) => control.status === 'not_applicable');
  if (notApplicable.length > 0) out.push('', 'Not applicable:');
  for (const control of notApplicable) out.push(`  ${control.id}: ${control.notApplicableRule}`);
  out.push(
    '',
    `policy ${report.policy.name} ${report.policy.version} (${report.policy.digest})`,
    `manifest ${report.manifestDigest ?? '-'}; ${report.engine.name} ${report.engine.version}; evaluated at ${report.evaluatedAt}`,
  );
  return `${out.join('\n')}\n`;
}

const LEVEL: Record<ControlResult['severity'], 'error' | 'warning' | 'note'> = {
  blocker: 'error',
  major: 'warning',
  minor: 'note',
};

/** SARIF 2.1.0: one rule per control, one result per failing evidence item, located in the manifest. */
export function sarifReport(
  report: ComplianceReport,
  file: string,
  line: (pointer: string) => number | undefined,
): unknown {
  const rules = report.controls.map((control) => ({
    id: control.id,
    name: control.id.replace(/[^A-Za-z0-9]+/g, ''),
    shortDescription: { text: control.title },
    fullDescription: { text: `${control.title}. Source: ${control.source}` },
    defaultConfiguration: { level: LEVEL[control.severity] },
    properties: { severity: control.severity, pack: control.pack, ruleDigest: control.ruleDigest },
  }));
  const results = report.controls.flatMap((control, ruleIndex) =>
    control.status === 'fail' || control.status === 'error'
      ? control.evidence
          .filter((item) => item.status !== 'pass')
          .map((item) => ({
            ruleId: control.id,
            ruleIndex,
            level: LEVEL[control.severity],
            message: {
              text: `${control.title}: ${item.check} — observed ${value(item.observed)}, expected ${value(item.expected)}${item.message ? ` (${item.message})` : ''}`,
            },
            locations: [
              {
                physicalLocation: {
                  artifactLocation: { uri: file },
                  region: { startLine: line(item.path) ?? 1 },
                },
                logicalLocations: [{ fullyQualifiedName: item.path || '/', kind: 'member' }],
              },
            ],
            properties: { status: item.status, pointer: item.path },
          }))
      : [],
  );
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: ENGINE.name,
            version: ENGINE.version,
            informationUri: 'https://medrelease.dev',
            rules,
          },
        },
        results,
        properties: {
          decision: report.decision,
          score: report.score,
          policyDigest: report.policy.digest,
          manifestDigest: report.manifestDigest,
        },
      },
    ],
  };
}

export function check(argv: string[], output: (text: string) => void): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      policy: { type: 'string' },
      data: { type: 'string', multiple: true },
      format: { type: 'string', default: 'text' },
      at: { type: 'string' },
      history: { type: 'string' },
      waivers: { type: 'string' },
      output: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new InvalidInput(`check needs exactly one manifest file\n${USAGE}`);
  const file = positionals[0]!;
  const format = values.format;
  if (!['text', 'json', 'sarif'].includes(format))
    throw new InvalidInput(`--format must be text, json or sarif (got '${format}')`);
  const now = values.at ? new Date(values.at) : new Date();
  if (Number.isNaN(now.getTime())) throw new InvalidInput(`--at '${values.at}' is not an RFC 3339 time`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidInput(`cannot read the manifest ${file}: ${(error as Error).message}`);
  }
  const result = readManifest(text);
  if (result.problems) {
    const line = lineFinder(text);
    throw new InvalidInput(
      `${file} is not a valid release manifest (${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}):\n` +
        result.problems
          .map((problem) => {
            const at = problem.field ? line(problem.field) : undefined;
            return `  ${problem.field || '/'}${at ? ` (line ${at})` : ''}: ${problem.message}`;
          })
          .join('\n'),
    );
  }
  let bundle;
  try {
    bundle = loadPolicyBundle(
      values.policy ? path.resolve(values.policy) : SHIPPED_POLICY_DIR,
      values.data ?? [],
    );
  } catch (error) {
    if (error instanceof PolicyError) throw new InvalidInput(error.message);
    throw error;
  }
  const context: EvaluationContext = { now };
  if (values.history) context.history = readJson(values.history, 'history') as EvaluationContext['history'];
  if (values.waivers) context.waivers = readJson(values.waivers, 'waivers') as Waiver[];
  const report = evaluateRelease(result.manifest, bundle, context);
  const line = lineFinder(text);
  const rendered =
    format === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : format === 'sarif'
        ? `${JSON.stringify(sarifReport(report, file, line), null, 2)}\n`
        : textReport(report, file, line);
  if (values.output) writeFileSync(values.output, rendered);
  else output(rendered);
  return report.decision === 'pass' ? EXIT.pass : EXIT.blocked;
}

export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check':
        return check(rest, (text) => process.stdout.write(text));
      case 'schema':
        process.stdout.write(`${JSON.stringify(ReleaseManifestSchema, null, 2)}\n`);
        return EXIT.pass;
      case 'audit':
        return auditMain(rest);
      case 'keys':
        void keysMain(rest).then(
          (code) => (process.exitCode = code),
          (error: unknown) => {
            process.stderr.write(`medrelease keys: ${(error as Error).message}\n`);
            process.exitCode = 2;
          },
        );
        return EXIT.pass;
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? EXIT.invalid : EXIT.pass;
      default:
        throw new InvalidInput(`unknown command '${command}'\n${USAGE}`);
    }
  } catch (error) {
    if (
      error instanceof InvalidInput ||
      (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`medrelease: ${(error as Error).message}\n`);
      return EXIT.invalid;
    }
    throw error;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = main(process.argv.slice(2));
}
