/**
 * The orders service under pressure, against real PostgreSQL and Kafka: the saga backlog bound
 * (backpressure from the asynchronous leg) and the caller's deadline honoured, so that a call
 * the caller gave up on leaves no order behind.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellTopic } from '@bulkhead/cell';
import { inventoryMessagesV1, ordersV1, sagaMessages } from '@bulkhead/contracts';
import { createGrpcClient, Status, type GrpcClient } from '@bulkhead/grpc';
import {
  createTestBus,
  startCellService,
  testCellId,
  type CellServiceUnderTest,
  type Collector,
  type TestBus,
} from '@bulkhead/saga-driver';
import { parseExposition, sampleValue } from '@bulkhead/metrics';
import { eventually, grpcError } from '@bulkhead/testkit';
import { orders as ordersService } from '../src/index.js';

const cellId = testCellId();
const MAX_OPEN_SAGAS = 2;
let orders: CellServiceUnderTest;
let client: GrpcClient<typeof ordersV1.OrdersServiceService>;
let testBus: TestBus;
let commands: Collector;
const tenantId = 'tenant-overload';

beforeAll(async () => {
  orders = await startCellService(cellId, ordersService, {
    MAX_OPEN_SAGAS: String(MAX_OPEN_SAGAS),
  });
  client = createGrpcClient(ordersV1.OrdersServiceService, orders.grpcAddress);
  testBus = createTestBus('orders-overload-test');
  commands = await testBus.collect([cellTopic(cellId, 'inventory', 'commands')]);
}, 90_000);

afterAll(async () => {
  client?.close();
  await testBus?.close();
  await orders?.stop();
});

const order = (customerId = 'c-1') => ({
  tenantId,
  customerId,
  items: [{ sku: 'SKU-1', quantity: 1, unitPriceCents: 0 }],
  paymentToken: 'tok_visa',
  idempotencyKey: '',
  requestFingerprint: '',
});

const countOrders = async (customerId: string) =>
  (
    await orders.app.context.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM orders WHERE customer_id = $1',
      [customerId],
    )
  ).rows[0]?.n;

describe('deadlines', () => {
  it('a call whose deadline passes while its transaction waits is rolled back: no ghost order', async () => {
    const customerId = `ghost-${randomUUID()}`;
    // Another session holds the orders table: the order's INSERT waits behind it.
    const blocker = await orders.app.context.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const error = await grpcError(client.createOrder(order(customerId), { deadlineMs: 300 }));
      expect(error.code).toBe(Status.DEADLINE_EXCEEDED);
      expect(Date.now() - started).toBeLessThan(2_000);
      // The server gave up too, while the lock is still held: its statement timed out with the
      // deadline (nothing waits for the lock any more) and the transaction rolled back.
      await eventually(
        async () => {
          const { rows } = await blocker.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks
              WHERE NOT granted
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          );
          return rows[0]?.n === 0 ? true : undefined;
        },
        { timeoutMs: 5_000 },
      );
      await blocker.query('COMMIT');
    } finally {
      blocker.release();
    }
    expect(await countOrders(customerId)).toBe(0);
  });
});

describe('saga backlog bound', () => {
  it('refuses new orders at once while the cell has MAX_OPEN_SAGAS open, admits again after', async () => {
    const customerId = `backlog-${randomUUID()}`;
    const open = [];
    for (let i = 0; i < MAX_OPEN_SAGAS; i++)
      open.push((await client.createOrder(order(customerId))).order!);
    const started = performance.now();
    const refused = await grpcError(client.createOrder(order(customerId)));
    expect(performance.now() - started).toBeLessThan(50);
    expect(refused).toMatchObject({
      code: Status.RESOURCE_EXHAUSTED,
      reason: 'saga_backlog_full',
    });
    expect(await countOrders(customerId)).toBe(MAX_OPEN_SAGAS);
    const samples = parseExposition(await orders.app.metrics!.scrape());
    expect(sampleValue(samples, 'saga_backlog_rejections_total')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, 'saga_open', { saga: 'order' })).toBeGreaterThanOrEqual(
      MAX_OPEN_SAGAS,
    );

    // One saga ends (its reservation fails): room for exactly one more order.
    const first = open[0]!;
    const reserve = await eventually(async () =>
      commands.received.find(
        (m) =>
          m.envelope.correlationId === first.id &&
          m.envelope.type === sagaMessages.ReserveStock.typeName,
      ),
    );
    await testBus.bus.publish([
      {
        topic: cellTopic(cellId, 'orders', 'saga-replies'),
        key: reserve.key,
        envelope: {
          messageId: randomUUID(),
          type: sagaMessages.StockReservationFailed.typeName,
          tenantId,
          cellId,
          correlationId: first.id,
          causationId: reserve.envelope.messageId,
          occurredAt: new Date().toISOString(),
        },
        payload: sagaMessages.StockReservationFailed.encode({
          orderId: first.id,
          failure: inventoryMessagesV1.ReservationFailure.RESERVATION_FAILURE_OUT_OF_STOCK,
          detail: 'SKU-1',
        }),
      },
    ]);
    await eventually(
      async () => {
        const reply = await client.createOrder(order(customerId)).catch(() => undefined);
        return reply?.order;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(await countOrders(customerId)).toBe(MAX_OPEN_SAGAS + 1);
    await expect(grpcError(client.createOrder(order(customerId)))).resolves.toMatchObject({
      code: Status.RESOURCE_EXHAUSTED,
    });
  });
});
