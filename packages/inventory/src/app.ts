import {
  createCellServiceApp,
  type CellServiceApp,
  type CellServiceOverrides,
} from '@bulkhead/cell-service';
import { inventoryV1 } from '@bulkhead/contracts';
import { migrationsDir, type MigrationSet } from '@bulkhead/db';
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
  overrides: CellServiceOverrides,
): InventoryApp {
  return createCellServiceApp(
    config,
    {
      service: 'inventory',
      migrations: [inventoryMigrations],
      grpc: ({ pool, logger }) => ({
        definition: inventoryV1.InventoryServiceService,
        implementation: inventoryService(pool, logger),
      }),
      handler: (context) => commandHandler(context, inventoryRoutes(context.logger)),
    },
    overrides,
  );
}
