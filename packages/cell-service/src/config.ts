import { cellDatabaseName, type CellService } from '@bulkhead/cell';
import { env, loadConfig, z } from '@bulkhead/config';
import { deployables } from '@bulkhead/manifest';

/** Configuration every service of a cell reads from its environment. */
export interface CellServiceConfig {
  cellId: string;
  /** PostgreSQL server URL; the service owns one database on it. */
  pgUrl: string;
  /** The service's database: bulkhead_<cell>_<service>, or DATABASE_NAME (tests). */
  database: string;
  kafkaBrokers: string[];
  grpc: { host: string; port: number };
  /** Probes: /healthz and /readyz. */
  ops: { host: string; port: number };
  dbPoolSize: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/**
 * Reads the environment once and validates it; throws a ConfigError naming every bad variable.
 * Variables: CELL_ID (required), BULKHEAD_PG_URL, DATABASE_NAME, BULKHEAD_KAFKA_BROKERS,
 * GRPC_HOST, GRPC_PORT, OPS_HOST, OPS_PORT, DB_POOL_SIZE, LOG_LEVEL. The default ports are
 * cell-1's from the manifest.
 */
export function loadCellServiceConfig(
  service: CellService,
  source: Record<string, string | undefined> = process.env,
): CellServiceConfig {
  const defaultPorts = {
    grpc: deployables[service].ports.grpc.port,
    ops: deployables[service].ports.ops.port,
  };
  const schema = z
    .object({
      CELL_ID: env.cellId(),
      BULKHEAD_PG_URL: env.url().default('postgres://postgres@127.0.0.1:15432/postgres'),
      DATABASE_NAME: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/)
        .optional(),
      BULKHEAD_KAFKA_BROKERS: env.list().default(['127.0.0.1:19092']),
      GRPC_HOST: z.string().min(1).default('127.0.0.1'),
      GRPC_PORT: env.port(defaultPorts.grpc),
      OPS_HOST: z.string().min(1).default('127.0.0.1'),
      OPS_PORT: env.port(defaultPorts.ops),
      DB_POOL_SIZE: env.positiveInt(10),
      LOG_LEVEL: env.logLevel(),
    })
    .transform((e) => ({
      cellId: e.CELL_ID,
      pgUrl: e.BULKHEAD_PG_URL,
      database: e.DATABASE_NAME ?? cellDatabaseName(e.CELL_ID, service),
      kafkaBrokers: e.BULKHEAD_KAFKA_BROKERS,
      grpc: { host: e.GRPC_HOST, port: e.GRPC_PORT },
      ops: { host: e.OPS_HOST, port: e.OPS_PORT },
      dbPoolSize: e.DB_POOL_SIZE,
      logLevel: e.LOG_LEVEL,
    }));
  return loadConfig(schema, source);
}
