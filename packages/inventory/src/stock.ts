import { transactionOf, type Queryable, type Transaction } from '@bulkhead/db';
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

/** A product row as a batch holds it: locked, its levels as the batch's changes leave them. */
interface HeldRow {
  tenantId: string;
  sku: string;
  available: number;
  priceCents: number;
  /** What the batch's commands moved, summed: written back before COMMIT. */
  availableDelta: number;
  reservedDelta: number;
  changed: boolean;
}

const rowKey = (tenantId: string, sku: string) => `${tenantId}\u0000${sku}`;

/**
 * The product rows a batch of commands locked in one statement (lockStockOf), held in memory
 * for the batch's transaction: each command reads and changes the levels here instead of
 * locking and updating its rows itself, and the rows changed are written back in one UPDATE just
 * before COMMIT (a product ten reservations of the batch name is updated once, by their sum).
 */
const heldStock = new WeakMap<Transaction, Map<string, HeldRow>>();

function holdRows(tx: Queryable, rows: ReadonlyArray<Omit<ProductRow, 'name'>>): void {
  const transaction = transactionOf(tx);
  if (!transaction) return; // not withTransaction's: every command writes its own rows
  let held = heldStock.get(transaction);
  if (!held) {
    const rowsOfBatch = new Map<string, HeldRow>();
    held = rowsOfBatch;
    heldStock.set(transaction, rowsOfBatch);
    transaction.beforeCommit(() => writeBack(tx, [...rowsOfBatch.values()]));
  }
  for (const row of rows) {
    if (held.has(rowKey(row.tenant_id, row.sku))) continue; // its levels are the batch's now
    held.set(rowKey(row.tenant_id, row.sku), {
      tenantId: row.tenant_id,
      sku: row.sku,
      available: row.available,
      priceCents: row.price_cents,
      availableDelta: 0,
      reservedDelta: 0,
      changed: false,
    });
  }
}

/** What a batch moved on its held rows, summed per row, in one statement. */
async function writeBack(tx: Queryable, rows: readonly HeldRow[]): Promise<void> {
  const changed = rows.filter((row) => row.changed);
  if (changed.length === 0) return;
  await tx.query(
    `UPDATE products AS p
        SET available = p.available + r.available, reserved = p.reserved + r.reserved,
            updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
            AS r (tenant_id, sku, available, reserved)
      WHERE p.tenant_id = r.tenant_id AND p.sku = r.sku`,
    [
      changed.map((row) => row.tenantId),
      changed.map((row) => row.sku),
      changed.map((row) => row.availableDelta),
      changed.map((row) => row.reservedDelta),
    ],
  );
}

/**
 * Locks the tenant's rows of these skus FOR UPDATE, always in sku order: every transaction that
 * changes stock locks through here, so two of them never wait for each other in a cycle. In a
 * batch that holds them already (lockStockOf), no statement: the batch's levels.
 */
async function lockProducts(
  tx: Queryable,
  tenantId: string,
  skus: string[],
): Promise<Map<string, StockLevel>> {
  const held = heldRowsOf(tx);
  const missing = held ? skus.filter((sku) => !held.has(rowKey(tenantId, sku))) : skus;
  const locked = new Map<string, StockLevel>();
  if (missing.length > 0) {
    const result = await tx.query<Omit<ProductRow, 'name'>>(
      `SELECT tenant_id, sku, available, reserved, price_cents FROM products
       WHERE tenant_id = $1 AND sku = ANY($2::text[])
       ORDER BY sku
       FOR UPDATE`,
      [tenantId, missing],
    );
    if (held) holdRows(tx, result.rows);
    for (const row of result.rows) {
      locked.set(row.sku, { available: row.available, priceCents: row.price_cents });
    }
  }
  for (const sku of skus) {
    const row = held?.get(rowKey(tenantId, sku));
    if (row) locked.set(sku, { available: row.available, priceCents: row.priceCents });
  }
  return locked;
}

function heldRowsOf(tx: Queryable): Map<string, HeldRow> | undefined {
  const transaction = transactionOf(tx);
  return transaction && heldStock.get(transaction);
}

/**
 * Moves units between available and reserved on locked rows (by the deltas given): in a batch
 * that holds the rows, in memory (written back once before COMMIT); otherwise one UPDATE.
 */
async function changeStock(
  tx: Queryable,
  tenantId: string,
  changes: ReadonlyArray<{ sku: string; available: number; reserved: number }>,
): Promise<void> {
  const held = heldRowsOf(tx);
  if (held && changes.every(({ sku }) => held.has(rowKey(tenantId, sku)))) {
    for (const change of changes) {
      const row = held.get(rowKey(tenantId, change.sku))!;
      row.available += change.available;
      row.availableDelta += change.available;
      row.reservedDelta += change.reserved;
      row.changed = true;
    }
    return;
  }
  await tx.query(
    `UPDATE products AS p
     SET available = p.available + r.available, reserved = p.reserved + r.reserved,
         updated_at = now()
     FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS r (sku, available, reserved)
     WHERE p.tenant_id = $1 AND p.sku = r.sku`,
    [
      tenantId,
      changes.map((change) => change.sku),
      changes.map((change) => change.available),
      changes.map((change) => change.reserved),
    ],
  );
}

/** The earlier outcome of this order's reservation, if there was one. */
async function previousReservation(
  tx: Queryable,
  tenantId: string,
  orderId: string,
): Promise<ReservationDecision | undefined> {
  // Both kinds of outcome in one statement: the reserved lines, else the failure.
  const { rows } = await tx.query<
    | { sku: string; quantity: number; unit_price_cents: number; failure: null; detail: null }
    | {
        sku: null;
        quantity: null;
        unit_price_cents: null;
        failure: ReservationFailure;
        detail: string;
      }
  >(
    `SELECT sku, quantity, unit_price_cents, NULL AS failure, NULL AS detail FROM reservations
      WHERE tenant_id = $1 AND order_id = $2
     UNION ALL
     SELECT NULL, NULL, NULL, failure, detail FROM reservation_failures
      WHERE tenant_id = $1 AND order_id = $2
     ORDER BY sku`,
    [tenantId, orderId],
  );
  const lines: PricedLine[] = [];
  let failed: ReservationDecision | undefined;
  for (const row of rows) {
    if (row.failure === null) {
      lines.push({ sku: row.sku, quantity: row.quantity, unitPriceCents: row.unit_price_cents });
    } else {
      failed = { ok: false, failure: row.failure, detail: row.detail };
    }
  }
  return lines.length > 0 ? { ok: true, lines } : failed;
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
  await changeStock(
    tx,
    tenantId,
    decision.lines.map(({ sku, quantity }) => ({ sku, available: -quantity, reserved: quantity })),
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
  await changeStock(
    tx,
    tenantId,
    claimed.rows.map(({ sku, quantity }) => ({
      sku,
      available: to === 'RELEASED' ? quantity : 0,
      reserved: -quantity,
    })),
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
 * settle; two batches of two partitions never wait for each other in a cycle. The rows are then
 * held for the batch's transaction: its commands, run one by one, read and change their levels in
 * memory, and each row changed is written once, by the sum of the changes, before COMMIT.
 */
export async function lockStockOf(
  tx: Queryable,
  changes: {
    reserve: Array<{ tenantId: string; sku: string }>;
    settle: Array<{ tenantId: string; orderId: string }>;
  },
): Promise<void> {
  if (changes.reserve.length + changes.settle.length === 0) return;
  const locked = await tx.query<Omit<ProductRow, 'name'>>(
    `SELECT p.tenant_id, p.sku, p.available, p.reserved, p.price_cents FROM products p
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
  holdRows(tx, locked.rows);
}
