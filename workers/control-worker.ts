// Entry point of the control worker: ReleaseWorkflows and control-plane activities.
import { createControlWorker } from './factory.js';
import { runWorkerProcess } from './run.js';

await runWorkerProcess('control-worker', (config, connection) => createControlWorker({ config, connection }));
