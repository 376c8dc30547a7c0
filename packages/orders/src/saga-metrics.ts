import { REJECTION_REASONS } from '@bulkhead/contracts';
import type { Queryable } from '@bulkhead/db';
import { SAGA_DURATION_BUCKETS, sharedRead, type Metrics } from '@bulkhead/metrics';
import { orderSaga } from './order-saga.js';
import { countSagas } from './order-store.js';

/** The saga label of every series: the one saga orders runs. */
const SAGA = orderSaga.name;

/** How a saga ended: its outcome, its rejection reason (`none` when completed), its duration. */
export interface SagaEnd {
  outcome: 'completed' | 'compensated';
  reason: string;
  /** Order accepted → terminal. */
  seconds: number;
}

/**
 * The order saga's metrics, counted after the transaction that did the thing committed:
 * `saga_started_total`, `saga_ended_total{outcome, reason}`, `saga_duration_seconds{outcome}`,
 * `saga_step_timeouts_total{step}` and `saga_backlog_rejections_total`. Every outcome, known
 * reason and step exists at 0 from the start. Get-or-create: every part of the service that asks
 * gets the same instruments.
 */
export function sagaMetrics(metrics: Metrics) {
  const started = metrics.counter({
    name: 'saga_started_total',
    help: 'Sagas begun (an order accepted)',
    labelNames: ['saga'],
  });
  const ended = metrics.counter({
    name: 'saga_ended_total',
    help: 'Sagas that reached a terminal state, by outcome and rejection reason',
    labelNames: ['saga', 'outcome', 'reason'],
  });
  const duration = metrics.histogram({
    name: 'saga_duration_seconds',
    help: 'Order accepted → saga terminal, by outcome',
    labelNames: ['saga', 'outcome'],
    buckets: SAGA_DURATION_BUCKETS,
  });
  const timeouts = metrics.counter({
    name: 'saga_step_timeouts_total',
    help: "A saga step's deadline passed (the sweeper re-sent its command or timed the saga out)",
    labelNames: ['saga', 'step'],
  });
  const backlog = metrics.counter({
    name: 'saga_backlog_rejections_total',
    help: 'Orders refused because the open-saga backlog was full',
  });
  started.labels(SAGA).inc(0);
  backlog.inc(0);
  ended.labels(SAGA, 'completed', 'none').inc(0);
  for (const reason of REJECTION_REASONS) ended.labels(SAGA, 'compensated', reason).inc(0);
  for (const outcome of ['completed', 'compensated']) duration.zero({ saga: SAGA, outcome });
  for (const { name } of orderSaga.steps) timeouts.labels(SAGA, name).inc(0);
  return {
    started: () => started.labels(SAGA).inc(),
    ended(end: SagaEnd): void {
      ended.labels(SAGA, end.outcome, end.reason).inc();
      duration.labels(SAGA, end.outcome).observe(end.seconds);
    },
    stepTimedOut: (step: string) => timeouts.labels(SAGA, step).inc(),
    backlogRejected: () => backlog.inc(),
  };
}

export type SagaMetrics = ReturnType<typeof sagaMetrics>;

/**
 * `saga_open` and `saga_stuck` at scrape time, from one query (the partial index of open sagas):
 * stuck as the ops view's `GET /sagas/stuck` counts them, re-sent at least `stuckAfter` times.
 */
export function openSagaMetrics(metrics: Metrics, db: Queryable, stuckAfter: number): void {
  const read = sharedRead(() => countSagas(db, stuckAfter));
  const gauge = (
    name: string,
    help: string,
    value: (c: { open: number; stuck: number }) => number,
  ) =>
    metrics.gauge({
      name,
      help,
      labelNames: ['saga'],
      async collect() {
        this.set({ saga: SAGA }, await read().then(value, () => Number.NaN));
      },
    });
  gauge('saga_open', 'Sagas not yet ended', (c) => c.open);
  gauge('saga_stuck', 'Open sagas past the bound of re-sends (GET /sagas/stuck)', (c) => c.stuck);
}
