/**
 * An orchestrated saga as a pure state machine (Vitillo, "Understanding Distributed Systems",
 * ch. 13; Garcia-Molina & Salem's sagas). The orchestrator persists `SagaState`, feeds it every
 * reply it receives, and sends the instructions that come back. No I/O happens here, which is
 * what makes every path — including compensation — testable in microseconds.
 *
 * Steps run one at a time, in order. When a step fails, every earlier step that declares a
 * compensation is undone, latest first; then the saga ends FAILED with the failure's reason.
 * Steps without a compensation are either read-only or come after the pivot (they must succeed
 * and are retried by the transport until they do).
 */

export interface StepDefinition<Name extends string = string> {
  readonly name: Name;
  /** True when the step has a compensating action (e.g. release a reservation). */
  readonly compensable: boolean;
}

export interface SagaDefinition<Name extends string = string> {
  readonly name: string;
  readonly steps: readonly StepDefinition<Name>[];
}

export type SagaStatus = 'RUNNING' | 'COMPENSATING' | 'COMPLETED' | 'FAILED';

export interface SagaState<Name extends string = string> {
  readonly status: SagaStatus;
  /** The step being executed (RUNNING) or compensated (COMPENSATING); null when ended. */
  readonly step: Name | null;
  /** Why the saga failed; set from the first failed step's reason. */
  readonly failureReason: string | null;
}

/** What the orchestrator must send next. */
export type Instruction<Name extends string = string> =
  | { readonly kind: 'execute'; readonly step: Name }
  | { readonly kind: 'compensate'; readonly step: Name };

/** A participant's reply about one step. */
export type StepReply<Name extends string = string> =
  | { readonly step: Name; readonly outcome: 'succeeded' }
  | { readonly step: Name; readonly outcome: 'failed'; readonly reason: string }
  | { readonly step: Name; readonly outcome: 'compensated' };

export interface Transition<Name extends string = string> {
  readonly state: SagaState<Name>;
  readonly instructions: readonly Instruction<Name>[];
  /** True when the reply did not match what the saga waits for (duplicate or stale): no change. */
  readonly ignored: boolean;
}

export function defineSaga<const Name extends string>(
  name: string,
  steps: readonly StepDefinition<Name>[],
): SagaDefinition<Name> {
  if (steps.length === 0) throw new Error(`saga ${name} has no steps`);
  const names = new Set(steps.map((s) => s.name));
  if (names.size !== steps.length) throw new Error(`saga ${name} has duplicate step names`);
  return { name, steps };
}

export function isEnded(state: SagaState): boolean {
  return state.status === 'COMPLETED' || state.status === 'FAILED';
}

/** Starts the saga: the first step runs. */
export function startSaga<Name extends string>(definition: SagaDefinition<Name>): Transition<Name> {
  const first = definition.steps[0]!.name;
  return {
    state: { status: 'RUNNING', step: first, failureReason: null },
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
  if (state.step !== reply.step) return ignore;
  const index = definition.steps.findIndex((s) => s.name === reply.step);
  if (index < 0) return ignore;

  if (state.status === 'RUNNING') {
    if (reply.outcome === 'succeeded') {
      const next = definition.steps[index + 1];
      if (!next) return done<Name>({ status: 'COMPLETED', step: null, failureReason: null });
      return {
        state: { ...state, step: next.name },
        instructions: [{ kind: 'execute', step: next.name }],
        ignored: false,
      };
    }
    if (reply.outcome === 'failed') return compensateFrom(definition, index - 1, reply.reason);
    return ignore;
  }

  if (state.status === 'COMPENSATING' && reply.outcome === 'compensated') {
    return compensateFrom(definition, index - 1, state.failureReason ?? 'unknown');
  }
  return ignore;
}

/** Compensates the latest compensable step at or before `index`, or ends FAILED if none is left. */
function compensateFrom<Name extends string>(
  definition: SagaDefinition<Name>,
  index: number,
  reason: string,
): Transition<Name> {
  for (let i = index; i >= 0; i--) {
    const step = definition.steps[i]!;
    if (step.compensable) {
      return {
        state: { status: 'COMPENSATING', step: step.name, failureReason: reason },
        instructions: [{ kind: 'compensate', step: step.name }],
        ignored: false,
      };
    }
  }
  return done<Name>({ status: 'FAILED', step: null, failureReason: reason });
}

function done<Name extends string>(state: SagaState<Name>): Transition<Name> {
  return { state, instructions: [], ignored: false };
}
