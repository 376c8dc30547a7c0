/**
 * Loaded with `node --import @bulkhead/telemetry/register` by every service. When spans are
 * exported (telemetryEnabled: OTEL_EXPORTER_OTLP_ENDPOINT set), it puts instrumentation in place
 * before any instrumented module (http, express, grpc-js, pg, ioredis) is imported. Otherwise it
 * does nothing at all: no import hook, no SDK, no instrumentation (with every span dropped they
 * still doubled the CPU of a bare HTTP server: docs/performance.md); the project's spans are the
 * OpenTelemetry API's no-ops.
 */
import { register } from 'node:module';
import { telemetryEnabled } from './enabled.js';

if (telemetryEnabled(process.env)) {
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
}
