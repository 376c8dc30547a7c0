import { createLogger } from '@bulkhead/logger';
import { createOrdersApp, loadOrdersConfig } from '@bulkhead/orders';
import { runMain } from '@bulkhead/service-runtime';

await runMain(() => {
  const config = loadOrdersConfig();
  const logger = createLogger(`orders.${config.CELL_ID}`, config.LOG_LEVEL);
  return {
    app: createOrdersApp(config, { logger }),
    logger,
    ops: { host: config.OPS_HOST, port: config.OPS_PORT },
  };
});
