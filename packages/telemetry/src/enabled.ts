/**
 * Whether a process runs the OpenTelemetry SDK at all: only when its spans leave it
 * (OTEL_EXPORTER_OTLP_ENDPOINT set, and the SDK not switched off by the standard
 * OTEL_SDK_DISABLED=true). Otherwise nothing is installed, no instrumentation, no import hook, no
 * tracer provider: the project's spans go to the OpenTelemetry API's no-op. No imports: the
 * register module decides with it before loading anything else.
 */
export function telemetryEnabled(env: Record<string, string | undefined>): boolean {
  return (
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT) &&
    env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true'
  );
}
