// Entry point of the control worker: ReleaseWorkflows and control-plane activities.
import { tensorflow } from '../ml/tf.js';
import { createControlWorker } from './factory.js';
import { runWorkerProcess } from './run.js';

await runWorkerProcess('control-worker', async (config, connection, logger) => {
  // The canary judge's anomaly model runs here: choose (and report) the TensorFlow.js backend at start,
  // not in the middle of the first canary analysis.
  await tensorflow({ log: (line) => logger.info(line) });
  return createControlWorker({ config, connection });
});
