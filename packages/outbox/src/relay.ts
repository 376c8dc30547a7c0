import { setTimeout as sleep } from 'node:timers/promises';
import { listen, withTransaction, type Listener, type Pool, type Queryable } from '@bulkhead/db';
import { backoffDelay, type BackoffOptions } from '@bulkhead/backoff';
import { PublishError, type EventBus, type OutgoingMessage } from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import { unscrapedMetrics, type Metrics } from '@bulkhead/metrics';
import { SpanKind, trace, type Span } from '@opentelemetry/api';
import { recordFailure, startFanInSpan } from '@bulkhead/telemetry/context';
import { OUTBOX_CHANNEL, type Outbox } from './enqueue.js';

const tracer = trace.getTracer('@bulkhead/outbox');

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

/**
 * A relay locked out by another one tries again this soon: this process's rows wake only its own
 * relay, and the other one may have just finished its last round.
 */
const LOCKED_OUT_RETRY_MS = 50;

/** Rejected rows: 5 attempts, 2 s, 4 s, 8 s, 16 s apart (parked about 30 s after the first). */
const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_ATTEMPT_RETRY: BackoffOptions = { initialMs: 2_000, maxMs: 60_000 };

/** The stored last error of a row is cut to this many characters. */
const MAX_ERROR_LENGTH = 2_000;

export interface OutboxRelayOptions {
  pool: Pool;
  bus: EventBus;
  logger: Logger;
  /**
   * The outbox this process writes through: the relay wakes as soon as one of its transactions
   * commits (no NOTIFY). Rows written elsewhere wake it by NOTIFY, or at the next poll.
   */
  outbox?: Outbox;
  /** Rows per round (one transaction, one publish). Default 500. */
  batchSize?: number;
  /**
   * Once woken, how long a round waits for more rows to come before it claims them, unless
   * batchSize rows are known to wait already: under load rounds grow instead of multiplying.
   * Default 2 ms; 0: at once.
   */
  lingerMs?: number;
  /** Fallback poll when no wake arrives (e.g. the LISTEN connection is down). Default 1 s. */
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
  /** Another relay holds the round lock. */
  lockedOut?: boolean;
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

/**
 * Takes the round's advisory lock (`$2`) and, if it got it, claims the rows a round may take and
 * marks them sent, in one statement: neither sent nor parked, nor behind a row of their key in
 * backoff; the first `$1` in seq order. The lock is an InitPlan, so its result is a one-time
 * filter: a relay locked out reads and locks no row (and gets none). A row the round
 * then does not publish is released again (releaseClaimed) before its transaction commits, so
 * only published rows commit as sent; a round that fails rolls back and claims nothing.
 */
const CLAIM_ROUND = `
  UPDATE outbox SET sent_at = now()
   WHERE (SELECT pg_try_advisory_xact_lock($2))
     AND seq IN (
           SELECT o.seq FROM outbox o
            WHERE o.sent_at IS NULL AND o.parked_at IS NULL
              AND NOT EXISTS (
                    SELECT 1 FROM outbox r
                     WHERE r.next_attempt_at IS NOT NULL AND r.sent_at IS NULL
                       AND r.parked_at IS NULL AND r.topic = o.topic
                       AND r.message_key = o.message_key AND r.seq <= o.seq
                       AND r.next_attempt_at > now())
            ORDER BY o.seq
            LIMIT $1
              FOR UPDATE)
  RETURNING seq, message_id, topic, message_key, message_type, payload, tenant_id, cell_id,
            correlation_id, causation_id, traceparent, tracestate, created_at, attempts`;

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
  const batchSize = positiveInteger('batchSize', options.batchSize ?? 500);
  const lingerMs = options.lingerMs ?? 2;
  if (!Number.isFinite(lingerMs) || lingerMs < 0) {
    throw new RangeError(`lingerMs must be a number ≥ 0, got ${lingerMs}`);
  }
  const pollIntervalMs = positiveInteger('pollIntervalMs', options.pollIntervalMs ?? 1_000);
  const maxAttempts = positiveInteger('maxAttempts', options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const logger = options.logger.child({ component: 'outbox-relay' });
  const counted = relayMetrics(options.metrics ?? unscrapedMetrics());
  let stopping = new AbortController();
  let running: Promise<void>[] = [];
  let listener: Listener | undefined;
  let stopWatchingCommits: (() => void) | undefined;
  let wakeRequested = false;
  let wakeUp: (() => void) | undefined;
  /** Rows this process committed since the last round started (what a linger waits for). */
  let committedRows = 0;

  function wake(): void {
    wakeRequested = true;
    wakeUp?.();
  }

  function committed(rows: number): void {
    committedRows += rows;
    if (!wakeRequested) wake();
    else if (committedRows >= batchSize) wakeUp?.(); // ends a linger
  }

  /** Resolves after ms, or at once when woken (wakeUp): a commit, a NOTIFY, a reconnect, stop(). */
  async function sleepUntilWoken(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => wakeUp?.(), ms);
      wakeUp = () => {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      };
    });
  }

  /** Resolves on wake() (a commit of this process, a NOTIFY, a reconnect, stop()) or after ms. */
  async function waitForWake(ms: number): Promise<void> {
    if (!wakeRequested) await sleepUntilWoken(ms);
  }

  /** Resolves after ms, or at once on a wake that says batchSize rows are waiting, or stop(). */
  async function linger(ms: number): Promise<void> {
    if (ms > 0 && committedRows < batchSize) await sleepUntilWoken(ms);
  }

  /** The claimed rows were published: they stay marked sent. */
  function markSent(rows: OutboxRow[], counts: RoundCounts): void {
    if (rows.length === 0) return;
    counts.sent.push(...rows);
    logger.debug({ count: rows.length, lastSeq: rows.at(-1)?.seq }, 'outbox rows published');
  }

  /** Claimed rows the round did not publish (nor count a rejection for): unsent again. */
  async function releaseClaimed(
    tx: Queryable,
    claimed: OutboxRow[],
    counts: RoundCounts,
    rejected: ReadonlySet<number>,
  ): Promise<void> {
    const sent = new Set(counts.sent.map((row) => row.seq));
    const release = claimed
      .filter((row) => !sent.has(row.seq) && !rejected.has(row.seq))
      .map((row) => row.seq);
    if (release.length === 0) return;
    await tx.query('UPDATE outbox SET sent_at = NULL WHERE seq = ANY($1)', [release]);
  }

  /** Counts a rejected publish of the row: retried after a delay, or parked at maxAttempts. */
  async function recordRejection(
    tx: Queryable,
    row: OutboxRow,
    error: unknown,
    counts: RoundCounts,
    rejected: Set<number>,
  ): Promise<void> {
    counts.rejected += 1;
    rejected.add(row.seq);
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
                           sent_at = NULL, parked_at = now()
          WHERE seq = $1`,
        [row.seq, attempts, lastError],
      );
      logger.error(fields, 'outbox row parked: the broker rejected every attempt');
      return;
    }
    const retryInMs = backoffDelay(attempts, attemptRetry);
    await tx.query(
      `UPDATE outbox SET attempts = $2, last_error = $3, sent_at = NULL,
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
    rejected: Set<number>,
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
          markSent(sent, counts);
          return { more: true, failure: error };
        }
        blocked.add(orderKey(row));
        await recordRejection(tx, row, error, counts, rejected);
      }
    }
    markSent(sent, counts);
    return { more: true };
  }

  /**
   * One round in one transaction; what it did is counted once it committed. A round that found
   * rows gets a span of its own (a fan-in that links to the stored context of each row it
   * publishes; each message's send span is the child of that context, in the trace of the work
   * that enqueued it). An empty round makes none.
   */
  async function publishRound(startedAt: number, committedBefore: number): Promise<RoundOutcome> {
    const counts: RoundCounts = { sent: [], rejected: 0 };
    let span: Span | undefined;
    try {
      const outcome = await roundInTransaction(
        counts,
        (batch) => {
          span = startFanInSpan(
            tracer,
            'outbox relay round',
            {
              kind: SpanKind.INTERNAL,
              attributes: { 'messaging.batch.message_count': batch.length },
            },
            () =>
              batch.map((row) => ({
                ...(row.traceparent ? { traceparent: row.traceparent } : {}),
                ...(row.tracestate ? { tracestate: row.tracestate } : {}),
              })),
          );
        },
        committedBefore,
      );
      if (span && outcome.failure !== undefined) recordFailure(span, outcome.failure);
      if (counted.committed(counts) || outcome.failure !== undefined) counted.round(startedAt);
      return outcome;
    } catch (error) {
      if (span) recordFailure(span, error);
      throw error;
    } finally {
      span?.end();
    }
  }

  async function roundInTransaction(
    counts: RoundCounts,
    onBatch: (batch: OutboxRow[]) => void,
    committedBefore: number,
  ): Promise<RoundOutcome> {
    // Not durable: a round does not wait for a disk flush of its own. A mark lost in a crash
    // publishes its rows again (at least once already; consumers deduplicate), in order: the
    // WAL is flushed in order, so a later round's mark never outlives an earlier one's.
    return withTransaction(
      pool,
      async (tx) => {
        // FOR UPDATE backs the lock up: a relay that ignored it would wait for these rows, not
        // publish them a second time.
        const claimed = await tx.query<OutboxRow>(CLAIM_ROUND, [batchSize, RELAY_LOCK_KEY]);
        const rows = claimed.rows.sort((a, b) => Number(a.seq) - Number(b.seq));
        // None, though this process committed rows before the round began: another relay holds
        // the lock (it keeps going until no rows are left, but may just have finished).
        if (rows.length === 0) return { more: false, lockedOut: committedBefore > 0 };
        const batch = nextBatch(rows);
        onBatch(batch);
        const more = batch.length < rows.length || rows.length === batchSize;
        const rejected = new Set<number>();
        let outcome: RoundOutcome = { more };
        try {
          // Each message carries the trace context of the transaction that enqueued it in its
          // envelope, so consumers continue that trace.
          await bus.publish(batch.map(toOutgoingMessage));
          markSent(batch, counts);
        } catch (error) {
          // Unavailable: roll back, nothing counted; the same rows are published after the outage.
          if (!isRejected(error)) throw error;
          if (batch.length === 1 && batch[0]) {
            await recordRejection(tx, batch[0], error, counts, rejected);
            outcome = { more: true };
          } else {
            logger.warn(
              { err: error, rows: batch.length },
              'outbox batch rejected; publishing one by one',
            );
            outcome = await publishOneByOne(tx, batch, counts, rejected);
          }
        }
        await releaseClaimed(tx, rows, counts, rejected);
        return outcome;
      },
      { durable: false },
    );
  }

  async function publishLoop(): Promise<void> {
    for (let failures = 0; !stopping.signal.aborted;) {
      wakeRequested = false;
      const committedBefore = committedRows;
      committedRows = 0;
      let outcome: RoundOutcome;
      const startedAt = performance.now();
      try {
        outcome = await publishRound(startedAt, committedBefore);
      } catch (error) {
        // Rolled back: the rows stay unsent and are published by a later round.
        outcome = { more: true, failure: error };
        counted.round(startedAt);
      }
      if (outcome.failure !== undefined) counted.unavailable();
      if (outcome.failure === undefined) {
        failures = 0;
        if (outcome.more) continue;
        // Locked out: the other relay may have stopped before this process's rows came.
        await waitForWake(outcome.lockedOut ? LOCKED_OUT_RETRY_MS : pollIntervalMs);
        if (!stopping.signal.aborted && !outcome.lockedOut) await linger(lingerMs);
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
      stopWatchingCommits = options.outbox?.onCommitted(committed);
      running = [publishLoop()];
      logger.info({ batchSize, lingerMs, pollIntervalMs, maxAttempts }, 'outbox relay started');
    },
    async stop() {
      stopping.abort();
      wake();
      await Promise.all(running);
      running = [];
      stopWatchingCommits?.();
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
