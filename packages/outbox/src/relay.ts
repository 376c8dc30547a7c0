import { setTimeout as sleep } from 'node:timers/promises';
import { listen, withTransaction, type Listener, type Pool, type Queryable } from '@bulkhead/db';
import { backoffDelay } from '@bulkhead/backoff';
import type { EventBus, OutgoingMessage } from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import { OUTBOX_CHANNEL } from './enqueue.js';

/**
 * Advisory lock held for the duration of a round: with several relays on one database only one
 * publishes at a time, so per-key order holds and no row is published twice by two relays.
 */
const RELAY_LOCK_KEY = 0x6f7574626f78; // "outbox" in ASCII

/** Publish failures are retried after 100 ms, 200 ms, … capped at 5 s. */
const RETRY = { initialMs: 100, maxMs: 5_000 };

export interface OutboxRelayOptions {
  pool: Pool;
  bus: EventBus;
  logger: Logger;
  /** Rows per round (one transaction, one publish). Default 100. */
  batchSize?: number;
  /** Fallback poll when no NOTIFY arrives (e.g. the LISTEN connection is down). Default 1 s. */
  pollIntervalMs?: number;
}

export interface OutboxRelay {
  /** Starts listening and publishing; rejects if the database cannot be reached. */
  start(): Promise<void>;
  /** Finishes the round in hand, then releases the LISTEN connection. */
  stop(): Promise<void>;
}

export interface OutboxRow {
  seq: number;
  message_id: string;
  topic: string;
  message_key: string;
  message_type: string;
  payload: Buffer;
  tenant_id: string;
  cell_id: string;
  correlation_id: string;
  causation_id: string | null;
  traceparent: string | null;
  tracestate: string | null;
  created_at: Date;
}

/**
 * The relay: publishes committed outbox rows in seq order and marks them sent (at-least-once:
 * a crash between publish and commit publishes the rows again; consumers deduplicate).
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { pool, bus, batchSize = 100, pollIntervalMs = 1_000 } = options;
  const logger = options.logger.child({ component: 'outbox-relay' });
  let stopping = new AbortController();
  let running: Promise<void>[] = [];
  let listener: Listener | undefined;
  let wakeRequested = false;
  let wakeUp: (() => void) | undefined;

  function wake(): void {
    wakeRequested = true;
    wakeUp?.();
  }

  /** Resolves on wake() (a NOTIFY, a reconnect, stop()) or after ms. */
  async function waitForWake(ms: number): Promise<void> {
    if (wakeRequested) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => wakeUp?.(), ms);
      wakeUp = () => {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      };
    });
  }

  /** One round in one transaction; returns how many rows were published. */
  async function publishRound(): Promise<number> {
    return withTransaction(pool, async (tx) => {
      const lock = await tx.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS locked',
        [RELAY_LOCK_KEY],
      );
      // Another relay is publishing; it keeps going until no rows are left.
      if (!lock.rows[0]?.locked) return 0;
      // FOR UPDATE backs the lock up: a relay that ignored it would wait for these rows, not
      // publish them a second time.
      const { rows } = await tx.query<OutboxRow>(
        'SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE',
        [batchSize],
      );
      // One publish per round. Each message carries the trace context of the transaction that
      // enqueued it in its envelope, so consumers continue that trace.
      await bus.publish(rows.map(toOutgoingMessage));
      if (rows.length > 0) {
        await tx.query('UPDATE outbox SET sent_at = now() WHERE seq = ANY($1)', [
          rows.map((row) => row.seq),
        ]);
        logger.debug({ count: rows.length, lastSeq: rows.at(-1)?.seq }, 'outbox rows published');
      }
      return rows.length;
    });
  }

  async function publishLoop(): Promise<void> {
    for (let failures = 0; !stopping.signal.aborted;) {
      wakeRequested = false;
      try {
        const published = await publishRound();
        failures = 0;
        if (published === batchSize) continue; // a full batch: more rows may be waiting
      } catch (error) {
        // Rolled back: the rows stay unsent and are published by a later round.
        failures += 1;
        const retryInMs = backoffDelay(failures, RETRY);
        logger.warn({ err: error, failures, retryInMs }, 'outbox publish failed; retrying');
        await sleep(retryInMs, undefined, { signal: stopping.signal }).catch(() => undefined);
        continue;
      }
      await waitForWake(pollIntervalMs);
    }
  }

  return {
    async start() {
      if (running.length > 0) return;
      stopping = new AbortController();
      // A commit NOTIFYs; after a lost LISTEN connection, rows may have been committed unheard.
      listener = await listen(pool, OUTBOX_CHANNEL, { onNotify: wake, onReconnect: wake }, logger);
      running = [publishLoop()];
      logger.info({ batchSize, pollIntervalMs }, 'outbox relay started');
    },
    async stop() {
      stopping.abort();
      wake();
      await Promise.all(running);
      running = [];
      await listener?.close();
      logger.info('outbox relay stopped');
    },
  };
}

/** An outbox row as the message the relay publishes: the envelope travels in Kafka headers. */
export function toOutgoingMessage(row: OutboxRow): OutgoingMessage {
  return {
    topic: row.topic,
    key: row.message_key,
    payload: row.payload,
    envelope: {
      messageId: row.message_id,
      type: row.message_type,
      tenantId: row.tenant_id,
      cellId: row.cell_id,
      correlationId: row.correlation_id,
      causationId: row.causation_id ?? undefined,
      traceparent: row.traceparent ?? undefined,
      tracestate: row.tracestate ?? undefined,
      occurredAt: row.created_at.toISOString(),
    },
  };
}

/** Housekeeping: deletes rows sent more than olderThanMs ago; returns how many. */
export async function purgeSent(pool: Queryable, olderThanMs: number): Promise<number> {
  const result = await pool.query(
    "DELETE FROM outbox WHERE sent_at < now() - $1 * interval '1 millisecond'",
    [olderThanMs],
  );
  return result.rowCount ?? 0;
}
