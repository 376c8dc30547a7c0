import pg from 'pg';
import { cellDatabaseName } from '@bulkhead/cell';
import { databaseUrl } from '@bulkhead/db';
import type { OrderStatus } from './history.js';

/** What the checker reads of one cell's databases, for the tenants of the history only. */
export interface CellState {
  cellId: string;
  /** orders: orders, order_sagas, idempotency_keys */
  orders: OrderRow[];
  sagas: SagaRow[];
  idempotencyKeys: IdempotencyKeyRow[];
  /** inventory: products, reservations */
  products: ProductRow[];
  reservations: ReservationRow[];
  /** payments: payments */
  payments: PaymentRow[];
}

export interface OrderRow {
  id: string;
  tenantId: string;
  customerId: string;
  status: OrderStatus;
  reason: string | null;
  items: { sku: string; quantity: number; unitPriceCents: number }[];
  totalCents: number;
}
export interface SagaRow {
  orderId: string;
  status: string;
  step: string | null;
  failureReason: string | null;
}
export interface IdempotencyKeyRow {
  tenantId: string;
  key: string;
  /** The order id in the stored first response, if it has one. */
  orderId: string | null;
}
export interface ProductRow {
  tenantId: string;
  sku: string;
  available: number;
  reserved: number;
}
export interface ReservationRow {
  tenantId: string;
  orderId: string;
  sku: string;
  quantity: number;
  status: 'RESERVED' | 'RELEASED' | 'COMMITTED';
}
export interface PaymentRow {
  tenantId: string;
  orderId: string;
  amountCents: number;
  status: 'AUTHORIZED' | 'DECLINED' | 'CAPTURED' | 'VOIDED';
}

export const emptyCellState = (cellId: string): CellState => ({
  cellId,
  orders: [],
  sagas: [],
  idempotencyKeys: [],
  products: [],
  reservations: [],
  payments: [],
});

/**
 * The databases of one cell: each service's by cellDatabaseName, or named (tests); null leaves
 * that service's tables out (read as empty).
 */
export interface CellDatabases {
  cellId: string;
  orders?: string | null;
  inventory?: string | null;
  payments?: string | null;
}

async function query<R extends pg.QueryResultRow>(
  url: string | null,
  text: string,
  values: unknown[],
): Promise<R[]> {
  if (url === null) return [];
  const client = new pg.Client({ connectionString: url, application_name: 'consistency-checker' });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Reads one cell's state for these tenants (bigint columns come back as numbers). */
export async function readCellState(
  pgUrl: string,
  cell: CellDatabases,
  tenants: readonly string[],
): Promise<CellState> {
  const db = (service: 'orders' | 'inventory' | 'payments') => {
    const name = cell[service];
    return name === null
      ? null
      : databaseUrl(pgUrl, name ?? cellDatabaseName(cell.cellId, service));
  };
  const t = [tenants];
  const [orders, sagas, idempotencyKeys, products, reservations, payments] = await Promise.all([
    query<OrderRow>(
      db('orders'),
      `SELECT id::text, tenant_id AS "tenantId", customer_id AS "customerId", status, reason,
              items, total_cents::float8 AS "totalCents"
         FROM orders WHERE tenant_id = ANY($1) ORDER BY created_at, id`,
      t,
    ),
    query<SagaRow>(
      db('orders'),
      `SELECT s.order_id::text AS "orderId", s.status, s.step, s.failure_reason AS "failureReason"
         FROM order_sagas s JOIN orders o ON o.id = s.order_id WHERE o.tenant_id = ANY($1)`,
      t,
    ),
    query<IdempotencyKeyRow>(
      db('orders'),
      `SELECT scope AS "tenantId", key, response->>'id' AS "orderId"
         FROM idempotency_keys WHERE scope = ANY($1)`,
      t,
    ),
    query<ProductRow>(
      db('inventory'),
      `SELECT tenant_id AS "tenantId", sku, available::float8 AS available,
              reserved::float8 AS reserved
         FROM products WHERE tenant_id = ANY($1)`,
      t,
    ),
    query<ReservationRow>(
      db('inventory'),
      `SELECT tenant_id AS "tenantId", order_id AS "orderId", sku, quantity::float8 AS quantity,
              status
         FROM reservations WHERE tenant_id = ANY($1)`,
      t,
    ),
    query<PaymentRow>(
      db('payments'),
      `SELECT tenant_id AS "tenantId", order_id AS "orderId",
              amount_cents::float8 AS "amountCents", status
         FROM payments WHERE tenant_id = ANY($1)`,
      t,
    ),
  ]);
  return { cellId: cell.cellId, orders, sagas, idempotencyKeys, products, reservations, payments };
}
