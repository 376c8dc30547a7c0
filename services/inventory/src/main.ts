import { createInventoryApp, loadInventoryConfig } from '@bulkhead/inventory';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';

const exitCode = await runMain(() => {
  const config = loadInventoryConfig();
  const logger = createLogger(`inventory.${config.cellId}`, config.logLevel);
  return {
    app: createInventoryApp(config, { logger }),
    logger,
    ops: config.ops,
  };
});
// A clean drain lets the process end on its own (telemetry flushes on beforeExit); after a
// failure, whatever still holds the event loop must not keep the process alive.
if (exitCode !== 0) process.exit(exitCode);
