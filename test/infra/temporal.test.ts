// Runs a real Temporal dev server (the CLI is found or built by ensureTemporalCli) on free ports with a
// temporary SQLite file, and checks what the release system relies on: custom search attributes with
// the right types, and state that survives a restart from the same file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../domain/search-attributes.js';
import { cacheRoot, ensureTemporalCli, findFreePort, startDevServer } from '../../infra/temporal.js';

// Wire values of temporal.api.enums.v1.IndexedValueType.
const INDEXED_VALUE_TYPES: Record<string, number> = { Keyword: 2, KeywordList: 7 };

async function registeredSearchAttributes(
  address: string,
  namespace: string,
): Promise<Record<string, number>> {
  const connection = await Connection.connect({ address });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return { ...customAttributes };
  } finally {
    await connection.close();
  }
}

async function describeNamespaceId(connection: Connection, namespace: string): Promise<string | undefined> {
  const { namespaceInfo } = await connection.workflowService.describeNamespace({ namespace });
  return namespaceInfo?.id ?? undefined;
}

function assertAllSearchAttributes(registered: Record<string, number>): void {
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
    assert.equal(registered[name], INDEXED_VALUE_TYPES[type], `search attribute ${name} should be a ${type}`);
  }
}

/** Resolves with whether host:port accepts a new listener, i.e. nothing is bound there any more. */
async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function withEnvironment<T>(
  name: string,
  value: string | undefined,
  body: () => T | Promise<T>,
): Promise<T> {
  const previous = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return await body();
  } finally {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  }
}

void test('the dev server registers the search attributes and keeps its state across a restart', async (t) => {
  const directory = await mkdtemp(path.join(tmpdir(), 'medrelease-temporal-'));
  t.after(() => rm(directory, { recursive: true, force: true }));
  // A missing folder proves startDevServer creates the db file's folder.
  const dbFile = path.join(directory, 'state', 'temporal.db');
  const logFile = path.join(directory, 'server.log');
  const namespace = 'medrelease-test';
  const port = await findFreePort();
  const uiPort = await findFreePort();
  const workflowId = 'persistence-probe';
  let namespaceId: string | undefined;

  const first = await startDevServer({ dbFile, port, uiPort, namespace, logFile });
  try {
    assert.equal(first.address, `127.0.0.1:${port}`);
    assert.equal(first.namespace, namespace);
    assert.ok(first.pid);
    assertAllSearchAttributes(await registeredSearchAttributes(first.address, namespace));
    // The default pragmas put the database in write-ahead-log mode: its -wal file sits beside it.
    assert.ok(existsSync(`${dbFile}-wal`), 'the SQLite database runs in WAL mode');
    const ui = await fetch(first.uiUrl!);
    assert.equal(ui.status, 200);

    // Simulates a db file made before an attribute existed: the restart must register it again.
    const connection = await Connection.connect({ address: first.address });
    try {
      namespaceId = await describeNamespaceId(connection, namespace);
      // No worker needs to run it: the execution only has to be stored.
      await connection.workflowService.startWorkflowExecution({
        namespace,
        workflowId,
        workflowType: { name: 'PersistenceProbe' },
        taskQueue: { name: 'persistence-probe' },
        requestId: randomUUID(),
      });
      await connection.operatorService.removeSearchAttributes({
        namespace,
        searchAttributes: ['MedreleaseClouds'],
      });
    } finally {
      await connection.close();
    }
    const afterRemoval = await registeredSearchAttributes(first.address, namespace);
    assert.equal(afterRemoval.MedreleaseClouds, undefined);
  } finally {
    await first.stop();
  }
  assert.ok(await isPortFree(port), 'stop() should resolve only after the server released its port');
  await first.stop();

  const progress: string[] = [];
  const second = await startDevServer({
    dbFile,
    port,
    namespace,
    headless: true,
    logFile,
    log: (line) => progress.push(line),
  });
  try {
    assert.equal(second.uiUrl, undefined);
    const connection = await Connection.connect({ address: second.address });
    try {
      // The same id proves the namespace was kept, not created again from the --namespace flag.
      assert.equal(await describeNamespaceId(connection, namespace), namespaceId);
      const { workflowExecutionInfo } = await connection.workflowService.describeWorkflowExecution({
        namespace,
        execution: { workflowId },
      });
      assert.equal(workflowExecutionInfo?.type?.name, 'PersistenceProbe');
    } finally {
      await connection.close();
    }
    assertAllSearchAttributes(await registeredSearchAttributes(second.address, namespace));
    assert.ok(
      progress.some((line) => line.includes('Registering search attributes MedreleaseClouds')),
      'the removed attribute should have been registered again by startDevServer, not by the server',
    );
  } finally {
    await second.stop();
  }
});

void test('a dev server that cannot bind its port fails with a clear error', async (t) => {
  const directory = await mkdtemp(path.join(tmpdir(), 'medrelease-temporal-'));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const blocker = createServer();
  const port = await new Promise<number>((resolve) =>
    blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
  );
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  await assert.rejects(
    startDevServer({ dbFile: path.join(directory, 'temporal.db'), port, headless: true }),
    new RegExp(`127\\.0\\.0\\.1:${port} is not free`),
  );
});

void test('an explicit MEDRELEASE_TEMPORAL_CLI that does not exist is an error naming the variable', async () => {
  await withEnvironment('MEDRELEASE_TEMPORAL_CLI', '/nonexistent', async () => {
    await assert.rejects(ensureTemporalCli(), /MEDRELEASE_TEMPORAL_CLI=\/nonexistent/);
    await assert.rejects(startDevServer({ dbFile: '/nonexistent/temporal.db' }), /MEDRELEASE_TEMPORAL_CLI/);
  });
});

void test('the cache lives outside the repository and honours MEDRELEASE_CACHE_DIR, then XDG_CACHE_HOME', async () => {
  await withEnvironment('MEDRELEASE_CACHE_DIR', '/somewhere/cache', () => {
    assert.equal(cacheRoot(), '/somewhere/cache');
  });
  await withEnvironment('MEDRELEASE_CACHE_DIR', undefined, () =>
    withEnvironment('XDG_CACHE_HOME', '/xdg', () => {
      assert.equal(cacheRoot(), '/xdg/medrelease');
    }),
  );
});
