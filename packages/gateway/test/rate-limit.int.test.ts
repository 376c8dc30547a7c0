import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { infra, testLogger } from '@bulkhead/testkit';
import { createRateLimitRedis, TenantRateLimiter } from '../src/rate-limit.js';

// Real Redis, two gateway instances' limiters on it (each its own connection, as two processes).
const logger = testLogger('rate-limit');
const clients: Redis[] = [];
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit()));
});

/** A limiter on its own Redis connection, and the commands that connection has sent so far. */
async function instance(): Promise<{ limiter: TenantRateLimiter; commands: () => number }> {
  const redis = createRateLimitRedis(infra.redisUrl, logger);
  clients.push(redis);
  await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  const limiter = new TenantRateLimiter(redis, logger);
  // A first call loads the limiter's script (a NOSCRIPT answer costs a second command once).
  await limiter.consume(`warm-up-${randomUUID()}`, 1);
  let commands = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    commands += 1;
    return send(...args);
  };
  return { limiter, commands: () => commands };
}

const allowedOf = (decisions: Array<{ allowed: boolean }>) =>
  decisions.filter((d) => d.allowed).length;

describe('TenantRateLimiter: leases from the shared window', () => {
  it('admits exactly the limit across two instances in a window, with one Redis call per lease', async () => {
    const [a, b] = [await instance(), await instance()];
    const tenant = `tenant-${randomUUID()}`; // a window of its own, from its first request
    const decisions = [];
    // 150 requests, alternating instances, at a limit of 100 per second: leases of 5.
    for (let i = 0; i < 150; i++) {
      decisions.push(await (i % 2 === 0 ? a : b).limiter.consume(tenant, 100));
    }
    expect(allowedOf(decisions)).toBe(100);
    expect(decisions.slice(0, 100).every((d) => d.allowed)).toBe(true);
    expect(decisions[100]).toEqual({ allowed: false, retryAfterSeconds: 1 });
    // 100 points in leases of 5, and the last lease of each instance found the window spent.
    expect(a.commands() + b.commands()).toBeLessThanOrEqual(100 / 5 + 2);
    // A spent window answers in process: no more Redis calls until it ends.
    const before = a.commands();
    expect(await a.limiter.consume(tenant, 100)).toMatchObject({ allowed: false });
    expect(a.commands()).toBe(before);

    // The next window admits again.
    await sleep(1_050);
    expect(await b.limiter.consume(tenant, 100)).toEqual({ allowed: true });
  });

  it('takes one lease for the requests that come while it is being taken', async () => {
    const { limiter, commands } = await instance();
    const tenant = `tenant-${randomUUID()}`;
    // 50 at once at 1 000 per second: one lease of 50 serves them all.
    const decisions = await Promise.all(
      Array.from({ length: 50 }, () => limiter.consume(tenant, 1_000)),
    );
    expect(allowedOf(decisions)).toBe(50);
    expect(commands()).toBe(1);
    // The 51st takes the next lease.
    expect(await limiter.consume(tenant, 1_000)).toEqual({ allowed: true });
    expect(commands()).toBe(2);
  });

  it('gives a lease the window cannot fill what was left, and no more', async () => {
    const [a, b] = [await instance(), await instance()];
    const tenant = `tenant-${randomUUID()}`;
    // Limit 41: leases of 2. a spends 39 points in 20 leases (40 taken: it holds the 40th).
    const decisions = [];
    for (let i = 0; i < 39; i++) decisions.push(await a.limiter.consume(tenant, 41));
    expect(allowedOf(decisions)).toBe(39);
    // b asks for 2 with 1 left: it gets that 1, then the window is spent for b.
    expect(await b.limiter.consume(tenant, 41)).toEqual({ allowed: true });
    expect(await b.limiter.consume(tenant, 41)).toMatchObject({ allowed: false });
    // a spends the point it holds; its next lease finds nothing left.
    expect(await a.limiter.consume(tenant, 41)).toEqual({ allowed: true });
    expect(await a.limiter.consume(tenant, 41)).toMatchObject({ allowed: false });
  });
});
