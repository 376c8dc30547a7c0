import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import {
  createPool,
  databaseUrl,
  ensureDatabase,
  migrate,
  type MigrationSet,
  type Pool,
} from '@bulkhead/db';
import { GrpcError } from '@bulkhead/grpc';
import { createLogger, type Logger } from '@bulkhead/logger';
import { parseExposition, type Sample } from '@bulkhead/metrics';

export { startPrivateKafka, type PrivateKafka } from './kafka.js';

/** Endpoints of the local infrastructure started by infra/local/infra.sh (env overrides). */
export const infra = {
  pgUrl: process.env.BULKHEAD_PG_URL ?? 'postgres://postgres@127.0.0.1:15432/postgres',
  kafkaBrokers: (process.env.BULKHEAD_KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
  redisUrl: process.env.BULKHEAD_REDIS_URL ?? 'redis://127.0.0.1:16379',
};

/** A name no other test run uses: prefix_<random>, safe for databases, topics and groups. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Runs statements one after the other on the server's `postgres` database (names are ours). */
async function onServer(...statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl(infra.pgUrl, 'postgres') });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

function testDatabase(name: string): TestDatabase {
  return {
    name,
    url: databaseUrl(infra.pgUrl, name),
    drop: () => onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** Creates a throwaway database; drop() removes it (terminating leftover connections). */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const name = uniqueName(prefix.replaceAll('-', '_'));
  await ensureDatabase(infra.pgUrl, name);
  return testDatabase(name);
}

/** Ends every connection to the database and copies it (CREATE DATABASE … TEMPLATE). */
const copyStatements = (source: string, target: string): string[] => [
  `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${source}'`,
  `CREATE DATABASE ${target} TEMPLATE ${source}`,
];

/**
 * A backup of the database as it is now: a new throwaway database with the same content. Ends
 * every connection to the source first (a template cannot be in use).
 */
export async function backupTestDatabase(db: TestDatabase): Promise<TestDatabase> {
  const backup = uniqueName('backup');
  await onServer(...copyStatements(db.name, backup));
  return testDatabase(backup);
}

/** Restores a backup over the database: the same name, the backup's content (it stays a backup). */
export async function restoreTestDatabase(db: TestDatabase, backup: TestDatabase): Promise<void> {
  await onServer(`DROP DATABASE ${db.name} WITH (FORCE)`, ...copyStatements(backup.name, db.name));
}

export interface MigratedTestDatabase extends TestDatabase {
  readonly pool: Pool;
}

/** A throwaway database with these migrations applied and a pool on it; drop() ends the pool first. */
export async function migratedTestDatabase(
  prefix: string,
  migrations: MigrationSet[],
  { poolSize = 10 }: { poolSize?: number } = {},
): Promise<MigratedTestDatabase> {
  const db = await createTestDatabase(prefix);
  try {
    await migrate(db.url, migrations);
  } catch (error) {
    await db.drop();
    throw error;
  }
  const pool = createPool(db.url, { max: poolSize });
  return {
    ...db,
    pool,
    drop: async () => {
      // pool.end() resolves before its connections have closed; DROP DATABASE ... FORCE may
      // terminate one of them, which the pool reports as an 'error' event: expected here.
      pool.on('error', () => undefined);
      await pool.end();
      await db.drop();
    },
  };
}

/** A logger for tests: silent unless BULKHEAD_TEST_LOG_LEVEL is set. */
export function testLogger(name = 'test'): Logger {
  return createLogger(
    name,
    (process.env.BULKHEAD_TEST_LOG_LEVEL as 'info' | undefined) ?? 'silent',
  );
}

/** One entry a recordingLogger received: the level's label, the message and the fields. */
export interface LogEntry {
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** A logger (at debug) that keeps every entry in memory, for tests asserting what is logged. */
export function recordingLogger(name = 'test'): { logger: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      entries.push(JSON.parse(chunk.toString()) as LogEntry);
      done();
    },
  });
  return { logger: createLogger(name, 'debug', sink), entries };
}

/** Polls fn until it returns a non-undefined value or the timeout passes. */
export async function eventually<T>(
  fn: () => Promise<T | undefined>,
  { timeoutMs = 10_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The GrpcError a call fails with; throws if the call succeeds or fails with anything else. */
export function grpcError(call: Promise<unknown>): Promise<GrpcError> {
  return call.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => {
      if (error instanceof GrpcError) return error;
      throw new Error('expected the call to fail with a GrpcError', { cause: error });
    },
  );
}

/** Environment for a cell service under test: the local infra, its own database, a random gRPC port. */
export function cellServiceEnv(cellId: string, database: string): Record<string, string> {
  return {
    CELL_ID: cellId,
    BULKHEAD_PG_URL: infra.pgUrl,
    DATABASE_NAME: database,
    BULKHEAD_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    GRPC_PORT: '0',
  };
}

/** Two cells with loopback endpoints nothing listens on: for control-plane and config-agent tests. */
export const TEST_CELLS = [1, 2].map((n) => ({
  id: `cell-${n}`,
  endpoints: {
    orders: `127.0.0.1:17${n}11`,
    inventory: `127.0.0.1:17${n}12`,
    payments: `127.0.0.1:17${n}13`,
  },
}));

/** Scrapes `GET /metrics` of an ops port over HTTP and parses the Prometheus text. */
export async function scrapeMetrics(port: number): Promise<Sample[]> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  return parseExposition(await response.text());
}
