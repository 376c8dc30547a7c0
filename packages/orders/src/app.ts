import { cellTopics } from '@bulkhead/cell';
import { createCellServiceApp, type CellServiceApp } from '@bulkhead/cell-service';
import { ordersV1 } from '@bulkhead/contracts';
import { migrationsDir } from '@bulkhead/db';
import { idempotencyMigrations, purgeExpiredKeys } from '@bulkhead/idempotency';
import { consumeOnce } from '@bulkhead/inbox';
import type { Logger } from '@bulkhead/logger';
import { ordersService } from './api.js';
import type { OrdersConfig } from './config.js';
import { decodeReply, type DecodedReply } from './order-saga.js';
import { handleSagaReply } from './orders.js';

export type OrdersApp = CellServiceApp;

/** Composition root of the orders service of one cell: the saga orchestrator. */
export function createOrdersApp(config: OrdersConfig, deps: { logger: Logger }): OrdersApp {
  const { logger } = deps;
  const cell = { cellId: config.cellId };
  return createCellServiceApp(
    config,
    {
      service: 'orders',
      migrations: { name: 'orders', directory: migrationsDir(import.meta.url) },
      extraMigrations: [idempotencyMigrations],
      grpc: (pool) => ({
        definition: ordersV1.OrdersServiceService,
        implementation: ordersService(pool, cell, logger),
      }),
      housekeeping: async (pool) => {
        await purgeExpiredKeys(pool);
      },
      consume: {
        topic: cellTopics(config.cellId).sagaReplies,
        handler: (pool) => async (message) => {
          // Decode before the inbox transaction: a reply that cannot be decoded never will be,
          // so it is logged and skipped instead of being retried forever (blocking its partition).
          const context = { type: message.envelope.type, messageId: message.envelope.messageId };
          let decoded: DecodedReply | undefined;
          try {
            decoded = decodeReply(message.envelope.type, message.payload);
          } catch (error) {
            logger.error({ ...context, err: error }, 'skipping a malformed saga reply');
            return;
          }
          if (!decoded) {
            logger.warn(context, 'skipping a message that is not a saga reply');
            return;
          }
          const reply = decoded;
          await consumeOnce(pool, 'orders', message, (tx) =>
            handleSagaReply(tx, cell, message, reply, logger),
          );
        },
      },
    },
    deps,
  );
}
