// The three entry points as a user runs them: train.js, server.js (configured by environment
// variables) and load.js, each a real child process.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { EXAMPLE_DIST_DIR, LOW_RISK, postJson, scrape, value } from './helpers.js';

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

let scratch = '';
let modelDir = '';

before(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'model-server-cli-'));
  modelDir = path.join(scratch, 'model');
});
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await rm(scratch, { recursive: true, force: true });
});

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an entry point to its end. */
function run(script: string, args: string[], env: Record<string, string> = {}): Promise<Finished> {
  const child = spawnScript(script, args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

function spawnScript(script: string, args: string[], env: Record<string, string>): ChildProcess {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^(MODEL_|FAULT_|PORT$|HOST$|ADMIN_FAULTS$|DRIFT_WINDOW$|LOG_LEVEL$)/.test(key),
    ),
  );
  const child = spawn(process.execPath, [path.join(EXAMPLE_DIST_DIR, script), ...args], {
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Starts server.js on a free port and waits for its "listening" log line. */
async function startServer(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null>; output: () => string }> {
  const child = spawnScript('server.js', [], { PORT: '0', MODEL_DIR: modelDir, ...env });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderr!.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const entry = JSON.parse(line) as { url?: string; msg?: string };
      if (entry.url && entry.msg?.includes('listening')) resolve(entry.url);
    });
    void exited.then((code) => reject(new Error(`server.js exited with ${code}:\n${lines.join('\n')}`)));
  });
  return { child, url, exited, output: () => lines.join('\n') };
}

async function waitReady(url: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const response = await fetch(`${url}/readyz`).catch(() => undefined);
    if (response?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not become ready`);
}

describe('the command-line entry points', () => {
  test('train.js trains, saves and prints the held-out metrics', async () => {
    const result = await run('train.js', [
      '--out',
      modelDir,
      '--seed',
      '42',
      '--version',
      '1.0.0',
      '--epochs',
      '5',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /held-out \(2000 rows\): accuracy 0\.\d{3}, AUC 0\.\d{3}/);
    assert.match(result.stdout, /Bayes reference/);
    await access(path.join(modelDir, 'model.json'));
    await access(path.join(modelDir, 'preprocessing.json'));

    const bad = await run('train.js', ['--out', modelDir, '--seed', 'many']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--seed must be an integer/);
  });

  test('server.js refuses invalid configuration with exit code 2, naming the variable and the rule', async () => {
    const track = await run('server.js', [], { MODEL_TRACK: 'blue' });
    assert.equal(track.code, 2);
    assert.match(track.stderr, /MODEL_TRACK must be one of stable, canary, not "blue"/);
    const rate = await run('server.js', [], { FAULT_ERROR_RATE: '150%' });
    assert.equal(rate.code, 2);
    assert.match(rate.stderr, /FAULT_ERROR_RATE must be a number from 0 to 1/);
  });

  test('server.js with FAULT_CRASH_AFTER=3 answers 3 requests, then exits non-zero', async () => {
    const server = await startServer({ FAULT_CRASH_AFTER: '3', MODEL_TRACK: 'canary', MODEL_CLOUD: 'gcp' });
    await waitReady(server.url);
    const samples = await scrape(server.url);
    assert.equal(value(samples, 'inference_model_loaded', { track: 'canary', cloud: 'gcp' }), 1);
    for (let index = 0; index < 3; index += 1) {
      const { status } = await postJson(`${server.url}/predict`, { features: LOW_RISK });
      assert.equal(status, 200, `request ${index + 1}: ${server.output()}`);
    }
    const code = await server.exited;
    assert.notEqual(code, 0);
    assert.notEqual(code, null);
    assert.match(server.output(), /FAULT_CRASH_AFTER/);
    await assert.rejects(fetch(`${server.url}/healthz`));
  });

  test('load.js drives a server at the requested rate and reports', async () => {
    const server = await startServer({});
    await waitReady(server.url);
    const result = await run('load.js', [
      '--targets',
      server.url,
      '--rps',
      '40',
      '--seconds',
      '1',
      '--seed',
      '3',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /done: .*sent 40 .*ok 40 errors 0/);
    const samples = await scrape(server.url);
    assert.equal(value(samples, 'inference_requests_total', { status: '200' }), 40);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);

    const bad = await run('load.js', ['--targets', 'not a url']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a URL/);
  });
});
