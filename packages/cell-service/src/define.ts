import type { CellService } from '@bulkhead/cell';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';
import { createCellServiceApp, type CellServiceApp, type CellServiceParts } from './app.js';
import { loadCellServiceConfig, type CellServiceConfig } from './config.js';
import type { CellServiceOverrides } from './context.js';

/** A cell service: its configuration loader and its composition root, from its parts. */
export interface CellServiceDefinition<S extends CellService = CellService> {
  readonly service: S;
  /** Reads the service's configuration (default ports: cell-1's, from the manifest). */
  loadConfig(source?: Record<string, string | undefined>): CellServiceConfig;
  createApp(config: CellServiceConfig, overrides: CellServiceOverrides): CellServiceApp;
}

export function defineCellService<const S extends CellService>(
  parts: CellServiceParts & { service: S },
): CellServiceDefinition<S> {
  return {
    service: parts.service,
    loadConfig: (source = process.env) => loadCellServiceConfig(parts.service, source),
    createApp: (config, overrides) => createCellServiceApp(config, parts, overrides),
  };
}

/**
 * The whole body of a cell service's main.ts: config, logger, app, run (probes on the ops port,
 * drain on SIGTERM). Returns the exit code (see runMain).
 */
export function runCellService(definition: CellServiceDefinition): Promise<number> {
  return runMain(() => {
    const config = definition.loadConfig();
    const logger = createLogger(`${definition.service}.${config.cellId}`, config.logLevel);
    return { app: definition.createApp(config, { logger }), logger, ops: config.ops };
  });
}
