/**
 * The order saga as orders runs it, with no I/O: the real `orderSaga`, `advance`, `start`,
 * `commandFor` and `decodeReply`. Replies are real protobuf messages decoded by `decodeReply`;
 * commands and events are decoded with the `sagaMessages` codecs.
 */
import { describe, expect, it } from 'vitest';
import { inventoryMessagesV1, sagaMessages, type MessageCodec } from '@bulkhead/contracts';
import type { SagaState } from '@bulkhead/saga';
import {
  advance,
  commandFor,
  decodeReply,
  expire,
  orderSaga,
  start,
  type Advance,
  type Advanced,
  type DecodedReply,
  type OrderSagaStep,
  type SagaCommand,
  type SagaDestination,
  type StoredOrder,
} from '../src/order-saga.js';

const M = sagaMessages;
const { ReservationFailure } = inventoryMessagesV1;

const orderId = '01900000-0000-7000-8000-000000000001';

/** An order as placeOrder stores it: PENDING, unpriced, total 0. */
const placed: StoredOrder = {
  id: orderId,
  tenantId: 'tenant-a',
  customerId: 'c-1',
  paymentToken: 'tok_visa',
  items: [
    { sku: 'SKU-1', quantity: 2, unitPriceCents: 0 },
    { sku: 'SKU-2', quantity: 3, unitPriceCents: 0 },
  ],
  totalCents: 0,
  status: 'PENDING',
};

/** What inventory prices the reservation at: 2 × 700 + 3 × 250 = 2150. */
const pricedLines = [
  { sku: 'SKU-1', quantity: 2, unitPriceCents: 700 },
  { sku: 'SKU-2', quantity: 3, unitPriceCents: 250 },
];
const TOTAL = 2150;

/** A participant's reply message, decoded the way the orders consumer decodes it. */
function replyOf<T>(codec: MessageCodec<T>, body: T): DecodedReply {
  const decoded = decodeReply(codec.typeName, codec.encode(body));
  if (!decoded) throw new Error(`${codec.typeName} is not a reply`);
  return decoded;
}

const replies = {
  StockReserved: replyOf(M.StockReserved, { orderId, lines: pricedLines }),
  StockReservationFailed: replyOf(M.StockReservationFailed, {
    orderId,
    failure: ReservationFailure.RESERVATION_FAILURE_OUT_OF_STOCK,
    detail: 'SKU-1',
  }),
  StockReleased: replyOf(M.StockReleased, { orderId }),
  PaymentAuthorized: replyOf(M.PaymentAuthorized, { orderId, paymentId: 'p-1' }),
  PaymentDeclined: replyOf(M.PaymentDeclined, { orderId, declineCode: 'card_declined' }),
  PaymentVoided: replyOf(M.PaymentVoided, { orderId }),
  StockCommitted: replyOf(M.StockCommitted, { orderId }),
  PaymentCaptured: replyOf(M.PaymentCaptured, { orderId }),
};
type ReplyName = keyof typeof replies;

function advanced(result: Advance): Advanced {
  if (result.ignored) throw new Error('the reply was ignored');
  return result;
}

/** The command's destination, and its payload decoded with the codec of the expected type. */
function decodeCommand<T>(command: SagaCommand | undefined, codec: MessageCodec<T>) {
  expect(command?.type).toBe(codec.typeName);
  return { destination: command!.destination, body: codec.decode(command!.payload) };
}

/** The order after the store applied the patch. */
function patched(order: StoredOrder, step: Advanced): StoredOrder {
  const { items, totalCents, status } = step.orderPatch;
  return { ...order, items, totalCents, status };
}

const running = (step: OrderSagaStep): SagaState<OrderSagaStep> => ({
  status: 'RUNNING',
  step,
  completing: [],
  compensating: [],
  failureReason: null,
});

/** Past the pivot: the steps after it, sent at once, not all acknowledged yet. */
const completing = (steps: OrderSagaStep[]): SagaState<OrderSagaStep> => ({
  status: 'RUNNING',
  step: null,
  completing: steps,
  compensating: [],
  failureReason: null,
});

const compensating = (steps: OrderSagaStep[], failureReason: string): SagaState<OrderSagaStep> => ({
  status: 'COMPENSATING',
  step: null,
  completing: [],
  compensating: steps,
  failureReason,
});

const ended = (status: 'COMPLETED' | 'FAILED', failureReason: string | null = null) =>
  ({ status, step: null, completing: [], compensating: [], failureReason }) as const;

/** The order and its saga after the reservation was priced: awaiting the payment authorization. */
function afterReservation() {
  const step = advanced(advance(placed, start(placed).saga, replies.StockReserved));
  return { order: patched(placed, step), saga: step.saga };
}

describe('start', () => {
  it('starts the saga at reserveStock and sends ReserveStock with the ordered lines to inventory', () => {
    const started = start(placed);
    expect(started.saga).toEqual(running('reserveStock'));
    expect(started.commands).toHaveLength(1);
    expect(decodeCommand(started.commands[0], M.ReserveStock)).toEqual({
      destination: 'inventory',
      body: {
        orderId,
        lines: [
          { sku: 'SKU-1', quantity: 2 },
          { sku: 'SKU-2', quantity: 3 },
        ],
      },
    });
  });
});

describe('advance: the happy path', () => {
  it('runs reserve → authorize → commit → capture to CONFIRMED with OrderConfirmed', () => {
    let order = placed;
    let saga = start(order).saga;

    const reserved = advanced(advance(order, saga, replies.StockReserved));
    expect(reserved.saga).toEqual(running('authorizePayment'));
    expect(reserved.orderPatch).toEqual({
      items: pricedLines,
      totalCents: TOTAL,
      status: 'PENDING',
      reason: null,
    });
    expect(reserved.commands).toHaveLength(1);
    expect(decodeCommand(reserved.commands[0], M.AuthorizePayment)).toEqual({
      destination: 'payments',
      body: { orderId, customerId: 'c-1', amountCents: TOTAL, paymentToken: 'tok_visa' },
    });
    expect(reserved.event).toBeUndefined();
    order = patched(order, reserved);
    saga = reserved.saga;

    // Past the pivot: the stock is committed and the payment captured at once.
    const authorized = advanced(advance(order, saga, replies.PaymentAuthorized));
    expect(authorized.saga).toEqual(completing(['commitStock', 'capturePayment']));
    expect(authorized.orderPatch).toEqual({
      items: pricedLines,
      totalCents: TOTAL,
      status: 'PENDING',
      reason: null,
    });
    expect(authorized.commands).toHaveLength(2);
    expect(decodeCommand(authorized.commands[0], M.CommitStock)).toEqual({
      destination: 'inventory',
      body: { orderId },
    });
    expect(decodeCommand(authorized.commands[1], M.CapturePayment)).toEqual({
      destination: 'payments',
      body: { orderId },
    });
    expect(authorized.event).toBeUndefined();
    order = patched(order, authorized);
    saga = authorized.saga;

    const committed = advanced(advance(order, saga, replies.StockCommitted));
    expect(committed.saga).toEqual(completing(['capturePayment']));
    expect(committed.orderPatch.status).toBe('PENDING');
    expect(committed.commands).toEqual([]);
    expect(committed.event).toBeUndefined();
    order = patched(order, committed);
    saga = committed.saga;

    const captured = advanced(advance(order, saga, replies.PaymentCaptured));
    expect(captured.saga).toEqual(ended('COMPLETED'));
    expect(captured.orderPatch).toEqual({
      items: pricedLines,
      totalCents: TOTAL,
      status: 'CONFIRMED',
      reason: null,
    });
    expect(captured.commands).toEqual([]);
    expect(captured.event?.type).toBe(M.OrderConfirmed.typeName);
    expect(M.OrderConfirmed.decode(captured.event!.payload)).toEqual({
      orderId,
      totalCents: TOTAL,
    });
  });

  it('the priced lines replace the items and the total is the sum of quantity × unit price', () => {
    const lines = [
      { sku: 'A', quantity: 1, unitPriceCents: 999 },
      { sku: 'B', quantity: 10, unitPriceCents: 1 },
      { sku: 'C', quantity: 4, unitPriceCents: 0 },
    ];
    const step = advanced(
      advance(placed, start(placed).saga, replyOf(M.StockReserved, { orderId, lines })),
    );
    expect(step.orderPatch.items).toEqual(lines);
    expect(step.orderPatch.totalCents).toBe(1009);
    expect(decodeCommand(step.commands[0], M.AuthorizePayment).body.amountCents).toBe(1009);

    const empty = advanced(
      advance(placed, start(placed).saga, replyOf(M.StockReserved, { orderId, lines: [] })),
    );
    expect(empty.orderPatch).toMatchObject({ items: [], totalCents: 0 });
  });

  it('a reply without prices keeps the stored items and total', () => {
    const order: StoredOrder = { ...placed, items: pricedLines, totalCents: 1234 };
    const step = advanced(advance(order, running('authorizePayment'), replies.PaymentAuthorized));
    expect(step.orderPatch).toEqual({
      items: pricedLines,
      totalCents: 1234,
      status: 'PENDING',
      reason: null,
    });
  });
});

describe('advance: a failed reservation', () => {
  it.each([
    [ReservationFailure.RESERVATION_FAILURE_OUT_OF_STOCK, 'out_of_stock'],
    [ReservationFailure.RESERVATION_FAILURE_UNKNOWN_SKU, 'unknown_sku'],
    [ReservationFailure.RESERVATION_FAILURE_INVALID_REQUEST, 'invalid_request'],
  ])('failure %s rejects at once with %s, nothing to compensate', (failure, reason) => {
    const reply = replyOf(M.StockReservationFailed, { orderId, failure, detail: 'SKU-1' });
    const step = advanced(advance(placed, start(placed).saga, reply));
    expect(step.saga).toEqual(ended('FAILED', reason));
    expect(step.orderPatch).toEqual({
      items: placed.items,
      totalCents: 0,
      status: 'REJECTED',
      reason,
    });
    expect(step.commands).toEqual([]);
    expect(step.event?.type).toBe(M.OrderRejected.typeName);
    expect(M.OrderRejected.decode(step.event!.payload)).toEqual({ orderId, reason });
  });
});

describe('advance: compensation', () => {
  it('a declined payment rejects the order at once (payment_declined) and releases the stock', () => {
    const { order, saga } = afterReservation();

    const declined = advanced(advance(order, saga, replies.PaymentDeclined));
    expect(declined.saga).toEqual(compensating(['reserveStock'], 'payment_declined'));
    expect(declined.orderPatch).toEqual({
      items: pricedLines,
      totalCents: TOTAL,
      status: 'REJECTED',
      reason: 'payment_declined',
    });
    expect(declined.commands).toHaveLength(1);
    expect(decodeCommand(declined.commands[0], M.ReleaseStock)).toEqual({
      destination: 'inventory',
      body: { orderId },
    });
    // The outcome is decided now: the event goes out now, once.
    expect(declined.event?.type).toBe(M.OrderRejected.typeName);
    expect(M.OrderRejected.decode(declined.event!.payload)).toEqual({
      orderId,
      reason: 'payment_declined',
    });

    const released = advanced(
      advance(patched(order, declined), declined.saga, replies.StockReleased),
    );
    expect(released.saga).toEqual(ended('FAILED', 'payment_declined'));
    expect(released.orderPatch).toEqual({
      items: pricedLines,
      totalCents: TOTAL,
      status: 'REJECTED',
      reason: 'payment_declined',
    });
    expect(released.commands).toEqual([]);
    expect(released.event).toBeUndefined();
  });

  // No participant reports these steps as failed (they come after the pivot and are re-sent),
  // but if one did, the saga would void the payment and release the stock, both at once.
  it.each(['commitStock', 'capturePayment'] as const)(
    'a failed %s voids the payment and releases the stock at once, then ends when both are done',
    (failedStep) => {
      const order: StoredOrder = { ...placed, items: pricedLines, totalCents: TOTAL };

      const failed = advanced(
        advance(order, running(failedStep), {
          reply: { step: failedStep, outcome: 'failed', reason: 'boom' },
        }),
      );
      expect(failed.saga).toEqual(compensating(['authorizePayment', 'reserveStock'], 'boom'));
      expect(failed.orderPatch.status).toBe('REJECTED');
      expect(failed.commands).toHaveLength(2);
      expect(decodeCommand(failed.commands[0], M.VoidPayment)).toEqual({
        destination: 'payments',
        body: { orderId },
      });
      expect(decodeCommand(failed.commands[1], M.ReleaseStock)).toEqual({
        destination: 'inventory',
        body: { orderId },
      });
      expect(M.OrderRejected.decode(failed.event!.payload)).toEqual({ orderId, reason: 'boom' });

      const released = advanced(advance(order, failed.saga, replies.StockReleased));
      expect(released.saga).toEqual(compensating(['authorizePayment'], 'boom'));
      expect(released.commands).toEqual([]);
      expect(released.event).toBeUndefined();

      const voided = advanced(advance(order, released.saga, replies.PaymentVoided));
      expect(voided.saga).toEqual(ended('FAILED', 'boom'));
      expect(voided.orderPatch).toEqual({
        items: pricedLines,
        totalCents: TOTAL,
        status: 'REJECTED',
        reason: 'boom',
      });
      expect(voided.event).toBeUndefined();
    },
  );
});

describe('a participant could not carry out a command (CommandFailed)', () => {
  const failedReply = (commandType: string) => {
    const decoded = decodeReply(
      M.CommandFailed.typeName,
      M.CommandFailed.encode({ orderId, commandType, failure: 'permanent', error: 'boom' }),
    );
    if (!decoded) throw new Error('CommandFailed is a reply');
    return decoded;
  };

  it('before the pivot: the step is aborted, compensated with the earlier ones, REJECTED processing_failed', () => {
    const { order, saga } = afterReservation();
    const aborted = advanced(advance(order, saga, failedReply(M.AuthorizePayment.typeName)));
    expect(aborted.saga).toEqual(
      compensating(['authorizePayment', 'reserveStock'], 'processing_failed'),
    );
    expect(aborted.orderPatch).toMatchObject({ status: 'REJECTED', reason: 'processing_failed' });
    expect(aborted.commands.map((c) => c.type)).toEqual([
      M.VoidPayment.typeName,
      M.ReleaseStock.typeName,
    ]);

    const reserve = advanced(
      advance(placed, start(placed).saga, failedReply(M.ReserveStock.typeName)),
    );
    // The reservation may still happen (a redrive): it is released, and inventory remembers it.
    expect(reserve.saga).toEqual(compensating(['reserveStock'], 'processing_failed'));
    expect(reserve.commands.map((c) => c.type)).toEqual([M.ReleaseStock.typeName]);
  });

  it('after the pivot, or for a compensation: nothing moves (the sweeper re-sends it)', () => {
    const order: StoredOrder = { ...placed, items: pricedLines, totalCents: TOTAL };
    expect(
      advance(order, running('capturePayment'), failedReply(M.CapturePayment.typeName)),
    ).toEqual({ ignored: true });
    expect(
      advance(
        order,
        compensating(['reserveStock'], 'payment_declined'),
        failedReply(M.ReleaseStock.typeName),
      ),
    ).toEqual({ ignored: true });
  });

  it('names the failed command; a CommandFailed for a command the saga does not send is no reply', () => {
    expect(failedReply(M.ReserveStock.typeName).failure).toEqual({
      commandType: M.ReserveStock.typeName,
      error: 'boom',
    });
    for (const type of ['bulkhead.nope.v1.Nothing', '__proto__', 'constructor']) {
      expect(
        decodeReply(
          M.CommandFailed.typeName,
          M.CommandFailed.encode({ orderId, commandType: type, failure: 'permanent', error: '' }),
        ),
      ).toBeUndefined();
    }
  });

  it('every command the saga sends is recognised in a CommandFailed as the instruction it carries', () => {
    const order: StoredOrder = { ...placed, items: pricedLines, totalCents: TOTAL };
    const instructions = [
      ...orderSaga.steps.map((s) => ({ kind: 'execute', step: s.name }) as const),
      ...orderSaga.steps
        .filter((s) => s.compensable)
        .map((s) => ({ kind: 'compensate', step: s.name }) as const),
    ];
    for (const instruction of instructions) {
      const { reply } = failedReply(commandFor(instruction, order).type);
      expect(reply).toEqual(
        instruction.kind === 'execute'
          ? { step: instruction.step, outcome: 'aborted', reason: 'processing_failed' }
          : { step: instruction.step, outcome: 'compensation-failed' },
      );
    }
  });
});

describe('expire: a step past its deadline', () => {
  const order: StoredOrder = { ...placed, items: pricedLines, totalCents: TOTAL };
  const limits = { resends: 0, maxResends: 3 };

  it('re-sends the awaited command, the same command as before', () => {
    const resent = expire(order, running('authorizePayment'), limits);
    if (resent.ignored) throw new Error('ignored');
    expect(resent.outcome).toBe('resent');
    expect(resent.saga).toEqual(running('authorizePayment'));
    expect(resent.orderPatch.status).toBe('PENDING');
    expect(resent.event).toBeUndefined();
    expect(decodeCommand(resent.commands[0], M.AuthorizePayment).body).toEqual({
      orderId,
      customerId: 'c-1',
      amountCents: TOTAL,
      paymentToken: 'tok_visa',
    });
  });

  it('after the bounded re-sends: REJECTED timeout, the step and the earlier ones compensated', () => {
    const timedOut = expire(order, running('authorizePayment'), { resends: 3, maxResends: 3 });
    if (timedOut.ignored) throw new Error('ignored');
    expect(timedOut.outcome).toBe('timed-out');
    expect(timedOut.saga).toEqual(compensating(['authorizePayment', 'reserveStock'], 'timeout'));
    expect(timedOut.orderPatch).toMatchObject({ status: 'REJECTED', reason: 'timeout' });
    expect(timedOut.commands.map((c) => c.type)).toEqual([
      M.VoidPayment.typeName,
      M.ReleaseStock.typeName,
    ]);
    expect(M.OrderRejected.decode(timedOut.event!.payload)).toEqual({ orderId, reason: 'timeout' });
  });

  it('after the pivot and while compensating it re-sends, however often', () => {
    const capture = expire(order, running('capturePayment'), { resends: 99, maxResends: 3 });
    expect(capture).toMatchObject({ outcome: 'resent' });
    const both = expire(order, completing(['commitStock', 'capturePayment']), {
      resends: 99,
      maxResends: 3,
    });
    if (both.ignored) throw new Error('ignored');
    expect(both.outcome).toBe('resent');
    expect(both.commands.map((c) => c.type)).toEqual([
      M.CommitStock.typeName,
      M.CapturePayment.typeName,
    ]);
    const releasing = expire(order, compensating(['reserveStock'], 'timeout'), {
      resends: 99,
      maxResends: 3,
    });
    if (releasing.ignored) throw new Error('ignored');
    expect(releasing.commands.map((c) => c.type)).toEqual([M.ReleaseStock.typeName]);
    expect(releasing.event).toBeUndefined();
  });

  it('an ended saga has no deadline: nothing happens', () => {
    expect(expire(order, ended('COMPLETED'), limits)).toEqual({ ignored: true });
  });
});

describe('advance: replies the saga does not wait for', () => {
  const stages: [string, SagaState<OrderSagaStep>, ReplyName[]][] = [
    ['reserving stock', running('reserveStock'), ['StockReserved', 'StockReservationFailed']],
    ['authorizing payment', running('authorizePayment'), ['PaymentAuthorized', 'PaymentDeclined']],
    [
      'committing stock and capturing payment',
      completing(['commitStock', 'capturePayment']),
      ['StockCommitted', 'PaymentCaptured'],
    ],
    ['capturing payment, the stock committed', completing(['capturePayment']), ['PaymentCaptured']],
    // Stored by a version that ran the steps after the pivot one at a time.
    ['committing stock', running('commitStock'), ['StockCommitted']],
    ['capturing payment', running('capturePayment'), ['PaymentCaptured']],
    ['voiding the payment', compensating(['authorizePayment'], 'boom'), ['PaymentVoided']],
    ['releasing stock', compensating(['reserveStock'], 'payment_declined'), ['StockReleased']],
    [
      'voiding and releasing',
      compensating(['authorizePayment', 'reserveStock'], 'timeout'),
      ['StockReleased', 'PaymentVoided'],
    ],
    ['confirmed', ended('COMPLETED'), []],
    ['rejected', ended('FAILED', 'out_of_stock'), []],
  ];

  it.each(stages)('while %s only %j advance; every other reply is ignored', (_, saga, awaited) => {
    const order: StoredOrder = { ...placed, items: pricedLines, totalCents: TOTAL };
    const moved: ReplyName[] = [];
    for (const name of Object.keys(replies) as ReplyName[]) {
      const result = advance(order, saga, replies[name]);
      if (result.ignored) expect(result).toEqual({ ignored: true });
      else moved.push(name);
    }
    expect(moved).toEqual(awaited);
  });

  it('a duplicate StockReserved after the saga moved on is ignored (no second AuthorizePayment)', () => {
    const { order, saga } = afterReservation();
    expect(advance(order, saga, replies.StockReserved)).toEqual({ ignored: true });
  });

  it('a compensated reply while RUNNING is ignored', () => {
    const order: StoredOrder = { ...placed, items: pricedLines, totalCents: TOTAL };
    expect(advance(order, running('reserveStock'), replies.StockReleased)).toEqual({
      ignored: true,
    });
    expect(advance(order, running('authorizePayment'), replies.PaymentVoided)).toEqual({
      ignored: true,
    });
  });
});

describe('commandFor', () => {
  const order = { ...placed, items: pricedLines, totalCents: TOTAL };
  const expected: [
    'execute' | 'compensate',
    OrderSagaStep,
    SagaDestination,
    MessageCodec<unknown>,
    unknown,
  ][] = [
    [
      'execute',
      'reserveStock',
      'inventory',
      M.ReserveStock,
      {
        orderId,
        lines: [
          { sku: 'SKU-1', quantity: 2 },
          { sku: 'SKU-2', quantity: 3 },
        ],
      },
    ],
    [
      'execute',
      'authorizePayment',
      'payments',
      M.AuthorizePayment,
      { orderId, customerId: 'c-1', amountCents: TOTAL, paymentToken: 'tok_visa' },
    ],
    ['execute', 'commitStock', 'inventory', M.CommitStock, { orderId }],
    ['execute', 'capturePayment', 'payments', M.CapturePayment, { orderId }],
    ['compensate', 'reserveStock', 'inventory', M.ReleaseStock, { orderId }],
    ['compensate', 'authorizePayment', 'payments', M.VoidPayment, { orderId }],
  ];

  it.each(expected)('%s %s → %s %o', (kind, step, destination, codec, body) => {
    const command = commandFor({ kind, step }, order);
    expect(decodeCommand(command, codec)).toEqual({ destination, body });
  });

  it('only the compensable steps of orderSaga have a compensation', () => {
    for (const { name, compensable } of orderSaga.steps) {
      const compensate = () => commandFor({ kind: 'compensate', step: name }, order);
      if (compensable) expect(compensate).not.toThrow();
      else expect(compensate).toThrow(`step ${name} has no compensation`);
    }
    expect(orderSaga.steps.filter((s) => !s.compensable).map((s) => s.name)).toEqual([
      'commitStock',
      'capturePayment',
    ]);
  });
});

describe('decodeReply', () => {
  it('StockReserved: reserveStock succeeded, with the priced lines', () => {
    expect(replyOf(M.StockReserved, { orderId, lines: pricedLines })).toEqual({
      reply: { step: 'reserveStock', outcome: 'succeeded' },
      pricedLines,
    });
  });

  it.each([
    [ReservationFailure.RESERVATION_FAILURE_OUT_OF_STOCK, 'out_of_stock'],
    [ReservationFailure.RESERVATION_FAILURE_UNKNOWN_SKU, 'unknown_sku'],
    [ReservationFailure.RESERVATION_FAILURE_INVALID_REQUEST, 'invalid_request'],
    [ReservationFailure.RESERVATION_FAILURE_UNSPECIFIED, 'invalid_request'],
    [99 as inventoryMessagesV1.ReservationFailure, 'invalid_request'],
  ])('StockReservationFailed (failure %s): reserveStock failed with %s', (failure, reason) => {
    expect(replyOf(M.StockReservationFailed, { orderId, failure, detail: '' })).toEqual({
      reply: { step: 'reserveStock', outcome: 'failed', reason },
    });
  });

  it('every other reply maps to its step and outcome, without prices', () => {
    expect({
      StockReleased: replies.StockReleased,
      PaymentAuthorized: replies.PaymentAuthorized,
      PaymentDeclined: replies.PaymentDeclined,
      PaymentVoided: replies.PaymentVoided,
      StockCommitted: replies.StockCommitted,
      PaymentCaptured: replies.PaymentCaptured,
    }).toEqual({
      StockReleased: { reply: { step: 'reserveStock', outcome: 'compensated' } },
      PaymentAuthorized: { reply: { step: 'authorizePayment', outcome: 'succeeded' } },
      PaymentDeclined: {
        reply: { step: 'authorizePayment', outcome: 'failed', reason: 'payment_declined' },
      },
      PaymentVoided: { reply: { step: 'authorizePayment', outcome: 'compensated' } },
      StockCommitted: { reply: { step: 'commitStock', outcome: 'succeeded' } },
      PaymentCaptured: { reply: { step: 'capturePayment', outcome: 'succeeded' } },
    });
  });

  it.each([
    M.ReserveStock.typeName,
    M.AuthorizePayment.typeName,
    M.ReleaseStock.typeName,
    M.OrderConfirmed.typeName,
    M.OrderRejected.typeName,
    'bulkhead.unknown.v1.Nothing',
    '',
  ])('%j is not a reply: undefined', (type) => {
    expect(decodeReply(type, new Uint8Array())).toBeUndefined();
  });

  // Field 1, length-delimited, claims 255 bytes that are not there.
  const malformed = new Uint8Array([0x0a, 0xff]);

  it.each([M.StockReserved.typeName, M.StockReservationFailed.typeName])(
    'a malformed %s payload throws',
    (type) => {
      expect(() => decodeReply(type, malformed)).toThrow();
    },
  );
});
