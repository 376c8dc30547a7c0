import { v7 as uuidv7 } from 'uuid';
import type { Queryable } from '@bulkhead/db';

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
}

/**
 * The outbox of a service. The trace context of the enqueuing work (from `traceContext`, e.g.
 * currentTraceContext of @bulkhead/telemetry/context) is stored with each row so that the
 * consumer's work joins the trace of the request that caused it.
 */
export function createOutbox(options: { traceContext?: TraceContextSource } = {}): Outbox {
  const traceContext: TraceContextSource = options.traceContext ?? (() => ({}));
  return {
    async enqueue(tx, messages) {
      if (messages.length === 0) return;
      const { traceparent, tracestate } = traceContext();
      for (const m of messages) {
        await tx.query(
          `INSERT INTO outbox (message_id, topic, message_key, message_type, payload, tenant_id,
                               cell_id, correlation_id, causation_id, traceparent, tracestate)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            m.messageId ?? uuidv7(),
            m.topic,
            m.key,
            m.type,
            Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength),
            m.tenantId,
            m.cellId,
            m.correlationId,
            m.causationId ?? null,
            traceparent ?? null,
            tracestate ?? null,
          ],
        );
      }
      // NOTIFY is transactional: the relay is woken when (and only if) the transaction commits.
      await tx.query(`NOTIFY ${OUTBOX_CHANNEL}`);
    },
  };
}
