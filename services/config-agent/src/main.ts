import { createConfigAgentApp, loadConfigAgentConfig } from '@bulkhead/config-agent';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';

await runMain(() => {
  const config = loadConfigAgentConfig();
  const logger = createLogger('config-agent', config.logLevel);
  return { app: createConfigAgentApp(config, { logger }), logger, ops: config.ops };
});
