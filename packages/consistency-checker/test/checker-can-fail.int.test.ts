/**
 * The checker can fail: against the real orders service and its real database, one safeguard is
 * disabled on purpose and the checker must report what that breaks.
 *
 * The safeguard: the Idempotency-Key record (packages/idempotency, the `idempotency_keys` row
 * written in the same transaction as the order). The test deletes it between a client's first
 * attempt — whose answer the client lost, as under a partition or a killed gateway — and the
 * client's retry with the same key. Without the record the retry creates a second order for one
 * logical operation; the checker must report `one-order-per-key` naming the key and both orders.
 * With the record kept, the retry is answered from it and the checker reports no such violation.
 * (Removing the inbox instead would show nothing here: inventory and payments are idempotent per
 * order, so a redelivered command has no second effect either way.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ordersV1 } from '@bulkhead/contracts';
import { createGrpcClient, type GrpcClient } from '@bulkhead/grpc';
import { orders as ordersService } from '@bulkhead/orders';
import { startCellService, testCellId, type CellServiceUnderTest } from '@bulkhead/saga-driver';
import { infra } from '@bulkhead/testkit';
import { databaseUrl } from '@bulkhead/db';
import { check, readCellState, type HistoryEvent } from '../src/index.js';

const cellId = testCellId();
const tenant = 'tenant-checker';
let orders: CellServiceUnderTest;
let client: GrpcClient<typeof ordersV1.OrdersServiceService>;
let database: string;

beforeAll(async () => {
  orders = await startCellService(cellId, ordersService);
  client = createGrpcClient(ordersV1.OrdersServiceService, orders.grpcAddress);
  database = orders.app.context.config.database;
}, 90_000);

afterAll(async () => {
  client?.close();
  await orders?.stop();
});

async function sql(text: string, values: unknown[]): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl(infra.pgUrl, database) });
  await c.connect();
  try {
    await c.query(text, values);
  } finally {
    await c.end();
  }
}

/** One logical operation: a first attempt whose answer is lost, then the retry with the same key. */
async function placeTwice(key: string, loseTheRecord: boolean): Promise<HistoryEvent[]> {
  const customerId = `customer-${key}`;
  const items = [{ sku: 'SKU-1', quantity: 1 }];
  const scope = { f: 'place' as const, process: 1, tenant, cell: cellId, op: 1, key, customerId };
  const create = () =>
    client.createOrder({
      tenantId: tenant,
      customerId,
      items: items.map((i) => ({ ...i, unitPriceCents: 0 })),
      paymentToken: 'tok_visa',
      idempotencyKey: key,
      requestFingerprint: 'fingerprint-of-the-body',
    });
  const history: HistoryEvent[] = [];
  history.push({
    ...scope,
    type: 'invoke',
    at: Date.now(),
    attempt: 1,
    items,
    paymentToken: 'tok_visa',
  });
  await create(); // done by the cell, but the client never heard back:
  history.push({ ...scope, type: 'info', at: Date.now(), attempt: 1, error: 'TimeoutError' });
  if (loseTheRecord) {
    await sql('DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2', [tenant, key]);
  }
  history.push({
    ...scope,
    type: 'invoke',
    at: Date.now(),
    attempt: 2,
    items,
    paymentToken: 'tok_visa',
  });
  const retry = await create();
  history.push({
    ...scope,
    type: 'ok',
    at: Date.now(),
    attempt: 2,
    orderId: retry.order!.id,
    status: 'PENDING',
    http: 202,
  });
  return history;
}

const stateNow = () =>
  readCellState(infra.pgUrl, { cellId, orders: database, inventory: null, payments: null }, [
    tenant,
  ]);

describe('the checker against a disabled safeguard', () => {
  it('reports two orders for one Idempotency-Key when the key record is lost between retries', async () => {
    const history = await placeTwice('key-lost', true);
    const report = check(history, [await stateNow()], { terminalBoundMs: 60_000 });
    const found = report.violations.filter((v) => v.invariant === 'one-order-per-key');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ key: 'key-lost', tenant });
    expect(found[0]!.evidence.orderIds).toHaveLength(2);
  });

  it('reports nothing of the kind with the record in place (the retry is answered from it)', async () => {
    const history = await placeTwice('key-kept', false);
    const report = check(history, [await stateNow()], { terminalBoundMs: 60_000 });
    const mine = report.violations.filter((v) => v.key === 'key-kept');
    expect(mine.filter((v) => v.invariant === 'one-order-per-key')).toEqual([]);
    // The database holds exactly one order for that operation.
    const state = await stateNow();
    expect(state.orders.filter((o) => o.customerId === 'customer-key-kept')).toHaveLength(1);
  });
});
