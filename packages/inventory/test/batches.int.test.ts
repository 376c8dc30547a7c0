import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sagaMessages as M } from '@bulkhead/contracts';
import type { Pool, PoolClient } from '@bulkhead/db';
import type { IncomingMessage } from '@bulkhead/event-bus';
import { inboxMigrations } from '@bulkhead/inbox';
import { createOutbox, outboxMigrations } from '@bulkhead/outbox';
import { commandHandler } from '@bulkhead/saga-participant';
import { migratedTestDatabase, testLogger, type MigratedTestDatabase } from '@bulkhead/testkit';
import { inventoryMigrations } from '../src/app.js';
import { inventoryRoutes, lockStockOfCommands } from '../src/commands.js';
import { getProduct, upsertProduct } from '../src/stock.js';

// Inventory's commands in batches, as its consumer runs them: one transaction per batch, every
// partition's batch at once. Batches that name the same products in opposite orders must not
// deadlock (PostgreSQL would abort one of them after deadlock_timeout, 1 s).
const tenantId = 'tenant-a';
const logger = testLogger('inventory-batches');
let db: MigratedTestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await migratedTestDatabase(
    'inventory_batches',
    [outboxMigrations, inboxMigrations, inventoryMigrations],
    { poolSize: 20 },
  );
  pool = db.pool;
});

afterAll(() => db?.drop());

function command<T extends { orderId: string }>(
  codec: { typeName: string; encode(body: T): Uint8Array },
  body: T,
): IncomingMessage {
  return {
    topic: 'cell-1.inventory.commands',
    partition: 0,
    offset: '0',
    key: body.orderId,
    payload: codec.encode(body),
    envelope: {
      messageId: randomUUID(),
      type: codec.typeName,
      tenantId,
      cellId: 'cell-1',
      correlationId: body.orderId,
      occurredAt: new Date().toISOString(),
    },
  };
}

const reserve = (orderId: string, sku: string) =>
  command(M.ReserveStock, { orderId, lines: [{ sku, quantity: 1 }] });
const each = <T>(_: IncomingMessage, work: () => Promise<T>): Promise<T> => work();

describe('inventory commands in batches', () => {
  it('batches naming the same products in opposite orders all commit, without a deadlock', async () => {
    const skus = ['left', 'right'];
    for (const sku of skus) {
      await upsertProduct(pool, { tenantId, sku, name: sku, priceCents: 100, stock: 1_000 });
    }
    const handler = commandHandler(
      { pool, logger, outbox: createOutbox(), cellId: 'cell-1', service: 'inventory' },
      inventoryRoutes(logger),
      { prepareBatch: lockStockOfCommands },
    );
    // 8 batches at once, half left → right, half right → left; each order reserved, then
    // committed or released in a second round of batches. A deadlock would reject one of them
    // ("deadlock detected", as it does without prepareBatch).
    const orders = Array.from({ length: 8 }, () => [randomUUID(), randomUUID()] as const);
    await Promise.all(
      orders.map(([a, b], i) =>
        handler.batch(
          i % 2 === 0
            ? [reserve(a, 'left'), reserve(b, 'right')]
            : [reserve(a, 'right'), reserve(b, 'left')],
          each,
        ),
      ),
    );
    await Promise.all(
      orders.map(([a, b], i) =>
        handler.batch(
          i % 2 === 0
            ? [command(M.CommitStock, { orderId: a }), command(M.ReleaseStock, { orderId: b })]
            : [command(M.ReleaseStock, { orderId: b }), command(M.CommitStock, { orderId: a })],
          each,
        ),
      ),
    );
    // Each side: 8 orders reserved one unit; 4 of those committed (left), 4 released.
    for (const sku of skus) {
      expect(await getProduct(pool, tenantId, sku)).toMatchObject({ available: 996, reserved: 0 });
    }
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
    expect(rows[0]?.n).toBe(32); // every command answered
  });

  it('sums a batch’s stock changes per product and writes each product once', async () => {
    const sku = `mug-${randomUUID()}`;
    await upsertProduct(pool, { tenantId, sku, name: 'mug', priceCents: 250, stock: 7 });
    const handler = commandHandler(
      { pool, logger, outbox: createOutbox(), cellId: 'cell-1', service: 'inventory' },
      inventoryRoutes(logger),
      { prepareBatch: lockStockOfCommands },
    );
    // Ten orders of one unit each against 7 in stock, in one batch: the first 7 reserve, the
    // last 3 find none left (each command sees what the earlier ones of the batch did).
    const orders = Array.from({ length: 10 }, () => randomUUID());
    const reserving = await statementsOf(() =>
      handler.batch(
        orders.map((orderId) => reserve(orderId, sku)),
        each,
      ),
    );
    expect(await getProduct(pool, tenantId, sku)).toMatchObject({ available: 0, reserved: 7 });
    expect(await repliesTo(orders)).toEqual([
      ...Array.from({ length: 7 }, () => M.StockReserved.typeName),
      ...Array.from({ length: 3 }, () => M.StockReservationFailed.typeName),
    ]);
    expect(reserving.filter((sql) => /UPDATE products/.test(sql))).toHaveLength(1);

    // Then 4 commits and 3 releases (and a release of a failed one) in one batch: once more.
    const settling = await statementsOf(() =>
      handler.batch(
        orders
          .slice(0, 8)
          .map((orderId, i) => command(i < 4 ? M.CommitStock : M.ReleaseStock, { orderId })),
        each,
      ),
    );
    expect(await getProduct(pool, tenantId, sku)).toMatchObject({ available: 3, reserved: 0 });
    expect(settling.filter((sql) => /UPDATE products/.test(sql))).toHaveLength(1);
  });
});

/** The reply types the outbox holds for these orders, in the orders' order. */
async function repliesTo(orderIds: string[]): Promise<string[]> {
  const { rows } = await pool.query<{ message_key: string; message_type: string }>(
    'SELECT message_key, message_type FROM outbox WHERE message_key = ANY($1)',
    [orderIds],
  );
  const types = new Map(rows.map((row) => [row.message_key, row.message_type]));
  return orderIds.map((id) => types.get(id) ?? 'none');
}

/** The statements the pool's connections send while `work` runs, as PostgreSQL gets them. */
async function statementsOf(work: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const spied: PoolClient[] = [];
  const spy = (client: PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const [text] = args;
      seen.push(typeof text === 'string' ? text : ((text as { text?: string }).text ?? ''));
      return query(...args);
    };
    spied.push(client);
  };
  pool.on('acquire', spy);
  try {
    await work();
  } finally {
    pool.off('acquire', spy);
    for (const client of spied) delete (client as { query?: unknown }).query;
  }
  return seen;
}
