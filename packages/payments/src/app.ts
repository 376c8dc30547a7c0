import {
  createCellServiceApp,
  type CellServiceApp,
  type CellServiceOverrides,
} from '@bulkhead/cell-service';
import { paymentsV1 } from '@bulkhead/contracts';
import { migrationsDir, type MigrationSet } from '@bulkhead/db';
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
export function createPaymentsApp(
  config: PaymentsConfig,
  overrides: CellServiceOverrides,
): PaymentsApp {
  return createCellServiceApp(
    config,
    {
      service: 'payments',
      migrations: [paymentsMigrations],
      grpc: ({ pool, logger }) => ({
        definition: paymentsV1.PaymentsServiceService,
        implementation: paymentsService(pool, logger),
      }),
      handler: (context) => commandHandler(context, paymentRoutes(context.logger)),
    },
    overrides,
  );
}
