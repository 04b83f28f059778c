// Recorded workflow histories for the replay tests. `npm run test:record-histories` runs the
// workflow tests with MEDRELEASE_RECORD_HISTORIES=1, and each test that calls recordHistory writes
// the release's history (and its children's) under test/fixtures/histories/, committed.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { decodeInPlace } from './payloads.js';

export const HISTORIES_DIR = path.resolve(
  fileURLToPath(new URL('../../../test/fixtures/histories', import.meta.url)),
);

export async function recordHistory(client: Client, name: string, workflowIds: string[]): Promise<void> {
  if (process.env.MEDRELEASE_RECORD_HISTORIES !== '1') return;
  await mkdir(HISTORIES_DIR, { recursive: true });
  for (const [index, workflowId] of workflowIds.entries()) {
    // Fixtures are kept decrypted: the keys of the run that recorded them are gone when they replay.
    const history = await decodeInPlace(client, await client.workflow.getHandle(workflowId).fetchHistory());
    const suffix = index === 0 ? '' : `-child-${index}`;
    await writeFile(
      path.join(HISTORIES_DIR, `${name}${suffix}.json`),
      JSON.stringify(redactCredentials(history)),
    );
  }
}

interface JsonHistory {
  events: { workflowExecutionSignaledEventAttributes?: { input?: { payloads?: { data?: string }[] } } }[];
}

/**
 * The credential signals carry a user's token. Replay never reads it again (its verification is an
 * activity whose result is in the history), so fixtures keep the signal with the token replaced.
 */
export function redactCredentials(history: unknown): JsonHistory {
  const json = JSON.parse(JSON.stringify(history)) as JsonHistory;
  for (const event of json.events) {
    for (const payload of event.workflowExecutionSignaledEventAttributes?.input?.payloads ?? []) {
      const value = JSON.parse(Buffer.from(payload.data ?? '', 'base64').toString('utf8')) as unknown;
      if (value && typeof value === 'object' && 'credential' in value) {
        payload.data = Buffer.from(JSON.stringify({ ...value, credential: REDACTED })).toString('base64');
      }
    }
  }
  return json;
}

export const REDACTED = 'redacted-by-recordHistory';
