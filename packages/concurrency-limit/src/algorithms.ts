/**
 * Adaptive concurrency limits in the style of Netflix's concurrency-limits library: instead of a
 * fixed bound on the requests in flight, the bound follows what the downstream can take, learnt
 * from each completed request's round-trip time (and drops). By Little's law a server's latency
 * rises with its queue once it is saturated, so a rising RTT means the limit is above capacity.
 */

/** One completed request, as the limit algorithms see it. */
export interface LimitSample {
  /** Round-trip time of the request, in milliseconds. */
  rttMs: number;
  /** Requests in flight when it started (itself included). */
  inflight: number;
  /** The downstream shed it or it timed out: a sign of overload, whatever the RTT. */
  dropped: boolean;
}

export interface LimitAlgorithm {
  /** The current limit: how many requests may be in flight. At least 1. */
  readonly limit: number;
  update(sample: LimitSample): void;
}

export interface LimitBounds {
  initialLimit: number;
  minLimit: number;
  maxLimit: number;
}

const clamp = (value: number, { minLimit, maxLimit }: LimitBounds) =>
  Math.max(minLimit, Math.min(maxLimit, value));

function checkBounds(bounds: LimitBounds): void {
  const { initialLimit, minLimit, maxLimit } = bounds;
  if (!(minLimit >= 1 && minLimit <= initialLimit && initialLimit <= maxLimit)) {
    throw new RangeError(
      `limits must satisfy 1 ≤ min ≤ initial ≤ max, got ${minLimit}/${initialLimit}/${maxLimit}`,
    );
  }
}

export interface AimdOptions extends LimitBounds {
  /** Factor applied to the limit on a drop or a timeout (0 < ratio < 1). */
  backoffRatio: number;
  /** A request slower than this counts as a drop. */
  timeoutMs: number;
}

/**
 * Additive increase, multiplicative decrease (TCP's congestion control): +1 for a success while
 * the limit is in use, ×backoffRatio on a drop or a timeout. Reacts only to drops: simple and
 * robust, but it finds the limit by overshooting it.
 */
export class AimdLimit implements LimitAlgorithm {
  private current: number;

  constructor(private readonly options: AimdOptions) {
    checkBounds(options);
    if (!(options.backoffRatio > 0 && options.backoffRatio < 1)) {
      throw new RangeError('backoffRatio must be in (0, 1)');
    }
    this.current = options.initialLimit;
  }

  get limit(): number {
    return Math.floor(this.current);
  }

  update({ rttMs, inflight, dropped }: LimitSample): void {
    if (dropped || rttMs > this.options.timeoutMs) {
      this.current = clamp(this.current * this.options.backoffRatio, this.options);
    } else if (inflight * 2 >= this.current) {
      // Only grow while at least half the limit is used: an idle limit proves nothing.
      this.current = clamp(this.current + 1, this.options);
    }
  }
}

export interface Gradient2Options extends LimitBounds {
  /** Share of each new estimate mixed into the limit (0 < smoothing ≤ 1). */
  smoothing: number;
  /** How much slower than the long-term RTT a request may be before the limit shrinks (≥ 1). */
  rttTolerance: number;
  /** Samples over which the long-term RTT is averaged (exponentially). */
  longWindow: number;
  /** Headroom added to the limit so that it can grow: a queue of this many. */
  queueSize: (limit: number) => number;
}

/**
 * Netflix's Gradient2: compares the RTT of each request (short term) with an exponential average
 * of many (long term). While they match there is no queue and the limit grows by queueSize; once
 * requests get slower than rttTolerance × the long-term RTT, the limit is scaled down by their
 * ratio (at most halved per sample), smoothed. The long-term average drifts back down when
 * latency recovers after a long overload, so the limit is not stuck low.
 */
export class Gradient2Limit implements LimitAlgorithm {
  private current: number;
  private longRtt: number | undefined;
  private samples = 0;

  constructor(private readonly options: Gradient2Options) {
    checkBounds(options);
    if (!(options.smoothing > 0 && options.smoothing <= 1)) {
      throw new RangeError('smoothing must be in (0, 1]');
    }
    if (!(options.rttTolerance >= 1)) throw new RangeError('rttTolerance must be ≥ 1');
    this.current = options.initialLimit;
  }

  get limit(): number {
    return Math.floor(this.current);
  }

  /** The long-term RTT estimate (undefined before the first sample). */
  get longRttMs(): number | undefined {
    return this.longRtt;
  }

  update({ rttMs, inflight }: LimitSample): void {
    const shortRtt = Math.max(rttMs, 0.001);
    this.samples += 1;
    // A plain average over the first samples (warm-up), then exponential.
    const warmup = Math.min(10, this.options.longWindow);
    const factor = this.samples <= warmup ? 1 / this.samples : 2 / (this.options.longWindow + 1);
    this.longRtt =
      this.longRtt === undefined ? shortRtt : this.longRtt + (shortRtt - this.longRtt) * factor;
    // After a long overload the average is far above today's RTT: let it come down faster.
    if (this.longRtt / shortRtt > 2) this.longRtt *= 0.95;
    // Application-limited: too few requests in flight to learn anything about the limit.
    if (inflight < this.current / 2) return;
    const gradient = Math.max(
      0.5,
      Math.min(1, (this.options.rttTolerance * this.longRtt) / shortRtt),
    );
    const estimate = this.current * gradient + this.options.queueSize(this.current);
    const smoothed =
      this.current * (1 - this.options.smoothing) + estimate * this.options.smoothing;
    this.current = clamp(smoothed, this.options);
  }
}

/** Netflix's default queue size: small limits get a small queue. */
export const defaultQueueSize = (limit: number): number => (limit < 10 ? 1 : limit < 20 ? 2 : 4);

/** Gradient2 with the defaults the platform uses (tuned for a small box: see docs/performance.md). */
export function gradient2(overrides: Partial<Gradient2Options> = {}): Gradient2Limit {
  return new Gradient2Limit({
    initialLimit: 20,
    minLimit: 4,
    maxLimit: 200,
    smoothing: 0.2,
    rttTolerance: 2,
    longWindow: 600,
    queueSize: defaultQueueSize,
    ...overrides,
  });
}
