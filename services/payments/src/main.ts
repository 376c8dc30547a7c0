import { createPaymentsApp, loadPaymentsConfig } from '@bulkhead/payments';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';

await runMain(() => {
  const config = loadPaymentsConfig();
  const logger = createLogger(`payments.${config.cellId}`, config.logLevel);
  return {
    app: createPaymentsApp(config, { logger }),
    logger,
    ops: config.ops,
  };
});
