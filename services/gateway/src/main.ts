import { createGatewayApp, loadGatewayConfig } from '@bulkhead/gateway';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';

// The gateway serves /healthz and /readyz on its public port too (the probes use it); the ops
// port adds its internals (/resilience).
const exitCode = await runMain(() => {
  const config = loadGatewayConfig();
  const logger = createLogger('gateway', config.logLevel);
  return { app: createGatewayApp(config, { logger }), logger, ops: config.ops };
});
// A clean drain lets the process end on its own (telemetry flushes on beforeExit); after a
// failure, whatever still holds the event loop must not keep the process alive.
if (exitCode !== 0) process.exit(exitCode);
