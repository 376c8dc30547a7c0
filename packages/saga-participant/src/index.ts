import { sagaMessages, type MessageCodec } from '@bulkhead/contracts';
import { withTransaction, type Pool, type PoolClient } from '@bulkhead/db';
import { cellTopic } from '@bulkhead/cell';
import {
  PermanentMessageError,
  type DeadLetter,
  type BatchingMessageHandler,
  type Envelope,
  type IncomingMessage,
} from '@bulkhead/event-bus';
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
      throw new PermanentMessageError(
        `order_id ${JSON.stringify(command.orderId)} is not the correlation id`,
      );
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
 * correlation id), with causationId = the command's message id. An unknown type or an
 * undecodable payload throws PermanentMessageError (dead-lettered, then answered by
 * commandFailedReply); so does a route that refuses a command contradicting its state.
 */
export function commandHandler(
  context: ParticipantContext,
  routes: Readonly<Record<string, Route>>,
  options: ParticipantOptions = {},
): BatchingMessageHandler {
  return inboxHandler<Work>({
    ...(options.prepareBatch && { prepareBatch: options.prepareBatch }),
    pool: context.pool,
    consumer: context.service,
    logger: context.logger,
    decode: ({ envelope, payload }) =>
      Object.hasOwn(routes, envelope.type) ? routes[envelope.type]!(payload, envelope) : undefined,
    async handle(tx, work, { envelope }) {
      const answer = await work(tx);
      if (!answer) return;
      await enqueueReply(tx, context, envelope, answer);
    },
  });
}

/** Longest error message a CommandFailed carries (the full error is in the dead letter). */
const MAX_ERROR_LENGTH = 500;

/**
 * Participants always answer: when a command was dead-lettered (it could not be carried out),
 * the saga gets a CommandFailed for it, so the order compensates and ends instead of waiting.
 * No inbox record is written: a redrive of the command after a fix runs it (its late outcome is
 * harmless: the saga has compensated it, and a release before its reservation is remembered).
 */
export function commandFailedReply(
  context: ParticipantContext,
): (deadLetter: DeadLetter) => Promise<void> {
  return async ({ message, kind, error }) => {
    const { envelope } = message;
    if (!envelope?.correlationId) {
      context.logger.warn(
        { topic: message.topic, partition: message.partition, offset: message.offset },
        'dead-lettered a message that names no saga: nobody to answer',
      );
      return;
    }
    const failure = reply(sagaMessages.CommandFailed, {
      orderId: envelope.correlationId,
      commandType: envelope.type,
      failure: kind,
      error: error.message.slice(0, MAX_ERROR_LENGTH),
    });
    await withTransaction(context.pool, (tx) => enqueueReply(tx, context, envelope, failure));
    context.logger.warn(
      { orderId: envelope.correlationId, type: envelope.type, kind, error: error.message },
      'command dead-lettered; the saga is told it failed',
    );
  };
}

/** What a participant adds to the per-command routes. */
export interface ParticipantOptions {
  /**
   * Runs once per batch of commands, in its transaction, before the first command's work (the
   * commands are batched by the event bus; each still runs its own route): e.g. takes the row
   * locks of every command of the batch in one order, so that two batches never deadlock.
   */
  prepareBatch?(tx: PoolClient, commands: readonly IncomingMessage[]): Promise<void>;
}

/** A saga participant's two consumer parts of its cell service definition. */
export function sagaParticipant(
  routes: (context: ParticipantContext) => Record<string, Route>,
  options: ParticipantOptions = {},
): {
  handler(context: ParticipantContext): BatchingMessageHandler;
  onDeadLetter(context: ParticipantContext): (deadLetter: DeadLetter) => Promise<void>;
} {
  return {
    handler: (context) => commandHandler(context, routes(context), options),
    onDeadLetter: (context) => commandFailedReply(context),
  };
}

function enqueueReply(
  tx: PoolClient,
  context: ParticipantContext,
  command: Envelope,
  answer: Reply,
): Promise<void> {
  return context.outbox.enqueue(tx, [
    {
      topic: cellTopic(context.cellId, 'orders', 'saga-replies'),
      key: command.correlationId,
      type: answer.type,
      payload: answer.payload,
      tenantId: command.tenantId,
      cellId: context.cellId,
      correlationId: command.correlationId,
      causationId: command.messageId,
    },
  ]);
}
