import { env, loadConfig, z } from '@bulkhead/config';

const schema = z
  .object({
    CONTROL_PLANE_ADDRESS: env.hostPort().default('127.0.0.1:7081'),
    SNAPSHOT_PATH: env.string(),
    /** The services whose endpoints the host calls (e.g. orders,inventory); empty: all. */
    SNAPSHOT_SERVICES: env.list().default([]),
    CONFIG_AGENT_OPS_HOST: z.string().min(1).default('127.0.0.1'),
    CONFIG_AGENT_OPS_PORT: env.port(9085),
    WATCH_DEADLINE_MS: env.positiveInt(5 * 60_000),
    WATCH_OPEN_TIMEOUT_MS: env.positiveInt(5_000),
    LOG_LEVEL: env.logLevel(),
  })
  .transform((e) => ({
    controlPlaneAddress: e.CONTROL_PLANE_ADDRESS,
    snapshotPath: e.SNAPSHOT_PATH,
    snapshotServices: e.SNAPSHOT_SERVICES,
    /** Probes (/healthz, /readyz), served by runService. */
    ops: { host: e.CONFIG_AGENT_OPS_HOST, port: e.CONFIG_AGENT_OPS_PORT },
    /** Deadline of each WatchSnapshot call; the stream is re-opened when it expires. */
    watchDeadlineMs: e.WATCH_DEADLINE_MS,
    /** A WatchSnapshot call not opened (no headers) within this long is cancelled and retried. */
    watchOpenTimeoutMs: e.WATCH_OPEN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  }));

export type ConfigAgentConfig = z.infer<typeof schema>;

/** Reads the config agent's configuration; throws a ConfigError naming every bad variable. */
export function loadConfigAgentConfig(
  source: Record<string, string | undefined> = process.env,
): ConfigAgentConfig {
  return loadConfig(schema, source);
}
