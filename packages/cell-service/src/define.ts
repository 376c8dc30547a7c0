import type { CellService } from '@bulkhead/cell';
import { createLogger } from '@bulkhead/logger';
import { runMain } from '@bulkhead/service-runtime';
import { createCellServiceApp, type CellServiceApp, type CellServiceParts } from './app.js';
import { loadCellServiceConfig, type CellServiceConfig } from './config.js';
import type { CellServiceOverrides } from './context.js';

/** A cell service: its configuration loader and its composition root, from its parts. */
export interface CellServiceDefinition<S extends CellService = CellService, Settings = unknown> {
  readonly service: S;
  /** Reads the service's configuration (default ports: cell-1's, from the manifest). */
  loadConfig(source?: Record<string, string | undefined>): CellServiceConfig<Settings>;
  createApp(
    config: CellServiceConfig<Settings>,
    overrides: CellServiceOverrides,
  ): CellServiceApp<Settings>;
}

export function defineCellService<const S extends CellService, Settings = undefined>(
  parts: CellServiceParts<Settings> & { service: S },
): CellServiceDefinition<S, Settings> {
  return {
    service: parts.service,
    loadConfig: (source = process.env) =>
      loadCellServiceConfig(parts.service, source, parts.settings),
    createApp: (config, overrides) => createCellServiceApp(config, parts, overrides),
  };
}

/**
 * The whole body of a cell service's main.ts: config, logger, app, run (probes on the ops port,
 * drain on SIGTERM). Returns the exit code (see runMain).
 */
export function runCellService<Settings>(
  definition: CellServiceDefinition<CellService, Settings>,
): Promise<number> {
  return runMain(() => {
    const config = definition.loadConfig();
    const logger = createLogger(`${definition.service}.${config.cellId}`, config.logLevel);
    return { app: definition.createApp(config, { logger }), logger, ops: config.ops };
  });
}
