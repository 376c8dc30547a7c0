import { describe, expect, it } from 'vitest';
import { backoffDelay, retryAfterDelay } from '../src/index.js';

describe('backoffDelay', () => {
  const options = { initialMs: 100, maxMs: 5_000 };

  it('doubles from the initial delay up to the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 10, 10_000].map((attempt) =>
      backoffDelay(attempt, options),
    );
    expect(delays).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000]);
  });

  it('treats attempt 0 or less as the first attempt', () => {
    expect(backoffDelay(0, options)).toBe(100);
    expect(backoffDelay(-3, options)).toBe(100);
  });

  it('jitters within [ceiling / 2, ceiling]', () => {
    const jittered = { ...options, jitter: true };
    expect(backoffDelay(4, jittered, () => 0)).toBe(400);
    expect(backoffDelay(4, jittered, () => 0.5)).toBe(600);
    expect(backoffDelay(4, jittered, () => 1)).toBe(800);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(20, jittered);
      expect(delay).toBeGreaterThanOrEqual(2_500);
      expect(delay).toBeLessThanOrEqual(5_000);
    }
  });
});

describe('retryAfterDelay', () => {
  const options = { initialMs: 500, maxMs: 8_000 };

  it('waits at least Retry-After seconds, plus a random share of the backoff', () => {
    expect(retryAfterDelay(1, '1', options, () => 0)).toBe(1_000);
    expect(retryAfterDelay(1, '1', options, () => 1)).toBe(1_500);
    expect(retryAfterDelay(3, '2', options, () => 0.5)).toBe(3_000);
    expect(retryAfterDelay(10, '1', options, () => 1)).toBe(9_000);
  });

  it('spreads clients refused together over the backoff, never below Retry-After', () => {
    const delays = Array.from({ length: 200 }, () => retryAfterDelay(4, '1', options));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(5_000);
    expect(new Set(delays).size).toBeGreaterThan(50);
  });

  it('reads an HTTP date, and takes a missing or unreadable header as no floor', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(retryAfterDelay(1, 'Tue, 01 Dec 2026 12:00:03 GMT', options, () => 0, now)).toBe(3_000);
    expect(retryAfterDelay(1, 'Tue, 01 Dec 2026 11:59:00 GMT', options, () => 0, now)).toBe(0);
    expect(retryAfterDelay(2, null, options, () => 1)).toBe(1_000);
    expect(retryAfterDelay(2, undefined, options, () => 1)).toBe(1_000);
    expect(retryAfterDelay(2, 'soon', options, () => 1)).toBe(1_000);
    expect(retryAfterDelay(2, '-5', options, () => 1)).toBe(1_000);
  });
});
