import { cellTopics } from '@bulkhead/cell';
import { createCellServiceApp, type CellServiceApp } from '@bulkhead/cell-service';
import { paymentsV1 } from '@bulkhead/contracts';
import { migrationsDir, type MigrationSet } from '@bulkhead/db';
import type { Logger } from '@bulkhead/logger';
import { commandHandler } from '@bulkhead/saga-participant';
import { paymentsService } from './api.js';
import { paymentRoutes } from './commands.js';
import type { PaymentsConfig } from './config.js';

export const paymentsMigrations: MigrationSet = {
  name: 'payments',
  directory: migrationsDir(import.meta.url),
};

export type PaymentsApp = CellServiceApp;

/** Composition root of the payments service of one cell (a simulated payment processor): a saga participant. */
export function createPaymentsApp(config: PaymentsConfig, deps: { logger: Logger }): PaymentsApp {
  const { logger } = deps;
  const topics = cellTopics(config.cellId);
  return createCellServiceApp(
    config,
    {
      service: 'payments',
      migrations: paymentsMigrations,
      grpc: (pool) => ({
        definition: paymentsV1.PaymentsServiceService,
        implementation: paymentsService(pool, logger),
      }),
      consume: {
        topic: topics.paymentsCommands,
        handler: (pool) =>
          commandHandler({
            pool,
            logger,
            consumer: 'payments',
            repliesTopic: topics.sagaReplies,
            routes: paymentRoutes(logger),
          }),
      },
    },
    deps,
  );
}
