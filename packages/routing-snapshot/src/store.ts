import { watch, type FSWatcher } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from '@bulkhead/logger';
import type { Metrics } from '@bulkhead/metrics';
import { readSnapshotFile } from './file.js';
import { compareSnapshots, logNewEpoch } from './position.js';
import type { CellEndpoints, RoutingSnapshot, TenantRoute } from './snapshot.js';

/** An indexed, read-only view of one snapshot version. */
export class RoutingTable {
  private readonly byKeyHash = new Map<string, TenantRoute>();
  private readonly cells = new Map<string, CellEndpoints>();

  constructor(readonly snapshot: RoutingSnapshot) {
    for (const tenant of snapshot.tenants) {
      this.byKeyHash.set(tenant.apiKeySha256, tenant);
    }
    for (const cell of snapshot.cells) this.cells.set(cell.id, cell);
  }

  get version(): number {
    return this.snapshot.version;
  }

  /** The control-plane epoch of the snapshot; undefined for a file written before epochs. */
  get epoch(): string | undefined {
    return this.snapshot.epoch;
  }

  tenantByKeyHash(keyHash: string): TenantRoute | undefined {
    return this.byKeyHash.get(keyHash);
  }

  cell(id: string): CellEndpoints | undefined {
    return this.cells.get(id);
  }
}

export interface SnapshotStore {
  /** The newest valid snapshot seen, or undefined before the first one. */
  current(): RoutingTable | undefined;
  close(): void;
}

/**
 * Keeps the newest snapshot from the file written by the config-agent, newest as compareSnapshots
 * says: a file of another control-plane epoch replaces the table whatever its version. Watches
 * the directory (the agent replaces the file by rename), with a poll as a safety net that reads
 * the file only when its inode, size or mtime changed. A missing or invalid file never replaces a
 * good snapshot: the data plane keeps serving the last one.
 */
export async function openSnapshotStore(
  path: string,
  logger: Logger,
  options: {
    pollIntervalMs?: number;
    onChange?: (table: RoutingTable) => void;
    /**
     * The reader's metrics: `routing_snapshot_version`, `routing_snapshot_age_seconds` and
     * `routing_snapshot_cells{state}` (read at scrape time). A cell is `serving` when the snapshot
     * has an endpoint for each of `services` (what the reader calls), else `incomplete`.
     */
    metrics?: { metrics: Metrics; services: readonly string[] };
  } = {},
): Promise<SnapshotStore> {
  let table: RoutingTable | undefined;
  let loadedAt: number | undefined;
  let closed = false;
  let reloading: Promise<void> | undefined;
  let again = false;
  let seen: string | undefined; // identity of the file last parsed: inode, size, mtime
  let failed: string | undefined; // identity of the file that last failed to parse (logged once)

  const load = async (): Promise<void> => {
    let identity: string | undefined;
    try {
      // The file is only ever replaced by rename: an unchanged identity means nothing to read.
      const info = await stat(path).catch(() => undefined);
      identity = info && `${info.ino}:${info.size}:${info.mtimeMs}`;
      if (!identity || identity === seen) return;
      const snapshot = await readSnapshotFile(path);
      // Seen only once parsed: a file that failed (caught half-written, unreadable for a
      // moment) is read again on the next event or poll, even if its identity did not change.
      seen = identity;
      failed = undefined;
      if (!snapshot) return;
      const relation = compareSnapshots(table?.snapshot, snapshot);
      if (relation === 'stale') {
        logger.debug(
          { epoch: snapshot.epoch, version: snapshot.version, loaded: table?.version },
          'routing snapshot file is not newer than the loaded one; ignored',
        );
        return;
      }
      if (relation === 'new-epoch' && table)
        logNewEpoch(logger, 'routing table', table.snapshot, snapshot);
      table = new RoutingTable(snapshot);
      loadedAt = performance.now();
      logger.info(
        { epoch: snapshot.epoch, version: snapshot.version, tenants: snapshot.tenants.length },
        'routing snapshot loaded',
      );
      options.onChange?.(table);
    } catch (error) {
      if (identity !== failed) {
        logger.warn({ err: error, path }, 'routing snapshot unreadable; keeping the last good one');
      }
      failed = identity;
    }
  };

  // Coalesce bursts of file events into one reload at a time (plus one trailing reload).
  const reload = (): void => {
    if (closed) return;
    if (reloading) {
      again = true;
      return;
    }
    reloading = load().finally(() => {
      reloading = undefined;
      if (again) {
        again = false;
        reload();
      }
    });
  };

  if (options.metrics) {
    snapshotMetrics(options.metrics.metrics, options.metrics.services, () => ({ table, loadedAt }));
  }
  await mkdir(dirname(path), { recursive: true });
  await load();
  let watcher: FSWatcher | undefined;
  try {
    const file = basename(path);
    watcher = watch(dirname(path), (_event, name) => {
      if (name === null || name === file) reload();
    });
    watcher.on('error', (error) =>
      logger.warn({ err: error }, 'snapshot watch failed; polling only'),
    );
  } catch (error) {
    logger.warn({ err: error, path }, 'cannot watch snapshot directory; polling only');
  }
  const poll = setInterval(reload, options.pollIntervalMs ?? 2_000);
  poll.unref();

  return {
    current: () => table,
    close: () => {
      closed = true;
      clearInterval(poll);
      watcher?.close();
    },
  };
}

/** The cell states of routing_snapshot_cells. */
const CELL_STATES = ['serving', 'incomplete'] as const;

function snapshotMetrics(
  metrics: Metrics,
  services: readonly string[],
  read: () => { table: RoutingTable | undefined; loadedAt: number | undefined },
): void {
  metrics.gauge({
    name: 'routing_snapshot_version',
    help: 'Version of the routing snapshot in use (0 before the first)',
    collect() {
      this.set(read().table?.version ?? 0);
    },
  });
  metrics.gauge({
    name: 'routing_snapshot_age_seconds',
    help: 'Time since the last routing snapshot that was accepted was loaded (0 before the first)',
    collect() {
      const { loadedAt } = read();
      this.set(loadedAt === undefined ? 0 : (performance.now() - loadedAt) / 1_000);
    },
  });
  metrics.gauge({
    name: 'routing_snapshot_cells',
    help: 'Cells in the routing snapshot in use, by state (serving: an endpoint for every service called)',
    labelNames: ['state'],
    collect() {
      const counts = { serving: 0, incomplete: 0 };
      for (const cell of read().table?.snapshot.cells ?? []) {
        const complete = services.every((service) => cell.endpoints[service] !== undefined);
        counts[complete ? 'serving' : 'incomplete'] += 1;
      }
      for (const state of CELL_STATES) this.set({ state }, counts[state]);
    },
  });
}
