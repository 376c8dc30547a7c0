/**
 * Every saga ends: the orders app with short step deadlines (300 ms, 2 re-sends, swept every
 * 50 ms), the test playing inventory and payments — answering late, wrongly, or never.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ordersV1, sagaMessages as M } from '@bulkhead/contracts';
import { eventually } from '@bulkhead/testkit';
import { startOrdersHarness, type OrdersHarness } from './harness.js';

let h: OrdersHarness;

beforeAll(async () => {
  h = await startOrdersHarness({
    SAGA_STEP_TIMEOUT_MS: '300',
    SAGA_STEP_RESENDS: '2',
    SAGA_MAX_RESEND_DELAY_MS: '600',
    SAGA_SWEEP_EVERY_MS: '50',
  });
}, 90_000);

afterAll(async () => {
  await h?.close();
});

const { ORDER_STATUS_REJECTED, ORDER_STATUS_CONFIRMED, ORDER_STATUS_PENDING } =
  ordersV1.OrderStatus;

/** Waits until this many messages of the type were sent about the order. */
const sentTimes = (orderId: string, codec: Parameters<OrdersHarness['all']>[1], n: number) =>
  eventually(async () => (h.all(orderId, codec).length >= n ? true : undefined));

describe('saga deadlines', () => {
  it('a participant that never answers: re-sent twice, then REJECTED timeout, compensated at once', async () => {
    const { order, authorize } = await h.reservedOrder();
    // The first send and two re-sends of the same command, then the time-out.
    await sentTimes(order.id, M.AuthorizePayment, 3);
    const resent = h
      .all(order.id, M.AuthorizePayment)
      .map((m) => M.AuthorizePayment.decode(m.payload));
    expect(new Set(resent.map((c) => JSON.stringify(c))).size).toBe(1);
    const rejected = await eventually(async () => {
      const o = await h.status(order.id);
      return o.status === ORDER_STATUS_REJECTED ? o : undefined;
    });
    expect(rejected.reason).toBe('timeout');
    expect(
      M.OrderRejected.decode((await h.next(order.id, M.OrderRejected)).message.payload),
    ).toEqual({ orderId: order.id, reason: 'timeout' });
    // Both compensations go out at once: the payment may have been authorized after all.
    const voidCommand = await h.next(order.id, M.VoidPayment);
    const release = await h.next(order.id, M.ReleaseStock);
    expect(await h.sagaOf(order.id)).toMatchObject({
      status: 'COMPENSATING',
      compensating: ['authorizePayment', 'reserveStock'],
    });

    // Inventory answers; payments still does not: the void is re-sent until it does.
    await h.reply(release.message, M.StockReleased, { orderId: order.id });
    await eventually(async () =>
      (await h.sagaOf(order.id)).compensating.length === 1 ? true : undefined,
    );
    await sentTimes(order.id, M.VoidPayment, 2);
    // A late authorization changes nothing: the order stays REJECTED, nothing new is sent.
    await h.reply(authorize.message, M.PaymentAuthorized, { orderId: order.id, paymentId: 'p-1' });
    await h.reply(voidCommand.message, M.PaymentVoided, { orderId: order.id });
    await eventually(async () =>
      (await h.sagaOf(order.id)).status === 'FAILED' ? true : undefined,
    );
    expect(await h.sagaOf(order.id)).toMatchObject({ deadline_at: null, compensating: [] });
    expect(await h.status(order.id)).toMatchObject({
      status: ORDER_STATUS_REJECTED,
      reason: 'timeout',
    });
    expect(h.all(order.id, M.CommitStock)).toEqual([]);
    expect(h.all(order.id, M.OrderRejected)).toHaveLength(1);
  });

  it('after the pivot a step never times out: it is re-sent, listed as stuck, and ends once answered', async () => {
    const { order, authorize } = await h.reservedOrder();
    await h.reply(authorize.message, M.PaymentAuthorized, { orderId: order.id, paymentId: 'p-1' });
    // Both steps after the pivot are sent at once; the stock is committed, the capture is not.
    const commit = await h.next(order.id, M.CommitStock);
    const capture = await h.next(order.id, M.CapturePayment);
    await h.reply(commit.message, M.StockCommitted, { orderId: order.id });
    // More re-sends than a step before the pivot is allowed: still PENDING, and stuck.
    await sentTimes(order.id, M.CapturePayment, 4);
    expect((await h.status(order.id)).status).toBe(ORDER_STATUS_PENDING);
    const stuckView = h.app.opsViews?.['/sagas/stuck'];
    const stuck = (await stuckView?.()) as { sagas: { orderId: string; completing: string[] }[] };
    expect(stuck.sagas).toContainEqual(
      expect.objectContaining({ orderId: order.id, step: null, completing: ['capturePayment'] }),
    );
    await h.reply(capture.message, M.PaymentCaptured, { orderId: order.id });
    await eventually(async () =>
      (await h.status(order.id)).status === ORDER_STATUS_CONFIRMED ? true : undefined,
    );
    const after = (await stuckView?.()) as { sagas: { orderId: string }[] };
    expect(after.sagas.map((s) => s.orderId)).not.toContain(order.id);
  });

  it('a CommandFailed before the pivot rejects processing_failed and compensates the step', async () => {
    const order = await h.createOrder();
    const reserve = await h.next(order.id, M.ReserveStock);
    await h.reply(reserve.message, M.CommandFailed, {
      orderId: order.id,
      commandType: M.ReserveStock.typeName,
      failure: 'permanent',
      error: 'boom',
    });
    const release = await h.next(order.id, M.ReleaseStock);
    expect(await h.status(order.id)).toMatchObject({
      status: ORDER_STATUS_REJECTED,
      reason: 'processing_failed',
    });
    await h.reply(release.message, M.StockReleased, { orderId: order.id });
    await eventually(async () =>
      (await h.sagaOf(order.id)).status === 'FAILED' ? true : undefined,
    );
  });
});
