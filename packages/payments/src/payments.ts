import type { Queryable } from '@bulkhead/db';
import { authorize, type PaymentStatus, type Transition } from './processor.js';

/** Payment records. Every function expects to run inside the caller's transaction (or a pool). */

export interface Payment {
  id: string;
  tenantId: string;
  orderId: string;
  amountCents: number;
  status: PaymentStatus;
  declineCode: string | null;
}

interface PaymentRow {
  id: string;
  tenant_id: string;
  order_id: string;
  amount_cents: number;
  status: PaymentStatus;
  decline_code: string | null;
}

const toPayment = (row: PaymentRow): Payment => ({
  id: row.id,
  tenantId: row.tenant_id,
  orderId: row.order_id,
  amountCents: row.amount_cents,
  status: row.status,
  declineCode: row.decline_code,
});

export async function findPayment(
  db: Queryable,
  tenantId: string,
  orderId: string,
  { forUpdate = false } = {},
): Promise<Payment | undefined> {
  const result = await db.query<PaymentRow>(
    `SELECT id, tenant_id, order_id, amount_cents, status, decline_code FROM payments
     WHERE tenant_id = $1 AND order_id = $2 ${forUpdate ? 'FOR UPDATE' : ''}`,
    [tenantId, orderId],
  );
  const row = result.rows[0];
  return row && toPayment(row);
}

/**
 * Authorizes (or declines) the order's payment. An order has one payment: asked again, the first
 * outcome is returned unchanged.
 */
export async function authorizePayment(
  tx: Queryable,
  tenantId: string,
  request: { orderId: string; amountCents: number; paymentToken: string },
): Promise<Payment> {
  const outcome = authorize(request);
  const declineCode = outcome.status === 'DECLINED' ? outcome.declineCode : null;
  const inserted = await tx.query<PaymentRow>(
    `INSERT INTO payments (tenant_id, order_id, amount_cents, status, decline_code)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id, order_id) DO NOTHING
     RETURNING id, tenant_id, order_id, amount_cents, status, decline_code`,
    [tenantId, request.orderId, request.amountCents, outcome.status, declineCode],
  );
  const row = inserted.rows[0];
  if (row) return toPayment(row);
  // ON CONFLICT DO NOTHING waited for any concurrent insert to commit, so the row is visible.
  const existing = await findPayment(tx, tenantId, request.orderId);
  if (!existing) throw new Error(`payment of order ${request.orderId} vanished`);
  return existing;
}

/**
 * Locks the order's payment and applies a capture or void transition to it. A transition of an
 * order without a payment (a void that came first) inserts one of amount 0 in the new state; a
 * concurrent authorization then finds it (one payment per order), or is found by it.
 */
export async function transitionPayment(
  tx: Queryable,
  tenantId: string,
  orderId: string,
  decide: (current: PaymentStatus | undefined) => Transition,
): Promise<Transition> {
  const payment = await findPayment(tx, tenantId, orderId, { forUpdate: true });
  const transition = decide(payment?.status);
  if (transition.kind !== 'apply') return transition;
  if (payment) {
    await tx.query(
      'UPDATE payments SET status = $3, updated_at = now() WHERE tenant_id = $1 AND order_id = $2',
      [tenantId, orderId, transition.to],
    );
    return transition;
  }
  const inserted = await tx.query(
    `INSERT INTO payments (tenant_id, order_id, amount_cents, status) VALUES ($1, $2, 0, $3)
     ON CONFLICT (tenant_id, order_id) DO NOTHING`,
    [tenantId, orderId, transition.to],
  );
  // An authorization committed in between: decide again on the payment it made.
  if (inserted.rowCount === 0) return transitionPayment(tx, tenantId, orderId, decide);
  return transition;
}
