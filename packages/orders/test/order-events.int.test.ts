/**
 * ORDER_EVENTS=off: a decided order sends no domain event — no outbox row for it at all — while
 * the saga runs as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersV1, sagaMessages as M } from '@bulkhead/contracts';
import { eventually } from '@bulkhead/testkit';
import { startOrdersHarness, type OrdersHarness } from './harness.js';

let h: OrdersHarness;

beforeAll(async () => {
  h = await startOrdersHarness({ ORDER_EVENTS: 'off' });
}, 90_000);

afterAll(async () => {
  await h?.close();
});

/** Every outbox row orders wrote for the order, by message type. */
async function outboxTypesOf(orderId: string): Promise<string[]> {
  const { rows } = await h.app.context.pool.query<{ message_type: string }>(
    'SELECT message_type FROM outbox WHERE message_key = $1 ORDER BY seq',
    [orderId],
  );
  return rows.map((row) => row.message_type);
}

const decided = (orderId: string, status: ordersV1.OrderStatus) =>
  eventually(async () => ((await h.status(orderId)).status === status ? true : undefined));

describe('ORDER_EVENTS=off', () => {
  it('confirms and rejects orders without writing their events', async () => {
    const { order: confirmed, authorize } = await h.reservedOrder();
    await h.reply(authorize.message, M.PaymentAuthorized, {
      orderId: confirmed.id,
      paymentId: 'p',
    });
    const commit = await h.next(confirmed.id, M.CommitStock);
    const capture = await h.next(confirmed.id, M.CapturePayment);
    await h.reply(commit.message, M.StockCommitted, { orderId: confirmed.id });
    await h.reply(capture.message, M.PaymentCaptured, { orderId: confirmed.id });
    await decided(confirmed.id, ordersV1.OrderStatus.ORDER_STATUS_CONFIRMED);

    const { order: rejected, authorize: declined } = await h.reservedOrder({
      paymentToken: 'tok_decline',
    });
    await h.reply(declined.message, M.PaymentDeclined, {
      orderId: rejected.id,
      declineCode: 'card_declined',
    });
    await decided(rejected.id, ordersV1.OrderStatus.ORDER_STATUS_REJECTED);

    // The decision and its event would have been one transaction: nothing is left to wait for.
    expect(await outboxTypesOf(confirmed.id)).toEqual([
      M.ReserveStock.typeName,
      M.AuthorizePayment.typeName,
      M.CommitStock.typeName,
      M.CapturePayment.typeName,
    ]);
    expect(await outboxTypesOf(rejected.id)).toEqual([
      M.ReserveStock.typeName,
      M.AuthorizePayment.typeName,
      M.ReleaseStock.typeName,
    ]);
    expect(h.all(confirmed.id, M.OrderConfirmed)).toEqual([]);
    expect(h.all(rejected.id, M.OrderRejected)).toEqual([]);
  });
});
