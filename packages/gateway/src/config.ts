import { env, loadConfig, z } from '@bulkhead/config';

const gatewayEnvSchema = z
  .object({
    GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
    GATEWAY_PORT: env.port(8080),
    /** The routing snapshot file written by the config-agent sidecar. */
    SNAPSHOT_PATH: env.string(),
    BULKHEAD_REDIS_URL: env.url().default('redis://127.0.0.1:16379'),
    /** Per-tenant limit for tenants whose snapshot entry says 0. */
    RATE_LIMIT_DEFAULT_PER_SECOND: env.positiveInt(1000),
    /** The budget of a request: its calls to the cell carry this deadline from its arrival. */
    GRPC_DEADLINE_MS: env.positiveInt(2000),
    OPS_HOST: z.string().min(1).default('127.0.0.1'),
    OPS_PORT: env.port(9080),
    /** Admission control per (cell, class): see CellAdmission. */
    ADMISSION_ALGORITHM: z.enum(['aimd', 'gradient2']).default('aimd'),
    ADMISSION_MAX_LIMIT: env.positiveInt(200),
    ADMISSION_SLOW_MS: env.positiveInt(500),
    LOG_LEVEL: env.logLevel(),
  })
  .transform((e) => ({
    host: e.GATEWAY_HOST,
    port: e.GATEWAY_PORT,
    snapshotPath: e.SNAPSHOT_PATH,
    redisUrl: e.BULKHEAD_REDIS_URL,
    defaultRateLimitPerSecond: e.RATE_LIMIT_DEFAULT_PER_SECOND,
    grpcDeadlineMs: e.GRPC_DEADLINE_MS,
    ops: { host: e.OPS_HOST, port: e.OPS_PORT },
    admission: {
      algorithm: e.ADMISSION_ALGORITHM,
      maxLimit: e.ADMISSION_MAX_LIMIT,
      slowMs: e.ADMISSION_SLOW_MS,
    },
    logLevel: e.LOG_LEVEL,
  }));

export type GatewayConfig = z.infer<typeof gatewayEnvSchema>;

/** Reads the gateway configuration; throws a ConfigError naming every bad variable. */
export function loadGatewayConfig(
  environment: Record<string, string | undefined> = process.env,
): GatewayConfig {
  return loadConfig(gatewayEnvSchema, environment);
}
