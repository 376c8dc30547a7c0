import { createGatewayApp, loadGatewayConfig } from '@bulkhead/gateway';
import { createLogger } from '@bulkhead/logger';
import { runService } from '@bulkhead/service-runtime';

// The gateway serves /healthz and /readyz on its own port: no separate ops server.
let logger = createLogger('gateway');
try {
  const config = loadGatewayConfig(process.env);
  logger = createLogger('gateway', config.logLevel);
  await runService({ app: createGatewayApp(config, { logger }), logger });
} catch (error) {
  logger.fatal({ err: error }, 'gateway failed');
  process.exitCode = 1;
  // Last resort: if a failed drain left handles open, do not hang forever.
  setTimeout(() => process.exit(1), 5_000).unref();
}
