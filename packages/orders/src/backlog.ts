import type { Queryable } from '@bulkhead/db';
import { countOpenSagas } from './order-store.js';

export interface SagaBacklogOptions {
  /** Open sagas (RUNNING or COMPENSATING) above which new orders are refused. */
  max: number;
  /** How old the count may get while orders keep coming (default 100 ms). */
  refreshMs?: number;
  now?: () => number;
}

/** An admitted order's place in the backlog estimate. */
export interface Admission {
  /** Call when the order's transaction did not commit: the place is given back. */
  release(): void;
}

export interface SagaBacklogState {
  max: number;
  /** Open sagas at the last count, plus the orders this process admitted since that count started. */
  estimate: number;
  countedAt: number;
  refused: number;
}

/**
 * Backpressure from the asynchronous leg: accepting an order commits the cell to run its saga,
 * so an order is admitted only while the cell's open sagas are below a bound. By Little's law
 * (open sagas = completion rate × time to complete), bounding the backlog bounds accepted →
 * terminal latency at max ÷ the cell's completion rate, however hard clients push: the excess
 * is refused at the door instead of queueing inside (docs/performance.md).
 *
 * The count is one query on the partial index of open sagas, re-read in the background at most
 * every refreshMs while orders come in (none while idle), and each order admitted since the read
 * started counts at once; so the decision itself is in memory, before any database work. Shared
 * across replicas through the database: every replica counts every open saga of the cell.
 */
export class SagaBacklog {
  private counted = 0;
  private countedAt = -Infinity;
  private admittedSinceCount = 0;
  private refreshing: Promise<void> | undefined;
  /** Counts started so far: an admission made since the last one started is not in any count. */
  private counts = 0;
  private refused = 0;
  private readonly now: () => number;

  constructor(
    private readonly db: Queryable,
    private readonly options: SagaBacklogOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * True if a new order may be accepted now (and counts it); false when the backlog is full.
   * Decides on the last count plus what was admitted since, and waits for the database only for
   * the very first count: a count that queues behind the cell's transactions under load must
   * not hold up the answers (a refusal is meant to be immediate). An old count is re-read in the
   * background; until it is back, the estimate errs on the side of refusing.
   */
  async tryAdmit(): Promise<Admission | undefined> {
    if (this.countedAt === -Infinity) await this.refresh();
    else if (this.now() - this.countedAt > (this.options.refreshMs ?? 100)) {
      this.refresh().catch(() => undefined);
    }
    if (this.counted + this.admittedSinceCount >= this.options.max) {
      this.refused += 1;
      return undefined;
    }
    this.admittedSinceCount += 1;
    const since = this.counts;
    let released = false;
    return {
      // The order was not accepted after all (its transaction rolled back): no saga began. An
      // admission that a count started after already leaves the estimate with that count.
      release: () => {
        if (released || since !== this.counts) return;
        released = true;
        this.admittedSinceCount -= 1;
      },
    };
  }

  get state(): SagaBacklogState {
    return {
      max: this.options.max,
      estimate: this.counted + this.admittedSinceCount,
      countedAt: this.countedAt,
      refused: this.refused,
    };
  }

  /** One count at a time; orders admitted while it runs stay counted until the next one. */
  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      this.counts += 1;
      const startedAt = this.now();
      const admittedBefore = this.admittedSinceCount;
      try {
        this.counted = await countOpenSagas(this.db);
        this.countedAt = startedAt;
        // Admissions before the count started are in it once committed; the few whose
        // transaction was still open are missed until the next count (an estimate, a few low).
        this.admittedSinceCount -= admittedBefore;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }
}
