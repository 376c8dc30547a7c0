import { createConfigAgentApp, loadConfigAgentConfig } from '@bulkhead/config-agent';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';

const exitCode = await runMain(() => {
  const config = loadConfigAgentConfig();
  const logger = createLogger('config-agent', config.logLevel);
  return { app: createConfigAgentApp(config, { logger }), logger, ops: config.ops };
});
// A clean drain lets the process end on its own (telemetry flushes on beforeExit); after a
// failure, whatever still holds the event loop must not keep the process alive.
if (exitCode !== 0) process.exit(exitCode);
