import { createControlPlaneApp, loadControlPlaneConfig } from '@bulkhead/control-plane';
import { createLogger } from '@bulkhead/logger';
import { runService } from '@bulkhead/service-runtime';

// The control plane deployable: admin API + WatchSnapshot; it serves /healthz and /readyz itself.
async function main(): Promise<void> {
  const config = loadControlPlaneConfig(process.env);
  const logger = createLogger('control-plane', config.logLevel);
  const app = createControlPlaneApp(config, { logger });
  await runService({ app, logger });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `control-plane: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
  // Last resort: if a failed start or drain left handles open, do not hang forever.
  setTimeout(() => process.exit(1), 5_000).unref();
});
