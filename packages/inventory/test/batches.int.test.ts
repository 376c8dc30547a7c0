import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sagaMessages as M } from '@bulkhead/contracts';
import type { Pool } from '@bulkhead/db';
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
});
