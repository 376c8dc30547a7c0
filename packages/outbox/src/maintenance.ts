import type { Metrics } from '@bulkhead/metrics';
import type { Queryable } from '@bulkhead/db';
import { OUTBOX_CHANNEL } from './enqueue.js';

/**
 * Housekeeping: deletes rows sent more than olderThanMs ago; returns how many. Unsent and parked
 * rows are never deleted (a parked row is not sent: it waits for requeueParked).
 */
export async function purgeSent(pool: Queryable, olderThanMs: number): Promise<number> {
  if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
    throw new RangeError(`olderThanMs must be a non-negative number, got ${olderThanMs}`);
  }
  const result = await pool.query(
    `DELETE FROM outbox
      WHERE sent_at < now() - $1 * interval '1 millisecond' AND parked_at IS NULL`,
    [olderThanMs],
  );
  return result.rowCount ?? 0;
}

/** Which parked rows requeueParked puts back: all of them, or those matching every field given. */
export interface RequeueFilter {
  /** One row, by the message id it was enqueued with. */
  messageId?: string;
  /** Every parked row of one topic (e.g. after the missing topic was created). */
  topic?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Puts parked rows back in the relay's queue after the cause was fixed: attempts start again from
 * zero, and the relay is woken. A row keeps its seq, so it is published before the unsent rows
 * enqueued after it, but after the later rows of its key that went out while it was parked.
 * Returns how many rows were requeued.
 */
export async function requeueParked(pool: Queryable, filter: RequeueFilter = {}): Promise<number> {
  const { messageId, topic } = filter;
  if (messageId !== undefined && !UUID.test(messageId)) {
    throw new TypeError(`messageId must be a UUID, got ${JSON.stringify(messageId)}`);
  }
  if (topic !== undefined && (typeof topic !== 'string' || topic.length === 0)) {
    throw new TypeError('topic must be a non-empty string');
  }
  const result = await pool.query(
    `WITH requeued AS (
       UPDATE outbox SET parked_at = NULL, attempts = 0, next_attempt_at = NULL
        WHERE parked_at IS NOT NULL
          AND ($1::uuid IS NULL OR message_id = $1::uuid)
          AND ($2::text IS NULL OR topic = $2::text)
       RETURNING 1)
     SELECT count(*)::int AS n, pg_notify($3, '') FROM requeued`,
    [messageId ?? null, topic ?? null, OUTBOX_CHANNEL],
  );
  return (result.rows[0] as { n: number } | undefined)?.n ?? 0;
}

/** The outbox at a glance, for an ops view or metrics. Ages are in milliseconds, null when none. */
export interface OutboxState {
  /** Rows waiting to be published (neither sent nor parked), retrying ones included. */
  unsent: number;
  /** Age of the oldest of them (since it was enqueued). */
  oldestUnsentAgeMs: number | null;
  /** Unsent rows the broker rejected at least once, waiting for their next attempt. */
  retrying: number;
  /** Rows parked after their attempts ran out (see requeueParked). */
  parked: number;
  /** How long the row parked first has been parked. */
  oldestParkedAgeMs: number | null;
}

/** Reads the outbox's state; every part is served by a partial index, whatever the table's size. */
export async function outboxState(pool: Queryable): Promise<OutboxState> {
  const result = await pool.query(
    `SELECT
       (SELECT count(*)::int FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL) AS unsent,
       (SELECT floor(extract(epoch FROM now() - created_at) * 1000)::float8 FROM outbox
         WHERE sent_at IS NULL AND parked_at IS NULL ORDER BY seq LIMIT 1) AS oldest_unsent_age_ms,
       (SELECT count(*)::int FROM outbox
         WHERE next_attempt_at IS NOT NULL AND sent_at IS NULL AND parked_at IS NULL) AS retrying,
       (SELECT count(*)::int FROM outbox WHERE parked_at IS NOT NULL) AS parked,
       (SELECT floor(extract(epoch FROM now() - min(parked_at)) * 1000)::float8 FROM outbox
         WHERE parked_at IS NOT NULL) AS oldest_parked_age_ms`,
  );
  const row = result.rows[0] as {
    unsent: number;
    oldest_unsent_age_ms: number | null;
    retrying: number;
    parked: number;
    oldest_parked_age_ms: number | null;
  };
  return {
    unsent: row.unsent,
    oldestUnsentAgeMs: row.oldest_unsent_age_ms,
    retrying: row.retrying,
    parked: row.parked,
    oldestParkedAgeMs: row.oldest_parked_age_ms,
  };
}

/**
 * The outbox's state gauges, read at scrape time from `read()` (outboxState, shared with the ops
 * view): `outbox_unsent_rows`, `outbox_oldest_unsent_age_seconds` (0 when none) and
 * `outbox_parked_rows`. A scrape whose read fails (the database away) shows NaN, not a stale or
 * a reassuring 0.
 */
export function outboxMetrics(metrics: Metrics, read: () => Promise<OutboxState>): void {
  const gauge = (name: string, help: string, value: (state: OutboxState) => number) =>
    metrics.gauge({
      name,
      help,
      async collect() {
        this.set(await read().then(value, () => Number.NaN));
      },
    });
  gauge(
    'outbox_unsent_rows',
    'Outbox rows not yet published (neither sent nor parked)',
    (s) => s.unsent,
  );
  gauge(
    'outbox_oldest_unsent_age_seconds',
    'Age of the oldest unsent outbox row (0 when none)',
    (s) => (s.oldestUnsentAgeMs ?? 0) / 1_000,
  );
  gauge('outbox_parked_rows', 'Outbox rows parked after repeated rejection', (s) => s.parked);
}
