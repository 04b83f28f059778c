// Part of `npm run build`: bundles the workflow code once, so a worker process starts polling in
// about a second instead of bundling for several seconds at every start (or restart after a crash).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { failureConverterPath } from '../security/data-converter.js';
import { WORKFLOW_BUNDLE_PATH, WORKFLOWS_PATH } from '../workers/factory.js';

const started = Date.now();
const { code } = await bundleWorkflowCode({
  workflowsPath: WORKFLOWS_PATH,
  // Workflow failures are encrypted like every payload (security/failure-converter.ts).
  failureConverterPath: failureConverterPath(),
  logger: new DefaultLogger('WARN'),
});
await mkdir(path.dirname(WORKFLOW_BUNDLE_PATH), { recursive: true });
await writeFile(WORKFLOW_BUNDLE_PATH, code);
console.log(
  `workflow bundle written to ${path.relative(process.cwd(), WORKFLOW_BUNDLE_PATH)} (${(code.length / 1024).toFixed(0)} KiB, ${Date.now() - started} ms)`,
);
