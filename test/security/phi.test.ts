// Patient data stays out of the places built for operators. Recognisable identifiers (a name, a
// medical record number, a date of birth, a social security number) are planted in every field a
// user can send — release requests, sign-off comments, operator reasons, waiver justifications, query
// strings, paths, headers, tokens — through the real API process and real worker processes, across
// successful releases, a rejection, an abort and many refused requests. Then the test fails if any
// identifier appears in any process's logs (at debug level), in Temporal's stored history in clear
// text (every payload must be ciphertext), in a search attribute, or in a workflow id.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import type { Config } from '../../domain/config.js';
import type { ReleaseStatus } from '../../domain/status.js';
import { findFreePort } from '../../infra/temporal.js';
import { ENCRYPTED_ENCODING } from '../../security/payload-codec.js';
import { cloudRolloutWorkflowId } from '../../workflows/cloud-rollout.js';
import { signoffSignal, statusQuery } from '../../workflows/messages.js';
import { eventually, TestEnvironment } from '../helpers/environment.js';
import { ProcessLog, WorkerFleet } from '../helpers/processes.js';

/** The planted identifiers, and the fragments of them that must not appear either. */
const PATIENT = {
  name: 'Margaret Okonkwo-Hale',
  mrn: 'MRN-48213977',
  dob: '1957-03-14',
  ssn: '078-05-1120',
};
const NEEDLES = ['Okonkwo', '48213977', '1957-03-14', '078-05-1120', 'Margaret'];
const PHI_TEXT = `Patient ${PATIENT.name}, ${PATIENT.mrn}, born ${PATIENT.dob}, SSN ${PATIENT.ssn}`;

const API_ENTRY = fileURLToPath(new URL('../../api/server.js', import.meta.url));

/** Every line a process printed, none dropped (ProcessLog keeps the last 2000 only). */
class FullLog extends ProcessLog {
  readonly all: string[] = [];
  override add(line: string): void {
    this.all.push(line);
    super.add(line);
  }
}

function findNeedles(text: string): string[] {
  const lower = text.toLowerCase();
  return NEEDLES.filter((needle) => lower.includes(needle.toLowerCase()));
}

describe('patient identifiers never reach logs, stored payloads or search attributes', () => {
  let env: TestEnvironment;
  let fleet: WorkerFleet;
  let api: ChildProcess | undefined;
  const apiLog = new FullLog();
  const workerLog = new FullLog();
  let base = '';
  const releaseIds: string[] = [];

  before(async () => {
    env = await TestEnvironment.create();
    const port = await findFreePort();
    const config: Config = { ...env.config, api: { ...env.config.api, host: '127.0.0.1', port } };
    const configFile = path.join(env.dataDir, 'phi-config.json');
    fleet = await WorkerFleet.create(config, configFile);
    for (const which of ['control', ...config.clouds.map((cloud) => cloud.name)]) {
      fleet.start(which, { log: workerLog, logLevel: 'debug' });
    }
    api = spawn(process.execPath, [API_ENTRY], {
      env: {
        PATH: process.env.PATH,
        MEDRELEASE_CONFIG: configFile,
        MEDRELEASE_LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [api.stdout!, api.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => apiLog.add(`[api] ${line}`));
    }
    base = `http://127.0.0.1:${port}`;
    await eventually(async () => (await fetch(`${base}/readyz`)).ok, 60_000, 'the API process ready');
  });

  after(async () => {
    api?.kill('SIGTERM');
    await fleet?.stopAll();
    await env?.close();
  });

  const call = async (
    method: string,
    route: string,
    options: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ) => {
    const response = await fetch(`${base}${route}`, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body !== undefined || options.raw !== undefined
          ? { 'content-type': 'application/json' }
          : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      ...(options.raw !== undefined ? { body: options.raw } : {}),
    });
    return { status: response.status, body: await response.text() };
  };
  const as = (user: keyof TestEnvironment['users']) => env.users[user].token;

  test('releases, sign-offs, operator actions and refused requests carrying identifiers', async () => {
    await env.seedStable('chest-xray-triage');
    const request = (releaseId: string) => ({
      ...env.request({ model: { name: 'chest-xray-triage', version: '2.0.0', image: '' } }),
      model: {
        name: 'chest-xray-triage',
        version: '2.0.0',
        image: `registry.example/chest-xray-triage:2.0.0@sha256:${'ab'.repeat(32)}`,
        intendedUse: `Triage of chest radiographs. Example case: ${PHI_TEXT}`,
      },
      releaseId,
    });

    // Refused requests: identifiers in every structured field, in unknown fields, paths, queries,
    // headers and tokens. Each is refused and starts nothing.
    const refusals: [string, Awaited<ReturnType<typeof call>>][] = [];
    const refuse = async (what: string, response: Promise<Awaited<ReturnType<typeof call>>>) => {
      const answered = await response;
      refusals.push([what, answered]);
      assert.ok(
        answered.status >= 400 && answered.status < 500,
        `${what}: ${answered.status} ${answered.body}`,
      );
    };
    const good = request('rel-phi-refused');
    await refuse(
      'model name',
      call('POST', '/v1/releases', {
        token: as('manager'),
        body: { ...good, model: { ...good.model, name: PATIENT.mrn } },
      }),
    );
    await refuse(
      'model version',
      call('POST', '/v1/releases', {
        token: as('manager'),
        body: { ...good, model: { ...good.model, version: PATIENT.dob } },
      }),
    );
    await refuse(
      'image',
      call('POST', '/v1/releases', {
        token: as('manager'),
        body: { ...good, model: { ...good.model, image: PHI_TEXT } },
      }),
    );
    await refuse(
      'release id',
      call('POST', '/v1/releases', { token: as('manager'), body: { ...good, releaseId: PATIENT.name } }),
    );
    await refuse(
      'cloud',
      call('POST', '/v1/releases', { token: as('manager'), body: { ...good, clouds: [PATIENT.ssn] } }),
    );
    await refuse(
      'unknown field',
      call('POST', '/v1/releases', { token: as('manager'), body: { ...good, [PATIENT.name]: PATIENT.mrn } }),
    );
    await refuse(
      'manifest text',
      call('POST', '/v1/releases', {
        token: as('manager'),
        body: { ...good, manifest: `note: ${PHI_TEXT}` },
      }),
    );
    await refuse(
      'malformed body',
      call('POST', '/v1/releases', { token: as('manager'), raw: `{"note": "${PHI_TEXT}"` }),
    );
    await refuse(
      'no role',
      call('POST', '/v1/releases', {
        token: as('viewer'),
        body: { ...good, model: { ...good.model, intendedUse: PHI_TEXT } },
      }),
    );
    await refuse(
      'path',
      call('GET', `/v1/releases/${encodeURIComponent(PATIENT.mrn)}`, { token: as('viewer') }),
    );
    await refuse(
      'path (lower case)',
      call('GET', `/v1/releases/${PATIENT.mrn.toLowerCase()}`, { token: as('viewer') }),
    );
    await refuse(
      'query',
      call('GET', `/v1/releases?model=${encodeURIComponent(PATIENT.name)}&stage=${PATIENT.dob}`, {
        token: as('viewer'),
      }),
    );
    await refuse('header', call('GET', '/v1/releases', { headers: { 'x-patient': PHI_TEXT } }));
    await refuse(
      'token',
      call('GET', '/v1/releases', { token: `${PATIENT.mrn}.${PATIENT.ssn}.${PATIENT.dob}` }),
    );
    await refuse(
      'no route',
      call('GET', `/v1/patients/${encodeURIComponent(PATIENT.name)}`, { token: as('viewer') }),
    );

    // A release that completes: two sign-offs (one by signal) with identifiers in the comments, a
    // refused self-approval, pause and resume with identifiers in the reasons.
    const created = await call('POST', '/v1/releases', {
      token: as('manager'),
      body: request('rel-phi-completed'),
    });
    assert.equal(created.status, 201, created.body);
    releaseIds.push('rel-phi-completed');
    const handle = env.client.workflow.getHandle('rel-phi-completed');
    await eventually(
      async () => (await handle.query(statusQuery)).stage === 'awaiting-signoff',
      60_000,
      'awaiting sign-off',
    );
    await refuse(
      'waiver while not awaiting waivers',
      call('POST', '/v1/releases/rel-phi-completed/waivers', {
        token: as('qa'),
        body: {
          control: 'HIPAA-1',
          justification: PHI_TEXT,
          expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        },
      }),
    );
    await refuse(
      'self-approval',
      call('POST', '/v1/releases/rel-phi-completed/signoff', {
        token: as('manager'),
        body: { decision: 'approve', comment: PHI_TEXT },
      }),
    );
    const pause = await call('POST', '/v1/releases/rel-phi-completed/pause', {
      token: as('operator'),
      body: { reason: PHI_TEXT },
    });
    assert.equal(pause.status, 200, pause.body);
    const resume = await call('POST', '/v1/releases/rel-phi-completed/resume', {
      token: as('operator'),
      body: { reason: `Resumed; ${PHI_TEXT}` },
    });
    assert.equal(resume.status, 200, resume.body);
    const first = await call('POST', '/v1/releases/rel-phi-completed/signoff', {
      token: as('approverA'),
      body: { decision: 'approve', comment: `Reviewed against ${PHI_TEXT}` },
    });
    assert.equal(first.status, 200, first.body);
    await refuse(
      'second sign-off by the same person',
      call('POST', '/v1/releases/rel-phi-completed/signoff', {
        token: as('approverA'),
        body: { decision: 'approve', comment: PHI_TEXT },
      }),
    );
    await handle.signal(signoffSignal, {
      credential: env.users.approverB.token,
      decision: 'approve',
      comment: `Signed in the UI; case ${PHI_TEXT}`,
    });
    const completed = (await handle.result()) as ReleaseStatus;
    assert.equal(completed.outcome, 'completed', JSON.stringify(completed.reason));

    // A rejected release and an aborted one.
    for (const [id, action] of [
      ['rel-phi-rejected', 'reject'],
      ['rel-phi-aborted', 'abort'],
    ] as const) {
      const response = await call('POST', '/v1/releases', { token: as('manager'), body: request(id) });
      assert.equal(response.status, 201, response.body);
      releaseIds.push(id);
      const release = env.client.workflow.getHandle(id);
      await eventually(
        async () => (await release.query(statusQuery)).stage === 'awaiting-signoff',
        60_000,
        `${id} awaiting sign-off`,
      );
      const acted =
        action === 'reject'
          ? await call('POST', `/v1/releases/${id}/signoff`, {
              token: as('approverC'),
              body: { decision: 'reject', comment: PHI_TEXT },
            })
          : await call('POST', `/v1/releases/${id}/abort`, {
              token: as('manager'),
              body: { reason: PHI_TEXT },
            });
      assert.equal(acted.status, 200, acted.body);
      await release.result();
    }
    assert.ok(refusals.length >= 17, `${refusals.length} refused requests`);
  });

  test('no identifier in any log line of the API or the workers', () => {
    const lines = [...apiLog.all, ...workerLog.all];
    assert.ok(lines.length > 50, `the processes logged ${lines.length} lines at debug level`);
    const leaks = lines.filter((line) => findNeedles(line).length > 0);
    assert.deepEqual(leaks, [], `identifiers in ${leaks.length} log line(s)`);
  });

  test('every stored payload is ciphertext; no identifier in the raw histories, ids or search attributes', async () => {
    // A client without the codec sees what the Temporal server stores.
    const raw = new Client({ connection: env.clientConnection, namespace: env.config.temporal.namespace });
    const workflowIds = releaseIds.flatMap((id) => [
      id,
      ...env.config.clouds.map((cloud) => cloudRolloutWorkflowId(id, cloud.name)),
    ]);
    let payloads = 0;
    let checkedWorkflows = 0;
    for (const workflowId of workflowIds) {
      const handle = raw.workflow.getHandle(workflowId);
      let description;
      try {
        // The service call itself: nothing is decoded on the way.
        description = await raw.workflowService.describeWorkflowExecution({
          namespace: env.config.temporal.namespace,
          execution: { workflowId },
        });
      } catch (error) {
        if ((error as { code?: number }).code === 5) continue; // NOT_FOUND: no canary in a rejected or aborted release
        throw error;
      }
      checkedWorkflows += 1;
      assert.deepEqual(findNeedles(workflowId), []);
      const attributes = JSON.stringify(
        description.workflowExecutionInfo?.searchAttributes ?? {},
        bytesAsText,
      );
      assert.deepEqual(findNeedles(attributes), [], `search attributes of ${workflowId}`);
      const history = await handle.fetchHistory();
      const unencrypted: string[] = [];
      walkPayloads(history, (payload, where) => {
        payloads += 1;
        const encoding = Buffer.from(payload.metadata?.encoding ?? []).toString();
        // Readable by design: search attributes (the server indexes them; they carry no patient data),
        // the SDK's patch markers (a patch id) and empty results.
        const exempt =
          where.includes('searchAttributes') ||
          where.includes('markerRecordedEventAttributes.details.patch-data');
        if (encoding !== ENCRYPTED_ENCODING && !exempt && encoding !== 'binary/null') {
          unencrypted.push(`${where} (${encoding || 'no encoding'})`);
        }
      });
      assert.deepEqual(unencrypted, [], `unencrypted payloads in ${workflowId}`);
      const text = JSON.stringify(history, bytesAsText);
      assert.deepEqual(findNeedles(text), [], `identifiers in the stored history of ${workflowId}`);
    }
    assert.ok(checkedWorkflows >= 6, `${checkedWorkflows} workflows checked`);
    assert.ok(payloads > 100, `${payloads} payloads checked`);
  });
});

interface RawPayload {
  metadata?: Record<string, Uint8Array> | null;
  data?: Uint8Array | null;
}

/** Calls `visit` for every payload in a raw history (anything with metadata and optional data bytes). */
function walkPayloads(value: unknown, visit: (payload: RawPayload, where: string) => void, where = ''): void {
  if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    value.forEach((entry, index) => walkPayloads(entry, visit, `${where}[${index}]`));
    return;
  }
  const record = value as Record<string, unknown>;
  if (record.metadata && typeof record.metadata === 'object' && !Array.isArray(record.metadata)) {
    const metadata = record.metadata as Record<string, unknown>;
    if (Object.values(metadata).every((entry) => entry instanceof Uint8Array)) {
      visit(record, where);
      return;
    }
  }
  for (const [key, entry] of Object.entries(record)) walkPayloads(entry, visit, `${where}.${key}`);
}

/** JSON.stringify replacer: bytes as text (latin1 keeps every byte), so plaintext would show. */
function bytesAsText(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : value;
}
