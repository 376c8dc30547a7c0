import { randomUUID } from 'node:crypto';
import { type Pool, withTransaction } from '@bulkhead/db';
import { migratedTestDatabase, type MigratedTestDatabase } from '@bulkhead/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryMigrations } from '../src/app.js';
import { getProduct, reserveStock, settleReservation, upsertProduct } from '../src/stock.js';

// The stock functions straight against PostgreSQL, with more concurrency than the app's consumer
// gives them: every call is its own transaction on its own connection.
const tenantId = 'tenant-a';
let db: MigratedTestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await migratedTestDatabase('inventory_stock', [inventoryMigrations], { poolSize: 20 });
  pool = db.pool;
});

afterAll(() => db?.drop());

const stock = (sku: string, units: number) =>
  upsertProduct(pool, { tenantId, sku, name: sku, priceCents: 100, stock: units });

describe('stock under concurrency', () => {
  it('never oversells when 20 transactions race for 5 units', async () => {
    await stock('race', 5);
    const decisions = await Promise.all(
      Array.from({ length: 20 }, () =>
        withTransaction(pool, (tx) =>
          reserveStock(tx, tenantId, randomUUID(), [{ sku: 'race', quantity: 1 }]),
        ),
      ),
    );
    expect(decisions.filter((d) => d.ok)).toHaveLength(5);
    expect(decisions.filter((d) => !d.ok && d.failure === 'OUT_OF_STOCK')).toHaveLength(15);
    expect(await getProduct(pool, tenantId, 'race')).toMatchObject({ available: 0, reserved: 5 });
  });

  it('reserves, releases and commits concurrently for orders naming skus in opposite orders', async () => {
    await stock('left', 100);
    await stock('right', 100);
    const orders = Array.from({ length: 20 }, (_, i) => ({
      orderId: randomUUID(),
      lines:
        i % 2 === 0
          ? [
              { sku: 'left', quantity: 1 },
              { sku: 'right', quantity: 1 },
            ]
          : [
              { sku: 'right', quantity: 1 },
              { sku: 'left', quantity: 1 },
            ],
    }));
    const reserved = await Promise.all(
      orders.map(({ orderId, lines }) =>
        withTransaction(pool, (tx) => reserveStock(tx, tenantId, orderId, lines)),
      ),
    );
    expect(reserved.every((d) => d.ok)).toBe(true);

    // Half released, half committed, all at once.
    await Promise.all(
      orders.map(({ orderId }, i) =>
        withTransaction(pool, (tx) =>
          settleReservation(tx, tenantId, orderId, i % 2 === 0 ? 'RELEASED' : 'COMMITTED'),
        ),
      ),
    );
    for (const sku of ['left', 'right']) {
      expect(await getProduct(pool, tenantId, sku)).toMatchObject({ available: 90, reserved: 0 });
    }
  });

  it('settles a reservation once even when the same release races itself', async () => {
    await stock('twice', 10);
    const orderId = randomUUID();
    await withTransaction(pool, (tx) =>
      reserveStock(tx, tenantId, orderId, [{ sku: 'twice', quantity: 4 }]),
    );
    const settled = await Promise.all(
      Array.from({ length: 5 }, () =>
        withTransaction(pool, (tx) => settleReservation(tx, tenantId, orderId, 'RELEASED')),
      ),
    );
    expect(settled.filter((s) => s.kind === 'settled')).toEqual([{ kind: 'settled', units: 4 }]);
    expect(settled.filter((s) => s.kind === 'already')).toHaveLength(4);
    expect(await getProduct(pool, tenantId, 'twice')).toMatchObject({ available: 10, reserved: 0 });
  });

  it('moves stock once when the same reservation races itself; the losers can retry', async () => {
    await stock('same-order', 10);
    const orderId = randomUUID();
    const attempt = () =>
      withTransaction(pool, (tx) =>
        reserveStock(tx, tenantId, orderId, [{ sku: 'same-order', quantity: 3 }]),
      );
    const results = await Promise.allSettled(Array.from({ length: 5 }, attempt));

    // Whoever started after the first committed got its outcome back; whoever overlapped with it
    // hit the reservation's primary key and rolled back (23505 unique_violation) ...
    const expected = { ok: true, lines: [{ sku: 'same-order', quantity: 3, unitPriceCents: 100 }] };
    for (const result of results) {
      if (result.status === 'fulfilled') expect(result.value).toEqual(expected);
      else expect((result.reason as { code?: string }).code).toBe('23505');
    }
    expect(await getProduct(pool, tenantId, 'same-order')).toMatchObject({
      available: 7,
      reserved: 3,
    });
    // ... and a retry (the event bus retries failed handlers) gets the first outcome.
    expect(await attempt()).toEqual(expected);
    expect(await getProduct(pool, tenantId, 'same-order')).toMatchObject({
      available: 7,
      reserved: 3,
    });
  });
});
