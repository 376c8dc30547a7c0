import { createInventoryApp, loadInventoryConfig } from '@bulkhead/inventory';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';

await runMain(() => {
  const config = loadInventoryConfig();
  const logger = createLogger(`inventory.${config.cellId}`, config.logLevel);
  return {
    app: createInventoryApp(config, { logger }),
    logger,
    ops: config.ops,
  };
});
