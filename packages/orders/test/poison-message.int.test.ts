/**
 * One tenant's bad data does not halt a cell: the three services of a cell in this process (real
 * PostgreSQL and Kafka), payments' handler failing every AuthorizePayment of one tenant (a fault
 * injected through its event bus). That tenant's order is dead-lettered, answered CommandFailed,
 * and ends REJECTED `processing_failed` with its stock released; the other tenant's orders,
 * placed after it, are confirmed meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellTopic } from '@bulkhead/cell';
import { inventoryV1, ordersV1, sagaMessages as M } from '@bulkhead/contracts';
import { deadLetterTopic, type EventBus, type MessageHandler } from '@bulkhead/event-bus';
import { createGrpcClient, type GrpcClient } from '@bulkhead/grpc';
import { inventory } from '@bulkhead/inventory';
import { payments } from '@bulkhead/payments';
import {
  createTestBus,
  startCellService,
  testCellId,
  type CellServiceUnderTest,
  type Collector,
  type TestBus,
} from '@bulkhead/saga-driver';
import { parseExposition, sampleValue } from '@bulkhead/metrics';
import { eventually } from '@bulkhead/testkit';
import { orders } from '../src/index.js';

const cellId = testCellId();
const poisoned = 'tenant-poisoned';
const healthy = 'tenant-healthy';
const started: CellServiceUnderTest[] = [];
let testBus: TestBus;
let deadLetters: Collector;
let ordersClient: GrpcClient<typeof ordersV1.OrdersServiceService>;
let inventoryClient: GrpcClient<typeof inventoryV1.InventoryServiceService>;

/** The bus payments gets: its handler throws for every AuthorizePayment of the poisoned tenant. */
function poisoning(bus: EventBus): EventBus {
  const poison =
    (handler: MessageHandler): MessageHandler =>
    async (message) => {
      const { tenantId, type } = message.envelope;
      if (tenantId === poisoned && type === M.AuthorizePayment.typeName) {
        throw new Error('this tenant’s payment data breaks the handler');
      }
      await handler(message);
    };
  return {
    ...bus,
    subscribe: (options) => bus.subscribe({ ...options, handler: poison(options.handler) }),
  };
}

beforeAll(async () => {
  testBus = createTestBus('poison');
  const ordersService = await startCellService(cellId, orders);
  started.push(ordersService);
  const inventoryService = await startCellService(cellId, inventory);
  started.push(inventoryService);
  started.push(await startCellService(cellId, payments, {}, { bus: poisoning(testBus.bus) }));
  deadLetters = await testBus.collect([deadLetterTopic(cellTopic(cellId, 'payments', 'commands'))]);
  ordersClient = createGrpcClient(ordersV1.OrdersServiceService, ordersService.grpcAddress);
  inventoryClient = createGrpcClient(
    inventoryV1.InventoryServiceService,
    inventoryService.grpcAddress,
  );
  for (const tenantId of [poisoned, healthy]) {
    await inventoryClient.upsertProduct({
      tenantId,
      sku: 'P-1',
      name: 'P',
      priceCents: 100,
      stock: 50,
    });
  }
}, 120_000);

afterAll(async () => {
  ordersClient?.close();
  inventoryClient?.close();
  for (const service of started.reverse()) await service.stop();
  await testBus?.close();
});

const placeOrder = async (tenantId: string) =>
  (
    await ordersClient.createOrder({
      tenantId,
      customerId: 'c-1',
      items: [{ sku: 'P-1', quantity: 1, unitPriceCents: 0 }],
      paymentToken: 'tok_visa',
      idempotencyKey: '',
      requestFingerprint: '',
    })
  ).order!.id;

const ended = (tenantId: string, orderId: string) =>
  eventually(
    async () => {
      const order = (await ordersClient.getOrder({ tenantId, orderId })).order!;
      return order.status === ordersV1.OrderStatus.ORDER_STATUS_PENDING
        ? undefined
        : { ...order, endedAt: Date.now() };
    },
    { timeoutMs: 60_000, intervalMs: 20 },
  );

describe('a message that always fails', () => {
  it('is dead-lettered and its order rejected, while other tenants’ orders flow on', async () => {
    const bad = await placeOrder(poisoned);
    const good = await Promise.all(Array.from({ length: 6 }, () => placeOrder(healthy)));
    const [badOrder, ...goodOrders] = await Promise.all([
      ended(poisoned, bad),
      ...good.map((id) => ended(healthy, id)),
    ]);
    expect(badOrder).toMatchObject({
      status: ordersV1.OrderStatus.ORDER_STATUS_REJECTED,
      reason: 'processing_failed',
    });
    for (const order of goodOrders) {
      expect(order.status).toBe(ordersV1.OrderStatus.ORDER_STATUS_CONFIRMED);
    }
    // Its retries did not hold the cell up: orders placed after it were confirmed first.
    expect(Math.min(...goodOrders.map((o) => o.endedAt))).toBeLessThan(badOrder!.endedAt);

    const letter = await eventually(async () =>
      deadLetters.received.find((m) => m.envelope.correlationId === bad),
    );
    expect(letter.envelope.type).toBe(M.AuthorizePayment.typeName);
    // The stock it reserved is released.
    await eventually(async () => {
      const product = (await inventoryClient.getProduct({ tenantId: poisoned, sku: 'P-1' }))
        .product!;
      return product.reserved === 0 ? product : undefined;
    });
    expect(
      (await inventoryClient.getProduct({ tenantId: poisoned, sku: 'P-1' })).product,
    ).toMatchObject({
      available: 50,
      reserved: 0,
    });
    // orders counted the saga it had to compensate, with its reason: once it has handled
    // inventory's answer to the release (the order is REJECTED from the start of the
    // compensation; the saga ends, and is counted, when the compensation is done).
    const compensated = async () =>
      sampleValue(parseExposition(await started[0]!.app.metrics!.scrape()), 'saga_ended_total', {
        outcome: 'compensated',
        reason: 'processing_failed',
      });
    await eventually(async () => ((await compensated()) === 1 ? true : undefined));
    expect(await compensated()).toBe(1);
  }, 90_000);
});
