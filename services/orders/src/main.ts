import { createLogger } from '@bulkhead/logger';
import { createOrdersApp, loadOrdersConfig } from '@bulkhead/orders';
import { runMain } from '@bulkhead/service-runtime';

await runMain(() => {
  const config = loadOrdersConfig();
  const logger = createLogger(`orders.${config.cellId}`, config.logLevel);
  return {
    app: createOrdersApp(config, { logger }),
    logger,
    ops: config.ops,
  };
});
