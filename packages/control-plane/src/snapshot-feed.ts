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

const RELISTEN_DELAY_MS = 1_000;

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
    for (const subscriber of this.subscribers) subscriber.end();
    this.subscribers.clear();
    await this.refreshing;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'control-plane-listen' });
    client.on('notification', (message) => {
      const version = Number(message.payload);
      if (this.latest && version <= this.latest.version) return;
      this.refresh().catch((error: unknown) =>
        this.logger.error({ err: error }, 'cannot load the routing snapshot; will retry on the next change'),
      );
    });
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'snapshot LISTEN connection failed; re-listening');
      this.relisten(client);
    });
    client.on('end', () => this.relisten(client));
    await client.connect();
    await client.query(`LISTEN ${SNAPSHOT_CHANNEL}`);
    this.listener = client;
  }

  /** After a lost connection: listen again, then reload (notifications sent meanwhile are lost). */
  private relisten(lost: pg.Client): void {
    if (this.closed || this.listener !== lost) return;
    this.listener = undefined;
    lost.end().catch(() => undefined);
    this.relistenTimer = setTimeout(() => {
      this.listen()
        .then(() => this.refresh())
        .then(() => this.logger.info('snapshot LISTEN connection restored'))
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, 'cannot re-listen for snapshot changes; retrying');
          this.listener = lost;
          this.relisten(lost);
        });
    }, RELISTEN_DELAY_MS);
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
