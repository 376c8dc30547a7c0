import { defineCellService, type CellServiceApp } from '@bulkhead/cell-service';
import { inventoryV1 } from '@bulkhead/contracts';
import { migrationsDir, type MigrationSet } from '@bulkhead/db';
import { sagaParticipant } from '@bulkhead/saga-participant';
import { inventoryService } from './api.js';
import { inventoryRoutes, lockStockOfCommands } from './commands.js';

export const inventoryMigrations: MigrationSet = {
  name: 'inventory',
  directory: migrationsDir(import.meta.url),
};

/** The inventory service of one cell (owns products and stock): a saga participant. */
export const inventory = defineCellService({
  service: 'inventory',
  migrations: [inventoryMigrations],
  grpc: ({ pool, logger }) => ({
    definition: inventoryV1.InventoryServiceService,
    implementation: inventoryService(pool, logger),
  }),
  ...sagaParticipant((context) => inventoryRoutes(context.logger), {
    prepareBatch: lockStockOfCommands,
  }),
});

export type InventoryApp = CellServiceApp;
export const { loadConfig: loadInventoryConfig, createApp: createInventoryApp } = inventory;
