import type { MessageCodec } from '@bulkhead/contracts';
import type { Pool, PoolClient } from '@bulkhead/db';
import type { Envelope, IncomingMessage, MessageHandler } from '@bulkhead/event-bus';
import { consumeOnce } from '@bulkhead/inbox';
import type { Logger } from '@bulkhead/logger';
import { enqueue } from '@bulkhead/outbox';

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

/**
 * The consumer of a saga participant's command topic. Each command runs exactly once per message
 * id: its state change, the inbox record and the outbox reply commit in one transaction. The
 * reply goes to `repliesTopic`, keyed by the order id (the correlation id), with causationId =
 * the command's message id. Unknown types and undecodable payloads are logged and skipped:
 * retrying cannot fix them.
 */
export function commandHandler(options: {
  pool: Pool;
  logger: Logger;
  consumer: string;
  repliesTopic: string;
  routes: Readonly<Record<string, Route>>;
}): MessageHandler {
  const { pool, logger, consumer, repliesTopic, routes } = options;
  return async (message: IncomingMessage) => {
    const { envelope } = message;
    const context = {
      type: envelope.type,
      messageId: envelope.messageId,
      correlationId: envelope.correlationId,
    };
    const decode = Object.hasOwn(routes, envelope.type) ? routes[envelope.type] : undefined;
    if (!decode) {
      logger.warn(context, 'skipping a message of unknown type');
      return;
    }
    let work: Work;
    try {
      work = decode(message.payload, envelope);
    } catch (error) {
      logger.error({ ...context, err: error }, 'skipping a malformed command');
      return;
    }
    const result = await consumeOnce(pool, consumer, message, async (tx) => {
      const answer = await work(tx);
      if (!answer) return;
      await enqueue(tx, [
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
    });
    if (result === 'duplicate') logger.info(context, 'duplicate command skipped');
  };
}
