import type { DeployableSpec } from './spec.js';

/**
 * Every deployable of the platform, in start order (stopped in reverse). This is the one list:
 * the local launcher (infra/local/services.sh), the cells' service, topic, database and
 * consumer-group names (@bulkhead/cell) and the Helm chart all come from it. A cell service runs
 * once per cell; its ports here are cell-1's, and cell n adds 10 × (n − 1).
 */
export const deployables = {
  'control-plane': {
    kind: 'control-plane',
    description:
      'Tenants, cells and the versioned routing snapshot; admin REST API and WatchSnapshot.',
    ports: {
      http: {
        port: 8081,
        env: 'CONTROL_PLANE_HTTP_PORT',
        hostEnv: 'CONTROL_PLANE_HTTP_HOST',
        protocol: 'http',
      },
      grpc: {
        port: 7081,
        env: 'CONTROL_PLANE_GRPC_PORT',
        hostEnv: 'CONTROL_PLANE_GRPC_HOST',
        protocol: 'grpc',
      },
      ops: {
        port: 9081,
        env: 'CONTROL_PLANE_OPS_PORT',
        hostEnv: 'CONTROL_PLANE_OPS_HOST',
        protocol: 'http',
      },
    },
    probePort: 'http',
    calls: [],
    infra: ['postgres'],
  },
  orders: {
    kind: 'cell-service',
    description: 'Owns orders and orchestrates the order saga.',
    ports: {
      grpc: { port: 7111, env: 'GRPC_PORT', hostEnv: 'GRPC_HOST', protocol: 'grpc' },
      ops: { port: 9111, env: 'OPS_PORT', hostEnv: 'OPS_HOST', protocol: 'http' },
    },
    probePort: 'ops',
    calls: [],
    infra: ['postgres', 'kafka'],
    topics: ['saga-replies', 'events'],
    consumes: 'saga-replies',
  },
  inventory: {
    kind: 'cell-service',
    description: 'Owns products and stock; a saga participant.',
    ports: {
      grpc: { port: 7112, env: 'GRPC_PORT', hostEnv: 'GRPC_HOST', protocol: 'grpc' },
      ops: { port: 9112, env: 'OPS_PORT', hostEnv: 'OPS_HOST', protocol: 'http' },
    },
    probePort: 'ops',
    calls: [],
    infra: ['postgres', 'kafka'],
    topics: ['commands'],
    consumes: 'commands',
  },
  payments: {
    kind: 'cell-service',
    description: 'A simulated payment processor; a saga participant.',
    ports: {
      grpc: { port: 7113, env: 'GRPC_PORT', hostEnv: 'GRPC_HOST', protocol: 'grpc' },
      ops: { port: 9113, env: 'OPS_PORT', hostEnv: 'OPS_HOST', protocol: 'http' },
    },
    probePort: 'ops',
    calls: [],
    infra: ['postgres', 'kafka'],
    topics: ['commands'],
    consumes: 'commands',
  },
  'config-agent': {
    kind: 'sidecar',
    description: "Keeps the gateway's routing snapshot file current from the control plane.",
    sidecarOf: 'gateway',
    ports: {
      ops: {
        port: 9085,
        env: 'CONFIG_AGENT_OPS_PORT',
        hostEnv: 'CONFIG_AGENT_OPS_HOST',
        protocol: 'http',
      },
    },
    probePort: 'ops',
    calls: [{ to: 'control-plane', port: 'grpc', env: 'CONTROL_PLANE_ADDRESS' }],
    infra: [],
  },
  gateway: {
    kind: 'edge',
    description:
      'The public REST API: auth by API key, rate limit, REST → gRPC to the tenant’s cell.',
    ports: {
      http: { port: 8080, env: 'GATEWAY_PORT', hostEnv: 'GATEWAY_HOST', protocol: 'http' },
      ops: { port: 9080, env: 'OPS_PORT', hostEnv: 'OPS_HOST', protocol: 'http' },
    },
    probePort: 'http',
    // Cell services are found through the routing snapshot, not through configuration.
    calls: [
      { to: 'orders', port: 'grpc', via: 'routing-snapshot' },
      { to: 'inventory', port: 'grpc', via: 'routing-snapshot' },
    ],
    infra: ['redis'],
  },
} as const satisfies Record<string, DeployableSpec>;
