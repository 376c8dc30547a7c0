import { describe, expect, it } from 'vitest';
import { applyReply, defineSaga, isEnded, startSaga, type SagaState } from '../src/index.js';

const order = defineSaga('order', [
  { name: 'reserveStock', compensable: true },
  { name: 'authorizePayment', compensable: true },
  { name: 'commitStock', compensable: false },
  { name: 'capturePayment', compensable: false },
]);
type Step = (typeof order.steps)[number]['name'];

describe('saga state machine', () => {
  it('starts with the first step', () => {
    const t = startSaga(order);
    expect(t.state).toEqual({ status: 'RUNNING', step: 'reserveStock', failureReason: null });
    expect(t.instructions).toEqual([{ kind: 'execute', step: 'reserveStock' }]);
  });

  it('runs every step in order to COMPLETED on success', () => {
    let state = startSaga(order).state;
    const sent: string[] = [];
    for (const step of [
      'reserveStock',
      'authorizePayment',
      'commitStock',
      'capturePayment',
    ] as const) {
      const t = applyReply(order, state, { step, outcome: 'succeeded' });
      expect(t.ignored).toBe(false);
      sent.push(...t.instructions.map((i) => `${i.kind}:${i.step}`));
      state = t.state;
    }
    expect(sent).toEqual([
      'execute:authorizePayment',
      'execute:commitStock',
      'execute:capturePayment',
    ]);
    expect(state).toEqual({ status: 'COMPLETED', step: null, failureReason: null });
    expect(isEnded(state)).toBe(true);
  });

  it('fails immediately when the first step fails (nothing to compensate)', () => {
    const t = applyReply(order, startSaga(order).state, {
      step: 'reserveStock',
      outcome: 'failed',
      reason: 'out_of_stock',
    });
    expect(t.state).toEqual({ status: 'FAILED', step: null, failureReason: 'out_of_stock' });
    expect(t.instructions).toEqual([]);
  });

  it('compensates earlier steps, latest first, when a later step fails', () => {
    const running: SagaState<Step> = {
      status: 'RUNNING',
      step: 'authorizePayment',
      failureReason: null,
    };
    const declined = applyReply(order, running, {
      step: 'authorizePayment',
      outcome: 'failed',
      reason: 'payment_declined',
    });
    expect(declined.state).toEqual({
      status: 'COMPENSATING',
      step: 'reserveStock',
      failureReason: 'payment_declined',
    });
    expect(declined.instructions).toEqual([{ kind: 'compensate', step: 'reserveStock' }]);
    const released = applyReply(order, declined.state, {
      step: 'reserveStock',
      outcome: 'compensated',
    });
    expect(released.state).toEqual({
      status: 'FAILED',
      step: null,
      failureReason: 'payment_declined',
    });
  });

  it('voids the payment and then releases stock when a step after authorization fails', () => {
    const running: SagaState<Step> = {
      status: 'RUNNING',
      step: 'commitStock',
      failureReason: null,
    };
    const failed = applyReply(order, running, {
      step: 'commitStock',
      outcome: 'failed',
      reason: 'boom',
    });
    expect(failed.instructions).toEqual([{ kind: 'compensate', step: 'authorizePayment' }]);
    const voided = applyReply(order, failed.state, {
      step: 'authorizePayment',
      outcome: 'compensated',
    });
    expect(voided.instructions).toEqual([{ kind: 'compensate', step: 'reserveStock' }]);
    expect(voided.state.failureReason).toBe('boom');
    const released = applyReply(order, voided.state, {
      step: 'reserveStock',
      outcome: 'compensated',
    });
    expect(released.state.status).toBe('FAILED');
  });

  it('ignores duplicate, stale and out-of-place replies without changing state', () => {
    const start = startSaga(order).state;
    const afterReserve = applyReply(order, start, {
      step: 'reserveStock',
      outcome: 'succeeded',
    }).state;
    // duplicate of an already-applied reply
    expect(applyReply(order, afterReserve, { step: 'reserveStock', outcome: 'succeeded' })).toEqual(
      {
        state: afterReserve,
        instructions: [],
        ignored: true,
      },
    );
    // a compensation reply while running
    expect(
      applyReply(order, afterReserve, { step: 'authorizePayment', outcome: 'compensated' }).ignored,
    ).toBe(true);
    // anything after the end
    const failed: SagaState<Step> = { status: 'FAILED', step: null, failureReason: 'x' };
    expect(
      applyReply(order, failed, { step: 'reserveStock', outcome: 'compensated' }).ignored,
    ).toBe(true);
    // a success reply while compensating
    const compensating: SagaState<Step> = {
      status: 'COMPENSATING',
      step: 'reserveStock',
      failureReason: 'payment_declined',
    };
    expect(
      applyReply(order, compensating, { step: 'reserveStock', outcome: 'succeeded' }).ignored,
    ).toBe(true);
  });

  it('rejects definitions without steps or with duplicate names', () => {
    expect(() => defineSaga('empty', [])).toThrow(/no steps/);
    expect(() =>
      defineSaga('dup', [
        { name: 'a', compensable: false },
        { name: 'a', compensable: true },
      ]),
    ).toThrow(/duplicate/);
  });
});
