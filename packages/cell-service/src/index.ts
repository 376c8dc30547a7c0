export { loadCellServiceConfig, type CellServiceConfig } from './config.js';
export { createCellServiceApp, type CellServiceApp, type CellServiceParts } from './app.js';
