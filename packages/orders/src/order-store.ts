import { ordersV1 } from '@bulkhead/contracts';
import type { Queryable } from '@bulkhead/db';
import type { SagaState, SagaStatus } from '@bulkhead/saga';
import type {
  OrderPatch,
  OrderSagaStep,
  OrderStatusName,
  PricedLine,
  StoredOrder,
} from './order-saga.js';

/** Every query on `orders` and `order_sagas` (migrations/0001_orders.sql). */

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

interface OrderSagaColumns {
  saga_status: SagaStatus;
  step: OrderSagaStep | null;
  failure_reason: string | null;
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

/** A new order as inserted: PENDING, total 0 until the reservation prices it. */
export type NewOrderRecord = Pick<
  StoredOrder,
  'id' | 'tenantId' | 'customerId' | 'paymentToken' | 'items'
>;

/** Inserts a PENDING order and its saga's first state. */
export async function insertOrder(
  tx: Queryable,
  order: NewOrderRecord,
  saga: SagaState<OrderSagaStep>,
): Promise<ordersV1.Order> {
  const inserted = await tx.query<OrderRow>(
    `INSERT INTO orders (id, tenant_id, customer_id, status, items, payment_token)
     VALUES ($1, $2, $3, 'PENDING', $4, $5) RETURNING *`,
    [order.id, order.tenantId, order.customerId, JSON.stringify(order.items), order.paymentToken],
  );
  await tx.query(
    'INSERT INTO order_sagas (order_id, status, step, failure_reason) VALUES ($1, $2, $3, $4)',
    [order.id, saga.status, saga.step, saga.failureReason],
  );
  return toProto(inserted.rows[0]!);
}

/** The order with this id if it belongs to the tenant. */
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

/** The tenant's order and its saga state, locked until the transaction ends. */
export async function loadOrderForUpdate(
  tx: Queryable,
  tenantId: string,
  id: string,
): Promise<{ order: StoredOrder; saga: SagaState<OrderSagaStep> } | undefined> {
  const found = await tx.query<OrderRow & OrderSagaColumns>(
    `SELECT o.*, s.status AS saga_status, s.step, s.failure_reason
       FROM orders o JOIN order_sagas s ON s.order_id = o.id
      WHERE o.id = $1 AND o.tenant_id = $2
      FOR UPDATE`,
    [id, tenantId],
  );
  const row = found.rows[0];
  if (!row) return undefined;
  return {
    order: {
      id: row.id,
      tenantId: row.tenant_id,
      customerId: row.customer_id,
      paymentToken: row.payment_token,
      items: row.items,
      totalCents: row.total_cents,
      status: row.status,
    },
    saga: { status: row.saga_status, step: row.step, failureReason: row.failure_reason },
  };
}

export async function saveSaga(
  tx: Queryable,
  orderId: string,
  saga: SagaState<OrderSagaStep>,
): Promise<void> {
  await tx.query(
    'UPDATE order_sagas SET status = $2, step = $3, failure_reason = $4, updated_at = now() WHERE order_id = $1',
    [orderId, saga.status, saga.step, saga.failureReason],
  );
}

export async function applyOrderPatch(
  tx: Queryable,
  orderId: string,
  patch: OrderPatch,
): Promise<void> {
  await tx.query(
    `UPDATE orders SET items = $2, total_cents = $3, status = $4, reason = $5, updated_at = now() WHERE id = $1`,
    [orderId, JSON.stringify(patch.items), patch.totalCents, patch.status, patch.reason],
  );
}

/** Sagas still running or compensating (the partial index order_sagas_open covers them). */
export async function countOpenSagas(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ open: number }>(
    `SELECT count(*)::int AS open FROM order_sagas WHERE status IN ('RUNNING', 'COMPENSATING')`,
  );
  return rows[0]?.open ?? 0;
}
