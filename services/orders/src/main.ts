import { createLogger } from '@bulkhead/logger';
import { createOrdersApp, loadOrdersConfig } from '@bulkhead/orders';
import { runMain } from '@bulkhead/service-runtime';

const exitCode = await runMain(() => {
  const config = loadOrdersConfig();
  const logger = createLogger(`orders.${config.cellId}`, config.logLevel);
  return {
    app: createOrdersApp(config, { logger }),
    logger,
    ops: config.ops,
  };
});
// A clean drain lets the process end on its own (telemetry flushes on beforeExit); after a
// failure, whatever still holds the event loop must not keep the process alive.
if (exitCode !== 0) process.exit(exitCode);
