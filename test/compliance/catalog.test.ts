// The shipped policy bundle against the catalog (compliance-controls.md): all 45 controls, each with
// the catalog's severity, a plain-words page in docs/policies/, and a violation catalog that proves
// it — the compliant example passes every control, every injected violation makes its control fail
// (or error: missing evidence), and every near miss keeps it passing.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { ComplianceCase } from '../../bench/compliance/cases/types.js';
import { compliantManifest, evaluate, explain, ROOT, runCase, shippedBundle } from './harness.js';

/** The catalog: id and severity of every control (compliance-controls.md §1). */
const CATALOG: [string, 'blocker' | 'major' | 'minor'][] = [
  ['HIPAA-164.312(a)(1)-NO-ANON-ENDPOINT', 'blocker'],
  ['HIPAA-164.312(a)(2)(i)-UNIQUE-USER-ID', 'blocker'],
  ['NIST-AC-5+21CFR11-SOD-APPROVALS', 'blocker'],
  ['HIPAA-164.312(a)(2)(iii)-AUTO-LOGOFF', 'major'],
  ['HIPAA-164.312(a)(2)(iv)-ENC-AT-REST', 'blocker'],
  ['HIPAA-164.312(e)(1)-TLS-IN-TRANSIT', 'blocker'],
  ['HIPAA-164.312(e)(2)(i)-MTLS-IN-CLUSTER', 'major'],
  ['HIPAA-164.312(b)-AUDIT-LOGGING', 'blocker'],
  ['HIPAA-164.312(c)(1)-IMAGE-DIGEST-PIN', 'blocker'],
  ['HIPAA-164.312(c)(1)-ARTIFACT-SIGNATURE', 'blocker'],
  ['FDA-FDCA-524B(b)(3)-SBOM-VULN', 'major'],
  ['GDPR-ChV-Art44-46-EU-RESIDENCY', 'blocker'],
  ['GDPR-Art44-ONWARD-TELEMETRY-RESIDENCY', 'major'],
  ['HIPAA-164.514(b)-NO-PHI-IN-METADATA', 'blocker'],
  ['HIPAA-164.502(b)-NO-PHI-IN-LOGS', 'major'],
  ['GDPR-Art5(1)(e)-STORAGE-LIMITATION', 'major'],
  ['HIPAA-164.316(b)(2)(i)-RETENTION-6Y', 'major'],
  ['HIPAA-164.308(b)(1)-BAA-PER-PROCESSOR', 'blocker'],
  ['GDPR-Art35(3)(b)-DPIA', 'major'],
  ['GDPR-Art9(2)+HIPAA-164.514-TRAINING-DATA-BASIS', 'major'],
  ['FDA-PCCP-DoM-IN-SCOPE', 'blocker'],
  ['FDA-PCCP-INTENDED-USE-UNCHANGED', 'blocker'],
  ['FDA-PCCP-INPUT-MODALITY-UNCHANGED', 'blocker'],
  ['FDA-PCCP-PERF-ACCEPTANCE', 'blocker'],
  ['FDA-PCCP-PROTOCOL-CONFORMANCE', 'blocker'],
  ['FDA-PCCP-SUBGROUP-ACCEPTANCE', 'blocker'],
  ['FDA-PCCP-IMPACT-ASSESSMENT', 'major'],
  ['FDA-PCCP-UPDATE-PROCEDURES-LABELING', 'major'],
  ['FDA-PCCP-TRACEABILITY', 'major'],
  ['GMLP-P4-TEST-INDEPENDENCE', 'blocker'],
  ['GMLP-P3-SUBGROUP-REPORTING', 'major'],
  ['GMLP-P9-MODEL-CARD-COMPLETE', 'major'],
  ['GMLP-P10-MONITORING', 'major'],
  ['K8S-PSS-R-RUN-AS-NON-ROOT', 'blocker'],
  ['K8S-PSS-B-NO-PRIVILEGED-HOSTNS', 'blocker'],
  ['K8S-PSS-R-PRIVESC-CAPS-SECCOMP', 'major'],
  ['K8S-PSS-B-NO-HOSTPATH', 'blocker'],
  ['K8S-NSA-RO-ROOTFS', 'major'],
  ['K8S-RESOURCE-LIMITS', 'major'],
  ['K8S-CIS-5.3.2-NETPOL', 'major'],
  ['K8S-NO-LATEST-TAG', 'minor'],
  ['K8S-PROBES', 'major'],
  ['K8S-CIS-5.1.6-SA-TOKEN', 'major'],
  ['K8S-CIS-5.4.1-SECRETS-AS-FILES', 'minor'],
  ['K8S-CIS-5.7.4-NAMESPACE-PSA', 'minor'],
];

async function allCases(): Promise<ComplianceCase[]> {
  const directory = new URL('../../bench/compliance/cases/', import.meta.url);
  const files = readdirSync(directory).filter((name) => name.endsWith('.js') && name !== 'types.js');
  const cases: ComplianceCase[] = [];
  for (const file of files.sort()) {
    const module = (await import(new URL(file, directory).href)) as { cases?: ComplianceCase[] };
    cases.push(...(module.cases ?? []));
  }
  return cases;
}

describe('the shipped policy bundle', () => {
  const bundle = shippedBundle();

  test('implements the 45 controls of the catalog with their severities: 21 blockers, 21 majors, 3 minors', () => {
    const shipped = new Map(bundle.controls.map((control) => [control.definition.id, control.severity]));
    assert.equal(shipped.size, 45);
    for (const [id, severity] of CATALOG) assert.equal(shipped.get(id), severity, id);
    const counts = { blocker: 0, major: 0, minor: 0 };
    for (const severity of shipped.values()) counts[severity] += 1;
    assert.deepEqual(counts, { blocker: 21, major: 21, minor: 3 });
  });

  test('has one pack per source, each with a page for regulatory staff that explains every control', () => {
    assert.deepEqual(bundle.packs.map((pack) => pack.id).sort(), [
      'fda-pccp',
      'gdpr',
      'gmlp',
      'hipaa',
      'kubernetes',
    ]);
    for (const pack of bundle.packs) {
      const page = readFileSync(path.join(ROOT, 'docs', 'policies', `${pack.id}.md`), 'utf8');
      for (const control of bundle.controls.filter((entry) => entry.pack === pack.id))
        assert.ok(
          page.includes(control.definition.id),
          `docs/policies/${pack.id}.md explains ${control.definition.id}`,
        );
    }
    for (const control of bundle.controls) {
      assert.ok(control.definition.description.length > 40, `${control.definition.id} has a description`);
      assert.ok(control.definition.source.length > 5, `${control.definition.id} cites its source`);
    }
  });

  test('trusts exactly the example signing root that signed the example (until a deployment replaces it)', () => {
    const trust = JSON.parse(
      readFileSync(path.join(ROOT, 'examples', 'signing', 'trust.json'), 'utf8'),
    ) as unknown;
    assert.deepEqual(
      bundle.data.signing,
      trust,
      'policies/data/signing.yaml must carry examples/signing/trust.json',
    );
  });

  test('the compliant example passes every control', () => {
    const report = evaluate(compliantManifest());
    const notPassing = report.controls.filter((control) => control.status !== 'pass');
    assert.deepEqual(notPassing.map(explain), []);
    assert.equal(report.decision, 'pass');
    assert.equal(report.score, 100);
  });

  test('every control has at least 10 violations and 2 near misses, and each comes out as labelled', async () => {
    const cases = await allCases();
    const problems: string[] = [];
    for (const [id] of CATALOG) {
      const own = cases.filter((entry) => entry.control === id);
      const violations = own.filter((entry) => entry.kind === 'violation').length;
      const nearMisses = own.filter((entry) => entry.kind === 'near-miss').length;
      if (violations < 10 || nearMisses < 2)
        problems.push(`${id}: ${violations} violations, ${nearMisses} near misses`);
    }
    for (const entry of cases) {
      const { control } = await runCase(entry);
      const ok =
        entry.kind === 'violation'
          ? control.status === 'fail' || control.status === 'error'
          : control.status === 'pass';
      if (!ok) problems.push(`${entry.kind} '${entry.name}': ${explain(control)}`);
    }
    assert.deepEqual(problems, []);
  });
});
