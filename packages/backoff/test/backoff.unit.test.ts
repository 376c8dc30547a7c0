import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/index.js';

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
