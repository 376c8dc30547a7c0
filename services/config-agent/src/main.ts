import { createConfigAgentApp, loadConfigAgentConfig } from '@bulkhead/config-agent';
import { createLogger } from '@bulkhead/logger';
import { runService } from '@bulkhead/service-runtime';

// The config-agent sidecar: watches the control plane, writes the routing snapshot file.
async function main(): Promise<void> {
  const config = loadConfigAgentConfig(process.env);
  const logger = createLogger('config-agent', config.logLevel);
  const app = createConfigAgentApp(config, { logger });
  await runService({ app, logger, ops: config.ops });
}

main().catch((error: unknown) => {
  process.stderr.write(`config-agent: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
  // Last resort: if a failed start or drain left handles open, do not hang forever.
  setTimeout(() => process.exit(1), 5_000).unref();
});
