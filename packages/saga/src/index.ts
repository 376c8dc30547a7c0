/**
 * An orchestrated saga as a pure state machine (Vitillo, "Understanding Distributed Systems",
 * ch. 13; Garcia-Molina & Salem's sagas). The orchestrator persists `SagaState`, feeds it every
 * reply it receives and every deadline that passes, and sends the instructions that come back.
 * No I/O happens here, which is what makes every path — compensation and time-outs included —
 * testable in microseconds.
 *
 * Steps run one at a time, in order. The **pivot** is the last compensable step: the steps up to
 * it may fail, the steps after it must succeed (they are re-sent until they do). Steps after the
 * pivot that do not depend on each other may all run at once (`afterPivot: 'at-once'`): once the
 * pivot succeeded, every one of them is sent together and the saga completes when the last has
 * answered — one round trip instead of one per step.
 * - A step that **failed** (a business answer: out of stock, declined) did nothing: the earlier
 *   compensable steps are undone.
 * - A step that was **aborted** (the participant could not carry the command out, or no answer
 *   came within the step's deadline after bounded re-sends) may still take effect later — a
 *   redriven command, a late delivery — so it is undone too, with the earlier ones.
 * Compensations are independent of each other and are all sent at once; the saga then awaits
 * each acknowledgement (re-sending what is overdue, for as long as it takes) and ends FAILED when
 * the last one arrives. The outcome is decided when the failure happens: `failureReason` is set
 * from then on, while the compensations are still in flight.
 */

export interface StepDefinition<Name extends string = string> {
  readonly name: Name;
  /** True when the step has a compensating action (e.g. release a reservation). */
  readonly compensable: boolean;
}

export interface SagaDefinition<Name extends string = string> {
  readonly name: string;
  readonly steps: readonly StepDefinition<Name>[];
  /**
   * How the steps after the pivot run: one after the other (`in-order`, the default: each may
   * need what the one before it did) or all at once (`at-once`: they are independent).
   */
  readonly afterPivot: 'in-order' | 'at-once';
}

export type SagaStatus = 'RUNNING' | 'COMPENSATING' | 'COMPLETED' | 'FAILED';

export interface SagaState<Name extends string = string> {
  readonly status: SagaStatus;
  /** The step being executed (RUNNING, one at a time); null otherwise. */
  readonly step: Name | null;
  /**
   * RUNNING past the pivot with `afterPivot: 'at-once'`: the steps after it not yet acknowledged,
   * all in flight together (`step` is null then); empty otherwise.
   */
  readonly completing: readonly Name[];
  /** The compensations awaited (COMPENSATING), latest step first; empty otherwise. */
  readonly compensating: readonly Name[];
  /** Why the saga failed; set once it has failed (COMPENSATING or FAILED). */
  readonly failureReason: string | null;
}

/** What the orchestrator must send next. */
export type Instruction<Name extends string = string> =
  | { readonly kind: 'execute'; readonly step: Name }
  | { readonly kind: 'compensate'; readonly step: Name };

/** A participant's reply about one step. */
export type StepReply<Name extends string = string> =
  | { readonly step: Name; readonly outcome: 'succeeded' }
  /** A business refusal: the step did nothing. */
  | { readonly step: Name; readonly outcome: 'failed'; readonly reason: string }
  /** The step's command could not be carried out; it may still take effect later. */
  | { readonly step: Name; readonly outcome: 'aborted'; readonly reason: string }
  | { readonly step: Name; readonly outcome: 'compensated' }
  /** The step's compensation could not be carried out (it is re-sent when overdue). */
  | { readonly step: Name; readonly outcome: 'compensation-failed' };

export interface Transition<Name extends string = string> {
  readonly state: SagaState<Name>;
  readonly instructions: readonly Instruction<Name>[];
  /** True when the reply did not match what the saga waits for (duplicate or stale): no change. */
  readonly ignored: boolean;
}

/** The reason a saga fails with when a step before the pivot got no answer in time. */
export const TIMEOUT_REASON = 'timeout';

export function defineSaga<const Name extends string>(
  name: string,
  steps: readonly StepDefinition<Name>[],
  options: { afterPivot?: SagaDefinition['afterPivot'] } = {},
): SagaDefinition<Name> {
  if (steps.length === 0) throw new Error(`saga ${name} has no steps`);
  const names = new Set(steps.map((s) => s.name));
  if (names.size !== steps.length) throw new Error(`saga ${name} has duplicate step names`);
  return { name, steps, afterPivot: options.afterPivot ?? 'in-order' };
}

export function isEnded(state: SagaState): boolean {
  return state.status === 'COMPLETED' || state.status === 'FAILED';
}

/** The index of the pivot (the last compensable step); -1 when no step is compensable. */
function pivotIndex(definition: SagaDefinition): number {
  return definition.steps.findLastIndex((s) => s.compensable);
}

/** Starts the saga: the first step runs. */
export function startSaga<Name extends string>(definition: SagaDefinition<Name>): Transition<Name> {
  const first = definition.steps[0]!.name;
  return {
    state: {
      status: 'RUNNING',
      step: first,
      completing: [],
      compensating: [],
      failureReason: null,
    },
    instructions: [{ kind: 'execute', step: first }],
    ignored: false,
  };
}

/** Applies one reply to the state. Pure: same inputs, same output. */
export function applyReply<Name extends string>(
  definition: SagaDefinition<Name>,
  state: SagaState<Name>,
  reply: StepReply<Name>,
): Transition<Name> {
  const ignore: Transition<Name> = { state, instructions: [], ignored: true };
  const index = definition.steps.findIndex((s) => s.name === reply.step);
  if (index < 0) return ignore;

  const awaited =
    state.status === 'RUNNING' &&
    (state.step === reply.step || state.completing.includes(reply.step));
  if (awaited) {
    switch (reply.outcome) {
      case 'succeeded':
        return succeeded(definition, state, index);
      case 'failed':
        return fail(definition, index - 1, reply.reason);
      case 'aborted':
        // After the pivot a step must succeed: it stays awaited and is re-sent when overdue.
        return index <= pivotIndex(definition) ? fail(definition, index, reply.reason) : ignore;
      default:
        return ignore;
    }
  }

  if (
    state.status === 'COMPENSATING' &&
    reply.outcome === 'compensated' &&
    state.compensating.includes(reply.step)
  ) {
    const compensating = state.compensating.filter((step) => step !== reply.step);
    if (compensating.length > 0) return transition({ ...state, compensating });
    return transition({ ...state, status: 'FAILED', compensating: [] });
  }
  return ignore;
}

/**
 * Step `index`, awaited, succeeded: the next step runs — or, from the pivot on with `afterPivot:
 * 'at-once'`, every step after it at once, and the saga completes when the last has answered.
 */
function succeeded<Name extends string>(
  definition: SagaDefinition<Name>,
  state: SagaState<Name>,
  index: number,
): Transition<Name> {
  const ended = { ...state, status: 'COMPLETED', step: null, completing: [] } as const;
  if (state.completing.length > 0) {
    const step = definition.steps[index]!.name;
    const completing = state.completing.filter((name) => name !== step);
    return transition(completing.length > 0 ? { ...state, completing } : ended);
  }
  const next = definition.steps[index + 1];
  if (!next) return transition(ended);
  if (definition.afterPivot === 'at-once' && index + 1 > pivotIndex(definition)) {
    const rest = definition.steps.slice(index + 1).map((s) => s.name);
    return transition(
      { ...state, step: null, completing: rest },
      rest.map((step) => ({ kind: 'execute', step })),
    );
  }
  return transition({ ...state, step: next.name }, [{ kind: 'execute', step: next.name }]);
}

/** What the deadline of the awaited step did: nothing, re-sent its command(s), or timed it out. */
export type DeadlineOutcome = 'none' | 'resent' | 'timed-out';

/**
 * The awaited step's deadline has passed; `resends` is how often its command was re-sent already.
 * - RUNNING before or at the pivot: re-send the command until `maxResends`, then time the step
 *   out — the saga fails with reason `timeout` and compensates the step and the earlier ones.
 * - RUNNING after the pivot (the running step, or every step still completing), or
 *   COMPENSATING: re-send, however often (these must succeed; the orchestrator reports a saga
 *   that keeps needing re-sends as stuck).
 * Participants are idempotent per saga, so a re-sent command is harmless.
 */
export function onDeadline<Name extends string>(
  definition: SagaDefinition<Name>,
  state: SagaState<Name>,
  { resends, maxResends }: { resends: number; maxResends: number },
): Transition<Name> & { outcome: DeadlineOutcome } {
  if (state.status === 'RUNNING' && state.completing.length > 0) {
    return {
      state,
      instructions: state.completing.map((step) => ({ kind: 'execute', step })),
      ignored: false,
      outcome: 'resent',
    };
  }
  if (state.status === 'RUNNING' && state.step !== null) {
    const index = definition.steps.findIndex((s) => s.name === state.step);
    if (index <= pivotIndex(definition) && resends >= maxResends) {
      return { ...fail(definition, index, TIMEOUT_REASON), outcome: 'timed-out' };
    }
    return {
      state,
      instructions: [{ kind: 'execute', step: state.step }],
      ignored: false,
      outcome: 'resent',
    };
  }
  if (state.status === 'COMPENSATING') {
    return {
      state,
      instructions: state.compensating.map((step) => ({ kind: 'compensate', step })),
      ignored: false,
      outcome: 'resent',
    };
  }
  return { state, instructions: [], ignored: true, outcome: 'none' };
}

/**
 * The saga fails: every compensable step at or before `index` is compensated, all at once
 * (latest first), or — when there is none — it ends FAILED at once.
 */
function fail<Name extends string>(
  definition: SagaDefinition<Name>,
  index: number,
  reason: string,
): Transition<Name> {
  const compensating = definition.steps
    .slice(0, index + 1)
    .filter((s) => s.compensable)
    .map((s) => s.name)
    .reverse();
  const failed = { step: null, completing: [], compensating, failureReason: reason } as const;
  if (compensating.length === 0) return transition({ ...failed, status: 'FAILED' });
  return transition(
    { ...failed, status: 'COMPENSATING' },
    compensating.map((step) => ({ kind: 'compensate', step })),
  );
}

function transition<Name extends string>(
  state: SagaState<Name>,
  instructions: readonly Instruction<Name>[] = [],
): Transition<Name> {
  return { state, instructions, ignored: false };
}
