import { describe, expect, it } from 'vitest';
import {
  applyReply,
  defineSaga,
  isEnded,
  onDeadline,
  startSaga,
  TIMEOUT_REASON,
  type SagaState,
  type StepReply,
} from '../src/index.js';

/** reserve and authorize can be undone; authorize is the pivot; commit and capture must succeed. */
const saga = defineSaga('order', [
  { name: 'reserve', compensable: true },
  { name: 'authorize', compensable: true },
  { name: 'commit', compensable: false },
  { name: 'capture', compensable: false },
]);
type Step = (typeof saga.steps)[number]['name'];

const running = (step: Step): SagaState<Step> => ({
  status: 'RUNNING',
  step,
  completing: [],
  compensating: [],
  failureReason: null,
});

/** Feeds the replies one after the other from the start. */
function run(...replies: StepReply<Step>[]): SagaState<Step> {
  let state = startSaga(saga).state;
  for (const reply of replies) state = applyReply(saga, state, reply).state;
  return state;
}

describe('saga state machine', () => {
  it('runs every step in order and completes', () => {
    const t = applyReply(saga, running('reserve'), { step: 'reserve', outcome: 'succeeded' });
    expect(t.instructions).toEqual([{ kind: 'execute', step: 'authorize' }]);
    const done = run(
      ...(['reserve', 'authorize', 'commit', 'capture'] as const).map(
        (step) => ({ step, outcome: 'succeeded' }) as const,
      ),
    );
    expect(done).toEqual({
      status: 'COMPLETED',
      step: null,
      completing: [],
      compensating: [],
      failureReason: null,
    });
    expect(isEnded(done)).toBe(true);
  });

  it('a business failure compensates only the earlier steps', () => {
    const t = applyReply(saga, running('authorize'), {
      step: 'authorize',
      outcome: 'failed',
      reason: 'payment_declined',
    });
    expect(t.state).toEqual({
      status: 'COMPENSATING',
      step: null,
      completing: [],
      compensating: ['reserve'],
      failureReason: 'payment_declined',
    });
    expect(t.instructions).toEqual([{ kind: 'compensate', step: 'reserve' }]);
  });

  it('a failure of the first step ends the saga at once', () => {
    const t = applyReply(saga, running('reserve'), {
      step: 'reserve',
      outcome: 'failed',
      reason: 'out_of_stock',
    });
    expect(t.state.status).toBe('FAILED');
    expect(t.state.failureReason).toBe('out_of_stock');
    expect(t.instructions).toEqual([]);
  });

  it('an aborted step is compensated together with the earlier ones, all at once', () => {
    const t = applyReply(saga, running('authorize'), {
      step: 'authorize',
      outcome: 'aborted',
      reason: 'processing_failed',
    });
    expect(t.state.compensating).toEqual(['authorize', 'reserve']);
    expect(t.instructions).toEqual([
      { kind: 'compensate', step: 'authorize' },
      { kind: 'compensate', step: 'reserve' },
    ]);
  });

  it('ends FAILED only when every compensation was acknowledged, in any order', () => {
    let state = applyReply(saga, running('authorize'), {
      step: 'authorize',
      outcome: 'aborted',
      reason: 'processing_failed',
    }).state;
    state = applyReply(saga, state, { step: 'reserve', outcome: 'compensated' }).state;
    expect(state).toMatchObject({ status: 'COMPENSATING', compensating: ['authorize'] });
    const duplicate = applyReply(saga, state, { step: 'reserve', outcome: 'compensated' });
    expect(duplicate.ignored).toBe(true);
    state = applyReply(saga, state, { step: 'authorize', outcome: 'compensated' }).state;
    expect(state).toEqual({
      status: 'FAILED',
      step: null,
      completing: [],
      compensating: [],
      failureReason: 'processing_failed',
    });
  });

  it('an aborted step after the pivot is not compensated: it stays awaited', () => {
    const t = applyReply(saga, running('capture'), {
      step: 'capture',
      outcome: 'aborted',
      reason: 'processing_failed',
    });
    expect(t.ignored).toBe(true);
    expect(t.state).toEqual(running('capture'));
  });

  it('ignores stale, duplicate and unknown replies', () => {
    const state = running('authorize');
    for (const reply of [
      { step: 'reserve', outcome: 'succeeded' },
      { step: 'reserve', outcome: 'compensated' },
      { step: 'authorize', outcome: 'compensated' },
      { step: 'authorize', outcome: 'compensation-failed' },
      { step: 'nope' as Step, outcome: 'succeeded' },
    ] as StepReply<Step>[]) {
      expect(applyReply(saga, state, reply)).toEqual({ state, instructions: [], ignored: true });
    }
    const ended = run({ step: 'reserve', outcome: 'failed', reason: 'out_of_stock' });
    expect(applyReply(saga, ended, { step: 'reserve', outcome: 'succeeded' }).ignored).toBe(true);
  });
});

describe('saga deadlines', () => {
  const limits = { resends: 0, maxResends: 2 };

  it('re-sends the awaited command until the bound, then times the step out', () => {
    const resent = onDeadline(saga, running('authorize'), limits);
    expect(resent.outcome).toBe('resent');
    expect(resent.state).toEqual(running('authorize'));
    expect(resent.instructions).toEqual([{ kind: 'execute', step: 'authorize' }]);

    const timedOut = onDeadline(saga, running('authorize'), { resends: 2, maxResends: 2 });
    expect(timedOut.outcome).toBe('timed-out');
    expect(timedOut.state).toEqual({
      status: 'COMPENSATING',
      step: null,
      completing: [],
      compensating: ['authorize', 'reserve'],
      failureReason: TIMEOUT_REASON,
    });
    expect(timedOut.instructions).toEqual([
      { kind: 'compensate', step: 'authorize' },
      { kind: 'compensate', step: 'reserve' },
    ]);
  });

  it('never times out a step after the pivot, nor a compensation: it re-sends them', () => {
    const capture = onDeadline(saga, running('capture'), { resends: 100, maxResends: 2 });
    expect(capture.outcome).toBe('resent');
    expect(capture.instructions).toEqual([{ kind: 'execute', step: 'capture' }]);

    const compensating: SagaState<Step> = {
      status: 'COMPENSATING',
      step: null,
      completing: [],
      compensating: ['authorize', 'reserve'],
      failureReason: TIMEOUT_REASON,
    };
    const again = onDeadline(saga, compensating, { resends: 100, maxResends: 2 });
    expect(again.outcome).toBe('resent');
    expect(again.state).toBe(compensating);
    expect(again.instructions).toEqual([
      { kind: 'compensate', step: 'authorize' },
      { kind: 'compensate', step: 'reserve' },
    ]);
  });

  it('does nothing for an ended saga', () => {
    const ended = run({ step: 'reserve', outcome: 'failed', reason: 'out_of_stock' });
    expect(onDeadline(saga, ended, limits)).toMatchObject({ outcome: 'none', instructions: [] });
  });

  it('a late success after a time-out changes nothing', () => {
    const timedOut = onDeadline(saga, running('reserve'), { resends: 2, maxResends: 2 }).state;
    expect(timedOut.compensating).toEqual(['reserve']);
    expect(applyReply(saga, timedOut, { step: 'reserve', outcome: 'succeeded' }).ignored).toBe(
      true,
    );
  });
});

describe('steps after the pivot at once', () => {
  const atOnce = defineSaga('order', saga.steps, { afterPivot: 'at-once' });
  const authorized = applyReply(atOnce, running('authorize'), {
    step: 'authorize',
    outcome: 'succeeded',
  });

  it('sends every step after the pivot together once the pivot succeeded', () => {
    expect(authorized.state).toEqual({
      status: 'RUNNING',
      step: null,
      completing: ['commit', 'capture'],
      compensating: [],
      failureReason: null,
    });
    expect(authorized.instructions).toEqual([
      { kind: 'execute', step: 'commit' },
      { kind: 'execute', step: 'capture' },
    ]);
    // Before the pivot the steps still run one at a time.
    const reserved = applyReply(atOnce, running('reserve'), {
      step: 'reserve',
      outcome: 'succeeded',
    });
    expect(reserved.instructions).toEqual([{ kind: 'execute', step: 'authorize' }]);
  });

  it('completes when the last of them answered, in any order; a repeated answer is ignored', () => {
    for (const order of [
      ['commit', 'capture'],
      ['capture', 'commit'],
    ] as const) {
      const first = applyReply(atOnce, authorized.state, { step: order[0], outcome: 'succeeded' });
      expect(first.state).toMatchObject({ status: 'RUNNING', completing: [order[1]] });
      expect(first.instructions).toEqual([]);
      const again = applyReply(atOnce, first.state, { step: order[0], outcome: 'succeeded' });
      expect(again.ignored).toBe(true);
      const last = applyReply(atOnce, first.state, { step: order[1], outcome: 'succeeded' });
      expect(last.state).toEqual({
        status: 'COMPLETED',
        step: null,
        completing: [],
        compensating: [],
        failureReason: null,
      });
      expect(isEnded(last.state)).toBe(true);
    }
  });

  it('keeps an aborted one awaited, and re-sends every one still awaited at its deadline, without end', () => {
    const aborted = applyReply(atOnce, authorized.state, {
      step: 'capture',
      outcome: 'aborted',
      reason: 'processing_failed',
    });
    expect(aborted.ignored).toBe(true);
    const committed = applyReply(atOnce, authorized.state, {
      step: 'commit',
      outcome: 'succeeded',
    });
    const overdue = onDeadline(atOnce, authorized.state, { resends: 100, maxResends: 2 });
    expect(overdue.outcome).toBe('resent');
    expect(overdue.state).toBe(authorized.state);
    expect(overdue.instructions).toEqual([
      { kind: 'execute', step: 'commit' },
      { kind: 'execute', step: 'capture' },
    ]);
    expect(
      onDeadline(atOnce, committed.state, { resends: 100, maxResends: 2 }).instructions,
    ).toEqual([{ kind: 'execute', step: 'capture' }]);
  });

  it('goes on from a step after the pivot that ran in order (a saga stored before at-once)', () => {
    const t = applyReply(atOnce, running('commit'), { step: 'commit', outcome: 'succeeded' });
    expect(t.state).toMatchObject({ status: 'RUNNING', step: null, completing: ['capture'] });
    expect(t.instructions).toEqual([{ kind: 'execute', step: 'capture' }]);
    const done = applyReply(atOnce, running('capture'), { step: 'capture', outcome: 'succeeded' });
    expect(done.state.status).toBe('COMPLETED');
  });
});
