import { createControlPlaneApp, loadControlPlaneConfig } from '@bulkhead/control-plane';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';

// The admin API serves /healthz and /readyz on its own port (the probes use it); the ops port
// serves the metrics and the runtime view.
const exitCode = await runMain(() => {
  const config = loadControlPlaneConfig();
  const logger = createLogger('control-plane', config.logLevel);
  return { app: createControlPlaneApp(config, { logger }), logger, ops: config.ops };
});
// A clean drain lets the process end on its own (telemetry flushes on beforeExit); after a
// failure, whatever still holds the event loop must not keep the process alive.
if (exitCode !== 0) process.exit(exitCode);
