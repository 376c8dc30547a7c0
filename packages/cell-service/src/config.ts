import { cellDatabaseName, type CellService } from '@bulkhead/cell';
import { env, loadConfigParts, z } from '@bulkhead/config';
import { deployables } from '@bulkhead/manifest';

/**
 * Configuration every service of a cell reads from its environment, plus the service's own
 * `settings` (read with the schema its definition gives; undefined without one).
 */
export interface CellServiceConfig<Settings = unknown> {
  cellId: string;
  /** PostgreSQL server URL; the service owns one database on it. */
  pgUrl: string;
  /** The service's database: bulkhead_<cell>_<service>, or DATABASE_NAME (tests). */
  database: string;
  kafkaBrokers: string[];
  /** maxInFlight: unary calls worked on at once; more are refused RESOURCE_EXHAUSTED at once. */
  grpc: { host: string; port: number; maxInFlight: number };
  /** Probes: /healthz and /readyz. */
  ops: { host: string; port: number };
  dbPoolSize: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  settings: Settings;
}

/**
 * Reads the environment once and validates it; throws a ConfigError naming every bad variable.
 * Variables: CELL_ID (required), BULKHEAD_PG_URL, DATABASE_NAME, BULKHEAD_KAFKA_BROKERS,
 * GRPC_HOST, GRPC_PORT, GRPC_MAX_IN_FLIGHT, OPS_HOST, OPS_PORT, DB_POOL_SIZE, LOG_LEVEL, and
 * the service's own (its definition's `settings`). The default ports are cell-1's, from the
 * manifest.
 */
export function loadCellServiceConfig<Settings = undefined>(
  service: CellService,
  source: Record<string, string | undefined> = process.env,
  settings?: z.ZodType<Settings>,
): CellServiceConfig<Settings> {
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
      GRPC_MAX_IN_FLIGHT: env.positiveInt(64),
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
      grpc: { host: e.GRPC_HOST, port: e.GRPC_PORT, maxInFlight: e.GRPC_MAX_IN_FLIGHT },
      ops: { host: e.OPS_HOST, port: e.OPS_PORT },
      dbPoolSize: e.DB_POOL_SIZE,
      logLevel: e.LOG_LEVEL,
    }));
  if (!settings) {
    return {
      ...loadConfigParts({ shared: schema }, source).shared,
      settings: undefined as Settings,
    };
  }
  const parts = loadConfigParts({ shared: schema, settings }, source);
  return { ...parts.shared, settings: parts.settings };
}
