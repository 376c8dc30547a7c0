import { withTransaction, type Pool } from '@bulkhead/db';
import type { Logger } from '@bulkhead/logger';
import type { Clock } from '@bulkhead/service-runtime';
import { overdueSagas, sagasResentAtLeast, type OpenSaga } from './order-store.js';
import { sweepSaga, type CellContext } from './orders.js';
import type { SagaMetrics } from './saga-metrics.js';

/** Overdue sagas handled per sweep; the next sweep takes the rest. */
const SWEEP_BATCH = 100;
/** Sagas the ops view lists. */
const VIEW_LIMIT = 50;

export interface SagaSweeper {
  /** Starts sweeping every `everyMs`. */
  start(): void;
  /** One sweep now (the timer runs them every everyMs); resolves when it is done. */
  sweep(): Promise<{ resent: number; timedOut: number }>;
  /** The ops view: sagas that needed more re-sends than a step before the pivot is allowed. */
  stuck(): Promise<{ stuckAfterResends: number; sagas: OpenSaga[] }>;
  stop(): Promise<void>;
}

/**
 * Every saga ends: the sweeper looks for open sagas whose deadline passed (order_sagas.deadline_at)
 * and, one transaction each, re-sends what they await or times them out (sweepSaga). Replicas of
 * orders can all sweep: a saga locked by another transaction is skipped, and a saga whose
 * deadline another replica already moved is no longer overdue when it is locked.
 */
export function createSagaSweeper(options: {
  pool: Pool;
  cell: CellContext;
  logger: Logger;
  clock: Clock;
  everyMs: number;
  /** Step time-outs are counted here, once each sweep's transaction committed. */
  metrics?: SagaMetrics;
}): SagaSweeper {
  const { pool, cell, clock } = options;
  const logger = options.logger.child({ component: 'saga-sweeper' });
  let running: Promise<{ resent: number; timedOut: number }> | undefined;
  let stopped = false;

  async function sweepOnce(): Promise<{ resent: number; timedOut: number }> {
    const counts = { resent: 0, timedOut: 0 };
    for (const ref of await overdueSagas(pool, SWEEP_BATCH)) {
      if (stopped) break;
      const swept = await withTransaction(pool, (tx) => sweepSaga(tx, cell, ref, logger));
      if (swept.outcome === 'skipped') continue;
      options.metrics?.stepTimedOut(swept.step);
      if (swept.outcome === 'resent') counts.resent += 1;
      if (swept.outcome === 'timed-out') counts.timedOut += 1;
    }
    return counts;
  }

  // One sweep at a time; a failing sweep (the database is away) is logged and tried next tick.
  const sweep = (): Promise<{ resent: number; timedOut: number }> =>
    (running ??= sweepOnce().finally(() => {
      running = undefined;
    }));
  let timer: { cancel(): void } | undefined;

  return {
    start() {
      timer ??= clock.every(options.everyMs, () => {
        if (running || stopped) return;
        sweep().catch((error: unknown) =>
          logger.warn({ err: error }, 'saga sweep failed; trying again'),
        );
      });
    },
    sweep,
    stuck: async () => ({
      stuckAfterResends: cell.saga.maxResends,
      sagas: await sagasResentAtLeast(pool, cell.saga.maxResends + 1, VIEW_LIMIT),
    }),
    async stop() {
      stopped = true;
      timer?.cancel();
      await running?.catch(() => undefined);
    },
  };
}
