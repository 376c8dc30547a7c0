import { createControlPlaneApp, loadControlPlaneConfig } from '@bulkhead/control-plane';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';

// The admin API serves /healthz and /readyz on its own port: no separate ops server.
await runMain(() => {
  const config = loadControlPlaneConfig();
  const logger = createLogger('control-plane', config.logLevel);
  return { app: createControlPlaneApp(config, { logger }), logger };
});
