import pg from 'pg';
import type { Pool } from '@bulkhead/db';
import type { Logger } from '@bulkhead/logger';
import type { controlPlaneV1 } from '@bulkhead/contracts';
import { loadSnapshot, SNAPSHOT_CHANNEL } from './registry.js';

type Snapshot = controlPlaneV1.RoutingSnapshot;

export interface SnapshotSubscriber {
  /** Called with every newer snapshot, in version order. */
  publish(snapshot: Snapshot): void;
  /** Called once when the feed closes. */
  end(): void;
}

const RETRY_DELAY_MS = 1_000;

/**
 * The newest routing snapshot, kept current by LISTENing on the channel every change NOTIFYs
 * (so each control-plane instance on the database pushes every change, whoever made it), and
 * fanned out to subscribers (open WatchSnapshot streams).
 */
export class SnapshotFeed {
  private latest: Snapshot | undefined;
  private readonly subscribers = new Set<SnapshotSubscriber>();
  private listener: pg.Client | undefined;
  private relistenTimer: NodeJS.Timeout | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  /** LISTENs first, then loads the current snapshot, so no change can fall in between. */
  async start(): Promise<void> {
    await this.listen();
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

  /** Ends every subscription and releases the LISTEN connection. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.relistenTimer);
    clearTimeout(this.reloadTimer);
    for (const subscriber of this.subscribers) subscriber.end();
    this.subscribers.clear();
    await this.refreshing?.catch(() => undefined);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: 'control-plane-listen',
    });
    client.on('notification', (message) => {
      const version = Number(message.payload);
      if (this.closed || (this.latest && version <= this.latest.version)) return;
      this.refreshInBackground();
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${SNAPSHOT_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end();
      return;
    }
    this.listener = client;
  }

  /** The LISTEN connection broke: listen again, then reload (notifications sent meanwhile are lost). */
  private lost(client: pg.Client, error?: Error): void {
    if (this.closed || this.listener !== client) return;
    this.logger.warn({ err: error }, 'snapshot LISTEN connection lost; re-listening');
    this.listener = undefined;
    client.end().catch(() => undefined);
    this.scheduleRelisten();
  }

  private scheduleRelisten(): void {
    this.relistenTimer = setTimeout(() => {
      this.listen().then(
        () => {
          this.logger.info('snapshot LISTEN connection restored');
          this.refreshInBackground();
        },
        (error: unknown) => {
          this.logger.warn({ err: error }, 'cannot re-listen for snapshot changes; retrying');
          if (!this.closed) this.scheduleRelisten();
        },
      );
    }, RETRY_DELAY_MS);
  }

  /** Reloads without blocking the caller; a failed load is retried so no version is skipped. */
  private refreshInBackground(): void {
    this.refresh().catch((error: unknown) => {
      this.logger.warn({ err: error }, 'cannot load the routing snapshot; retrying');
      clearTimeout(this.reloadTimer);
      if (!this.closed)
        this.reloadTimer = setTimeout(() => this.refreshInBackground(), RETRY_DELAY_MS);
    });
  }

  /** Reloads from the database and publishes if newer; concurrent calls coalesce into one more load. */
  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        const snapshot = await loadSnapshot(this.pool);
        if (!this.latest || snapshot.version > this.latest.version) {
          this.latest = snapshot;
          for (const subscriber of this.subscribers) subscriber.publish(snapshot);
        }
      } while (this.refreshAgain && !this.closed);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }
}
