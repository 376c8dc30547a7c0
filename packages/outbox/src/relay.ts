import { setTimeout as sleep } from 'node:timers/promises';
import { listen, withTransaction, type Listener, type Pool, type Queryable } from '@bulkhead/db';
import { backoffDelay, type BackoffOptions } from '@bulkhead/backoff';
import { PublishError, type EventBus, type OutgoingMessage } from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import { unscrapedMetrics, type Metrics } from '@bulkhead/metrics';
import { OUTBOX_CHANNEL } from './enqueue.js';

/**
 * Advisory lock held for the duration of a round: with several relays on one database only one
 * publishes at a time, so per-key order holds and no row is published twice by two relays.
 */
const RELAY_LOCK_KEY = 0x6f7574626f78; // "outbox" in ASCII

/**
 * A round that could not publish (the broker unavailable, the database down) is retried after
 * 100 ms, 200 ms, … capped at 5 s. Nothing is counted against the rows.
 */
const RETRY: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

/** Rejected rows: 5 attempts, 2 s, 4 s, 8 s, 16 s apart (parked about 30 s after the first). */
const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_ATTEMPT_RETRY: BackoffOptions = { initialMs: 2_000, maxMs: 60_000 };

/** The stored last error of a row is cut to this many characters. */
const MAX_ERROR_LENGTH = 2_000;

export interface OutboxRelayOptions {
  pool: Pool;
  bus: EventBus;
  logger: Logger;
  /** Rows per round (one transaction, one publish). Default 100. */
  batchSize?: number;
  /** Fallback poll when no NOTIFY arrives (e.g. the LISTEN connection is down). Default 1 s. */
  pollIntervalMs?: number;
  /**
   * Publishes of a row the broker rejects (PublishError kind 'rejected') before the row is
   * parked. Default 5.
   */
  maxAttempts?: number;
  /** The wait before attempt n + 1 of a rejected row: backoffDelay(n). Default 2 s … 60 s. */
  attemptRetry?: BackoffOptions;
  /**
   * The app's metrics: `outbox_published_total{topic}`, `outbox_publish_failures_total{kind}`,
   * `outbox_relay_round_duration_seconds` (the state gauges are read by whoever owns the pool:
   * `outboxMetrics`).
   */
  metrics?: Metrics;
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
  /** Failed publishes the broker rejected (0 for a row never tried, or requeued). */
  attempts: number;
}

/** What a round left: whether more rows may be waiting, and the failure that ended it. */
interface RoundOutcome {
  more: boolean;
  /** The broker became unavailable during the round: what was done so far is committed. */
  failure?: unknown;
}

/** What a round did, counted once its transaction committed. */
interface RoundCounts {
  /** Rows marked sent, by topic. */
  sent: OutboxRow[];
  rejected: number;
}

/** The relay's counters and round timer, their children made once. */
function relayMetrics(metrics: Metrics) {
  const published = metrics.counter({
    name: 'outbox_published_total',
    help: 'Outbox rows the relay published (committed as sent), by topic',
    labelNames: ['topic'],
  });
  const failures = metrics.counter({
    name: 'outbox_publish_failures_total',
    help: 'Failed outbox publishes, by kind (rejected: the rows count an attempt; unavailable: the round is retried)',
    labelNames: ['kind'],
  });
  const rounds = metrics.histogram({
    name: 'outbox_relay_round_duration_seconds',
    help: 'One relay round: claim, publish, mark sent',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  const rejected = failures.labels('rejected');
  const unavailable = failures.labels('unavailable');
  rejected.inc(0);
  unavailable.inc(0);
  const byTopic = new Map<string, { inc(n: number): void }>();
  return {
    /** The rows of a committed round; false for a round that found nothing to do. */
    committed(counts: RoundCounts): boolean {
      for (const row of counts.sent) {
        let child = byTopic.get(row.topic);
        if (!child) {
          child = published.labels(row.topic);
          byTopic.set(row.topic, child);
        }
        child.inc(1);
      }
      if (counts.rejected > 0) rejected.inc(counts.rejected);
      return counts.sent.length + counts.rejected > 0;
    },
    unavailable: () => unavailable.inc(),
    /** A round that had rows (or failed): an idle poll is not a round worth timing. */
    round: (startedAt: number) => rounds.observe((performance.now() - startedAt) / 1_000),
  };
}

/** The rows a round may take: neither sent nor parked, nor behind a row of their key in backoff. */
const SELECT_ROUND = `
  SELECT o.seq, o.message_id, o.topic, o.message_key, o.message_type, o.payload, o.tenant_id,
         o.cell_id, o.correlation_id, o.causation_id, o.traceparent, o.tracestate, o.created_at,
         o.attempts
    FROM outbox o
   WHERE o.sent_at IS NULL AND o.parked_at IS NULL
     AND NOT EXISTS (
           SELECT 1 FROM outbox r
            WHERE r.next_attempt_at IS NOT NULL AND r.sent_at IS NULL AND r.parked_at IS NULL
              AND r.topic = o.topic AND r.message_key = o.message_key AND r.seq <= o.seq
              AND r.next_attempt_at > now())
   ORDER BY o.seq
   LIMIT $1
     FOR UPDATE OF o`;

/**
 * The rows a round publishes in one call: a row rejected before on its own (so that a batch is
 * never rejected twice for it), else the rows up to the first such row. The rest of the rows
 * are the next round's, at once.
 */
function nextBatch(rows: OutboxRow[]): OutboxRow[] {
  if ((rows[0]?.attempts ?? 0) > 0) return rows.slice(0, 1);
  const suspect = rows.findIndex((row) => row.attempts > 0);
  return suspect === -1 ? rows : rows.slice(0, suspect);
}

const isRejected = (error: unknown): error is PublishError =>
  error instanceof PublishError && error.kind === 'rejected';

/** Topic and key: the unit of order on the broker. */
const orderKey = (row: OutboxRow): string => `${row.topic}\u0000${row.message_key}`;

function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, MAX_ERROR_LENGTH);
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * The relay: publishes committed outbox rows in seq order and marks them sent (at-least-once:
 * a crash between publish and commit publishes the rows again; consumers deduplicate).
 *
 * Failures, by PublishError kind:
 * - `unavailable` (or any error that is not a PublishError, e.g. the database down): the round
 *   rolls back and is retried with backoff, counting nothing against the rows: after an outage
 *   the same rows are published, in order.
 * - `rejected`: the round's rows are published one at a time to find the guilty ones; the others
 *   are published and marked sent. A rejected row counts an attempt (and its error) and is
 *   retried after `attemptRetry`; after `maxAttempts` it is parked: logged at error, skipped by
 *   every later round and by purgeSent, until requeueParked(). While a row waits for its next
 *   attempt the later rows of its topic and key wait too (per-key order holds); once it is
 *   parked they go ahead of it.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { pool, bus, attemptRetry = DEFAULT_ATTEMPT_RETRY } = options;
  const batchSize = positiveInteger('batchSize', options.batchSize ?? 100);
  const pollIntervalMs = positiveInteger('pollIntervalMs', options.pollIntervalMs ?? 1_000);
  const maxAttempts = positiveInteger('maxAttempts', options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const logger = options.logger.child({ component: 'outbox-relay' });
  const counted = relayMetrics(options.metrics ?? unscrapedMetrics());
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

  async function markSent(tx: Queryable, rows: OutboxRow[], counts: RoundCounts): Promise<void> {
    if (rows.length === 0) return;
    counts.sent.push(...rows);
    await tx.query('UPDATE outbox SET sent_at = now() WHERE seq = ANY($1)', [
      rows.map((row) => row.seq),
    ]);
    logger.debug({ count: rows.length, lastSeq: rows.at(-1)?.seq }, 'outbox rows published');
  }

  /** Counts a rejected publish of the row: retried after a delay, or parked at maxAttempts. */
  async function recordRejection(
    tx: Queryable,
    row: OutboxRow,
    error: unknown,
    counts: RoundCounts,
  ): Promise<void> {
    counts.rejected += 1;
    const attempts = row.attempts + 1;
    const lastError = describeError(error);
    const fields = {
      messageId: row.message_id,
      topic: row.topic,
      key: row.message_key,
      attempts,
      err: error,
    };
    if (attempts >= maxAttempts) {
      await tx.query(
        `UPDATE outbox SET attempts = $2, last_error = $3, next_attempt_at = NULL,
                           parked_at = now()
          WHERE seq = $1`,
        [row.seq, attempts, lastError],
      );
      logger.error(fields, 'outbox row parked: the broker rejected every attempt');
      return;
    }
    const retryInMs = backoffDelay(attempts, attemptRetry);
    await tx.query(
      `UPDATE outbox SET attempts = $2, last_error = $3,
                         next_attempt_at = now() + $4 * interval '1 millisecond'
        WHERE seq = $1`,
      [row.seq, attempts, lastError, retryInMs],
    );
    logger.warn({ ...fields, retryInMs }, 'outbox row rejected by the broker; retrying later');
  }

  /**
   * After a rejected batch: each row on its own, in seq order. A rejected row's later rows of the
   * same topic and key are left for a later round (they wait behind it).
   */
  async function publishOneByOne(
    tx: Queryable,
    rows: OutboxRow[],
    counts: RoundCounts,
  ): Promise<RoundOutcome> {
    const blocked = new Set<string>();
    const sent: OutboxRow[] = [];
    for (const row of rows) {
      if (blocked.has(orderKey(row))) continue;
      try {
        await bus.publish([toOutgoingMessage(row)]);
        sent.push(row);
      } catch (error) {
        if (!isRejected(error)) {
          // Unavailable now: keep what is known (sent rows, counted attempts) and back off.
          await markSent(tx, sent, counts);
          return { more: true, failure: error };
        }
        blocked.add(orderKey(row));
        await recordRejection(tx, row, error, counts);
      }
    }
    await markSent(tx, sent, counts);
    return { more: true };
  }

  /** One round in one transaction; what it did is counted once it committed. */
  async function publishRound(startedAt: number): Promise<RoundOutcome> {
    const counts: RoundCounts = { sent: [], rejected: 0 };
    const outcome = await roundIn(counts);
    if (counted.committed(counts) || outcome.failure !== undefined) counted.round(startedAt);
    return outcome;
  }

  function roundIn(counts: RoundCounts): Promise<RoundOutcome> {
    return withTransaction(pool, async (tx) => {
      const lock = await tx.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS locked',
        [RELAY_LOCK_KEY],
      );
      // Another relay is publishing; it keeps going until no rows are left.
      if (!lock.rows[0]?.locked) return { more: false };
      // FOR UPDATE backs the lock up: a relay that ignored it would wait for these rows, not
      // publish them a second time.
      const { rows } = await tx.query<OutboxRow>(SELECT_ROUND, [batchSize]);
      if (rows.length === 0) return { more: false };
      const batch = nextBatch(rows);
      const more = batch.length < rows.length || rows.length === batchSize;
      try {
        // Each message carries the trace context of the transaction that enqueued it in its
        // envelope, so consumers continue that trace.
        await bus.publish(batch.map(toOutgoingMessage));
      } catch (error) {
        // Unavailable: roll back, nothing counted; the same rows are published after the outage.
        if (!isRejected(error)) throw error;
        if (batch.length === 1 && batch[0]) {
          await recordRejection(tx, batch[0], error, counts);
          return { more: true };
        }
        logger.warn(
          { err: error, rows: batch.length },
          'outbox batch rejected; publishing one by one',
        );
        return publishOneByOne(tx, batch, counts);
      }
      await markSent(tx, batch, counts);
      return { more };
    });
  }

  async function publishLoop(): Promise<void> {
    for (let failures = 0; !stopping.signal.aborted;) {
      wakeRequested = false;
      let outcome: RoundOutcome;
      const startedAt = performance.now();
      try {
        outcome = await publishRound(startedAt);
      } catch (error) {
        // Rolled back: the rows stay unsent and are published by a later round.
        outcome = { more: true, failure: error };
        counted.round(startedAt);
      }
      if (outcome.failure !== undefined) counted.unavailable();
      if (outcome.failure === undefined) {
        failures = 0;
        if (!outcome.more) await waitForWake(pollIntervalMs);
        continue;
      }
      failures += 1;
      const retryInMs = backoffDelay(failures, RETRY);
      logger.warn(
        { err: outcome.failure, failures, retryInMs },
        'outbox publish failed; retrying the same rows',
      );
      await sleep(retryInMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  }

  return {
    async start() {
      if (running.length > 0) return;
      stopping = new AbortController();
      // A commit NOTIFYs; after a lost LISTEN connection, rows may have been committed unheard.
      listener = await listen(pool, OUTBOX_CHANNEL, { onNotify: wake, onReconnect: wake }, logger);
      running = [publishLoop()];
      logger.info({ batchSize, pollIntervalMs, maxAttempts }, 'outbox relay started');
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
