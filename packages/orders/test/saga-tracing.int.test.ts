/**
 * The saga's spans (docs/observability.md, "Trace model"), with every span recorded in memory:
 * each move of the orchestrator is a span, the messages it enqueues are sent as its children, the
 * reply it answers is processed as the child of that reply's send span, and the move that ends the
 * saga carries bulkhead.saga.outcome — here a failed reservation: compensated.
 */
import { context } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryMessagesV1, ordersV1, sagaMessages as M } from '@bulkhead/contracts';
import { contextFrom } from '@bulkhead/telemetry/context';
import { eventually } from '@bulkhead/testkit';
import { recordSpans, type ReadableSpan, type RecordedSpans } from '@bulkhead/testkit/tracing';
import { startOrdersHarness, type OrdersHarness } from './harness.js';

let spans: RecordedSpans;
let h: OrdersHarness;

beforeAll(async () => {
  spans = recordSpans();
  h = await startOrdersHarness();
}, 90_000);

afterAll(async () => {
  await h?.close();
  await spans?.stop();
});

const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('order saga spans', () => {
  it('begin → send → (reply) send → process → step answered → send the event; outcome at the end', async () => {
    const order = await h.createOrder();
    const reserve = await h.next(order.id, M.ReserveStock);
    // As a participant does: answer under the command's context (its process span).
    await context.with(contextFrom(reserve.message.envelope), () =>
      h.reply(reserve.message, M.StockReservationFailed, {
        orderId: order.id,
        failure: inventoryMessagesV1.ReservationFailure.RESERVATION_FAILURE_OUT_OF_STOCK,
        detail: 'SKU-1',
      }),
    );
    const ofOrder = () =>
      spans.finished().filter((s) => s.attributes['bulkhead.order.id'] === order.id);
    const answered = await eventually(async () =>
      ofOrder().find((s) => s.name === 'saga order step answered'),
    );
    expect((await h.status(order.id)).status).toBe(ordersV1.OrderStatus.ORDER_STATUS_REJECTED);
    const finished = spans.finished();
    const byId = new Map(finished.map((s) => [idOf(s), s]));
    const sendOf = (type: { typeName: string }) =>
      finished.filter(
        (s) =>
          s.name.startsWith('send ') && s.attributes['bulkhead.message.type'] === type.typeName,
      );

    const begin = ofOrder().filter((s) => s.name === 'saga order begin');
    expect(begin).toHaveLength(1);
    expect(begin[0]!.attributes).toMatchObject({
      'bulkhead.saga.name': 'order',
      'bulkhead.saga.step': 'reserveStock',
      'bulkhead.saga.status': 'RUNNING',
    });
    expect(begin[0]!.attributes).not.toHaveProperty('bulkhead.saga.outcome');
    // The command is sent as the child of the move that enqueued it.
    const command = sendOf(M.ReserveStock);
    expect(command).toHaveLength(1);
    expect(parentOf(command[0]!)).toBe(idOf(begin[0]!));
    // The reply: sent under the command's context, processed as the child of its send span.
    const replySend = sendOf(M.StockReservationFailed);
    expect(replySend).toHaveLength(1);
    expect(parentOf(replySend[0]!)).toBe(idOf(command[0]!));
    const process = byId.get(parentOf(answered) ?? '');
    expect(process?.name).toBe(`process ${h.topics.sagaReplies}`);
    expect(parentOf(process!)).toBe(idOf(replySend[0]!));
    // The move that ends the saga: the step, the reply, the outcome; the event is its child.
    expect(answered.attributes).toMatchObject({
      'bulkhead.saga.step': 'reserveStock',
      'bulkhead.saga.step.outcome': 'failed',
      'bulkhead.saga.status': 'FAILED',
      'bulkhead.saga.failure_reason': 'out_of_stock',
      'bulkhead.saga.outcome': 'compensated',
    });
    const event = await eventually(async () => sendOf(M.OrderRejected)[0]);
    expect(parentOf(event)).toBe(idOf(answered));
    // One trace, from the first move to the event.
    const traceIds = new Set(
      [begin[0]!, command[0]!, replySend[0]!, process!, answered, event].map(
        (s) => s.spanContext().traceId,
      ),
    );
    expect(traceIds.size).toBe(1);
  }, 60_000);
});
