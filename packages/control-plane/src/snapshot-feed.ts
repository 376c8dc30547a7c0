import { backoffDelay } from '@bulkhead/backoff';
import { listen, type Listener, type Pool } from '@bulkhead/db';
import type { Logger } from '@bulkhead/logger';
import type { controlPlaneV1 } from '@bulkhead/contracts';
import { supersedes, type SnapshotPosition } from '@bulkhead/routing-snapshot';
import {
  loadSnapshot,
  parseSnapshotNotification,
  SNAPSHOT_CHANNEL,
  startNewEpochIfBehind,
} from './registry.js';

type Snapshot = controlPlaneV1.RoutingSnapshot;

export interface SnapshotSubscriber {
  /** Called with every newer snapshot (in version order, or of a new epoch: supersedes). */
  publish(snapshot: Snapshot): void;
  /** Called once when the feed closes. */
  end(): void;
}

/** A failed reload is retried after 100 ms, 200 ms, … up to 5 s. */
const RELOAD_RETRY = { initialMs: 100, maxMs: 5_000 };

/**
 * The newest routing snapshot, kept current by LISTENing on the channel every change NOTIFYs
 * (so each control-plane instance on the database pushes every change, whoever made it), and
 * fanned out to subscribers (open WatchSnapshot streams).
 */
export class SnapshotFeed {
  private latest: Snapshot | undefined;
  private readonly subscribers = new Set<SnapshotSubscriber>();
  private listener: Listener | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private aheadTimer: NodeJS.Timeout | undefined;
  private reloadFailures = 0;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
  ) {}

  /** LISTENs first, then loads the current snapshot, so no change can fall in between. */
  async start(): Promise<void> {
    this.listener = await listen(
      this.pool,
      SNAPSHOT_CHANNEL,
      {
        onNotify: (payload) => {
          if (this.closed) return;
          // Skip only what is known to be held already; anything else (even unparsable) reloads.
          const announced = parseSnapshotNotification(payload);
          if (announced && this.latest && !supersedes(this.latest, announced)) return;
          this.refreshInBackground();
        },
        // Changes NOTIFYed while the connection was down were missed: reload.
        onReconnect: () => this.refreshInBackground(),
      },
      this.logger,
    );
    await this.refresh();
  }

  current(): Snapshot | undefined {
    return this.latest;
  }

  subscribe(subscriber: SnapshotSubscriber): () => void {
    if (this.closed) {
      subscriber.end();
      return () => undefined;
    }
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  /**
   * Someone holds `held`, ahead of this feed in its epoch: either the feed lags behind the
   * database (the NOTIFY is on its way) or the database went back in time; then a new epoch is
   * started (startNewEpochIfBehind) and published like any change. Never throws; a failed check
   * is retried with the reload's backoff.
   */
  reportAhead(held: SnapshotPosition, attempt = 1): void {
    if (this.closed) return;
    startNewEpochIfBehind(this.pool, held).then(
      (renewed) => {
        if (!renewed) return;
        this.logger.warn(
          {
            heldEpoch: held.epoch,
            heldVersion: held.version,
            epoch: renewed.epoch,
            version: renewed.version,
          },
          'the database is behind a snapshot already published (restored from a backup?): started a new epoch',
        );
      },
      (error: unknown) => {
        if (this.closed) return;
        const retryInMs = backoffDelay(attempt, RELOAD_RETRY);
        this.logger.warn(
          { err: error, retryInMs },
          'cannot check whether the database went back in time; retrying',
        );
        clearTimeout(this.aheadTimer);
        this.aheadTimer = setTimeout(() => this.reportAhead(held, attempt + 1), retryInMs);
      },
    );
  }

  /** Ends every subscription and releases the LISTEN connection. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reloadTimer);
    clearTimeout(this.aheadTimer);
    for (const subscriber of this.subscribers) subscriber.end();
    this.subscribers.clear();
    await this.refreshing?.catch(() => undefined);
    await this.listener?.close();
    this.listener = undefined;
  }

  /** Reloads without blocking the caller; a failed load is retried so no version is skipped. */
  private refreshInBackground(): void {
    this.refresh().then(
      () => {
        this.reloadFailures = 0;
      },
      (error: unknown) => {
        const retryInMs = backoffDelay(++this.reloadFailures, RELOAD_RETRY);
        this.logger.warn({ err: error, retryInMs }, 'cannot load the routing snapshot; retrying');
        clearTimeout(this.reloadTimer);
        if (!this.closed)
          this.reloadTimer = setTimeout(() => this.refreshInBackground(), retryInMs);
      },
    );
  }

  /**
   * Reloads from the database and publishes if it supersedes the latest (newer, or of another
   * epoch: the database was replaced); concurrent calls coalesce into one more load.
   */
  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        const snapshot = await loadSnapshot(this.pool);
        if (supersedes(this.latest, snapshot)) {
          this.latest = snapshot;
          for (const subscriber of this.subscribers) subscriber.publish(snapshot);
        } else if (this.latest && snapshot.version < this.latest.version) {
          // An older version of the same epoch.
          this.reportAhead({ epoch: this.latest.epoch, version: this.latest.version });
        }
      } while (this.refreshAgain && !this.closed);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }
}
