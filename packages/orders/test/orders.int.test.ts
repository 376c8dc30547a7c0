/**
 * The orders app against real PostgreSQL and Kafka, with the test playing inventory and payments:
 * it reads the saga's commands from the command topics and answers on the replies topic.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  inventoryMessagesV1,
  ordersV1,
  sagaMessages,
  type MessageCodec,
} from '@bulkhead/contracts';
import { Status } from '@bulkhead/grpc';
import { eventually } from '@bulkhead/testkit';
import { startOrdersHarness, tenantId, type OrdersHarness } from './harness.js';

let h: OrdersHarness;

beforeAll(async () => {
  h = await startOrdersHarness();
}, 90_000);

afterAll(async () => {
  await h?.close();
});

const createOrder = (overrides: Partial<ordersV1.CreateOrderRequest> = {}) =>
  h.createOrder(overrides);
const next = <T>(orderId: string, codec: MessageCodec<T>) => h.next(orderId, codec);
const reply = <T>(
  command: Parameters<OrdersHarness['reply']>[0],
  codec: MessageCodec<T>,
  body: T,
  messageId?: string,
) => h.reply(command, codec, body, messageId);
const status = (orderId: string) => h.status(orderId);
const sagaOf = (orderId: string) => h.sagaOf(orderId);

const M = sagaMessages;

describe('orders saga orchestration', () => {
  it('runs reserve → authorize → commit and capture at once to CONFIRMED, with prices from the reservation', async () => {
    const order = await createOrder();
    expect(order.status).toBe(ordersV1.OrderStatus.ORDER_STATUS_PENDING);

    const reserve = await next(order.id, M.ReserveStock);
    expect(reserve.body.lines).toEqual([{ sku: 'SKU-1', quantity: 2 }]);
    expect(reserve.message.envelope).toMatchObject({
      tenantId,
      cellId: h.cellId,
      correlationId: order.id,
    });
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

  it('a declined payment rejects with payment_declined at once, then releases the stock', async () => {
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
    // The outcome is decided with the decline: the order reads REJECTED while the release runs.
    const rejected = await status(order.id);
    expect(rejected.status).toBe(ordersV1.OrderStatus.ORDER_STATUS_REJECTED);
    expect(rejected.reason).toBe('payment_declined');
    expect((await next(order.id, M.OrderRejected)).body.reason).toBe('payment_declined');
    expect(await sagaOf(order.id)).toMatchObject({ status: 'COMPENSATING' });
    await reply(release.message, M.StockReleased, { orderId: order.id });
    await eventually(async () => ((await sagaOf(order.id)).status === 'FAILED' ? true : undefined));
    expect(await sagaOf(order.id)).toMatchObject({ compensating: [], deadline_at: null });
  });

  it('dead-letters a reply that cannot be decoded instead of blocking the partition', async () => {
    const order = await createOrder();
    const reserve = await next(order.id, M.ReserveStock);
    const garbage: MessageCodec<Uint8Array> = {
      typeName: M.StockReserved.typeName,
      encode: (bytes) => bytes,
      decode: (bytes) => bytes,
    };
    // Field 1, length-delimited, claims 255 bytes that are not there: decoding throws.
    const bad = await reply(reserve.message, garbage, new Uint8Array([0x0a, 0xff]));
    await reply(reserve.message, M.StockReserved, {
      orderId: order.id,
      lines: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 3 }],
    });
    expect((await next(order.id, M.AuthorizePayment)).body.amountCents).toBe(6);
    await eventually(async () =>
      h.deadLetters.received.find((m) => m.envelope.messageId === bad) ? true : undefined,
    );
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
    const authorizations = h.seen.received.filter(
      (m) =>
        m.envelope.correlationId === order.id && m.envelope.type === M.AuthorizePayment.typeName,
    );
    expect(authorizations).toHaveLength(1);
    const processed = await h.app.context.pool.query(
      'SELECT count(*)::int AS n FROM inbox WHERE message_id = $1',
      [id],
    );
    expect(processed.rows[0].n).toBe(1);
  });
});

describe('orders gRPC API', () => {
  it('validates input with INVALID_ARGUMENT and writes nothing', async () => {
    const before = await h.app.context.pool.query('SELECT count(*)::int AS n FROM orders');
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
    const after = await h.app.context.pool.query('SELECT count(*)::int AS n FROM orders');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('scopes orders to their tenant (NOT_FOUND for another tenant and unknown ids)', async () => {
    const order = await createOrder();
    await expect(
      h.client.getOrder({ tenantId: 'tenant-b', orderId: order.id }),
    ).rejects.toMatchObject({
      code: Status.NOT_FOUND,
    });
    await expect(h.client.getOrder({ tenantId, orderId: randomUUID() })).rejects.toMatchObject({
      code: Status.NOT_FOUND,
    });
  });

  it('idempotency keys: replay, reuse with another body, one order per key', async () => {
    const key = randomUUID();
    const countOrders = async () =>
      (await h.app.context.pool.query('SELECT count(*)::int AS n FROM orders')).rows[0].n as number;
    const before = await countOrders();
    const first = await h.client.createOrder({
      tenantId,
      customerId: 'c-1',
      items: [{ sku: 'SKU-1', quantity: 1, unitPriceCents: 0 }],
      paymentToken: 'tok_visa',
      idempotencyKey: key,
      requestFingerprint: 'fp-1',
    });
    const again = await h.client.createOrder({
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
      h.client.createOrder({
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
