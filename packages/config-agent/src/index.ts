export { loadConfigAgentConfig, type ConfigAgentConfig } from './config.js';
export { createConfigAgentApp, type ConfigAgentApp, type ConfigAgentDeps } from './agent.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { snapshotFromProto } from './snapshot-proto.js';
