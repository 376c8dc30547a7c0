import { v7 as uuidv7 } from 'uuid';
import { transactionOf, type Queryable, type Transaction } from '@bulkhead/db';

/** The channel the relay LISTENs on; enqueue() NOTIFYs it. */
export const OUTBOX_CHANNEL = 'outbox';

export interface OutboxMessage {
  topic: string;
  /** Partition key (the aggregate id): messages with one key are published in enqueue order. */
  key: string;
  /** Fully-qualified protobuf type name of the payload. */
  type: string;
  payload: Uint8Array;
  tenantId: string;
  cellId: string;
  correlationId: string;
  causationId?: string;
  /** Generated (UUIDv7, time-ordered) when absent. */
  messageId?: string;
}

/** The W3C trace context of the work in progress, if any (the outbox knows no tracing library). */
export type TraceContextSource = () => { traceparent?: string; tracestate?: string };

export interface Outbox {
  /**
   * Adds messages to the outbox inside the caller's business transaction: they are published
   * if and only if that transaction commits. Call it after writing the aggregate (so concurrent
   * transactions on one aggregate are serialized by its row lock and seq follows commit order).
   * In a transaction of `withTransaction` the rows are written just before its COMMIT (so an
   * error in writing them, e.g. a malformed message id, rejects the transaction, not this call).
   */
  enqueue(tx: Queryable, messages: OutboxMessage[]): Promise<void>;
  /**
   * Calls `listener` with the number of rows each transaction of this process enqueued, once it
   * committed (the relay of the same process wakes on it); returns the unsubscribe.
   */
  onCommitted(listener: (rows: number) => void): () => void;
}

/** The columns enqueue() writes, in the order of its one INSERT … SELECT FROM unnest(…). */
const INSERT_ROWS = `
  INSERT INTO outbox (message_id, topic, message_key, message_type, payload, tenant_id, cell_id,
                      correlation_id, causation_id, traceparent, tracestate)
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[],
                       $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])`;

/** One row as enqueue() writes it: the columns of INSERT_ROWS, in order. */
type Row = [
  messageId: string,
  topic: string,
  key: string,
  type: string,
  payload: Buffer,
  tenantId: string,
  cellId: string,
  correlationId: string,
  causationId: string | null,
  traceparent: string | null,
  tracestate: string | null,
];

/** Every row in one statement, whatever their number, in the order given (seq follows it). */
async function insertRows(tx: Queryable, rows: readonly Row[]): Promise<void> {
  const columns = Array.from({ length: COLUMN_COUNT }, (_, c) => rows.map((row) => row[c]));
  await tx.query(INSERT_ROWS, columns);
}

const COLUMN_COUNT = 11;

/**
 * The outbox of a service. The trace context of the enqueuing work (from `traceContext`, e.g.
 * currentTraceContext of @bulkhead/telemetry/context) is stored with each row so that the
 * consumer's work joins the trace of the request that caused it.
 *
 * In a transaction of `withTransaction` (@bulkhead/db) the rows of every enqueue() are written
 * together just before COMMIT, in one statement and in enqueue order (a batch of messages, each
 * enqueuing its replies, costs one INSERT), and the relay of this process is told once it has
 * committed (onCommitted; no PostgreSQL NOTIFY, whose commit-time lock serializes every
 * committing transaction of the server, fsync included: group commit is lost). Any other
 * transaction writes at once and NOTIFYs OUTBOX_CHANNEL, which every relay LISTENs on (another
 * process, a tool).
 */
export function createOutbox(options: { traceContext?: TraceContextSource } = {}): Outbox {
  const traceContext: TraceContextSource = options.traceContext ?? (() => ({}));
  const listeners = new Set<(rows: number) => void>();
  /** The rows each transaction enqueued so far, written before its COMMIT. */
  const pending = new WeakMap<Transaction, Row[]>();

  function toRows(messages: readonly OutboxMessage[]): Row[] {
    // Captured now: the trace context of the work that enqueues (one message of a batch).
    const { traceparent = null, tracestate = null } = traceContext();
    return messages.map((m) => [
      m.messageId ?? uuidv7(),
      m.topic,
      m.key,
      m.type,
      Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength),
      m.tenantId,
      m.cellId,
      m.correlationId,
      m.causationId ?? null,
      traceparent,
      tracestate,
    ]);
  }

  return {
    async enqueue(tx, messages) {
      if (messages.length === 0) return;
      const rows = toRows(messages);
      const transaction = transactionOf(tx);
      if (!transaction) {
        await insertRows(tx, rows);
        // NOTIFY is transactional: the relays are woken when (and only if) the transaction commits.
        await tx.query(`NOTIFY ${OUTBOX_CHANNEL}`);
        return;
      }
      const gathered = pending.get(transaction);
      if (gathered) {
        gathered.push(...rows);
        return;
      }
      // The transaction's first enqueue: its later ones add to `rows`, written before COMMIT.
      pending.set(transaction, rows);
      transaction.beforeCommit(() => insertRows(tx, rows));
      transaction.afterCommit(() => {
        for (const listener of listeners) listener(rows.length);
      });
    },
    onCommitted(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
