import {
  AimdLimit,
  ConcurrencyLimiter,
  gradient2,
  type LimitAlgorithm,
  type LimiterState,
  type Permit,
} from '@bulkhead/concurrency-limit';
import { ERROR_REASONS } from '@bulkhead/contracts';
import { ADMISSION_REASONS, GrpcError, Status } from '@bulkhead/grpc';
import { unscrapedMetrics, type Counter, type Metrics } from '@bulkhead/metrics';

/**
 * How long the gateway refuses a cell's new orders itself after the cell refused one for its
 * saga backlog. Short against the time the backlog takes to drain (MAX_OPEN_SAGAS ÷ the cell's
 * completion rate: 32 ÷ ~30/s ≈ 1 s), so the cell never runs dry while the gate is closed; long
 * enough that few refusals cost a call to the cell.
 */
const BACKLOG_HOLD_MS = 250;

/** Reads (GET) and writes (PUT, POST) are limited apart: reads keep working while writes shed. */
export type RequestClass = 'read' | 'write';

export interface AdmissionOptions {
  /** `aimd` (default) backs off on drops and on requests slower than slowMs; `gradient2` on RTT. */
  algorithm: 'aimd' | 'gradient2';
  maxLimit: number;
  /** AIMD: a request slower than this counts as a drop. */
  slowMs: number;
}

/**
 * Admission control at the gateway: an adaptive concurrency limit per (cell, request class),
 * learnt from each call's RTT and from the cell's overload signals, with fairness between the
 * cell's tenants (ConcurrencyLimiter sheds the heaviest first). A refused request costs no
 * call: the gateway answers 503 at once.
 */
/** A (cell, class) limit and its admitted/shed counters (children made once). */
interface Limited {
  cellId: string;
  kind: RequestClass;
  limiter: ConcurrencyLimiter;
  admitted: Counter.Internal;
  shed: Counter.Internal;
}

export class CellAdmission {
  private readonly limiters = new Map<string, Limited>();
  private readonly requests: Counter<'cell' | 'class' | 'outcome'>;
  /** Per cell: until when (performance.now()) new orders are refused here, without a call. */
  private readonly backlogFullUntil = new Map<string, number>();
  private readonly counters = { shed: 0, backlogShed: 0 };

  constructor(
    private readonly options: AdmissionOptions,
    private readonly now: () => number = () => performance.now(),
    metrics: Metrics = unscrapedMetrics(),
  ) {
    this.requests = metrics.counter({
      name: 'admission_requests_total',
      help: "Requests to a cell by the gateway's admission control, by cell, class and outcome",
      labelNames: ['cell', 'class', 'outcome'],
    });
    const limiters = this.limiters;
    const each = (read: (state: LimiterState) => number) =>
      function (this: { set(labels: { cell: string; class: string }, value: number): void }) {
        for (const { cellId, kind, limiter } of limiters.values()) {
          this.set({ cell: cellId, class: kind }, read(limiter.state));
        }
      };
    metrics.gauge({
      name: 'admission_limit',
      help: 'The adaptive concurrency limit of each (cell, class) now',
      labelNames: ['cell', 'class'],
      collect: each((state) => state.limit),
    });
    metrics.gauge({
      name: 'admission_inflight',
      help: 'Requests in flight under the limit of each (cell, class)',
      labelNames: ['cell', 'class'],
      collect: each((state) => state.inflight),
    });
  }

  /**
   * True while the cell recently refused an order for its saga backlog (BACKLOG_HOLD_MS): the
   * gateway refuses new orders for it at once, before reading the body or asking Redis, instead
   * of sending each to the cell to be refused there. Then calls go through again and the cell
   * decides anew.
   */
  sagaBacklogFull(cellId: string): boolean {
    const full = (this.backlogFullUntil.get(cellId) ?? 0) > this.now();
    if (full) this.counters.backlogShed += 1;
    return full;
  }

  /**
   * Runs a call to the cell if admitted, and tells the limit how it went; `admitted: false` (the
   * caller sheds) when the cell's limit for this class is reached.
   */
  async run<T>(
    cellId: string,
    kind: RequestClass,
    tenantId: string,
    call: () => Promise<T>,
  ): Promise<{ admitted: true; value: T } | { admitted: false }> {
    const limited = this.limiter(cellId, kind);
    const admission = limited.limiter.tryAcquire(tenantId);
    if (!admission.admitted) {
      this.counters.shed += 1;
      limited.shed.inc();
      return { admitted: false };
    }
    limited.admitted.inc();
    let value: T;
    try {
      value = await call();
    } catch (error) {
      release(admission.permit, error);
      if (error instanceof GrpcError && error.reason === ERROR_REASONS.sagaBacklogFull) {
        this.backlogFullUntil.set(cellId, this.now() + BACKLOG_HOLD_MS);
      }
      throw error;
    }
    admission.permit.success();
    return { admitted: true, value };
  }

  /** Every limiter's state, by `cell/class`, and what was shed (the ops port shows it). */
  state(): { limits: Record<string, LimiterState>; shed: number; backlogShed: number } {
    return {
      limits: Object.fromEntries([...this.limiters].map(([key, l]) => [key, l.limiter.state])),
      ...this.counters,
    };
  }

  private limiter(cellId: string, kind: RequestClass): Limited {
    const key = `${cellId}/${kind}`;
    let limited = this.limiters.get(key);
    if (!limited) {
      const labels = { cell: cellId, class: kind };
      limited = {
        cellId,
        kind,
        limiter: new ConcurrencyLimiter({ algorithm: this.algorithm() }),
        admitted: this.requests.labels({ ...labels, outcome: 'admitted' }),
        shed: this.requests.labels({ ...labels, outcome: 'shed' }),
      };
      // Both outcomes exist at 0 from the limit's first request.
      limited.admitted.inc(0);
      limited.shed.inc(0);
      this.limiters.set(key, limited);
    }
    return limited;
  }

  private algorithm(): LimitAlgorithm {
    const { maxLimit } = this.options;
    const bounds = {
      initialLimit: Math.min(20, maxLimit),
      minLimit: Math.min(2, maxLimit),
      maxLimit,
    };
    return this.options.algorithm === 'gradient2'
      ? gradient2(bounds)
      : new AimdLimit({ ...bounds, backoffRatio: 0.9, timeoutMs: this.options.slowMs });
  }
}

/**
 * What a failed call says about the cell's capacity: a server at its in-flight bound or a
 * deadline passed is overload (dropped); an answer that is the caller's own error took a normal
 * path (a valid RTT sample); an open breaker, an unreachable cell or a full saga backlog say
 * nothing about the request path's concurrency (ignored).
 */
function release(permit: Permit, error: unknown): void {
  if (!(error instanceof GrpcError)) return permit.ignore(); // an open breaker, among others
  if (error.code === Status.DEADLINE_EXCEEDED) return permit.dropped();
  if (error.code === Status.RESOURCE_EXHAUSTED) {
    return error.reason === ADMISSION_REASONS.serverBusy ? permit.dropped() : permit.ignore();
  }
  if (error.code === Status.UNAVAILABLE || error.code === Status.INTERNAL) return permit.ignore();
  permit.success();
}
