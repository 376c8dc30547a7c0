import { defineCellService, type CellServiceApp } from '@bulkhead/cell-service';
import { paymentsV1 } from '@bulkhead/contracts';
import { migrationsDir, type MigrationSet } from '@bulkhead/db';
import { sagaParticipant } from '@bulkhead/saga-participant';
import { paymentsService } from './api.js';
import { paymentRoutes } from './commands.js';

export const paymentsMigrations: MigrationSet = {
  name: 'payments',
  directory: migrationsDir(import.meta.url),
};

/** The payments service of one cell (a simulated payment processor): a saga participant. */
export const payments = defineCellService({
  service: 'payments',
  migrations: [paymentsMigrations],
  grpc: ({ pool, logger }) => ({
    definition: paymentsV1.PaymentsServiceService,
    implementation: paymentsService(pool, logger),
  }),
  ...sagaParticipant((context) => paymentRoutes(context.logger)),
});

export type PaymentsApp = CellServiceApp;
export const { loadConfig: loadPaymentsConfig, createApp: createPaymentsApp } = payments;
