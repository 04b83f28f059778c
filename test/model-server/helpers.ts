// Shared by the model-server tests: a trained model directory, HTTP shortcuts and a small parser of
// Prometheus' text format.
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Features } from '../../examples/model-server/data.js';
import { saveSepsisModel, trainModel, type TrainingReport } from '../../examples/model-server/model.js';

export const SEED = 42;

/** Trains the default model (seed 42) into a new temporary directory. */
export async function trainedModelDir(prefix: string): Promise<{ dir: string; report: TrainingReport }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const { model, report } = await trainModel({ seed: SEED, version: '1.0.0' });
  try {
    await saveSepsisModel(model, dir, report);
  } finally {
    model.dispose();
  }
  return { dir, report };
}

export const HIGH_RISK: Features = {
  heart_rate: 118,
  respiratory_rate: 26,
  temperature: 38.6,
  systolic_bp: 92,
  wbc: 17,
  lactate: 3.8,
};

export const LOW_RISK: Features = {
  heart_rate: 72,
  respiratory_rate: 14,
  temperature: 36.8,
  systolic_bp: 128,
  wbc: 6.5,
  lactate: 0.9,
};

export async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

export async function getJson(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

export async function scrape(baseUrl: string): Promise<Sample[]> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

/** The value of the one sample named `name` whose labels include `labels`; 0 when there is none. */
export function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const matching = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, expected]) => sample.labels[key] === expected),
  );
  if (matching.length > 1)
    throw new Error(`${matching.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return matching[0]?.value ?? 0;
}

/** examples/model-server in the source tree (for the manifests, the Dockerfile and the README). */
export function exampleSourceDir(): string {
  const candidates = [
    fileURLToPath(new URL('../../../examples/model-server/', import.meta.url)),
    path.join(process.cwd(), 'examples', 'model-server'),
  ];
  const found = candidates.find((candidate) => existsSync(path.join(candidate, 'README.md')));
  if (!found) throw new Error(`examples/model-server not found in ${candidates.join(' or ')}`);
  return found;
}

/** dist/examples/model-server next to this compiled file. */
export const EXAMPLE_DIST_DIR = fileURLToPath(new URL('../../examples/model-server/', import.meta.url));
