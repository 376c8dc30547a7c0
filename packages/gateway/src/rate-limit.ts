import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '@bulkhead/logger';

export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * A Redis client for rate limiting that fails fast instead of queueing while Redis is down
 * (the limiter then falls back to its in-process insurance limiter) and reconnects in the
 * background with ioredis' default backoff.
 */
export function createRateLimitRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false, // no connection: commands fail at once
    maxRetriesPerRequest: 1, // a command caught by a dropped connection is not retried for long
    commandTimeout: 250, // a hung Redis costs a request at most this much
    connectTimeout: 1_000,
  });
  let healthy = true;
  redis.on('error', (error: Error) => {
    if (!healthy) return; // one warning per outage, not one per reconnect attempt
    healthy = false;
    logger.warn({ err: error }, 'redis unavailable: rate limiting per instance until it is back');
  });
  redis.on('ready', () => {
    if (!healthy) logger.info('redis available again: rate limiting shared across instances');
    healthy = true;
  });
  return redis;
}

/**
 * The share of a tenant's limit one lease takes from the shared window: 1/20 (at least 1 point).
 * A limit of up to 39 per second is counted in Redis request by request, as without leases.
 */
const LEASE_FRACTION = 20;

/** Points this instance took from a tenant's current window and has not spent yet. */
interface Lease {
  /** The limit it was taken under: a changed limit takes a new lease. */
  perSecond: number;
  points: number;
  /** The window had no more points to give: once these are spent, 429 until it ends. */
  windowSpent: boolean;
  /** performance.now() at which the window it was taken from ends: no point outlives it. */
  endsAt: number;
}

/**
 * Per-tenant fixed one-second window in Redis, shared by every gateway instance. While Redis
 * is unreachable each instance enforces the same limit in memory (the insurance limiter).
 *
 * Redis is off the hot path: an instance takes a tenant's points from the window in **leases**
 * of 1/20 of the limit (one INCRBY for 50 requests at 1 000/s) and spends them in process until
 * the window ends; a window found spent answers 429 in process until it ends too. A lease the
 * window cannot fill whole gets what was left, so the instances together never admit more than
 * the limit in a window; they may admit less, by at most the points leased but unspent when it
 * ends (under one lease per instance: 5 % of the limit each).
 */
export class TenantRateLimiter {
  /** RateLimiterRedis has a fixed number of points: one limiter per distinct limit. */
  private readonly limiters = new Map<number, RateLimiterRedis>();
  private readonly leases = new Map<string, Lease>();
  /** A tenant's lease being taken: concurrent requests wait for it instead of each asking Redis. */
  private readonly taking = new Map<string, Promise<Lease | RateLimitDecision>>();

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    private readonly keyPrefix = 'bulkhead:gateway:rate',
  ) {}

  async consume(tenantId: string, perSecond: number): Promise<RateLimitDecision> {
    const lease = this.leases.get(tenantId);
    if (lease && lease.perSecond === perSecond && lease.endsAt > performance.now()) {
      const decision = this.spend(lease);
      if (decision) return decision;
    }
    // Take a lease (one Redis call, shared by the requests that come meanwhile), then spend
    // from it whatever the clock says by then: it was fresh when taken. Another pass only when
    // the requests that waited with this one spent it.
    for (;;) {
      let taking = this.taking.get(tenantId);
      if (!taking) {
        taking = this.takeLease(tenantId, perSecond).finally(() => this.taking.delete(tenantId));
        this.taking.set(tenantId, taking);
      }
      const taken = await taking;
      if (!('points' in taken)) return taken; // the limiter failed: no lease to share
      const decision = this.spend(taken);
      if (decision) return decision;
    }
  }

  /** A point of the lease; 429 once its window is spent; undefined: take another lease. */
  private spend(lease: Lease): RateLimitDecision | undefined {
    if (lease.points > 0) {
      lease.points -= 1;
      return { allowed: true };
    }
    if (!lease.windowSpent) return undefined;
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((lease.endsAt - performance.now()) / 1000)),
    };
  }

  /** Takes points from the tenant's window in Redis (or the insurance limiter) and keeps them. */
  private async takeLease(tenantId: string, perSecond: number): Promise<Lease | RateLimitDecision> {
    const wanted = Math.max(1, Math.floor(perSecond / LEASE_FRACTION));
    const startedAt = performance.now();
    let points: number;
    let msBeforeNext: number;
    let windowSpent: boolean;
    try {
      const res = await this.limiterFor(perSecond).consume(tenantId, wanted);
      points = wanted;
      msBeforeNext = res.msBeforeNext;
      windowSpent = res.remainingPoints === 0;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) {
        // Both Redis and the in-memory fallback failed: serve rather than turn an outage into 5xx.
        this.logger.error({ err: rejection, tenantId }, 'rate limiter failed; request allowed');
        return { allowed: true };
      }
      // The window had less than a lease left: what was left is this lease (none, if nothing).
      points = Math.max(0, perSecond - (rejection.consumedPoints - wanted));
      msBeforeNext = rejection.msBeforeNext;
      windowSpent = true;
    }
    // Measured from before the call: the window may end sooner than it says, never later.
    const endsAt = startedAt + Math.max(0, msBeforeNext);
    const lease: Lease = { perSecond, points, windowSpent, endsAt };
    this.leases.set(tenantId, lease);
    return lease;
  }

  private limiterFor(points: number): RateLimiterRedis {
    let limiter = this.limiters.get(points);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: this.redis,
        keyPrefix: this.keyPrefix,
        points,
        duration: 1,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: this.keyPrefix, points, duration: 1 }),
      });
      this.limiters.set(points, limiter);
    }
    return limiter;
  }
}
