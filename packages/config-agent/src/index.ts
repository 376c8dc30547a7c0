export { loadConfigAgentConfig, type ConfigAgentConfig } from './config.js';
export { createConfigAgentApp, type ConfigAgentApp, type ConfigAgentDeps } from './agent.js';
export { snapshotFromProto } from './snapshot-proto.js';
