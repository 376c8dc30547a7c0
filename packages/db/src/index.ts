import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { backoffDelay, type BackoffOptions } from '@bulkhead/backoff';
import type { Logger } from '@bulkhead/logger';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: a pool or a client inside a transaction. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

// int8 (bigint) columns hold counts and cents well below 2^53: parse them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));

/** Statement texts prepared per connection, at most; past it a new text runs unprepared. */
const MAX_PREPARED_TEXTS = 500;
const statementNames = new Map<string, string>();

/** The name a parameterized statement is prepared under (one per distinct text), if any. */
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_PREPARED_TEXTS) {
    name = `bulkhead_${statementNames.size}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * A client that prepares each parameterized statement once per connection (PostgreSQL's
 * extended protocol with a named statement: parsed and planned once, then only bound and run),
 * instead of parsing and planning it on every run. Only `query(text, values)` calls: a config
 * object is passed on as it is, and a text without values (BEGIN, COMMIT, several statements in
 * one) cannot be prepared.
 */
class PreparingClient extends pg.Client {
  override query(...args: unknown[]): never {
    const [text, values, callback] = args;
    if (typeof text === 'string' && Array.isArray(values)) {
      const name = statementName(text);
      if (name !== undefined) {
        const config = { name, text, values };
        return (super.query as (...a: unknown[]) => never)(
          ...(callback === undefined ? [config] : [config, callback]),
        );
      }
    }
    return (super.query as (...a: unknown[]) => never)(...args);
  }
}

export interface PoolOptions {
  max?: number;
  /**
   * Prepare every parameterized statement once per connection (default true). Off for a
   * connection pooler that cannot keep named statements (PgBouncer in transaction mode before
   * 1.21).
   */
  prepareStatements?: boolean;
  applicationName?: string;
  /** Where to report idle connections that fail (e.g. a PostgreSQL restart). */
  logger?: Logger;
}

export function createPool(connectionString: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    ...(options.prepareStatements === false ? {} : { Client: PreparingClient }),
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection is not fatal (the pool replaces it), but without a
  // listener the 'error' event would crash the process.
  pool.on('error', (error) =>
    options.logger?.warn({ err: error }, 'idle PostgreSQL connection lost'),
  );
  // The same for a client that is checked out: the pool listens only while a client is idle, so a
  // connection lost in the middle of a transaction (PostgreSQL restarted while a relay holds its
  // rows) would crash the process. The query in flight, or the next one, fails with the error.
  pool.on('connect', (client) =>
    client.on('error', (error) =>
      options.logger?.warn({ err: error }, 'PostgreSQL connection lost while in use'),
    ),
  );
  return pool;
}

export interface TransactionOptions {
  /**
   * Called before waiting for a connection, once the time it returned has passed while waiting,
   * once the connection is acquired, and again before COMMIT; throwing aborts (before BEGIN, or
   * rolls back). Returns the milliseconds left, which become the transaction's
   * statement_timeout (none past 2^31 - 1 ms, PostgreSQL's largest), or undefined for none. E.g. the caller's deadline (grpc deadlineGuard).
   */
  guard?: () => number | undefined;
  /**
   * False: the COMMIT returns before its WAL is flushed to disk (synchronous_commit = off for
   * this transaction only). A crash can then lose the last fraction of a second of such
   * transactions (never corrupt them, and never another transaction's), so only for work whose
   * loss is repaired by doing it again — e.g. the relay marking rows sent: a lost mark publishes
   * them again, and consumers deduplicate. Default true.
   */
  durable?: boolean;
}

/**
 * The transaction of `withTransaction` that a client is in: work to run just before its COMMIT
 * and just after it. One object per transaction, gone once it ended (committed or not), so it
 * can key what a caller gathers for that transaction alone.
 */
export interface Transaction {
  /**
   * Runs `hook` before COMMIT, on the transaction's client, after the work (and after the hooks
   * added before it; a hook may add more). A hook that throws rolls the transaction back and
   * withTransaction rejects with its error. E.g. the outbox writes a transaction's rows then, in
   * one statement.
   */
  beforeCommit(hook: () => Promise<void>): void;
  /**
   * Runs `hook` once the transaction has committed (never after a rollback), right after the
   * COMMIT, before withTransaction returns; a hook must not throw.
   */
  afterCommit(hook: () => void): void;
}

interface TransactionHooks extends Transaction {
  readonly before: Array<() => Promise<void>>;
  readonly after: Array<() => void>;
}

function transactionHooks(): TransactionHooks {
  const before: Array<() => Promise<void>> = [];
  const after: Array<() => void> = [];
  return {
    before,
    after,
    beforeCommit: (hook) => before.push(hook),
    afterCommit: (hook) => after.push(hook),
  };
}

/** The transaction each client is in (withTransaction), while it lasts. */
const transactions = new WeakMap<pg.PoolClient, TransactionHooks>();

/** A hook that throws would make a committed transaction look failed: it is reported instead. */
function runHook(hook: () => void): void {
  try {
    hook();
  } catch (error) {
    // Committed already: the caller must not see its transaction fail. A bug in the hook.
    process.emitWarning(`an afterCommit hook threw: ${String(error)}`);
  }
}

/**
 * The transaction of `withTransaction` that `client` is in; undefined for a client in no such
 * transaction (a bare client, one in a transaction of its own making): the caller does without
 * (e.g. the outbox writes at once and NOTIFYs).
 */
export function transactionOf(client: Queryable): Transaction | undefined {
  return transactions.get(client as pg.PoolClient);
}

/**
 * The longest delay setTimeout takes and the largest statement_timeout PostgreSQL accepts: both
 * 2^31 - 1 ms (about 24.8 days). A deadline further off than that is no limit for either.
 */
const MAX_INT32_MS = 2 ** 31 - 1;

/**
 * A pooled client, waiting no longer than the guard allows: a deadline that has passed does not
 * queue, and one that passes while every connection is busy fails with the guard's own error
 * then, not once a connection frees up (the client that comes later goes back to the pool).
 */
async function connectWithin(
  pool: pg.Pool,
  guard: TransactionOptions['guard'],
): Promise<pg.PoolClient> {
  const left = guard?.();
  // No deadline, or one further off than a timer can wait (setTimeout fires at once past it).
  if (left === undefined || left > MAX_INT32_MS) return pool.connect();
  const connecting = pool.connect();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        guard?.();
      } catch (error) {
        reject(error as Error);
      }
    }, left);
  });
  try {
    return await Promise.race([connecting, expired]);
  } catch (error) {
    connecting.then(
      (client) => client.release(),
      () => undefined,
    );
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs fn inside BEGIN/COMMIT on one pooled client; rolls back on any error and rethrows it. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const client = await connectWithin(pool, options.guard);
  // A client whose ROLLBACK fails has lost its connection: it is destroyed, not pooled again.
  let broken: Error | undefined;
  // Nothing to roll back before BEGIN was sent (the guard may throw once the wait for a
  // connection has taken the time that was left).
  let begun = false;
  try {
    const timeout = options.guard?.();
    // SET LOCAL goes with BEGIN in one simple query: no extra round trip.
    let begin = 'BEGIN';
    if (timeout !== undefined && timeout <= MAX_INT32_MS) {
      begin += `; SET LOCAL statement_timeout = ${String(Math.max(1, Math.ceil(timeout)))}`;
    }
    if (options.durable === false) begin += '; SET LOCAL synchronous_commit = off';
    begun = true;
    await client.query(begin);
    const hooks = transactionHooks();
    transactions.set(client, hooks);
    const result = await fn(client);
    // Indexed: a hook may add another.
    for (let i = 0; i < hooks.before.length; i++) await hooks.before[i]!();
    options.guard?.();
    await client.query('COMMIT');
    transactions.delete(client);
    for (const hook of hooks.after) runHook(hook);
    return result;
  } catch (error) {
    transactions.delete(client);
    if (begun) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

/** Returns the URL with its path replaced by the given database name. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Creates the database if it does not exist yet (the service owns its database).
 * serverUrl points at the server; the maintenance database `postgres` is used for CREATE DATABASE.
 */
export async function ensureDatabase(serverUrl: string, database: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database))
    throw new Error(`invalid database name ${database}`);
  const client = new pg.Client({ connectionString: databaseUrl(serverUrl, 'postgres') });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${database}`).catch((error: { code?: string }) => {
        // 42P04 duplicate_database / 23505: another instance created it concurrently.
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await client.end();
  }
}

/** A set of versioned migrations shipped by one package, tracked in its own table. */
export interface MigrationSet {
  /** Used for the tracking table name: pgmigrations_<name>. */
  name: string;
  /** Directory with NNNN_name.sql files ("-- Up Migration" / "-- Down Migration" sections). */
  directory: string;
}

/** Resolves a migrations directory relative to a module (works from src/ and dist/). */
export function migrationsDir(moduleUrl: string, relative = '../migrations'): string {
  return fileURLToPath(new URL(relative, moduleUrl));
}

/**
 * Applies every pending migration of each set, in order, with node-pg-migrate
 * (advisory-locked, so concurrent instances wait for each other).
 */
export async function migrate(
  connectionString: string,
  sets: MigrationSet[],
  logger?: Logger,
): Promise<void> {
  for (const set of sets) {
    const applied = await runner({
      databaseUrl: connectionString,
      dir: set.directory,
      migrationsTable: `pgmigrations_${set.name.replaceAll('-', '_')}`,
      direction: 'up',
      checkOrder: true,
      singleTransaction: true,
      advisoryLockMode: 'wait',
      log: () => undefined,
    });
    if (applied.length > 0) {
      logger?.info({ set: set.name, applied: applied.map((m) => m.name) }, 'migrations applied');
    }
  }
}

export interface DatabaseOptions {
  /** PostgreSQL server URL; the service owns `database` on it. */
  serverUrl: string;
  database: string;
  /** Applied in order, each tracked in its own table. */
  migrations: MigrationSet[];
  logger: Logger;
  /**
   * How long to wait for the server to accept connections (default 120 s). In a cluster the
   * service may start before its database: it waits, with backoff, instead of crash-looping.
   */
  waitForServerMs?: number;
}

/** Errors that mean "the server is not reachable yet", not "the request is wrong". */
const NOT_YET_REACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  // 57P03 cannot_connect_now: the server is starting up or shutting down.
  '57P03',
]);

function notYetReachable(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  return (
    (e?.code !== undefined && NOT_YET_REACHABLE.has(e.code)) ||
    /Connection terminated unexpectedly/.test(e?.message ?? '')
  );
}

const WAIT_FOR_SERVER: BackoffOptions = { initialMs: 250, maxMs: 5_000, jitter: true };

/**
 * ensureDatabase, retried with backoff while the server is not reachable yet, for at most
 * waitMs; any other error (bad credentials, a bad name) fails at once.
 */
async function ensureDatabaseWhenReachable(
  options: DatabaseOptions,
  waitMs: number,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureDatabase(options.serverUrl, options.database);
      if (attempt > 1) options.logger.info({ attempt }, 'PostgreSQL is reachable');
      return;
    } catch (error) {
      const retryInMs = backoffDelay(attempt, WAIT_FOR_SERVER);
      if (!notYetReachable(error) || Date.now() + retryInMs > deadline) throw error;
      options.logger.warn(
        { err: error, attempt, retryInMs, server: new URL(options.serverUrl).host },
        'waiting for PostgreSQL',
      );
      await sleep(retryInMs);
    }
  }
}

/**
 * The one database bring-up of every service that owns a database: wait for the server to be
 * reachable, create the database if missing, then apply pending migrations (advisory-locked, so replicas starting at once wait for each other).
 * Returns the database's URL for the pool.
 */
export async function prepareDatabase(options: DatabaseOptions): Promise<string> {
  await ensureDatabaseWhenReachable(options, options.waitForServerMs ?? 120_000);
  const url = databaseUrl(options.serverUrl, options.database);
  await migrate(url, options.migrations, options.logger);
  return url;
}

export { listen, type Listener, type ListenHandlers } from './listen.js';
export { databaseFailure, type DatabaseFailure } from './failures.js';
