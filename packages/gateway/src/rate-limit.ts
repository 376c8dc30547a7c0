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
 * Per-tenant fixed one-second window in Redis, shared by every gateway instance. While Redis
 * is unreachable each instance enforces the same limit in memory (the insurance limiter).
 */
export class TenantRateLimiter {
  /** RateLimiterRedis has a fixed number of points: one limiter per distinct limit. */
  private readonly limiters = new Map<number, RateLimiterRedis>();

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    private readonly keyPrefix = 'bulkhead:gateway:rate',
  ) {}

  async consume(tenantId: string, perSecond: number): Promise<RateLimitDecision> {
    try {
      await this.limiterFor(perSecond).consume(tenantId);
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        return {
          allowed: false,
          retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)),
        };
      }
      // Both Redis and the in-memory fallback failed: serve rather than turn an outage into 5xx.
      this.logger.error({ err: rejection, tenantId }, 'rate limiter failed; request allowed');
      return { allowed: true };
    }
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
