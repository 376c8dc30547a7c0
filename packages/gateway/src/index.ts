export { createGatewayApp, type GatewayApp, type GatewayDeps } from './app.js';
export { loadGatewayConfig, type GatewayConfig } from './config.js';
export { buildOpenApiDocument, openApiSchemas } from './openapi.js';
export { canonicalJson, requestFingerprint } from './fingerprint.js';
export * from './schemas.js';
