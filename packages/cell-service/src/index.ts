export { loadCellServiceConfig, type CellServiceConfig } from './config.js';
export { createCellServiceApp, type CellServiceApp, type CellServiceParts } from './app.js';
export {
  createCellServiceContext,
  type CellServiceContext,
  type CellServiceOverrides,
} from './context.js';
export { defineCellService, runCellService, type CellServiceDefinition } from './define.js';
