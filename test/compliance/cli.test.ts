// `medrelease check` as a user runs it in CI: a real process on the shipped examples, its exit status
// (0 pass, 1 blocked, 2 invalid input) and its text, JSON and SARIF reports.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import type { ComplianceReport } from '../../domain/compliance.js';
import { EXAMPLES_DIR, ROOT } from './harness.js';

const CLI = fileURLToPath(new URL('../../cli/medrelease.js', import.meta.url));
const AT = '2026-11-28T12:00:00Z';
const scratch = mkdtempSync(path.join(os.tmpdir(), 'medrelease-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: ROOT, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const compliant = path.join(EXAMPLES_DIR, 'compliant.yaml');
const history = path.join(EXAMPLES_DIR, 'history.json');

describe('medrelease check', () => {
  test('the compliant example passes (exit 0) with a readable report', async () => {
    const result = await run(['check', compliant, '--at', AT, '--history', history]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^PASS {2}.*compliant\.yaml {2}score 100 \(minimum 90\)/);
    assert.match(result.stdout, /45 pass|\d+ pass, 0 fail, 0 error/);
    assert.match(result.stdout, /policy .* \(sha256:[a-f0-9]{64}\)/);
  });

  test('a failing example is blocked (exit 1), with the control, the pointer and the line', async () => {
    const file = path.join(EXAMPLES_DIR, 'failures', 'privileged-container.yaml');
    const result = await run(['check', file, '--at', AT, '--history', history]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /^BLOCKED/);
    assert.match(result.stdout, /FAIL {2}blocker K8S-PSS-B-NO-PRIVILEGED-HOSTNS/);
    assert.match(
      result.stdout,
      /\/kubernetesManifests\/2\/spec\/template\/spec\/containers\/0\/securityContext\/privileged \(line \d+\): observed true/,
    );
  });

  test('JSON gives the full report; SARIF 2.1.0 one result per failing item, located in the file', async () => {
    const file = path.join(EXAMPLES_DIR, 'failures', 'self-approved.yaml');
    const json = await run(['check', file, '--at', AT, '--format', 'json']);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout) as ComplianceReport;
    assert.equal(report.decision, 'blocked');
    assert.equal(
      report.controls.find((control) => control.id === 'NIST-AC-5+21CFR11-SOD-APPROVALS')!.status,
      'fail',
    );
    const sarif = await run(['check', file, '--at', AT, '--format', 'sarif']);
    assert.equal(sarif.code, 1);
    const log = JSON.parse(sarif.stdout) as {
      version: string;
      runs: {
        tool: { driver: { rules: { id: string }[] } };
        results: {
          ruleId: string;
          level: string;
          locations: { physicalLocation: { region: { startLine: number } } }[];
        }[];
      }[];
    };
    assert.equal(log.version, '2.1.0');
    assert.equal(log.runs[0]!.tool.driver.rules.length, 45);
    const results = log.runs[0]!.results.filter(
      (entry) => entry.ruleId === 'NIST-AC-5+21CFR11-SOD-APPROVALS',
    );
    assert.ok(results.length > 0);
    assert.equal(results[0]!.level, 'error');
    assert.ok(results[0]!.locations[0]!.physicalLocation.region.startLine > 1);
  });

  test('invalid input exits 2: an invalid manifest with every problem, a missing file, bad options', async () => {
    const invalid = path.join(scratch, 'invalid.yaml');
    writeFileSync(
      invalid,
      'apiVersion: medrelease.dev/v1\nkind: ModelRelease\nmetadata:\n  createdAt: soon\nmodel:\n  name: X\n',
    );
    const result = await run(['check', invalid]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /is not a valid release manifest \(\d+ problems\)/);
    assert.match(result.stderr, /\/metadata\/createdAt \(line 4\): must match format "date-time"/);
    assert.match(result.stderr, /\/model\/name \(line 6\)/);
    assert.match(result.stderr, /\/deployment( \(line \d+\))?: is required/);
    assert.match(
      result.stderr,
      /\/model\/version \(line 5\): is required/,
      "a missing field points at its parent's line",
    );
    assert.equal((await run(['check', path.join(scratch, 'nope.yaml')])).code, 2);
    assert.equal((await run(['check', compliant, '--format', 'xml'])).code, 2);
    assert.equal((await run(['check', compliant, '--at', 'someday'])).code, 2);
    assert.equal((await run(['check', compliant, '--policy', scratch])).code, 2, 'a directory without packs');
    assert.equal((await run(['frobnicate'])).code, 2);
  });

  test('evaluated later, the dated example is stale: its scan is too old and the gate says so', async () => {
    const result = await run(['check', compliant, '--at', '2027-03-01T00:00:00Z', '--history', history]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /FDA-FDCA-524B\(b\)\(3\)-SBOM-VULN/);
  });
});
