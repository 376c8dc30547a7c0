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
  completing: OrderSagaStep[];
  compensating: OrderSagaStep[];
  failure_reason: string | null;
  attempts: number;
  overdue: boolean;
}

/** When the sweeper next looks at a saga: in `inMs`, with `attempts` re-sends so far; null once ended. */
export type SagaDeadline = { inMs: number; attempts: number } | null;

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

/** Inserts a PENDING order and its saga's first state, due for the sweeper in `deadlineMs`. */
export async function insertOrder(
  tx: Queryable,
  order: NewOrderRecord,
  saga: SagaState<OrderSagaStep>,
  deadlineMs: number,
): Promise<ordersV1.Order> {
  // One statement, one round trip: the order and its saga (order_sagas references orders; the
  // foreign key is checked at the statement's end, when both rows exist).
  const inserted = await tx.query<OrderRow>(
    `WITH saga AS (
       INSERT INTO order_sagas (order_id, status, step, completing, compensating, failure_reason,
                                deadline_at)
       VALUES ($1, $6, $7, $8, $9, $10, now() + $11 * interval '1 millisecond'))
     INSERT INTO orders (id, tenant_id, customer_id, status, items, payment_token)
     VALUES ($1, $2, $3, 'PENDING', $4, $5) RETURNING *`,
    [
      order.id,
      order.tenantId,
      order.customerId,
      JSON.stringify(order.items),
      order.paymentToken,
      saga.status,
      saga.step,
      saga.completing,
      saga.compensating,
      saga.failureReason,
      deadlineMs,
    ],
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

/** An order and its saga as loaded for a change, locked until the transaction ends. */
export interface LockedOrder {
  order: StoredOrder;
  saga: SagaState<OrderSagaStep>;
  /** Re-sends of what the saga awaits now. */
  attempts: number;
  /** True when the saga's deadline has passed. */
  overdue: boolean;
  /** When the order was accepted (its saga began). */
  acceptedAt: Date;
}

/**
 * The tenant's order and its saga state, locked until the transaction ends. With `skipLocked`
 * an order locked by another transaction (a reply being handled) is not waited for: undefined.
 */
export async function loadOrderForUpdate(
  tx: Queryable,
  tenantId: string,
  id: string,
  { skipLocked = false } = {},
): Promise<LockedOrder | undefined> {
  const found = await tx.query<OrderRow & OrderSagaColumns>(
    `SELECT o.*, s.status AS saga_status, s.step, s.completing, s.compensating, s.failure_reason,
            s.attempts,
            coalesce(s.deadline_at <= now(), false) AS overdue
       FROM orders o JOIN order_sagas s ON s.order_id = o.id
      WHERE o.id = $1 AND o.tenant_id = $2
      FOR UPDATE ${skipLocked ? 'SKIP LOCKED' : ''}`,
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
    saga: {
      status: row.saga_status,
      step: row.step,
      completing: row.completing,
      compensating: row.compensating,
      failureReason: row.failure_reason,
    },
    attempts: row.attempts,
    overdue: row.overdue,
    acceptedAt: row.created_at,
  };
}

/**
 * Stores a move of the saga in one statement: its new state and when the sweeper looks at it
 * next (null: it ended), and the order as the move leaves it.
 */
export async function saveMove(
  tx: Queryable,
  orderId: string,
  saga: SagaState<OrderSagaStep>,
  deadline: SagaDeadline,
  patch: OrderPatch,
): Promise<void> {
  await tx.query(
    `WITH saga AS (
       UPDATE order_sagas
          SET status = $2, step = $3, completing = $4, compensating = $5, failure_reason = $6,
              attempts = $7, deadline_at = now() + $8 * interval '1 millisecond',
              updated_at = now()
        WHERE order_id = $1)
     UPDATE orders SET items = $9, total_cents = $10, status = $11, reason = $12,
                       updated_at = now()
      WHERE id = $1`,
    [
      orderId,
      saga.status,
      saga.step,
      saga.completing,
      saga.compensating,
      saga.failureReason,
      deadline?.attempts ?? 0,
      deadline?.inMs ?? null,
      JSON.stringify(patch.items),
      patch.totalCents,
      patch.status,
      patch.reason,
    ],
  );
}

/** Open sagas whose deadline has passed, most overdue first. */
export async function overdueSagas(
  db: Queryable,
  limit: number,
): Promise<{ orderId: string; tenantId: string }[]> {
  const { rows } = await db.query<{ order_id: string; tenant_id: string }>(
    `SELECT s.order_id, o.tenant_id FROM order_sagas s JOIN orders o ON o.id = s.order_id
      WHERE s.deadline_at <= now() ORDER BY s.deadline_at LIMIT $1`,
    [limit],
  );
  return rows.map((row) => ({ orderId: row.order_id, tenantId: row.tenant_id }));
}

/** An open saga as the ops view shows it. */
export interface OpenSaga {
  orderId: string;
  tenantId: string;
  status: SagaStatus;
  step: OrderSagaStep | null;
  completing: OrderSagaStep[];
  compensating: OrderSagaStep[];
  failureReason: string | null;
  attempts: number;
  updatedAt: Date;
  deadlineAt: Date;
}

/** Open sagas with at least `minAttempts` re-sends of what they await, longest waiting first. */
export async function sagasResentAtLeast(
  db: Queryable,
  minAttempts: number,
  limit: number,
): Promise<OpenSaga[]> {
  const { rows } = await db.query<{
    order_id: string;
    tenant_id: string;
    status: SagaStatus;
    step: OrderSagaStep | null;
    completing: OrderSagaStep[];
    compensating: OrderSagaStep[];
    failure_reason: string | null;
    attempts: number;
    updated_at: Date;
    deadline_at: Date;
  }>(
    `SELECT s.order_id, o.tenant_id, s.status, s.step, s.completing, s.compensating,
            s.failure_reason,
            s.attempts, s.updated_at, s.deadline_at
       FROM order_sagas s JOIN orders o ON o.id = s.order_id
      WHERE s.deadline_at IS NOT NULL AND s.attempts >= $1
      ORDER BY s.updated_at LIMIT $2`,
    [minAttempts, limit],
  );
  return rows.map((row) => ({
    orderId: row.order_id,
    tenantId: row.tenant_id,
    status: row.status,
    step: row.step,
    completing: row.completing,
    compensating: row.compensating,
    failureReason: row.failure_reason,
    attempts: row.attempts,
    updatedAt: row.updated_at,
    deadlineAt: row.deadline_at,
  }));
}

/**
 * Open sagas (still running or compensating: the partial index order_sagas_open covers them), and
 * those of them re-sent at least `stuckAfter` times (stuck), in one query.
 */
export async function countSagas(
  db: Queryable,
  stuckAfter: number,
): Promise<{ open: number; stuck: number }> {
  const { rows } = await db.query<{ open: number; stuck: number }>(
    `SELECT count(*)::int AS open, (count(*) FILTER (WHERE attempts >= $1))::int AS stuck
       FROM order_sagas WHERE status IN ('RUNNING', 'COMPENSATING')`,
    [stuckAfter],
  );
  return rows[0] ?? { open: 0, stuck: 0 };
}

export async function countOpenSagas(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ open: number }>(
    `SELECT count(*)::int AS open FROM order_sagas WHERE status IN ('RUNNING', 'COMPENSATING')`,
  );
  return rows[0]?.open ?? 0;
}
