import { createGatewayApp, loadGatewayConfig } from '@bulkhead/gateway';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';

// The gateway serves /healthz and /readyz on its own port: no separate ops server.
await runMain(() => {
  const config = loadGatewayConfig();
  const logger = createLogger('gateway', config.logLevel);
  return { app: createGatewayApp(config, { logger }), logger };
});
