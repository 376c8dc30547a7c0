import { defineCellService, type CellServiceApp } from '@bulkhead/cell-service';
import { ordersV1 } from '@bulkhead/contracts';
import { migrationsDir } from '@bulkhead/db';
import { idempotencyMigrations, purgeExpiredKeys } from '@bulkhead/idempotency';
import { inboxHandler } from '@bulkhead/inbox';
import { env, z } from '@bulkhead/config';
import { ordersService } from './api.js';
import { SagaBacklog } from './backlog.js';
import { decodeReply } from './order-saga.js';
import { handleSagaReply } from './orders.js';

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
    })
    .transform((e) => ({ maxOpenSagas: e.MAX_OPEN_SAGAS })),
  grpc: (context) => ({
    definition: ordersV1.OrdersServiceService,
    implementation: ordersService(
      context.pool,
      context,
      context.logger,
      new SagaBacklog(context.pool, { max: context.config.settings.maxOpenSagas }),
    ),
  }),
  housekeeping: async ({ pool }) => {
    await purgeExpiredKeys(pool);
  },
  handler: (context) =>
    inboxHandler({
      pool: context.pool,
      consumer: context.service,
      logger: context.logger,
      decode: ({ envelope, payload }) => decodeReply(envelope.type, payload),
      handle: (tx, reply, message) => handleSagaReply(tx, context, message, reply, context.logger),
    }),
});

export type OrdersApp = CellServiceApp;
export const { loadConfig: loadOrdersConfig, createApp: createOrdersApp } = orders;
