import { v7 as uuidv7 } from 'uuid';
import { afterCommit, type Queryable } from '@bulkhead/db';

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

/**
 * The outbox of a service. The trace context of the enqueuing work (from `traceContext`, e.g.
 * currentTraceContext of @bulkhead/telemetry/context) is stored with each row so that the
 * consumer's work joins the trace of the request that caused it.
 *
 * A transaction of `withTransaction` (@bulkhead/db) tells the relay of this process once it has
 * committed (onCommitted; no PostgreSQL NOTIFY, whose commit-time lock serializes every
 * committing transaction of the server, fsync included: group commit is lost). Any other
 * transaction NOTIFYs OUTBOX_CHANNEL, which every relay LISTENs on (another process, a tool).
 */
export function createOutbox(options: { traceContext?: TraceContextSource } = {}): Outbox {
  const traceContext: TraceContextSource = options.traceContext ?? (() => ({}));
  const listeners = new Set<(rows: number) => void>();
  return {
    async enqueue(tx, messages) {
      if (messages.length === 0) return;
      const { traceparent = null, tracestate = null } = traceContext();
      const column = <T>(of: (m: OutboxMessage) => T): T[] => messages.map(of);
      // One statement for every row, whatever their number.
      await tx.query(INSERT_ROWS, [
        column((m) => m.messageId ?? uuidv7()),
        column((m) => m.topic),
        column((m) => m.key),
        column((m) => m.type),
        column((m) => Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength)),
        column((m) => m.tenantId),
        column((m) => m.cellId),
        column((m) => m.correlationId),
        column((m) => m.causationId ?? null),
        column(() => traceparent),
        column(() => tracestate),
      ]);
      const rows = messages.length;
      const told = afterCommit(tx, () => {
        for (const listener of listeners) listener(rows);
      });
      // NOTIFY is transactional: the relays are woken when (and only if) the transaction commits.
      if (!told) await tx.query(`NOTIFY ${OUTBOX_CHANNEL}`);
    },
    onCommitted(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
