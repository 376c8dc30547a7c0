import { createPaymentsApp, loadPaymentsConfig } from '@bulkhead/payments';
import { createLogger } from '@bulkhead/logger';
import { runService } from '@bulkhead/service-runtime';

// The payments deployable of one cell: configuration from the environment, run until SIGTERM.
async function main(): Promise<void> {
  const config = loadPaymentsConfig(process.env);
  const logger = createLogger('payments', config.LOG_LEVEL);
  const app = createPaymentsApp(config, { logger });
  await runService({ app, logger, ops: { host: config.OPS_HOST, port: config.OPS_PORT } });
}

main().catch((error: unknown) => {
  process.stderr.write(`payments: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
  // Last resort: if a failed start or drain left handles open, do not hang forever.
  setTimeout(() => process.exit(1), 5_000).unref();
});
