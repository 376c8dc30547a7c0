import { defineCellService, type CellServiceApp } from '@bulkhead/cell-service';
import { ordersV1 } from '@bulkhead/contracts';
import { migrationsDir } from '@bulkhead/db';
import { idempotencyMigrations, purgeExpiredKeys } from '@bulkhead/idempotency';
import { inboxHandler } from '@bulkhead/inbox';
import { ordersService } from './api.js';
import { decodeReply } from './order-saga.js';
import { handleSagaReply } from './orders.js';

/** The orders service of one cell: the saga orchestrator. */
export const orders = defineCellService({
  service: 'orders',
  migrations: [
    idempotencyMigrations,
    { name: 'orders', directory: migrationsDir(import.meta.url) },
  ],
  grpc: ({ pool, logger, cellId, outbox }) => ({
    definition: ordersV1.OrdersServiceService,
    implementation: ordersService(pool, { cellId, outbox }, logger),
  }),
  housekeeping: async ({ pool }) => {
    await purgeExpiredKeys(pool);
  },
  handler: ({ pool, logger, cellId, outbox }) =>
    inboxHandler({
      pool,
      consumer: 'orders',
      logger,
      decode: ({ envelope, payload }) => decodeReply(envelope.type, payload),
      handle: (tx, reply, message) =>
        handleSagaReply(tx, { cellId, outbox }, message, reply, logger),
    }),
});

export type OrdersApp = CellServiceApp;
export const { loadConfig: loadOrdersConfig, createApp: createOrdersApp } = orders;
