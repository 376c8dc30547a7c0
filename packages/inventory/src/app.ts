import { cellTopics } from '@bulkhead/cell';
import { createCellServiceApp, type CellServiceApp } from '@bulkhead/cell-service';
import { inventoryV1 } from '@bulkhead/contracts';
import { migrationsDir, type MigrationSet } from '@bulkhead/db';
import type { Logger } from '@bulkhead/logger';
import { commandHandler } from '@bulkhead/saga-participant';
import { inventoryService } from './api.js';
import { inventoryRoutes } from './commands.js';
import type { InventoryConfig } from './config.js';

export const inventoryMigrations: MigrationSet = {
  name: 'inventory',
  directory: migrationsDir(import.meta.url),
};

export type InventoryApp = CellServiceApp;

/** Composition root of the inventory service of one cell (owns products and stock): a saga participant. */
export function createInventoryApp(
  config: InventoryConfig,
  deps: { logger: Logger },
): InventoryApp {
  const { logger } = deps;
  const topics = cellTopics(config.cellId);
  return createCellServiceApp(
    config,
    {
      service: 'inventory',
      migrations: inventoryMigrations,
      grpc: (pool) => ({
        definition: inventoryV1.InventoryServiceService,
        implementation: inventoryService(pool, logger),
      }),
      consume: {
        topic: topics.inventoryCommands,
        handler: (pool) =>
          commandHandler({
            pool,
            logger,
            consumer: 'inventory',
            repliesTopic: topics.sagaReplies,
            routes: inventoryRoutes(logger),
          }),
      },
    },
    deps,
  );
}
