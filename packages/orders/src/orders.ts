import { v7 as uuidv7 } from 'uuid';
import { cellTopics } from '@bulkhead/cell';
import { ordersV1 } from '@bulkhead/contracts';
import type { PoolClient, Queryable } from '@bulkhead/db';
import type { IncomingMessage } from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import { enqueue, type OutboxMessage } from '@bulkhead/outbox';
import type { SagaState } from '@bulkhead/saga';
import {
  advance,
  start,
  type DecodedReply,
  type OrderSagaStep,
  type OrderStatusName,
  type PricedLine,
  type SagaCommand,
  type SagaDestination,
  type StoredOrder,
} from './order-saga.js';

/** The orders domain: SQL over the orders database, used by the gRPC API and the saga consumer. */

export type { OrderStatusName } from './order-saga.js';

interface OrderRow {
  id: string;
  tenant_id: string;
  customer_id: string;
  status: OrderStatusName;
  items: PricedLine[];
  total_cents: number;
  payment_token: string;
  reason: string | null;
  created_at: Date;
  updated_at: Date;
}

const STATUS: Record<OrderStatusName, ordersV1.OrderStatus> = {
  PENDING: ordersV1.OrderStatus.ORDER_STATUS_PENDING,
  CONFIRMED: ordersV1.OrderStatus.ORDER_STATUS_CONFIRMED,
  REJECTED: ordersV1.OrderStatus.ORDER_STATUS_REJECTED,
};

export function toProto(row: OrderRow): ordersV1.Order {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    customerId: row.customer_id,
    status: STATUS[row.status],
    items: row.items.map((i) => ({
      sku: i.sku,
      quantity: i.quantity,
      unitPriceCents: i.unitPriceCents,
    })),
    totalCents: row.total_cents,
    reason: row.reason ?? '',
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface NewOrder {
  tenantId: string;
  customerId: string;
  items: { sku: string; quantity: number }[];
  paymentToken: string;
}

export interface CellContext {
  cellId: string;
}

/** The cell topic each participant's commands go to. */
const COMMAND_TOPIC: Record<SagaDestination, keyof ReturnType<typeof cellTopics>> = {
  inventory: 'inventoryCommands',
  payments: 'paymentsCommands',
};

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
  const topics = cellTopics(cell.cellId);
  return commands.map((command) =>
    outboxMessage(cell, order, topics[COMMAND_TOPIC[command.destination]], command, causationId),
  );
}

/** Inserts a PENDING order, starts its saga and enqueues the first command — all in tx. */
export async function placeOrder(
  tx: Queryable,
  cell: CellContext,
  order: NewOrder,
): Promise<ordersV1.Order> {
  const id = uuidv7();
  const items: PricedLine[] = order.items.map((i) => ({ ...i, unitPriceCents: 0 }));
  const inserted = await tx.query<OrderRow>(
    `INSERT INTO orders (id, tenant_id, customer_id, status, items, payment_token)
     VALUES ($1, $2, $3, 'PENDING', $4, $5) RETURNING *`,
    [id, order.tenantId, order.customerId, JSON.stringify(items), order.paymentToken],
  );
  const started = start({ ...order, id, totalCents: 0 });
  await saveSaga(tx, id, started.saga, true);
  await enqueue(tx, commandMessages(cell, { id, tenantId: order.tenantId }, started.commands));
  return toProto(inserted.rows[0]!);
}

export async function findOrder(
  db: Queryable,
  tenantId: string,
  id: string,
): Promise<ordersV1.Order | undefined> {
  const result = await db.query<OrderRow>('SELECT * FROM orders WHERE id = $1 AND tenant_id = $2', [
    id,
    tenantId,
  ]);
  const row = result.rows[0];
  return row ? toProto(row) : undefined;
}

async function saveSaga(
  tx: Queryable,
  orderId: string,
  state: SagaState<OrderSagaStep>,
  insert = false,
) {
  const sql = insert
    ? 'INSERT INTO order_sagas (order_id, status, step, failure_reason) VALUES ($1, $2, $3, $4)'
    : 'UPDATE order_sagas SET status = $2, step = $3, failure_reason = $4, updated_at = now() WHERE order_id = $1';
  await tx.query(sql, [orderId, state.status, state.step, state.failureReason]);
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
  const orderId = message.envelope.correlationId;
  const found = await tx.query<
    OrderRow & {
      saga_status: SagaState['status'];
      step: OrderSagaStep | null;
      failure_reason: string | null;
    }
  >(
    `SELECT o.*, s.status AS saga_status, s.step, s.failure_reason
       FROM orders o JOIN order_sagas s ON s.order_id = o.id
      WHERE o.id = $1 AND o.tenant_id = $2
      FOR UPDATE`,
    [orderId, message.envelope.tenantId],
  );
  const row = found.rows[0];
  if (!row) {
    logger.warn(
      { orderId, tenantId: message.envelope.tenantId },
      'saga reply for an unknown order',
    );
    return;
  }
  const state: SagaState<OrderSagaStep> = {
    status: row.saga_status,
    step: row.step,
    failureReason: row.failure_reason,
  };
  const stored: StoredOrder = {
    id: row.id,
    tenantId: row.tenant_id,
    customerId: row.customer_id,
    paymentToken: row.payment_token,
    items: row.items,
    totalCents: row.total_cents,
    status: row.status,
  };
  const next = advance(stored, state, decoded);
  if (next.ignored) {
    logger.debug({ orderId, reply: decoded.reply, state }, 'stale or duplicate saga reply ignored');
    return;
  }

  await saveSaga(tx, orderId, next.saga);
  const { items, totalCents, status, reason } = next.orderPatch;
  await tx.query(
    `UPDATE orders SET items = $2, total_cents = $3, status = $4, reason = $5, updated_at = now() WHERE id = $1`,
    [orderId, JSON.stringify(items), totalCents, status, reason],
  );
  const causationId = message.envelope.messageId;
  const messages = commandMessages(cell, stored, next.commands, causationId);
  if (next.event) {
    const topic = cellTopics(cell.cellId).orderEvents;
    messages.push(outboxMessage(cell, stored, topic, next.event, causationId));
  }
  if (messages.length > 0) await enqueue(tx, messages);
  logger.debug({ orderId, from: state, to: next.saga }, 'saga advanced');
}
