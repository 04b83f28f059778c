// Command line for the local Temporal server:
//   node dist/infra/temporal-cli.js build                 ensure the Temporal CLI, print its path and origin
//   node dist/infra/temporal-cli.js path                  print the CLI's path (never builds), or exit 1
//   node dist/infra/temporal-cli.js start [--port N] [--ui-port N] [--db FILE]
//                                                         run the dev server in the foreground until Ctrl-C
// Progress goes to stderr, results to stdout.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureTemporalCli, findTemporalCli, startDevServer } from './temporal.js';

const USAGE = 'usage: temporal-cli <build|path|start> [--port N] [--ui-port N] [--db FILE]';

// This file runs as dist/infra/temporal-cli.js, two levels below the repository root.
const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
const defaultDbFile = path.join(repositoryRoot, '.data', 'temporal', 'medrelease.db');

const log = (line: string) => console.error(line);

async function build(): Promise<void> {
  const cli = await ensureTemporalCli({ log });
  console.log(cli.path === undefined ? `none (${cli.source})` : `${cli.path} (${cli.source})`);
}

async function printPath(): Promise<number> {
  const cli = await findTemporalCli();
  if (!cli) {
    log('No Temporal CLI yet; run the build command');
    return 1;
  }
  console.log(cli.path);
  return 0;
}

async function start(values: { port?: string; 'ui-port'?: string; db?: string }): Promise<void> {
  const server = await startDevServer({
    port: parsePort(values.port, '--port'),
    uiPort: parsePort(values['ui-port'], '--ui-port'),
    dbFile: path.resolve(values.db ?? defaultDbFile),
    log,
  });
  console.log(`Temporal server: ${server.address} (namespace ${server.namespace})`);
  if (server.uiUrl) console.log(`Web UI:          ${server.uiUrl}`);
  console.log('Press Ctrl-C to stop.');
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    void server.exited?.then((reason) => resolve(`server ended: ${reason}`));
  });
  log(`Stopping the Temporal dev server (${signal})`);
  await server.stop();
}

function parsePort(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${flag} must be a port number, got ${value}`);
  }
  return port;
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { port: { type: 'string' }, 'ui-port': { type: 'string' }, db: { type: 'string' } },
  });
  switch (positionals.join(' ')) {
    case 'build':
      await build();
      return 0;
    case 'path':
      return printPath();
    case 'start':
      await start(values);
      return 0;
    default:
      console.error(USAGE);
      return 2;
  }
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
