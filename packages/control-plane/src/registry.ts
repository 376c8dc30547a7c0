import { randomBytes, randomUUID } from 'node:crypto';
import { withTransaction, type Pool, type Queryable } from '@bulkhead/db';
import type { Logger } from '@bulkhead/logger';
import { hashApiKey, type SnapshotPosition } from '@bulkhead/routing-snapshot';
import type { controlPlaneV1 } from '@bulkhead/contracts';
import type { CellConfig } from './config.js';

/**
 * The registry of tenants and cells in PostgreSQL. Every change bumps the snapshot version and
 * NOTIFYs SNAPSHOT_CHANNEL in the same transaction, so a listener never misses a committed change
 * and never sees an uncommitted one. The payload is `<epoch>:<version>`
 * (parseSnapshotNotification).
 */
export const SNAPSHOT_CHANNEL = 'bulkhead_routing_snapshot';

/** The position a SNAPSHOT_CHANNEL payload announces; undefined when it is not one. */
export function parseSnapshotNotification(
  payload: string | undefined,
): SnapshotPosition | undefined {
  const match = /^([0-9a-f-]{36}):([0-9]+)$/.exec(payload ?? '');
  return match ? { epoch: match[1], version: Number(match[2]) } : undefined;
}

/**
 * Advisory lock serialising placement decisions (and cell changes) across all control-plane
 * instances: without it two concurrent creations could both pick the same "emptiest" cell.
 */
export const PLACEMENT_LOCK = 7_081_001;

export interface Tenant {
  id: string;
  name: string;
  cell: string;
}

export interface CellUsage {
  id: string;
  tenants: number;
}

/** A new API key: `bk_` + base64url of 32 random bytes (256 bits). */
export function generateApiKey(): string {
  return `bk_${randomBytes(32).toString('base64url')}`;
}

/** Bumps the snapshot version and queues the notification (delivered when the transaction commits). */
async function publishNewVersion(tx: Queryable): Promise<number> {
  const { rows } = await tx.query<{ version: number }>(
    `WITH bumped AS (
       UPDATE snapshot_version SET version = version + 1, published_at = now()
       RETURNING epoch, version
     )
     SELECT version, pg_notify($1, epoch::text || ':' || version::text) FROM bumped`,
    [SNAPSHOT_CHANNEL],
  );
  const version = rows[0]?.version;
  if (version === undefined) throw new Error('snapshot_version row is missing');
  return version;
}

/**
 * Places a new tenant in the cell with the fewest tenants (ties: lowest id) and stores only the
 * hash of its API key. Returns the key: this is the only time it exists in plain text.
 */
export async function createTenant(
  pool: Pool,
  input: { name: string; rateLimitPerSecond: number },
): Promise<{ tenant: Tenant; apiKey: string; version: number }> {
  const apiKey = generateApiKey();
  return withTransaction(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [PLACEMENT_LOCK]);
    // READ COMMITTED: this statement starts after the lock is held, so it sees every tenant
    // committed by the previous holder.
    const { rows } = await tx.query<{ id: string }>(
      `SELECT c.id FROM cells c
        WHERE c.active
        ORDER BY (SELECT count(*) FROM tenants t WHERE t.cell_id = c.id), c.id
        LIMIT 1`,
    );
    const cell = rows[0]?.id;
    if (cell === undefined) throw new Error('no active cell to place the tenant in');
    const tenant: Tenant = { id: randomUUID(), name: input.name, cell };
    await tx.query(
      `INSERT INTO tenants (id, name, cell_id, api_key_sha256, rate_limit_per_second)
       VALUES ($1, $2, $3, $4, $5)`,
      [tenant.id, tenant.name, tenant.cell, hashApiKey(apiKey), input.rateLimitPerSecond],
    );
    const version = await publishNewVersion(tx);
    return { tenant, apiKey, version };
  });
}

export async function findTenant(db: Queryable, id: string): Promise<Tenant | undefined> {
  const { rows } = await db.query<Tenant>(
    'SELECT id, name, cell_id AS cell FROM tenants WHERE id = $1',
    [id],
  );
  return rows[0];
}

export async function listCells(db: Queryable): Promise<CellUsage[]> {
  const { rows } = await db.query<CellUsage>(
    `SELECT c.id, count(t.id)::int AS tenants
       FROM cells c LEFT JOIN tenants t ON t.cell_id = c.id
      GROUP BY c.id
      ORDER BY c.id`,
  );
  return rows;
}

/**
 * Makes the cells and their endpoints match the configuration: inserts new cells, updates changed
 * endpoints (adds, moves, removes),
 * deletes removed cells without tenants and deactivates removed cells that still hold tenants.
 * Bumps the snapshot version only when something changed. Returns the new version, if any.
 */
export async function syncCells(
  pool: Pool,
  cells: CellConfig[],
  logger: Logger,
): Promise<number | undefined> {
  return withTransaction(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [PLACEMENT_LOCK]);
    let changed = 0;
    for (const cell of cells) {
      const upserted = await tx.query(
        `INSERT INTO cells AS c (id, active) VALUES ($1, true)
         ON CONFLICT (id) DO UPDATE SET active = true WHERE NOT c.active`,
        [cell.id],
      );
      changed += upserted.rowCount ?? 0;
      const services = Object.keys(cell.endpoints);
      const removed = await tx.query(
        'DELETE FROM cell_endpoints WHERE cell_id = $1 AND service <> ALL($2::text[])',
        [cell.id, services],
      );
      changed += removed.rowCount ?? 0;
      const endpoints = await tx.query(
        `INSERT INTO cell_endpoints AS e (cell_id, service, address)
         SELECT $1, service, address FROM unnest($2::text[], $3::text[]) AS n (service, address)
         ON CONFLICT (cell_id, service) DO UPDATE SET address = EXCLUDED.address
         WHERE e.address IS DISTINCT FROM EXCLUDED.address`,
        [cell.id, services, Object.values(cell.endpoints)],
      );
      changed += endpoints.rowCount ?? 0;
    }
    const configured = cells.map((c) => c.id);
    const deleted = await tx.query(
      `DELETE FROM cells c
        WHERE c.id <> ALL($1::text[])
          AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.cell_id = c.id)`,
      [configured],
    );
    changed += deleted.rowCount ?? 0;
    // What is left outside the configuration still holds tenants: keep routing to it.
    const orphaned = await tx.query<{ id: string; tenants: number }>(
      `SELECT c.id, (SELECT count(*)::int FROM tenants t WHERE t.cell_id = c.id) AS tenants
         FROM cells c WHERE c.id <> ALL($1::text[]) ORDER BY c.id`,
      [configured],
    );
    for (const cell of orphaned.rows) {
      logger.warn(
        { cell: cell.id, tenants: cell.tenants },
        'cell is not in BULKHEAD_CELLS but still holds tenants: kept for routing, closed to new tenants',
      );
    }
    const deactivated = await tx.query(
      'UPDATE cells SET active = false WHERE active AND id <> ALL($1::text[])',
      [configured],
    );
    changed += deactivated.rowCount ?? 0;
    if (changed === 0) return undefined;
    return publishNewVersion(tx);
  });
}

/**
 * Starts a new epoch if the database is behind `held`, a position a watcher holds: same epoch, a
 * version the database has not reached. Versions never go back in one database's lifetime, so it
 * went back in time (restored from a backup, a failover that lost commits) and its next versions
 * would repeat ones watchers hold with other content. The new epoch (made by the database, as in
 * the migration) makes every watcher take the current snapshot. Returns it, or undefined when the
 * database is not behind (e.g. the instance that was asked lags behind it).
 */
export async function startNewEpochIfBehind(
  pool: Pool,
  held: SnapshotPosition,
): Promise<SnapshotPosition | undefined> {
  const { rows } = await pool.query<{ epoch: string; version: number }>(
    `WITH renewed AS (
       UPDATE snapshot_version
          SET epoch = gen_random_uuid(), version = version + 1, published_at = now()
        WHERE epoch = $2 AND version < $3
       RETURNING epoch, version
     )
     SELECT epoch, version, pg_notify($1, epoch::text || ':' || version::text) FROM renewed`,
    [SNAPSHOT_CHANNEL, held.epoch, held.version],
  );
  return rows[0] && { epoch: rows[0].epoch, version: rows[0].version };
}

/** Reads one consistent routing snapshot (tenants, cells with every endpoint, epoch, version). */
export async function loadSnapshot(pool: Pool): Promise<controlPlaneV1.RoutingSnapshot> {
  return withTransaction(pool, async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const version = await tx.query<{ epoch: string; version: number; published_at: Date }>(
      'SELECT epoch, version, published_at FROM snapshot_version',
    );
    const cells = await tx.query<controlPlaneV1.Cell>(
      `SELECT c.id,
              coalesce(jsonb_object_agg(e.service, e.address ORDER BY e.service)
                         FILTER (WHERE e.service IS NOT NULL), '{}') AS endpoints
         FROM cells c
         LEFT JOIN cell_endpoints e ON e.cell_id = c.id
        GROUP BY c.id ORDER BY c.id`,
    );
    const tenants = await tx.query<controlPlaneV1.Tenant>(
      `SELECT id, name, cell_id AS "cellId", api_key_sha256 AS "apiKeySha256",
              rate_limit_per_second AS "rateLimitPerSecond"
         FROM tenants ORDER BY created_at, id`,
    );
    const head = version.rows[0];
    if (!head) throw new Error('snapshot_version row is missing');
    return {
      epoch: head.epoch,
      version: head.version,
      publishedAt: head.published_at,
      cells: cells.rows,
      tenants: tenants.rows,
    };
  });
}
