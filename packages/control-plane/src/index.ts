export {
  loadControlPlaneConfig,
  DEFAULT_ADMIN_TOKEN,
  type ControlPlaneConfig,
  type CellConfig,
} from './config.js';
export { createControlPlaneApp, type ControlPlaneApp } from './app.js';
export { SNAPSHOT_CHANNEL, generateApiKey } from './registry.js';
export { buildAdminOpenApiDocument, createTenantInputSchema } from './openapi.js';
