import { describe, expect, it } from 'vitest';
import { AimdLimit, ConcurrencyLimiter, gradient2, type LimitAlgorithm } from '../src/index.js';

const aimd = () =>
  new AimdLimit({ initialLimit: 10, minLimit: 2, maxLimit: 20, backoffRatio: 0.5, timeoutMs: 100 });

/** A fixed limit, to test the limiter apart from any algorithm. */
const fixed = (limit: number): LimitAlgorithm & { samples: unknown[] } => {
  const samples: unknown[] = [];
  return { limit, samples, update: (s) => void samples.push(s) };
};

describe('AimdLimit', () => {
  it('grows by one per success while at least half the limit is in use', () => {
    const limit = aimd();
    limit.update({ rttMs: 5, inflight: 5, dropped: false });
    limit.update({ rttMs: 5, inflight: 6, dropped: false });
    expect(limit.limit).toBe(12);
  });

  it('does not grow while application-limited', () => {
    const limit = aimd();
    for (let i = 0; i < 100; i++) limit.update({ rttMs: 5, inflight: 4, dropped: false });
    expect(limit.limit).toBe(10);
  });

  it('backs off multiplicatively on a drop or a timeout, down to the minimum', () => {
    const limit = aimd();
    limit.update({ rttMs: 5, inflight: 10, dropped: true });
    expect(limit.limit).toBe(5);
    limit.update({ rttMs: 150, inflight: 5, dropped: false });
    expect(limit.limit).toBe(2);
    limit.update({ rttMs: 150, inflight: 2, dropped: false });
    expect(limit.limit).toBe(2);
  });

  it('never exceeds the maximum', () => {
    const limit = aimd();
    for (let i = 0; i < 100; i++) limit.update({ rttMs: 5, inflight: 20, dropped: false });
    expect(limit.limit).toBe(20);
  });

  it('refuses inconsistent bounds', () => {
    expect(
      () =>
        new AimdLimit({
          initialLimit: 1,
          minLimit: 2,
          maxLimit: 3,
          backoffRatio: 0.5,
          timeoutMs: 1,
        }),
    ).toThrow(RangeError);
  });
});

describe('Gradient2Limit', () => {
  it('grows while the RTT stays at its long-term level and the limit is in use', () => {
    const limit = gradient2({ initialLimit: 20 });
    for (let i = 0; i < 50; i++) limit.update({ rttMs: 10, inflight: limit.limit, dropped: false });
    expect(limit.limit).toBeGreaterThan(40);
  });

  it('does not grow while application-limited', () => {
    const limit = gradient2({ initialLimit: 20 });
    for (let i = 0; i < 50; i++) limit.update({ rttMs: 10, inflight: 5, dropped: false });
    expect(limit.limit).toBe(20);
  });

  it('shrinks when requests queue (RTT well above the long-term average), at most halving', () => {
    const limit = gradient2({ initialLimit: 40 });
    for (let i = 0; i < 200; i++) limit.update({ rttMs: 10, inflight: 10, dropped: false }); // baseline
    expect(limit.limit).toBe(40);
    limit.update({ rttMs: 80, inflight: 40, dropped: false });
    // gradient clamps at 0.5: 40 × 0.8 + (40 × 0.5 + 4) × 0.2 = 36.8
    expect(limit.limit).toBe(36);
    for (let i = 0; i < 20; i++) limit.update({ rttMs: 80, inflight: limit.limit, dropped: false });
    expect(limit.limit).toBeLessThan(15);
  });

  it('settles near the downstream capacity at first, then drifts up under a sustained overload', () => {
    // A downstream with 10 parallel slots and a 10 ms service time: N requests in flight take
    // 10 ms × max(1, N / 10). Warm up unloaded, then saturate (clients always fill the limit).
    const limit = gradient2({ initialLimit: 20, maxLimit: 1_000 });
    const rtt = (n: number) => 10 * Math.max(1, n / 10);
    const saturate = (samples: number) => {
      for (let i = 0; i < samples; i++) {
        const n = limit.limit;
        limit.update({ rttMs: rtt(n), inflight: n, dropped: false });
      }
    };
    for (let i = 0; i < 100; i++) limit.update({ rttMs: rtt(5), inflight: 5, dropped: false });
    saturate(30);
    // Near the fixed point of L = L × 2 × longRtt / rtt(L) + 4 with longRtt ≈ 10 ms: L ≈ 24.
    expect(limit.limit).toBeGreaterThanOrEqual(20);
    expect(limit.limit).toBeLessThanOrEqual(30);
    // Gradient2's known weakness: the long-term RTT averages the queueing in, so the limit
    // (and the queue) keeps growing while the overload lasts. Why the gateway defaults to AIMD.
    saturate(600);
    expect(limit.limit).toBeGreaterThan(100);
  });

  it('recovers once latency is back to normal after a long overload', () => {
    const limit = gradient2({ initialLimit: 20, minLimit: 4 });
    for (let i = 0; i < 600; i++)
      limit.update({ rttMs: 200, inflight: limit.limit, dropped: false });
    for (let i = 0; i < 200; i++)
      limit.update({ rttMs: 10, inflight: limit.limit, dropped: false });
    expect(limit.longRttMs).toBeLessThan(20);
    expect(limit.limit).toBeGreaterThan(40);
  });
});

describe('ConcurrencyLimiter', () => {
  it('admits up to the limit, then rejects at once, and admits again after a release', () => {
    const limiter = new ConcurrencyLimiter({ algorithm: fixed(3) });
    const permits = [1, 2, 3].map(() => limiter.tryAcquire('a'));
    expect(permits.every((p) => p.admitted)).toBe(true);
    expect(limiter.tryAcquire('a')).toMatchObject({
      admitted: false,
      reason: 'limit',
      inflight: 3,
    });
    const first = permits[0];
    if (!first?.admitted) throw new Error('unreachable');
    first.permit.ignore();
    first.permit.success(); // a second release is a no-op
    expect(limiter.state).toEqual({ limit: 3, inflight: 2, tenants: 1 });
    expect(limiter.tryAcquire('a').admitted).toBe(true);
  });

  it('gives the algorithm one sample per success or drop, none for ignore', () => {
    let clock = 0;
    const algorithm = fixed(10);
    const limiter = new ConcurrencyLimiter({ algorithm, now: () => clock });
    const a = limiter.tryAcquire('t');
    const b = limiter.tryAcquire('t');
    const c = limiter.tryAcquire('t');
    if (!a.admitted || !b.admitted || !c.admitted) throw new Error('not admitted');
    clock = 7;
    a.permit.success();
    b.permit.dropped();
    c.permit.ignore();
    expect(algorithm.samples).toEqual([
      { rttMs: 7, inflight: 1, dropped: false },
      { rttMs: 7, inflight: 2, dropped: true },
    ]);
  });

  it('sheds the heaviest tenant first and keeps room for the others', () => {
    const limiter = new ConcurrencyLimiter({ algorithm: fixed(20), sharedFraction: 0.75 });
    // A flood from one tenant stops at 75% of the limit once another tenant is in flight…
    expect(limiter.tryAcquire('light').admitted).toBe(true);
    let heavy = 0;
    while (limiter.tryAcquire('heavy').admitted) heavy += 1;
    expect(heavy).toBe(14); // 15 in flight in total = 75% of 20
    expect(limiter.tryAcquire('heavy')).toMatchObject({ admitted: false, reason: 'tenant-share' });
    // …and the light tenant (below its fair share of 10) still gets the rest.
    let light = 0;
    while (limiter.tryAcquire('light').admitted) light += 1;
    expect(light).toBe(5);
    expect(limiter.tryAcquire('third')).toMatchObject({ admitted: false, reason: 'limit' });
  });

  it('lets a tenant alone use the whole limit', () => {
    const limiter = new ConcurrencyLimiter({ algorithm: fixed(8) });
    let admitted = 0;
    while (limiter.tryAcquire('only').admitted) admitted += 1;
    expect(admitted).toBe(8);
  });
});
