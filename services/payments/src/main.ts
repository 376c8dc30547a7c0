import { createPaymentsApp, loadPaymentsConfig } from '@bulkhead/payments';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';

const exitCode = await runMain(() => {
  const config = loadPaymentsConfig();
  const logger = createLogger(`payments.${config.cellId}`, config.logLevel);
  return {
    app: createPaymentsApp(config, { logger }),
    logger,
    ops: config.ops,
  };
});
// A clean drain lets the process end on its own (telemetry flushes on beforeExit); after a
// failure, whatever still holds the event loop must not keep the process alive.
if (exitCode !== 0) process.exit(exitCode);
