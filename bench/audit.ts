// bench:audit — how fast the SQLite audit store records, re-records (idempotent retries), verifies and
// exports, and how large it grows. Appends go through `append`, one record per `BEGIN IMMEDIATE`
// transaction with `synchronous = FULL` (the path activities take), so the append rate is bound by
// the disk's fsync; the detail payload is a realistic canary verdict of about 400 bytes.
//
//   node dist/bench/audit.js [--records N] [--out DIR]     (default 100000 records, .data/bench/audit)
//
// Writes the store, its JSON Lines export and a chart (bench-audit.svg) to --out; progress goes to
// standard error, the last line of standard output is JSON:
// {"records": …, "appendPerSecond": …, "verifyPerSecond": …, "bytesPerRecord": …, …}.
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createAuditSigner, verifyKeysFrom } from '../activities/audit/keys.js';
import { SqliteAuditStore, type AuditEvent } from '../activities/audit/store.js';
import { canonicalize } from '../domain/canonical-json.js';
import {
  asciiBars,
  cpuModel,
  describeLoad,
  fixed,
  machineLoad,
  percentile,
  round,
  svgBarPanel,
  svgDocument,
  type Bar,
} from './report.js';

const { values: options } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    out: { type: 'string', default: path.join(process.env.MEDRELEASE_DATA_DIR || '.data', 'bench', 'audit') },
  },
});
const total = Number(options.records);
if (!Number.isSafeInteger(total) || total < 1) {
  process.stderr.write(`bench:audit: --records must be a positive integer (got '${options.records}')\n`);
  process.exit(2);
}
const outDir = path.resolve(options.out);
const dbFile = path.join(outDir, 'audit.sqlite');
const exportFile = path.join(outDir, 'audit.jsonl');
const chartFile = path.join(outDir, 'bench-audit.svg');
const progress = (line: string) => process.stderr.write(`[bench:audit] ${line}\n`);
const count = (value: number) => Math.round(value).toLocaleString('en-US');

const TYPES = [
  'release.created',
  'stage.entered',
  'canary.verdict',
  'signoff.approve',
  'compliance.waiver',
  'operator.pause',
  'stage.entered',
  'canary.verdict',
  'release.completed',
];
const EVENTS_PER_RELEASE = 40;
const DIGEST = (seed: number) => `sha256:${seed.toString(16).padStart(8, '0').repeat(8)}`;

/** A canary verdict as the release workflow records it: about 400 bytes of canonical JSON. */
function eventFor(index: number, start: number): AuditEvent {
  const release = Math.floor(index / EVENTS_PER_RELEASE);
  return {
    eventId: `wf-${release.toString(36)}-run-${(release * 7919).toString(16)}/activity-${index % EVENTS_PER_RELEASE}`,
    releaseId: `rel-${String(release).padStart(6, '0')}`,
    type: TYPES[index % TYPES.length]!,
    actor: index % 11 === 0 ? `person-${index % 97}` : 'medrelease',
    at: new Date(start + index * 250).toISOString(),
    detail: {
      stage: 'canary-eu-west',
      cloud: index % 2 === 0 ? 'aws' : 'gcp',
      region: index % 2 === 0 ? 'eu-west-1' : 'europe-west4',
      model: { name: 'cxr-triage', version: `3.${index % 10}.${index % 7}` },
      verdict: index % 13 === 0 ? 'fail' : 'pass',
      trafficPercent: 5,
      metrics: {
        auroc: round(0.93 + (index % 17) / 1000, 4),
        sensitivity: round(0.91 + (index % 11) / 1000, 4),
        specificity: round(0.88 + (index % 7) / 1000, 4),
        latencyP95Ms: 150 + (index % 60),
        errorRate: round((index % 5) / 1000, 4),
      },
      window: { minutes: 30, samples: 1800 + (index % 300) },
      judge: { test: 'mann-whitney-u', alpha: 0.05 },
      reason: 'canary judged against the baseline: no metric outside its guard band',
    },
    digests: index % 3 === 0 ? { model: DIGEST(release), manifest: DIGEST(release + 1) } : {},
  };
}

interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
}

async function main(): Promise<void> {
  const machine: Machine = {
    cpu: await cpuModel(),
    cores: os.availableParallelism(),
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()}`,
    node: process.versions.node,
  };
  const machineLine = `${machine.cpu}, ${machine.cores} cores, ${fixed(machine.memoryGiB, 1)} GiB RAM, ${machine.os}, Node ${machine.node}`;
  const loadBefore = await machineLoad();
  progress(`machine: ${machineLine}; ${describeLoad(loadBefore)}`);
  progress(`${count(total)} records into ${dbFile}`);

  await mkdir(outDir, { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) await rm(`${dbFile}${suffix}`, { force: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer = createAuditSigner(privateKey);
  const keys = verifyKeysFrom([publicKey]);
  const start = Date.now() - total * 250;
  let store = SqliteAuditStore.open(dbFile, { signer });

  // ---- append: one record per transaction, fsync per commit -------------------------------------
  const latencies = new Float64Array(total);
  let detailBytes = 0;
  let recordBytes = 0;
  const step = Math.max(1, Math.round(total / 10));
  const appendStart = performance.now();
  let lastReport = appendStart;
  for (let index = 0; index < total; index += 1) {
    const event = eventFor(index, start);
    const before = performance.now();
    const record = store.append(event);
    latencies[index] = performance.now() - before;
    if (index < 1000) {
      detailBytes += canonicalize(record.detail).length;
      recordBytes += canonicalize(record).length;
    }
    if ((index + 1) % step === 0) {
      const now = performance.now();
      progress(
        `appended ${count(index + 1)}/${count(total)} (${count(step / ((now - lastReport) / 1000))} records/s lately)`,
      );
      lastReport = now;
    }
  }
  const appendSeconds = (performance.now() - appendStart) / 1000;
  const sampled = Math.min(total, 1000);
  const latencyList = Array.from(latencies);
  const append = {
    perSecond: total / appendSeconds,
    p50Ms: percentile(latencyList, 50),
    p99Ms: percentile(latencyList, 99),
    maxMs: latencyList.reduce((max, value) => Math.max(max, value), 0),
  };
  progress(
    `append: ${count(append.perSecond)} records/s (p50 ${fixed(append.p50Ms, 2)} ms, p99 ${fixed(append.p99Ms, 2)} ms)`,
  );

  // ---- idempotent re-append: retried activities ---------------------------------------------------
  const retries = Math.min(total, 20_000);
  const retryStart = performance.now();
  for (let attempt = 0; attempt < retries; attempt += 1) {
    const index = Math.floor((attempt * 2_654_435_761) % total);
    const record = store.append(eventFor(index, start));
    if (record.seq !== index + 1) throw new Error(`re-append of ${index} returned seq ${record.seq}`);
  }
  const retryPerSecond = retries / ((performance.now() - retryStart) / 1000);
  if (store.count() !== total) throw new Error(`re-appends added records: ${store.count()} ≠ ${total}`);
  progress(
    `idempotent re-append: ${count(retryPerSecond)} records/s (${count(retries)} retries, no new rows)`,
  );
  store.close();

  // ---- size ------------------------------------------------------------------------------------------
  // Closing the last connection checkpoints the WAL into the database file.
  const bytes = statSync(dbFile).size;
  const bytesPerRecord = bytes / total;
  progress(
    `size: ${fixed(bytes / 2 ** 20, 1)} MiB, ${fixed(bytesPerRecord, 0)} bytes/record ` +
      `(record JSON ${fixed(recordBytes / sampled, 0)} bytes, detail ${fixed(detailBytes / sampled, 0)} bytes)`,
  );

  // ---- verify ----------------------------------------------------------------------------------------
  store = SqliteAuditStore.open(dbFile, { readonly: true });
  const verifyStart = performance.now();
  const verified = store.verify(keys, {
    progressEvery: step,
    onProgress: (checked) => progress(`verified ${count(checked)}/${count(total)}`),
  });
  const verifySeconds = (performance.now() - verifyStart) / 1000;
  if (!verified.ok || verified.records !== total)
    throw new Error(`verification failed: ${JSON.stringify(verified)}`);
  const verifyPerSecond = total / verifySeconds;
  progress(`verify: ${count(verifyPerSecond)} records/s (${fixed(verifySeconds, 2)} s)`);

  // ---- export ---------------------------------------------------------------------------------------
  const stream = createWriteStream(exportFile);
  const exportStart = performance.now();
  const exported = await store.exportJsonl(stream);
  stream.end();
  await once(stream, 'finish');
  const exportSeconds = (performance.now() - exportStart) / 1000;
  store.close();
  if (exported !== total) throw new Error(`exported ${exported} records, expected ${total}`);
  const exportBytes = statSync(exportFile).size;
  const exportPerSecond = total / exportSeconds;
  progress(
    `export: ${count(exportPerSecond)} records/s, ${fixed(exportBytes / 2 ** 20 / exportSeconds, 1)} MiB/s (${fixed(exportBytes / 2 ** 20, 1)} MiB)`,
  );

  // ---- report ---------------------------------------------------------------------------------------
  const loadAfter = await machineLoad();
  const bars: Bar[] = [
    { label: 'append (1 record / transaction, fsync)', value: append.perSecond },
    { label: 'idempotent re-append', value: retryPerSecond },
    { label: 'verify (hash + chain + Ed25519)', value: verifyPerSecond },
    { label: 'export (JSON Lines)', value: exportPerSecond },
  ];
  console.log(`\nbench:audit — ${count(total)} records; ${machineLine}`);
  console.log(`load before ${describeLoad(loadBefore)}; after ${describeLoad(loadAfter)}\n`);
  for (const line of asciiBars(bars, 40, ' records/s')) console.log(line);
  console.log(
    `\nappend latency p50 ${fixed(append.p50Ms, 2)} ms, p99 ${fixed(append.p99Ms, 2)} ms, max ${fixed(append.maxMs, 1)} ms; ` +
      `database ${fixed(bytesPerRecord, 0)} bytes/record (${fixed(bytes / 2 ** 20, 1)} MiB), ` +
      `export ${fixed(exportBytes / total, 0)} bytes/record; detail payload ≈ ${fixed(detailBytes / sampled, 0)} bytes`,
  );
  await writeFile(
    chartFile,
    svgDocument(
      'bench:audit — SQLite audit store',
      [
        `${count(total)} records, detail ≈ ${fixed(detailBytes / sampled, 0)} bytes, ${fixed(bytesPerRecord, 0)} bytes/record on disk; synchronous = FULL, WAL`,
        machineLine,
      ],
      [svgBarPanel('Throughput', bars, 'records/s')],
    ),
  );
  console.log(`chart: ${chartFile}`);
  console.log(
    JSON.stringify({
      records: total,
      appendPerSecond: round(append.perSecond, 1),
      appendP50Ms: round(append.p50Ms, 3),
      appendP99Ms: round(append.p99Ms, 3),
      idempotentPerSecond: round(retryPerSecond, 1),
      verifyPerSecond: round(verifyPerSecond, 1),
      exportPerSecond: round(exportPerSecond, 1),
      bytesPerRecord: round(bytesPerRecord, 1),
      detailBytes: round(detailBytes / sampled, 1),
      databaseBytes: bytes,
      machine,
      load: { before: loadBefore, after: loadAfter },
    }),
  );
}

await main();
