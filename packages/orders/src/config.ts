import { env, loadConfig, z } from '@bulkhead/config';

const schema = z.object({
  CELL_ID: env.cellId(),
  BULKHEAD_PG_URL: env.url().default('postgres://postgres@127.0.0.1:55432/postgres'),
  /** Overrides the cell's database name (tests use throwaway databases). */
  DATABASE_NAME: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/)
    .optional(),
  BULKHEAD_KAFKA_BROKERS: env.list().default(['127.0.0.1:59092']),
  GRPC_HOST: z.string().default('127.0.0.1'),
  GRPC_PORT: env.port(7111),
  OPS_HOST: z.string().default('127.0.0.1'),
  OPS_PORT: env.port(9111),
  DB_POOL_SIZE: env.positiveInt(10),
  LOG_LEVEL: env.logLevel(),
});

export type OrdersConfig = z.infer<typeof schema>;

export function loadOrdersConfig(
  source: Record<string, string | undefined> = process.env,
): OrdersConfig {
  return loadConfig(schema, source);
}
