/**
 * Capped exponential backoff: initialMs, 2×, 4×, … up to maxMs, for attempt = 1, 2, 3, …
 * Used by the consumer's handler retries and by the outbox relay.
 */
export function backoffDelay(attempt: number, initialMs = 100, maxMs = 30_000): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30); // 2^30 is already past any cap
  return Math.min(maxMs, initialMs * 2 ** exponent);
}
