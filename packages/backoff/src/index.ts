/** Capped exponential backoff, the one used by every retry loop in the platform. */
export interface BackoffOptions {
  /** Delay before the first retry. */
  initialMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /**
   * Draw each delay from [d/2, d] instead of d, so that many clients failing together do not
   * retry in lockstep (reconnect storms). Off where one consumer retries one message.
   */
  jitter?: boolean;
}

/**
 * The delay before retry number `attempt` (1, 2, 3, …): initialMs, 2×, 4×, … capped at maxMs.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30); // 2^30 is past any cap
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return options.jitter ? Math.round(ceiling / 2 + random() * (ceiling / 2)) : ceiling;
}
