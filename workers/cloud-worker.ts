// Entry point of one cloud's worker: `MEDRELEASE_CLOUD=aws node dist/workers/cloud-worker.js` or
// `--cloud aws`. It holds only that cloud's credentials and polls only that cloud's task queue.
import { parseArgs } from 'node:util';
import { createCloudWorker } from './factory.js';
import { runWorkerProcess } from './run.js';

const { values } = parseArgs({ options: { cloud: { type: 'string' } } });
const cloud = values.cloud ?? process.env.MEDRELEASE_CLOUD;

await runWorkerProcess(`cloud-worker-${cloud ?? 'unknown'}`, (config, connection) => {
  if (!cloud) throw new Error('no cloud named: pass --cloud <name> or set MEDRELEASE_CLOUD');
  return createCloudWorker({ config, connection, cloud });
});
