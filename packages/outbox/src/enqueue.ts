import { context, propagation } from '@opentelemetry/api';
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

/**
 * Adds messages to the outbox inside the caller's business transaction: they are published
 * if and only if that transaction commits. Call it after writing the aggregate (so concurrent
 * transactions on one aggregate are serialized by its row lock and seq follows commit order).
 *
 * The active OpenTelemetry context is stored with each row so that the consumer's work joins
 * the trace of the request that caused it.
 */
export async function enqueue(tx: Queryable, messages: OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
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
        carrier.traceparent ?? null,
        carrier.tracestate ?? null,
      ],
    );
  }
  // NOTIFY is transactional: the relay is woken when (and only if) the transaction commits.
  await tx.query(`NOTIFY ${OUTBOX_CHANNEL}`);
}
