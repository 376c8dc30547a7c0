import { describe, expect, it } from 'vitest';
import {
  applyReply,
  defineSaga,
  isEnded,
  startSaga,
  type SagaDefinition,
  type SagaState,
} from '../src/index.js';

// A generic saga (the order saga is tested with the real definition in packages/orders).
// `b` is a non-compensable step between compensable ones; `d` is a last, non-compensable step.
const saga = defineSaga('generic', [
  { name: 'a', compensable: true },
  { name: 'b', compensable: false },
  { name: 'c', compensable: true },
  { name: 'd', compensable: false },
]);
type Step = (typeof saga.steps)[number]['name'];

const running = (step: Step): SagaState<Step> => ({ status: 'RUNNING', step, failureReason: null });

describe('saga state machine', () => {
  it('starts with the first step', () => {
    const t = startSaga(saga);
    expect(t.state).toEqual({ status: 'RUNNING', step: 'a', failureReason: null });
    expect(t.instructions).toEqual([{ kind: 'execute', step: 'a' }]);
  });

  it('runs every step in order to COMPLETED on success', () => {
    let state = startSaga(saga).state;
    const sent: string[] = [];
    for (const step of ['a', 'b', 'c', 'd'] as const) {
      const t = applyReply(saga, state, { step, outcome: 'succeeded' });
      expect(t.ignored).toBe(false);
      sent.push(...t.instructions.map((i) => `${i.kind}:${i.step}`));
      state = t.state;
    }
    expect(sent).toEqual(['execute:b', 'execute:c', 'execute:d']);
    expect(state).toEqual({ status: 'COMPLETED', step: null, failureReason: null });
    expect(isEnded(state)).toBe(true);
  });

  it('fails immediately when the first step fails (nothing to compensate)', () => {
    const t = applyReply(saga, startSaga(saga).state, {
      step: 'a',
      outcome: 'failed',
      reason: 'no',
    });
    expect(t.state).toEqual({ status: 'FAILED', step: null, failureReason: 'no' });
    expect(t.instructions).toEqual([]);
  });

  it('compensates the earlier step when a later step fails, then ends FAILED with the reason', () => {
    const failed = applyReply(saga, running('b'), { step: 'b', outcome: 'failed', reason: 'no' });
    expect(failed.state).toEqual({ status: 'COMPENSATING', step: 'a', failureReason: 'no' });
    expect(failed.instructions).toEqual([{ kind: 'compensate', step: 'a' }]);
    const compensated = applyReply(saga, failed.state, { step: 'a', outcome: 'compensated' });
    expect(compensated.state).toEqual({ status: 'FAILED', step: null, failureReason: 'no' });
    expect(compensated.instructions).toEqual([]);
  });

  it('compensates every earlier compensable step, latest first, skipping the others', () => {
    const failed = applyReply(saga, running('d'), { step: 'd', outcome: 'failed', reason: 'boom' });
    expect(failed.state).toEqual({ status: 'COMPENSATING', step: 'c', failureReason: 'boom' });
    expect(failed.instructions).toEqual([{ kind: 'compensate', step: 'c' }]);
    // b has no compensation: a is next
    const c = applyReply(saga, failed.state, { step: 'c', outcome: 'compensated' });
    expect(c.instructions).toEqual([{ kind: 'compensate', step: 'a' }]);
    expect(c.state).toEqual({ status: 'COMPENSATING', step: 'a', failureReason: 'boom' });
    const a = applyReply(saga, c.state, { step: 'a', outcome: 'compensated' });
    expect(a.state).toEqual({ status: 'FAILED', step: null, failureReason: 'boom' });
    expect(a.instructions).toEqual([]);
  });

  it('does not compensate the failed step itself, and skips a non-compensable one before it', () => {
    const t = applyReply(saga, running('c'), { step: 'c', outcome: 'failed', reason: 'no' });
    expect(t.state).toEqual({ status: 'COMPENSATING', step: 'a', failureReason: 'no' });
    expect(t.instructions).toEqual([{ kind: 'compensate', step: 'a' }]);
  });

  it('keeps compensating with reason "unknown" when the stored state has no reason', () => {
    const t = applyReply(
      saga,
      { status: 'COMPENSATING', step: 'c', failureReason: null },
      { step: 'c', outcome: 'compensated' },
    );
    expect(t.state).toEqual({ status: 'COMPENSATING', step: 'a', failureReason: 'unknown' });
    expect(t.instructions).toEqual([{ kind: 'compensate', step: 'a' }]);
  });

  it('ignores duplicate, stale and out-of-place replies without changing state', () => {
    const start = startSaga(saga).state;
    const afterA = applyReply(saga, start, { step: 'a', outcome: 'succeeded' }).state;
    // duplicate of an already-applied reply
    expect(applyReply(saga, afterA, { step: 'a', outcome: 'succeeded' })).toEqual({
      state: afterA,
      instructions: [],
      ignored: true,
    });
    // a reply for a later step than the one running
    expect(applyReply(saga, afterA, { step: 'c', outcome: 'succeeded' }).ignored).toBe(true);
    // a compensation reply while running, for another step and for the running one
    expect(applyReply(saga, afterA, { step: 'a', outcome: 'compensated' }).ignored).toBe(true);
    expect(applyReply(saga, running('c'), { step: 'c', outcome: 'compensated' }).ignored).toBe(
      true,
    );
    // anything after the end
    const failed: SagaState<Step> = { status: 'FAILED', step: null, failureReason: 'x' };
    expect(applyReply(saga, failed, { step: 'a', outcome: 'compensated' }).ignored).toBe(true);
    const completed: SagaState<Step> = { status: 'COMPLETED', step: null, failureReason: null };
    expect(applyReply(saga, completed, { step: 'd', outcome: 'succeeded' }).ignored).toBe(true);
    // a success or a failure reply while compensating
    const compensating: SagaState<Step> = {
      status: 'COMPENSATING',
      step: 'a',
      failureReason: 'no',
    };
    expect(applyReply(saga, compensating, { step: 'a', outcome: 'succeeded' })).toEqual({
      state: compensating,
      instructions: [],
      ignored: true,
    });
    expect(
      applyReply(saga, compensating, { step: 'a', outcome: 'failed', reason: 'again' }).ignored,
    ).toBe(true);
  });

  it('ignores a reply for a step the definition does not have', () => {
    const loose: SagaDefinition = saga;
    const state: SagaState = { status: 'RUNNING', step: 'z', failureReason: null };
    expect(applyReply(loose, state, { step: 'z', outcome: 'succeeded' })).toEqual({
      state,
      instructions: [],
      ignored: true,
    });
  });

  it('is ended only when COMPLETED or FAILED', () => {
    expect(isEnded(running('a'))).toBe(false);
    expect(isEnded({ status: 'COMPENSATING', step: 'a', failureReason: 'no' })).toBe(false);
    expect(isEnded({ status: 'COMPLETED', step: null, failureReason: null })).toBe(true);
    expect(isEnded({ status: 'FAILED', step: null, failureReason: 'no' })).toBe(true);
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
