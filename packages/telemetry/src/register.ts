/**
 * Loaded with `node --import @bulkhead/telemetry/register` so instrumentation is in place before
 * any instrumented module (http, express, grpc-js, pg, ioredis) is imported.
 */
import { register } from 'node:module';

// Wrap only the modules we instrument: wrapping every ESM module costs memory and start time.
register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, {
  data: {
    include: ['express', 'pg', 'pg-pool', 'ioredis', '@grpc/grpc-js', 'http', 'https'],
  },
});

const { startTelemetry } = await import('./index.js');
const telemetry = startTelemetry();
// Flush what is buffered when the service has drained and the event loop empties.
process.once('beforeExit', () => {
  void telemetry.shutdown();
});
