import type { Queryable } from '@bulkhead/db';
import {
  decideReservation,
  type PricedLine,
  type ReservationDecision,
  type ReservationFailure,
  type StockLevel,
  type StockLine,
} from './reservation.js';
import type { ProductInput } from './api.js';

/** Stock changes. Every function expects to run inside the caller's transaction. */

export interface Product {
  tenantId: string;
  sku: string;
  name: string;
  priceCents: number;
  available: number;
  reserved: number;
}

interface ProductRow {
  tenant_id: string;
  sku: string;
  name: string;
  price_cents: number;
  available: number;
  reserved: number;
}

const PRODUCT_COLUMNS = 'tenant_id, sku, name, price_cents, available, reserved';

const toProduct = (row: ProductRow): Product => ({
  tenantId: row.tenant_id,
  sku: row.sku,
  name: row.name,
  priceCents: row.price_cents,
  available: row.available,
  reserved: row.reserved,
});

/**
 * Creates or replaces a product. `stock` is the units on hand, so available = stock - reserved.
 * Returns undefined (nothing written) if stock is below the units currently reserved.
 */
export async function upsertProduct(
  db: Queryable,
  input: ProductInput,
): Promise<Product | undefined> {
  const result = await db.query<ProductRow>(
    `INSERT INTO products AS p (tenant_id, sku, name, price_cents, available, reserved)
     VALUES ($1, $2, $3, $4, $5, 0)
     ON CONFLICT (tenant_id, sku) DO UPDATE
       SET name = EXCLUDED.name, price_cents = EXCLUDED.price_cents,
           available = EXCLUDED.available - p.reserved, updated_at = now()
       WHERE p.reserved <= EXCLUDED.available
     RETURNING ${PRODUCT_COLUMNS}`,
    [input.tenantId, input.sku, input.name, input.priceCents, input.stock],
  );
  const row = result.rows[0];
  return row && toProduct(row);
}

export async function getProduct(
  db: Queryable,
  tenantId: string,
  sku: string,
): Promise<Product | undefined> {
  const result = await db.query<ProductRow>(
    `SELECT ${PRODUCT_COLUMNS} FROM products WHERE tenant_id = $1 AND sku = $2`,
    [tenantId, sku],
  );
  const row = result.rows[0];
  return row && toProduct(row);
}

/**
 * Locks the tenant's rows of these skus FOR UPDATE, always in sku order: every transaction that
 * changes stock locks through here, so two of them never wait for each other in a cycle.
 */
async function lockProducts(
  tx: Queryable,
  tenantId: string,
  skus: string[],
): Promise<Map<string, StockLevel>> {
  const result = await tx.query<{ sku: string; available: number; price_cents: number }>(
    `SELECT sku, available, price_cents FROM products
     WHERE tenant_id = $1 AND sku = ANY($2::text[])
     ORDER BY sku
     FOR UPDATE`,
    [tenantId, skus],
  );
  return new Map(
    result.rows.map((row) => [row.sku, { available: row.available, priceCents: row.price_cents }]),
  );
}

/** The earlier outcome of this order's reservation, if there was one. */
async function previousReservation(
  tx: Queryable,
  tenantId: string,
  orderId: string,
): Promise<ReservationDecision | undefined> {
  const reserved = await tx.query<{ sku: string; quantity: number; unit_price_cents: number }>(
    `SELECT sku, quantity, unit_price_cents FROM reservations
     WHERE tenant_id = $1 AND order_id = $2 ORDER BY sku`,
    [tenantId, orderId],
  );
  if (reserved.rows.length > 0) {
    const lines: PricedLine[] = reserved.rows.map((row) => ({
      sku: row.sku,
      quantity: row.quantity,
      unitPriceCents: row.unit_price_cents,
    }));
    return { ok: true, lines };
  }
  const failed = await tx.query<{ failure: ReservationFailure; detail: string }>(
    'SELECT failure, detail FROM reservation_failures WHERE tenant_id = $1 AND order_id = $2',
    [tenantId, orderId],
  );
  const failure = failed.rows[0];
  return failure && { ok: false, failure: failure.failure, detail: failure.detail };
}

/**
 * Reserves stock for an order, all lines or none, and records the outcome. The same order asked
 * again (a redelivered or repeated ReserveStock) gets its first outcome back and moves nothing.
 */
export async function reserveStock(
  tx: Queryable,
  tenantId: string,
  orderId: string,
  lines: readonly StockLine[],
): Promise<ReservationDecision> {
  const previous = await previousReservation(tx, tenantId, orderId);
  if (previous) return previous;

  const products = await lockProducts(
    tx,
    tenantId,
    lines.map((line) => line.sku),
  );
  const decision = decideReservation(lines, products);
  if (!decision.ok) {
    await tx.query(
      `INSERT INTO reservation_failures (tenant_id, order_id, failure, detail) VALUES ($1, $2, $3, $4)`,
      [tenantId, orderId, decision.failure, decision.detail],
    );
    return decision;
  }
  const skus = decision.lines.map((line) => line.sku);
  const quantities = decision.lines.map((line) => line.quantity);
  const prices = decision.lines.map((line) => line.unitPriceCents);
  await tx.query(
    `UPDATE products AS p
     SET available = p.available - r.quantity, reserved = p.reserved + r.quantity, updated_at = now()
     FROM unnest($2::text[], $3::bigint[]) AS r (sku, quantity)
     WHERE p.tenant_id = $1 AND p.sku = r.sku`,
    [tenantId, skus, quantities],
  );
  await tx.query(
    `INSERT INTO reservations (tenant_id, order_id, sku, quantity, unit_price_cents, status)
     SELECT $1, $2, r.sku, r.quantity, r.price, 'RESERVED'
     FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS r (sku, quantity, price)`,
    [tenantId, orderId, skus, quantities, prices],
  );
  return decision;
}

/** What settling an order's reservation did. */
export type Settlement =
  /** RESERVED lines moved to the target; `units` of stock settled. */
  | { kind: 'settled'; units: number }
  /** Already at the target (a repeated command): nothing moved. */
  | { kind: 'already' }
  /**
   * A release with nothing reserved: nothing moved, and the order is remembered as cancelled so
   * that its ReserveStock, if it still comes (a redrive, a late delivery), reserves nothing.
   */
  | { kind: 'cancelled' }
  /** The command contradicts the reservation (commit a released one, release a committed one). */
  | { kind: 'contradicts'; detail: string };

/**
 * Ends the order's RESERVED lines: RELEASED puts the units back on the shelf, COMMITTED lets them
 * leave the warehouse. Idempotent: a repeated release or commit finds nothing left to move.
 */
export async function settleReservation(
  tx: Queryable,
  tenantId: string,
  orderId: string,
  to: 'RELEASED' | 'COMMITTED',
): Promise<Settlement> {
  // Claiming the rows first makes a concurrent duplicate wait here and then find nothing left.
  const claimed = await tx.query<{ sku: string; quantity: number }>(
    `UPDATE reservations SET status = $3, updated_at = now()
     WHERE tenant_id = $1 AND order_id = $2 AND status = 'RESERVED'
     RETURNING sku, quantity`,
    [tenantId, orderId, to],
  );
  if (claimed.rows.length === 0) return settledBefore(tx, tenantId, orderId, to);
  const skus = claimed.rows.map((row) => row.sku);
  await lockProducts(tx, tenantId, skus);
  await tx.query(
    `UPDATE products AS p
     SET reserved = p.reserved - r.quantity,
         available = p.available + CASE WHEN $4::boolean THEN r.quantity ELSE 0 END,
         updated_at = now()
     FROM unnest($2::text[], $3::bigint[]) AS r (sku, quantity)
     WHERE p.tenant_id = $1 AND p.sku = r.sku`,
    [tenantId, skus, claimed.rows.map((row) => row.quantity), to === 'RELEASED'],
  );
  return { kind: 'settled', units: claimed.rows.reduce((units, row) => units + row.quantity, 0) };
}

/** Nothing was RESERVED: what the order's reservation was before, and what that means. */
async function settledBefore(
  tx: Queryable,
  tenantId: string,
  orderId: string,
  to: 'RELEASED' | 'COMMITTED',
): Promise<Settlement> {
  const { rows } = await tx.query<{ status: 'RELEASED' | 'COMMITTED' }>(
    'SELECT DISTINCT status FROM reservations WHERE tenant_id = $1 AND order_id = $2',
    [tenantId, orderId],
  );
  const previous = rows[0]?.status;
  if (previous === to) return { kind: 'already' };
  if (previous)
    return { kind: 'contradicts', detail: `the reservation is ${previous.toLowerCase()}` };
  if (to === 'COMMITTED') return { kind: 'contradicts', detail: 'nothing was reserved' };
  // A release before any reservation: remember it (a failed reservation stays as it was).
  await tx.query(
    `INSERT INTO reservation_failures (tenant_id, order_id, failure, detail)
     VALUES ($1, $2, 'CANCELLED', 'released before it was reserved')
     ON CONFLICT (tenant_id, order_id) DO NOTHING`,
    [tenantId, orderId],
  );
  return { kind: 'cancelled' };
}

/**
 * Locks, in one statement and in (tenant, sku) order, every product that a batch of commands
 * will change: the SKUs of the reservations to make and those of the orders' RESERVED lines to
 * settle. The batch's commands then run one by one (each takes its locks again, held already);
 * two batches of two partitions never wait for each other in a cycle.
 */
export async function lockStockOf(
  tx: Queryable,
  changes: {
    reserve: Array<{ tenantId: string; sku: string }>;
    settle: Array<{ tenantId: string; orderId: string }>;
  },
): Promise<void> {
  if (changes.reserve.length + changes.settle.length === 0) return;
  await tx.query(
    `SELECT 1 FROM products p
      WHERE (p.tenant_id, p.sku) IN (
              SELECT * FROM unnest($1::text[], $2::text[])
              UNION
              SELECT r.tenant_id, r.sku
                FROM reservations r
                JOIN unnest($3::text[], $4::text[]) AS s (tenant_id, order_id)
                  ON r.tenant_id = s.tenant_id AND r.order_id = s.order_id
               WHERE r.status = 'RESERVED')
      ORDER BY p.tenant_id, p.sku
        FOR UPDATE OF p`,
    [
      changes.reserve.map((line) => line.tenantId),
      changes.reserve.map((line) => line.sku),
      changes.settle.map((order) => order.tenantId),
      changes.settle.map((order) => order.orderId),
    ],
  );
}
