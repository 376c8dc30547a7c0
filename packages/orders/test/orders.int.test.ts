/**
 * The orders app against real PostgreSQL and Kafka, with the test playing inventory and payments:
 * it reads the saga's commands from the command topics and answers on the replies topic.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellTopic } from '@bulkhead/cell';
import {
  inventoryMessagesV1,
  ordersV1,
  sagaMessages,
  type MessageCodec,
} from '@bulkhead/contracts';
import type { IncomingMessage } from '@bulkhead/event-bus';
import { createGrpcClient, Status, type GrpcClient } from '@bulkhead/grpc';
import {
  createTestBus,
  startCellService,
  testCellId,
  type CellServiceUnderTest,
  type Collector,
  type TestBus,
} from '@bulkhead/saga-driver';
import { eventually } from '@bulkhead/testkit';
import { orders as ordersService, type OrdersApp } from '../src/index.js';

const cellId = testCellId();
const topics = {
  inventoryCommands: cellTopic(cellId, 'inventory', 'commands'),
  paymentsCommands: cellTopic(cellId, 'payments', 'commands'),
  sagaReplies: cellTopic(cellId, 'orders', 'saga-replies'),
  orderEvents: cellTopic(cellId, 'orders', 'events'),
};
let orders: CellServiceUnderTest;
let app: OrdersApp;
let testBus: TestBus;
let seen: Collector;
let client: GrpcClient<typeof ordersV1.OrdersServiceService>;

beforeAll(async () => {
  orders = await startCellService(cellId, ordersService);
  app = orders.app;
  testBus = createTestBus('orders-test');
  seen = await testBus.collect([
    topics.inventoryCommands,
    topics.paymentsCommands,
    topics.orderEvents,
  ]);
  client = createGrpcClient(ordersV1.OrdersServiceService, orders.grpcAddress);
}, 90_000);

afterAll(async () => {
  client?.close();
  await testBus?.close();
  await orders?.stop();
});

const tenantId = 'tenant-a';

async function createOrder(overrides: Partial<ordersV1.CreateOrderRequest> = {}) {
  const response = await client.createOrder({
    tenantId,
    customerId: 'c-1',
    items: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 0 }],
    paymentToken: 'tok_visa',
    idempotencyKey: '',
    requestFingerprint: '',
    ...overrides,
  });
  return response.order!;
}

/** Waits for the next message of this type about this order. */
function next<T>(
  orderId: string,
  codec: MessageCodec<T>,
): Promise<{ message: IncomingMessage; body: T }> {
  return eventually(async () => {
    const message = seen.received.find(
      (m) => m.envelope.correlationId === orderId && m.envelope.type === codec.typeName,
    );
    return message ? { message, body: codec.decode(message.payload) } : undefined;
  });
}

async function reply<T>(
  command: IncomingMessage,
  codec: MessageCodec<T>,
  body: T,
  messageId = randomUUID(),
) {
  await testBus.bus.publish([
    {
      topic: topics.sagaReplies,
      key: command.key,
      envelope: {
        messageId,
        type: codec.typeName,
        tenantId: command.envelope.tenantId,
        cellId,
        correlationId: command.envelope.correlationId,
        causationId: command.envelope.messageId,
        occurredAt: new Date().toISOString(),
      },
      payload: codec.encode(body),
    },
  ]);
  return messageId;
}

async function status(orderId: string) {
  const response = await client.getOrder({ tenantId, orderId });
  return response.order!;
}

const M = sagaMessages;

describe('orders saga orchestration', () => {
  it('runs reserve → authorize → commit → capture to CONFIRMED, with prices from the reservation', async () => {
    const order = await createOrder();
    expect(order.status).toBe(ordersV1.OrderStatus.ORDER_STATUS_PENDING);

    const reserve = await next(order.id, M.ReserveStock);
    expect(reserve.body.lines).toEqual([{ sku: 'SKU-1', quantity: 2 }]);
    expect(reserve.message.envelope).toMatchObject({ tenantId, cellId, correlationId: order.id });
    expect(reserve.message.key).toBe(order.id);
    await reply(reserve.message, M.StockReserved, {
      orderId: order.id,
      lines: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 700 }],
    });

    const authorize = await next(order.id, M.AuthorizePayment);
    expect(authorize.body).toMatchObject({
      amountCents: 1400,
      paymentToken: 'tok_visa',
      customerId: 'c-1',
    });
    expect(authorize.message.envelope.causationId).toBeDefined();
    await reply(authorize.message, M.PaymentAuthorized, { orderId: order.id, paymentId: 'p-1' });

    const commit = await next(order.id, M.CommitStock);
    await reply(commit.message, M.StockCommitted, { orderId: order.id });
    const capture = await next(order.id, M.CapturePayment);
    await reply(capture.message, M.PaymentCaptured, { orderId: order.id });

    const confirmed = await eventually(async () => {
      const o = await status(order.id);
      return o.status === ordersV1.OrderStatus.ORDER_STATUS_CONFIRMED ? o : undefined;
    });
    expect(confirmed.totalCents).toBe(1400);
    expect(confirmed.items).toEqual([{ sku: 'SKU-1', quantity: 2, unitPriceCents: 700 }]);
    expect((await next(order.id, M.OrderConfirmed)).body).toEqual({
      orderId: order.id,
      totalCents: 1400,
    });
  });

  it('a declined payment releases the stock and rejects with payment_declined', async () => {
    const order = await createOrder({ paymentToken: 'tok_decline' });
    const reserve = await next(order.id, M.ReserveStock);
    await reply(reserve.message, M.StockReserved, {
      orderId: order.id,
      lines: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 5 }],
    });
    const authorize = await next(order.id, M.AuthorizePayment);
    await reply(authorize.message, M.PaymentDeclined, {
      orderId: order.id,
      declineCode: 'card_declined',
    });
    const release = await next(order.id, M.ReleaseStock);
    expect((await status(order.id)).status).toBe(ordersV1.OrderStatus.ORDER_STATUS_PENDING);
    await reply(release.message, M.StockReleased, { orderId: order.id });
    const rejected = await eventually(async () => {
      const o = await status(order.id);
      return o.status === ordersV1.OrderStatus.ORDER_STATUS_REJECTED ? o : undefined;
    });
    expect(rejected.reason).toBe('payment_declined');
    expect((await next(order.id, M.OrderRejected)).body.reason).toBe('payment_declined');
  });

  it('skips a reply that cannot be decoded instead of blocking the partition', async () => {
    const order = await createOrder();
    const reserve = await next(order.id, M.ReserveStock);
    const garbage: MessageCodec<Uint8Array> = {
      typeName: M.StockReserved.typeName,
      encode: (bytes) => bytes,
      decode: (bytes) => bytes,
    };
    // Field 1, length-delimited, claims 255 bytes that are not there: decoding throws.
    await reply(reserve.message, garbage, new Uint8Array([0x0a, 0xff]));
    await reply(reserve.message, M.StockReserved, {
      orderId: order.id,
      lines: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 3 }],
    });
    expect((await next(order.id, M.AuthorizePayment)).body.amountCents).toBe(6);
  });

  it('a failed reservation rejects at once with its reason', async () => {
    const order = await createOrder();
    const reserve = await next(order.id, M.ReserveStock);
    await reply(reserve.message, M.StockReservationFailed, {
      orderId: order.id,
      failure: inventoryMessagesV1.ReservationFailure.RESERVATION_FAILURE_UNKNOWN_SKU,
      detail: 'SKU-1',
    });
    const rejected = await eventually(async () => {
      const o = await status(order.id);
      return o.status === ordersV1.OrderStatus.ORDER_STATUS_REJECTED ? o : undefined;
    });
    expect(rejected.reason).toBe('unknown_sku');
  });

  it('a redelivered reply (same message id) has no second effect', async () => {
    const order = await createOrder();
    const reserve = await next(order.id, M.ReserveStock);
    const body = { orderId: order.id, lines: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 1 }] };
    const id = await reply(reserve.message, M.StockReserved, body);
    await next(order.id, M.AuthorizePayment);
    await reply(reserve.message, M.StockReserved, body, id);
    // A different message id with the same content is a stale reply for the saga: also no effect.
    await reply(reserve.message, M.StockReserved, body);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const authorizations = seen.received.filter(
      (m) =>
        m.envelope.correlationId === order.id && m.envelope.type === M.AuthorizePayment.typeName,
    );
    expect(authorizations).toHaveLength(1);
    const processed = await app.context.pool.query(
      'SELECT count(*)::int AS n FROM inbox WHERE message_id = $1',
      [id],
    );
    expect(processed.rows[0].n).toBe(1);
  });
});

describe('orders gRPC API', () => {
  it('validates input with INVALID_ARGUMENT and writes nothing', async () => {
    const before = await app.context.pool.query('SELECT count(*)::int AS n FROM orders');
    for (const bad of [
      { items: [] },
      { customerId: '' },
      { items: [{ sku: 'bad sku!', quantity: 1, unitPriceCents: 0 }] },
      { items: [{ sku: 'A', quantity: 0, unitPriceCents: 0 }] },
      {
        items: [
          { sku: 'A', quantity: 1, unitPriceCents: 0 },
          { sku: 'A', quantity: 2, unitPriceCents: 0 },
        ],
      },
      { idempotencyKey: 'k', requestFingerprint: '' },
    ]) {
      await expect(createOrder(bad)).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT });
    }
    const after = await app.context.pool.query('SELECT count(*)::int AS n FROM orders');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('scopes orders to their tenant (NOT_FOUND for another tenant and unknown ids)', async () => {
    const order = await createOrder();
    await expect(
      client.getOrder({ tenantId: 'tenant-b', orderId: order.id }),
    ).rejects.toMatchObject({
      code: Status.NOT_FOUND,
    });
    await expect(client.getOrder({ tenantId, orderId: randomUUID() })).rejects.toMatchObject({
      code: Status.NOT_FOUND,
    });
  });

  it('idempotency keys: replay, reuse with another body, one order per key', async () => {
    const key = randomUUID();
    const countOrders = async () =>
      (await app.context.pool.query('SELECT count(*)::int AS n FROM orders')).rows[0].n as number;
    const before = await countOrders();
    const first = await client.createOrder({
      tenantId,
      customerId: 'c-1',
      items: [{ sku: 'SKU-1', quantity: 1, unitPriceCents: 0 }],
      paymentToken: 'tok_visa',
      idempotencyKey: key,
      requestFingerprint: 'fp-1',
    });
    const again = await client.createOrder({
      tenantId,
      customerId: 'c-1',
      items: [{ sku: 'SKU-1', quantity: 1, unitPriceCents: 0 }],
      paymentToken: 'tok_visa',
      idempotencyKey: key,
      requestFingerprint: 'fp-1',
    });
    expect(again.replayed).toBe(true);
    expect(again.order).toEqual(first.order);
    await expect(
      client.createOrder({
        tenantId,
        customerId: 'c-2',
        items: [{ sku: 'SKU-1', quantity: 1, unitPriceCents: 0 }],
        paymentToken: 'tok_visa',
        idempotencyKey: key,
        requestFingerprint: 'fp-2',
      }),
    ).rejects.toMatchObject({ code: Status.FAILED_PRECONDITION, reason: 'idempotency_key_reused' });
    expect(await countOrders()).toBe(before + 1);
  });
});
