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

/**
 * The wait before trying again a request the server refused for now (HTTP 429 or 503, with
 * Retry-After): never sooner than the server asked, plus a random share of backoffDelay(attempt)
 * ("full jitter"), so that clients refused together do not come back together and be refused
 * together again. `retryAfter` is the header's value: seconds, or an HTTP date; without one (or
 * an unreadable one) the wait is the jittered backoff alone.
 */
export function retryAfterDelay(
  attempt: number,
  retryAfter: string | null | undefined,
  options: Omit<BackoffOptions, 'jitter'>,
  random: () => number = Math.random,
  now: number = Date.now(),
): number {
  return Math.round(
    retryAfterMs(retryAfter, now) + random() * backoffDelay(attempt, { ...options, jitter: false }),
  );
}

/** Retry-After in ms from `now`: delay-seconds or an HTTP date; 0 when absent or unreadable. */
function retryAfterMs(value: string | null | undefined, now: number): number {
  const text = value?.trim() ?? '';
  if (text === '') return 0;
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - now) : 0;
}
