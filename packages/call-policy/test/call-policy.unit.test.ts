import { describe, expect, it } from 'vitest';
import { recordingLogger } from '@bulkhead/testkit';
import {
  CircuitOpenError,
  createCallPolicy,
  RetryBudget,
  type CallPolicyOptions,
} from '../src/index.js';

class Transient extends Error {}
class Fatal extends Error {}

const policy = (overrides: Partial<CallPolicyOptions> = {}) => {
  const { logger, entries } = recordingLogger();
  const p = createCallPolicy({
    downstream: 'cell-1/orders',
    logger,
    isFailure: (e) => e instanceof Transient || e instanceof Fatal,
    isTransient: (e) => e instanceof Transient,
    retry: { initialDelayMs: 1, maxDelayMs: 5 },
    breaker: { windowMs: 1_000, minimumRps: 5, halfOpenAfterMs: 100 },
    ...overrides,
  });
  return { policy: p, entries };
};

const soon = () => Date.now() + 1_000;
const idempotent = () => ({ idempotent: true, deadline: soon() });

/** An attempt that fails with the given errors in turn, then succeeds. */
const failing = (...errors: Error[]) => {
  let calls = 0;
  const attempt = () => {
    const error = errors[calls++];
    return error ? Promise.reject(error) : Promise.resolve('ok');
  };
  return { attempt, calls: () => calls };
};

describe('createCallPolicy: retries', () => {
  it('retries an idempotent call once after a transient failure', async () => {
    const { policy: p } = policy();
    const f = failing(new Transient());
    await expect(p.run(f.attempt, idempotent())).resolves.toBe('ok');
    expect(f.calls()).toBe(2);
    expect(p.state).toMatchObject({ calls: 1, retries: 1 });
  });

  it('gives up after maxRetries with the last failure', async () => {
    const { policy: p } = policy();
    const f = failing(new Transient('one'), new Transient('two'));
    await expect(p.run(f.attempt, idempotent())).rejects.toThrow('two');
    expect(f.calls()).toBe(2);
  });

  it('never retries a call that is not idempotent, nor a failure that is not transient', async () => {
    const { policy: p } = policy();
    const once = failing(new Transient());
    await expect(p.run(once.attempt, { idempotent: false, deadline: soon() })).rejects.toThrow(
      Transient,
    );
    expect(once.calls()).toBe(1);
    const fatal = failing(new Fatal());
    await expect(p.run(fatal.attempt, idempotent())).rejects.toThrow(Fatal);
    expect(fatal.calls()).toBe(1);
  });

  it('does not retry when the deadline leaves no room for another attempt', async () => {
    const { policy: p } = policy();
    const f = failing(new Transient());
    await expect(p.run(f.attempt, { idempotent: true, deadline: Date.now() + 10 })).rejects.toThrow(
      Transient,
    );
    expect(f.calls()).toBe(1);
  });

  it('keeps retries within 10% of calls (plus the burst) however many calls fail', async () => {
    const { policy: p } = policy({
      isFailure: () => false, // keep the breaker out of it
      retry: { initialDelayMs: 0, maxDelayMs: 1, budget: new RetryBudget(0.1, 5) },
    });
    let attempts = 0;
    const alwaysTransient = () => {
      attempts += 1;
      return Promise.reject(new Transient());
    };
    for (let i = 0; i < 200; i++) {
      await p.run(alwaysTransient, idempotent()).catch(() => undefined);
    }
    const retries = attempts - 200;
    expect(retries).toBeLessThanOrEqual(0.1 * 200 + 5);
    expect(retries).toBeGreaterThanOrEqual(0.1 * 200 - 1);
    expect(p.state.retriesDenied).toBe(200 - retries);
  });
});

describe('RetryBudget', () => {
  it('allows the burst at once, then one retry per 1/ratio calls', () => {
    const budget = new RetryBudget(0.25, 2);
    expect([budget.withdraw(), budget.withdraw(), budget.withdraw()]).toEqual([true, true, false]);
    for (let i = 0; i < 3; i++) budget.deposit();
    expect(budget.withdraw()).toBe(false);
    budget.deposit();
    expect(budget.withdraw()).toBe(true);
  });
});

describe('createCallPolicy: circuit breaker', () => {
  it('opens when most calls fail, refuses at once with the time to wait, logs each change', async () => {
    const { policy: p, entries } = policy();
    const failure = () => Promise.reject(new Fatal());
    for (let i = 0; i < 5; i++) await p.run(failure, idempotent()).catch(() => undefined);
    expect(p.state.breaker).toBe('open'); // 5 calls in the 1 s window: minimumRps reached
    let ran = false;
    const started = performance.now();
    const refused = await p
      .run(() => {
        ran = true;
        return Promise.resolve('ok');
      }, idempotent())
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(5);
    expect(ran).toBe(false);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).retryAfterMs).toBeGreaterThan(0);
    expect((refused as CircuitOpenError).retryAfterMs).toBeLessThanOrEqual(100);
    expect(p.state.rejected).toBe(1);
    expect(entries.map((e) => e.msg)).toContain(
      'circuit breaker opened: calls refused at once until a trial call succeeds',
    );
  });

  it('after halfOpenAfter lets one trial through, refuses others meanwhile, closes on success', async () => {
    const { policy: p, entries } = policy();
    for (let i = 0; i < 6; i++) {
      await p.run(() => Promise.reject(new Fatal()), idempotent()).catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 110)); // halfOpenAfterMs is 100 ms
    let finishTrial: (value: string) => void = () => undefined;
    const trial = p.run(
      () => new Promise<string>((resolve) => (finishTrial = resolve)),
      idempotent(),
    );
    await expect(p.run(() => Promise.resolve('other'), idempotent())).rejects.toBeInstanceOf(
      CircuitOpenError,
    );
    finishTrial('trial');
    await expect(trial).resolves.toBe('trial');
    expect(p.state.breaker).toBe('closed');
    await expect(p.run(() => Promise.resolve('after'), idempotent())).resolves.toBe('after');
    expect(entries.map((e) => e.msg)).toEqual(
      expect.arrayContaining([
        'circuit breaker half-open: one trial call',
        'circuit breaker closed: calls flow again',
      ]),
    );
  });

  it('does not count failures that are not the downstream’s (e.g. invalid arguments)', async () => {
    const { policy: p } = policy();
    for (let i = 0; i < 20; i++) {
      await p
        .run(() => Promise.reject(new Error('bad input')), idempotent())
        .catch(() => undefined);
    }
    expect(p.state.breaker).toBe('closed');
  });
});
