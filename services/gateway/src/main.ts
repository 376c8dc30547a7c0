import { createGatewayApp, loadGatewayConfig } from '@bulkhead/gateway';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';

// The gateway serves /healthz and /readyz on its own port: no separate ops server.
const exitCode = await runMain(() => {
  const config = loadGatewayConfig();
  const logger = createLogger('gateway', config.logLevel);
  return { app: createGatewayApp(config, { logger }), logger };
});
// A clean drain lets the process end on its own (telemetry flushes on beforeExit); after a
// failure, whatever still holds the event loop must not keep the process alive.
if (exitCode !== 0) process.exit(exitCode);
