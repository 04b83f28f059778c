// The one module every worker points at: all workflow types, nothing else.
export { ReleaseWorkflow } from './release.js';
export { CloudRolloutWorkflow } from './cloud-rollout.js';
