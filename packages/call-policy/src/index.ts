import {
  BrokenCircuitError,
  circuitBreaker,
  CircuitState,
  ExponentialBackoff,
  handleType,
  handleWhen,
  retry,
  SamplingBreaker,
  type CircuitBreakerPolicy,
  type RetryPolicy,
} from 'cockatiel';
import type { Logger } from '@bulkhead/logger';
import type { Metrics } from '@bulkhead/metrics';

/**
 * The policy every outgoing call of the platform runs under (the gRPC client applies it to each
 * unary call): a circuit breaker per downstream and, for idempotent calls only, a retry with
 * jittered backoff that a retry budget caps so that retries cannot amplify an overload. Built
 * on cockatiel; this module is the project's interface to it.
 */

/** A retry budget: retries may be at most `ratio` of calls, plus a small burst. */
export class RetryBudget {
  private balance: number;

  constructor(
    private readonly ratio = 0.1,
    private readonly burst = 10,
  ) {
    if (!(ratio >= 0 && ratio <= 1)) throw new RangeError('ratio must be in [0, 1]');
    this.balance = burst;
  }

  /** Every first attempt deposits `ratio` of a retry. */
  deposit(): void {
    this.balance = Math.min(this.burst, this.balance + this.ratio);
  }

  /** A retry withdraws one; false (and no retry) when the budget is spent. */
  withdraw(): boolean {
    if (this.balance < 1) return false;
    this.balance -= 1;
    return true;
  }
}

/** The circuit is open: the downstream is failing, calls are refused at once for a while. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  constructor(
    readonly downstream: string,
    /** How long until the breaker lets a trial call through. */
    readonly retryAfterMs: number,
  ) {
    super(`${downstream} is failing; calls are refused for ${Math.ceil(retryAfterMs)} ms`);
  }
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CallPolicyState {
  downstream: string;
  breaker: BreakerState;
  /** While open: when a trial call is next let through (epoch ms). */
  halfOpenAt?: number;
  calls: number;
  retries: number;
  /** Retries the budget refused. */
  retriesDenied: number;
  /** Calls refused by the open breaker. */
  rejected: number;
}

export interface CallPolicyOptions {
  /** What the policy guards, for logs and state: e.g. `cell-1/orders`. */
  downstream: string;
  logger: Logger;
  /** The failures that count against the breaker (e.g. UNAVAILABLE, DEADLINE_EXCEEDED). */
  isFailure: (error: unknown) => boolean;
  /** The failures an idempotent call may be retried after (e.g. UNAVAILABLE). */
  isTransient: (error: unknown) => boolean;
  retry?: {
    /** Retries after the first attempt (default 1). */
    maxRetries?: number;
    initialDelayMs?: number;
    maxDelayMs?: number;
    /** Shared by every call to the downstream (default: 10% of calls, burst 10). */
    budget?: RetryBudget;
  };
  breaker?: {
    /** Share of failed calls over the window that opens the breaker (default 0.5). */
    failureRatio?: number;
    windowMs?: number;
    /** Below this many calls per second the breaker never opens (default 2). */
    minimumRps?: number;
    /** How long it stays open before one trial call (default 2 s). */
    halfOpenAfterMs?: number;
  };
}

export interface CallOptions {
  /** Safe to repeat: only then is a transient failure retried. */
  idempotent: boolean;
  /** Absolute deadline (epoch ms): no retry that could not finish before it. */
  deadline: number;
}

export interface CallPolicy {
  run<T>(attempt: () => Promise<T>, call: CallOptions): Promise<T>;
  readonly state: CallPolicyState;
}

/** Wraps an error an attempt may be retried after (so the retry policy needs no call context). */
class Retryable extends Error {
  constructor(readonly failure: unknown) {
    super('retryable');
  }
}

/** Least time a retry must have before the deadline for it to be worth starting. */
const MIN_RETRY_WINDOW_MS = 20;

export function createCallPolicy(options: CallPolicyOptions): CallPolicy {
  const { downstream, logger } = options;
  const maxRetries = options.retry?.maxRetries ?? 1;
  const maxDelayMs = options.retry?.maxDelayMs ?? 100;
  const budget = options.retry?.budget ?? new RetryBudget();
  const halfOpenAfterMs = options.breaker?.halfOpenAfterMs ?? 2_000;
  const counters = { calls: 0, retries: 0, retriesDenied: 0, rejected: 0 };

  const breaker: CircuitBreakerPolicy = circuitBreaker(
    handleWhen((error) => options.isFailure(error)),
    {
      halfOpenAfter: halfOpenAfterMs,
      breaker: new SamplingBreaker({
        threshold: options.breaker?.failureRatio ?? 0.5,
        duration: options.breaker?.windowMs ?? 5_000,
        minimumRps: options.breaker?.minimumRps ?? 2,
      }),
    },
  );
  let openedAt = 0;
  breaker.onStateChange((state) => {
    if (state === CircuitState.Open) {
      openedAt = Date.now();
      logger.warn(
        {
          downstream,
          err:
            breaker.lastFailure && 'error' in breaker.lastFailure
              ? breaker.lastFailure.error
              : undefined,
        },
        'circuit breaker opened: calls refused at once until a trial call succeeds',
      );
    } else if (state === CircuitState.HalfOpen) {
      logger.info({ downstream }, 'circuit breaker half-open: one trial call');
    } else if (state === CircuitState.Closed) {
      logger.info({ downstream }, 'circuit breaker closed: calls flow again');
    }
  });

  const retrying: RetryPolicy = retry(handleType(Retryable), {
    maxAttempts: maxRetries,
    backoff: new ExponentialBackoff({
      initialDelay: options.retry?.initialDelayMs ?? 10,
      maxDelay: maxDelayMs,
    }),
  });
  retrying.onRetry(() => {
    counters.retries += 1;
  });

  const retryAfterMs = () => Math.max(0, openedAt + halfOpenAfterMs - Date.now());
  let trialInFlight = false;

  /**
   * One attempt through the breaker. Half-open lets one trial through and refuses the rest at
   * once (cockatiel would hold them until the trial ends).
   */
  async function throughBreaker<T>(attempt: () => Promise<T>): Promise<T> {
    const halfOpen =
      breaker.state === CircuitState.HalfOpen ||
      (breaker.state === CircuitState.Open && retryAfterMs() === 0);
    if (halfOpen && trialInFlight) {
      counters.rejected += 1;
      throw new CircuitOpenError(downstream, halfOpenAfterMs);
    }
    if (halfOpen) trialInFlight = true;
    try {
      return await breaker.execute(attempt);
    } catch (error) {
      if (error instanceof BrokenCircuitError) {
        counters.rejected += 1;
        throw new CircuitOpenError(downstream, retryAfterMs() || halfOpenAfterMs);
      }
      throw error;
    } finally {
      if (halfOpen) trialInFlight = false;
    }
  }

  return {
    async run<T>(attempt: () => Promise<T>, call: CallOptions): Promise<T> {
      counters.calls += 1;
      budget.deposit();
      try {
        return await retrying.execute(async ({ attempt: n }) => {
          try {
            return await throughBreaker(attempt);
          } catch (error) {
            const retryable =
              call.idempotent &&
              n < maxRetries &&
              options.isTransient(error) &&
              call.deadline - Date.now() > maxDelayMs + MIN_RETRY_WINDOW_MS;
            if (!retryable) throw error;
            if (!budget.withdraw()) {
              counters.retriesDenied += 1;
              throw error;
            }
            throw new Retryable(error);
          }
        });
      } catch (error) {
        throw error instanceof Retryable ? error.failure : error;
      }
    },
    get state(): CallPolicyState {
      const state =
        breaker.state === CircuitState.Open
          ? 'open'
          : breaker.state === CircuitState.HalfOpen
            ? 'half-open'
            : 'closed';
      return {
        downstream,
        breaker: state,
        ...(state === 'open' ? { halfOpenAt: openedAt + halfOpenAfterMs } : {}),
        ...counters,
      };
    },
  };
}

/** The breaker states as the `state` label of circuit_breaker_state spells them. */
const BREAKER_STATE_LABELS: Record<BreakerState, string> = {
  closed: 'closed',
  'half-open': 'half_open',
  open: 'open',
};

/**
 * `circuit_breaker_state{cell, target, state}`, a state set read at scrape time: for each breaker
 * `read()` lists (by its cell and target), 1 for its current state and 0 for the two others, so
 * every breaker has its three series from the moment its client exists.
 */
export function breakerStateMetric(
  metrics: Metrics,
  read: () => Iterable<{ cell: string; target: string; state: BreakerState }>,
): void {
  metrics.gauge({
    name: 'circuit_breaker_state',
    help: 'Circuit breaker of each (cell, target): 1 for the current state, 0 for the others',
    labelNames: ['cell', 'target', 'state'],
    collect() {
      this.reset();
      for (const { cell, target, state } of read()) {
        for (const [each, label] of Object.entries(BREAKER_STATE_LABELS)) {
          this.set({ cell, target, state: label }, each === state ? 1 : 0);
        }
      }
    },
  });
}
