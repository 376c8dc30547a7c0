import type { LimitAlgorithm } from './algorithms.js';

/** A request's admission: exactly one of its methods is called when the request ends. */
export interface Permit {
  /** It completed: its RTT is a sample for the limit. */
  success(): void;
  /** The downstream shed it or it timed out: the limit learns of the overload. */
  dropped(): void;
  /** It says nothing about the downstream's capacity (e.g. the caller's own error): no sample. */
  ignore(): void;
}

export type Rejection = {
  /** `limit`: everything in flight; `tenant-share`: this tenant already has more than its share. */
  reason: 'limit' | 'tenant-share';
  limit: number;
  inflight: number;
  tenantInflight: number;
};

export type Admission = { admitted: true; permit: Permit } | ({ admitted: false } & Rejection);

export interface LimiterOptions {
  algorithm: LimitAlgorithm;
  /**
   * Share of the limit that tenants already at or above their fair share may fill (0–1, default
   * 0.75). The rest is held for tenants below theirs: a flood by one tenant is shed first.
   */
  sharedFraction?: number;
  /** Monotonic milliseconds (tests inject a fake). */
  now?: () => number;
}

export interface LimiterState {
  limit: number;
  inflight: number;
  /** Tenants with requests in flight. */
  tenants: number;
}

/**
 * Bounds the requests in flight to one downstream by an adaptive limit, with fairness between
 * tenants: each tenant's fair share is limit ÷ tenants in flight (itself included); a tenant at
 * or above its share is admitted only while less than `sharedFraction` of the limit is in use.
 * So under overload the heaviest tenant is shed first and lighter tenants still get in, and a
 * tenant alone may use the whole limit. Never queues: a rejection is immediate.
 */
export class ConcurrencyLimiter {
  private inflight = 0;
  private readonly perTenant = new Map<string, number>();
  private readonly sharedFraction: number;
  private readonly now: () => number;

  constructor(private readonly options: LimiterOptions) {
    this.sharedFraction = options.sharedFraction ?? 0.75;
    if (!(this.sharedFraction > 0 && this.sharedFraction <= 1)) {
      throw new RangeError('sharedFraction must be in (0, 1]');
    }
    this.now = options.now ?? (() => performance.now());
  }

  get state(): LimiterState {
    return {
      limit: this.options.algorithm.limit,
      inflight: this.inflight,
      tenants: this.perTenant.size,
    };
  }

  tryAcquire(tenant: string): Admission {
    const limit = this.options.algorithm.limit;
    const tenantInflight = this.perTenant.get(tenant) ?? 0;
    const rejection = (reason: Rejection['reason']) =>
      ({ admitted: false, reason, limit, inflight: this.inflight, tenantInflight }) as const;
    if (this.inflight >= limit) return rejection('limit');
    const tenants = this.perTenant.size + (tenantInflight === 0 ? 1 : 0);
    const fairShare = limit / tenants;
    if (tenantInflight >= fairShare && this.inflight >= limit * this.sharedFraction) {
      return rejection('tenant-share');
    }
    this.inflight += 1;
    this.perTenant.set(tenant, tenantInflight + 1);
    const inflightAtStart = this.inflight;
    const started = this.now();
    let released = false;
    const release = (sample?: { dropped: boolean }) => {
      if (released) return;
      released = true;
      this.inflight -= 1;
      const left = (this.perTenant.get(tenant) ?? 1) - 1;
      if (left === 0) this.perTenant.delete(tenant);
      else this.perTenant.set(tenant, left);
      if (sample) {
        this.options.algorithm.update({
          rttMs: this.now() - started,
          inflight: inflightAtStart,
          dropped: sample.dropped,
        });
      }
    };
    return {
      admitted: true,
      permit: {
        success: () => release({ dropped: false }),
        dropped: () => release({ dropped: true }),
        ignore: () => release(),
      },
    };
  }
}
