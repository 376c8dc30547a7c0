import { NodeSDK } from '@opentelemetry/sdk-node';
import { AlwaysOffSampler, BatchSpanProcessor, NoopSpanProcessor } from '@opentelemetry/sdk-trace';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';

export interface Telemetry {
  /** True when spans and metrics leave the process (OTEL_EXPORTER_OTLP_ENDPOINT is set). */
  readonly exporting: boolean;
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK. It always runs, so trace context is created and propagated
 * (HTTP → gRPC → outbox row → Kafka headers → consumer) even locally; spans and metrics are exported over
 * OTLP/gRPC only when OTEL_EXPORTER_OTLP_ENDPOINT is set (standard OTEL_* variables apply).
 */
export function startTelemetry(env: Record<string, string | undefined> = process.env): Telemetry {
  const exporting = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? 'bulkhead',
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => /^\/(healthz|readyz)/.test(req.url ?? ''),
      }),
      new ExpressInstrumentation(),
      new GrpcInstrumentation({ ignoreGrpcMethods: ['Check', 'Watch'] }),
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation(),
      // No kafkajs instrumentation: the trace context travels in the message envelope (stored
      // with each outbox row, read by packages/event-bus, which runs handlers in a consumer span
      // under it). kafkajs's own instrumentation would overwrite it with the relay's context.
    ],
    // Without an exporter nothing is recorded (AlwaysOff; the no-op processor only makes the SDK
    // install its tracer provider), but every span still gets a real trace and span id, so
    // traceparent flows through HTTP, gRPC and Kafka at little cost.
    ...(exporting
      ? { spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })] }
      : { sampler: new AlwaysOffSampler(), spanProcessors: [new NoopSpanProcessor()] }),
    metricReaders: exporting
      ? [
          new PeriodicExportingMetricReader({
            exporter: new OTLPMetricExporter(),
            exportIntervalMillis: 10_000,
          }),
        ]
      : [],
  });
  sdk.start();
  return { exporting, shutdown: () => sdk.shutdown() };
}
