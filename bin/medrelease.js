#!/usr/bin/env node
// Launcher of the `medrelease` command (`npx medrelease check <manifest>`): runs the compiled CLI,
// building the project first when it has not been built yet.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = new URL('../dist/cli/medrelease.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('medrelease: building the project first (npm run build)…\n');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (build.status !== 0) process.exit(2);
}
const { main } = await import(cli.href);
process.exitCode = main(process.argv.slice(2));
