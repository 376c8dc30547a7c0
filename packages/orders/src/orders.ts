import { v7 as uuidv7 } from 'uuid';
import { cellTopic } from '@bulkhead/cell';
import type { ordersV1 } from '@bulkhead/contracts';
import type { PoolClient, Queryable } from '@bulkhead/db';
import type { IncomingMessage } from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import type { Outbox, OutboxMessage } from '@bulkhead/outbox';
import { advance, start, type DecodedReply, type SagaCommand } from './order-saga.js';
import { applyOrderPatch, insertOrder, loadOrderForUpdate, saveSaga } from './order-store.js';

/**
 * The orders domain, used by the gRPC API and the saga consumer: the order store
 * (order-store.ts), the pure saga (order-saga.ts) and the outbox, in the caller's transaction.
 */

export { findOrder } from './order-store.js';

export interface NewOrder {
  tenantId: string;
  customerId: string;
  items: { sku: string; quantity: number }[];
  paymentToken: string;
}

/** What the orders domain needs of its service's context. */
export interface CellContext {
  cellId: string;
  outbox: Outbox;
}

function outboxMessage(
  cell: CellContext,
  order: { id: string; tenantId: string },
  topic: string,
  message: { type: string; payload: Uint8Array },
  causationId?: string,
): OutboxMessage {
  return {
    topic,
    key: order.id,
    type: message.type,
    payload: message.payload,
    tenantId: order.tenantId,
    cellId: cell.cellId,
    correlationId: order.id,
    ...(causationId ? { causationId } : {}),
  };
}

function commandMessages(
  cell: CellContext,
  order: { id: string; tenantId: string },
  commands: readonly SagaCommand[],
  causationId?: string,
): OutboxMessage[] {
  // A saga command goes to its destination's commands topic (<cell>.<participant>.commands).
  return commands.map((command) =>
    outboxMessage(
      cell,
      order,
      cellTopic(cell.cellId, command.destination, 'commands'),
      command,
      causationId,
    ),
  );
}

/** Inserts a PENDING order, starts its saga and enqueues the first command — all in tx. */
export async function placeOrder(
  tx: Queryable,
  cell: CellContext,
  order: NewOrder,
): Promise<ordersV1.Order> {
  const id = uuidv7();
  const started = start({ ...order, id, totalCents: 0 });
  const items = order.items.map((i) => ({ ...i, unitPriceCents: 0 }));
  const placed = await insertOrder(tx, { ...order, id, items }, started.saga);
  await cell.outbox.enqueue(
    tx,
    commandMessages(cell, { id, tenantId: order.tenantId }, started.commands),
  );
  return placed;
}

/**
 * Advances the saga of one order with a participant's reply, inside the inbox transaction:
 * saga state, order state, next commands and (at the end) the order's domain event commit together.
 */
export async function handleSagaReply(
  tx: PoolClient,
  cell: CellContext,
  message: IncomingMessage,
  decoded: DecodedReply,
  logger: Logger,
): Promise<void> {
  const { correlationId: orderId, tenantId, messageId } = message.envelope;
  const found = await loadOrderForUpdate(tx, tenantId, orderId);
  if (!found) {
    logger.warn({ orderId, tenantId }, 'saga reply for an unknown order');
    return;
  }
  const { order, saga } = found;
  const next = advance(order, saga, decoded);
  if (next.ignored) {
    logger.debug(
      { orderId, reply: decoded.reply, state: saga },
      'stale or duplicate saga reply ignored',
    );
    return;
  }

  await saveSaga(tx, orderId, next.saga);
  await applyOrderPatch(tx, orderId, next.orderPatch);
  const messages = commandMessages(cell, order, next.commands, messageId);
  if (next.event) {
    const topic = cellTopic(cell.cellId, 'orders', 'events');
    messages.push(outboxMessage(cell, order, topic, next.event, messageId));
  }
  if (messages.length > 0) await cell.outbox.enqueue(tx, messages);
  logger.debug({ orderId, from: saga, to: next.saga }, 'saga advanced');
}
