import { defineCellService, type CellServiceApp } from '@bulkhead/cell-service';
import { ordersV1 } from '@bulkhead/contracts';
import { migrationsDir } from '@bulkhead/db';
import { idempotencyMigrations, purgeExpiredKeys } from '@bulkhead/idempotency';
import { inboxHandler } from '@bulkhead/inbox';
import { env, z } from '@bulkhead/config';
import { ordersService } from './api.js';
import { SagaBacklog } from './backlog.js';
import { decodeReply } from './order-saga.js';
import { handleSagaReply, type CellContext } from './orders.js';
import { openSagaMetrics, sagaMetrics } from './saga-metrics.js';
import { createSagaSweeper } from './sweeper.js';

/** The orders domain's view of its service's context: the cell, its outbox, the saga's timing. */
const cellOf = (context: {
  cellId: string;
  outbox: CellContext['outbox'];
  config: { settings: { saga: CellContext['saga']; publishOrderEvents: boolean } };
}): CellContext => ({
  cellId: context.cellId,
  outbox: context.outbox,
  saga: context.config.settings.saga,
  publishOrderEvents: context.config.settings.publishOrderEvents,
});

/** The orders service of one cell: the saga orchestrator. */
export const orders = defineCellService({
  service: 'orders',
  migrations: [
    idempotencyMigrations,
    { name: 'orders', directory: migrationsDir(import.meta.url) },
  ],
  settings: z
    .object({
      /** Open sagas in the cell above which new orders are refused (see SagaBacklog). */
      MAX_OPEN_SAGAS: env.positiveInt(32),
      /** How long a saga step waits for its reply before its command is re-sent. */
      SAGA_STEP_TIMEOUT_MS: env.positiveInt(10_000),
      /** Re-sends of a step before the pivot before the saga times out (REJECTED `timeout`). */
      SAGA_STEP_RESENDS: env.nonNegativeInt(3),
      /** Longest wait between re-sends of a saga that cannot time out (after the pivot). */
      SAGA_MAX_RESEND_DELAY_MS: env.positiveInt(300_000),
      /** How often the sweeper looks for overdue sagas. */
      SAGA_SWEEP_EVERY_MS: env.positiveInt(1_000),
      /**
       * The order's domain events (OrderConfirmed, OrderRejected) on `<cell>.orders.events`:
       * `publish`, or `off` where nothing consumes them (then they cost nothing: no outbox row,
       * no relay round, no Kafka message).
       */
      ORDER_EVENTS: z.enum(['publish', 'off']).default('publish'),
    })
    .transform((e) => ({
      maxOpenSagas: e.MAX_OPEN_SAGAS,
      saga: {
        stepTimeoutMs: e.SAGA_STEP_TIMEOUT_MS,
        maxResends: e.SAGA_STEP_RESENDS,
        maxResendDelayMs: e.SAGA_MAX_RESEND_DELAY_MS,
      },
      sweepEveryMs: e.SAGA_SWEEP_EVERY_MS,
      publishOrderEvents: e.ORDER_EVENTS === 'publish',
    })),
  grpc: (context) => ({
    definition: ordersV1.OrdersServiceService,
    implementation: ordersService(
      context.pool,
      cellOf(context),
      context.logger,
      new SagaBacklog(context.pool, { max: context.config.settings.maxOpenSagas }),
      sagaMetrics(context.metrics),
    ),
  }),
  housekeeping: async ({ pool }) => {
    await purgeExpiredKeys(pool);
  },
  handler: (context) => {
    const cell = cellOf(context); // once, not per message
    const metrics = sagaMetrics(context.metrics);
    return inboxHandler({
      pool: context.pool,
      consumer: context.service,
      logger: context.logger,
      decode: ({ envelope, payload }) => decodeReply(envelope.type, payload),
      handle: (tx, reply, message) => handleSagaReply(tx, cell, message, reply, context.logger),
      // Counted once the reply's transaction committed.
      committed: (end) => end && metrics.ended(end),
    });
  },
  background: (context) => {
    const sweeper = createSagaSweeper({
      pool: context.pool,
      cell: cellOf(context),
      logger: context.logger,
      clock: context.clock,
      everyMs: context.config.settings.sweepEveryMs,
      metrics: sagaMetrics(context.metrics),
    });
    openSagaMetrics(context.metrics, context.pool, context.config.settings.saga.maxResends + 1);
    return {
      start: () => sweeper.start(),
      stop: () => sweeper.stop(),
      // Sagas that keep needing re-sends and cannot time out: they must be made to progress.
      opsViews: { '/sagas/stuck': () => sweeper.stuck() },
    };
  },
});

export type OrdersApp = CellServiceApp;
export const { loadConfig: loadOrdersConfig, createApp: createOrdersApp } = orders;
