// Entry point of one cloud's worker: `MEDRELEASE_CLOUD=aws node dist/workers/cloud-worker.js` or
// `--cloud aws`. It holds only that cloud's credentials and polls only that cloud's task queue.
import { parseArgs } from 'node:util';
import { KubernetesCloudDriver } from '../activities/cloud/kubernetes.js';
import { cloudConfig, createCloudDriver, createCloudWorker } from './factory.js';
import { runWorkerProcess } from './run.js';

const { values } = parseArgs({ options: { cloud: { type: 'string' } } });
const cloud = values.cloud ?? process.env.MEDRELEASE_CLOUD;

await runWorkerProcess(`cloud-worker-${cloud ?? 'unknown'}`, async (config, connection, logger) => {
  if (!cloud) throw new Error('no cloud named: pass --cloud <name> or set MEDRELEASE_CLOUD');
  const driver = createCloudDriver(config, cloudConfig(config, cloud));
  if (driver instanceof KubernetesCloudDriver) {
    // A cluster that is unreachable at start is reported, not fatal: restores must run once it is back.
    const access = await driver.checkAccess();
    if (access.problem)
      logger.warn(access, `cloud ${cloud}: the cluster cannot be used yet: ${access.problem}`);
    else
      logger.info(
        access,
        `cloud ${cloud}: Kubernetes API reachable, namespace ${access.namespace}, traffic ${access.traffic}`,
      );
  }
  return createCloudWorker({ config, connection, cloud, driver });
});
