import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/index.js';

describe('backoffDelay', () => {
  it('doubles from the initial delay', () => {
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(attempt, 100, 10_000))).toEqual([
      100, 200, 400, 800,
    ]);
  });

  it('is capped, even for huge attempt numbers', () => {
    expect(backoffDelay(8, 100, 10_000)).toBe(10_000);
    expect(backoffDelay(10_000, 100, 10_000)).toBe(10_000);
  });

  it('treats attempt 0 or less as the first attempt', () => {
    expect(backoffDelay(0, 100, 10_000)).toBe(100);
  });
});
