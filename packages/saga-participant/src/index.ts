import type { MessageCodec } from '@bulkhead/contracts';
import type { Pool, PoolClient } from '@bulkhead/db';
import { cellTopic } from '@bulkhead/cell';
import type { Envelope, MessageHandler } from '@bulkhead/event-bus';
import { inboxHandler } from '@bulkhead/inbox';
import type { Logger } from '@bulkhead/logger';
import type { Outbox } from '@bulkhead/outbox';

/** A reply to a saga command: its envelope type and encoded payload. */
export interface Reply {
  type: string;
  payload: Uint8Array;
}

export function reply<T>(codec: MessageCodec<T>, body: T): Reply {
  return { type: codec.typeName, payload: codec.encode(body) };
}

/** Carries out a decoded command in the caller's transaction; returns the reply, if any. */
type Work = (tx: PoolClient) => Promise<Reply | undefined>;

/** Decodes one command type (throws if it is malformed) and returns its work. */
export type Route = (payload: Uint8Array, envelope: Envelope) => Work;

export function route<T extends { orderId: string }>(
  codec: MessageCodec<T>,
  run: (tx: PoolClient, tenantId: string, command: T) => Promise<Reply | undefined>,
): Route {
  return (payload, { tenantId, correlationId }) => {
    const command = codec.decode(payload);
    // The saga correlates by order id: the replies are keyed and correlated by it.
    if (command.orderId === '' || command.orderId !== correlationId) {
      throw new Error(`order_id ${JSON.stringify(command.orderId)} is not the correlation id`);
    }
    return (tx) => run(tx, tenantId, command);
  };
}

/** What a participant's handler needs from its service's context (a CellServiceContext has it). */
export interface ParticipantContext {
  pool: Pool;
  logger: Logger;
  outbox: Outbox;
  cellId: string;
  /** The participant's name: its inbox namespace. */
  service: string;
}

/**
 * The consumer of a saga participant's command topic. Each command runs exactly once per message
 * id: its state change, the inbox record and the outbox reply commit in one transaction. The
 * reply goes to the orchestrator's saga-replies topic of the cell, keyed by the order id (the
 * correlation id), with causationId = the command's message id. Unknown types and undecodable
 * payloads are logged and skipped: retrying cannot fix them.
 */
export function commandHandler(
  context: ParticipantContext,
  routes: Readonly<Record<string, Route>>,
): MessageHandler {
  const repliesTopic = cellTopic(context.cellId, 'orders', 'saga-replies');
  return inboxHandler<Work>({
    pool: context.pool,
    consumer: context.service,
    logger: context.logger,
    decode: ({ envelope, payload }) =>
      Object.hasOwn(routes, envelope.type) ? routes[envelope.type]!(payload, envelope) : undefined,
    async handle(tx, work, { envelope }) {
      const answer = await work(tx);
      if (!answer) return;
      await context.outbox.enqueue(tx, [
        {
          topic: repliesTopic,
          key: envelope.correlationId,
          type: answer.type,
          payload: answer.payload,
          tenantId: envelope.tenantId,
          cellId: envelope.cellId,
          correlationId: envelope.correlationId,
          causationId: envelope.messageId,
        },
      ]);
    },
  });
}
