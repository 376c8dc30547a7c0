import { randomUUID } from 'node:crypto';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { telemetryEnabled } from './enabled.js';

export { telemetryEnabled };

export interface Telemetry {
  /** True when spans leave the process and the SDK runs (telemetryEnabled). */
  readonly exporting: boolean;
  shutdown(): Promise<void>;
}

/** The resource attribute naming the cell a process serves (absent for cell-less processes). */
export const CELL_ATTRIBUTE = 'bulkhead.cell';

/**
 * Who emits the spans: service.name (OTEL_SERVICE_NAME), service.instance.id (one per process
 * start) and, for a cell's service, bulkhead.cell (CELL_ID). OTEL_RESOURCE_ATTRIBUTES, read by
 * the SDK's env detector, adds to these. No host/process/OS detectors: nothing queried needs
 * them, and they cost start time.
 */
export function telemetryResource(env: Record<string, string | undefined>): Resource {
  return resourceFromAttributes({
    'service.name': env.OTEL_SERVICE_NAME ?? 'bulkhead',
    'service.instance.id': randomUUID(),
    ...(env.CELL_ID ? { [CELL_ATTRIBUTE]: env.CELL_ID } : {}),
  });
}

/**
 * Starts the OpenTelemetry Node SDK, for traces only (metrics are prom-client's, on each
 * process's ops port), when spans are exported (telemetryEnabled: OTEL_EXPORTER_OTLP_ENDPOINT
 * set). Then spans leave over OTLP/gRPC in batches, head-sampled as the standard
 * OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG say (default parentbased_always_on: every trace,
 * for the collector to tail-sample), and trace context is propagated (HTTP → gRPC → outbox row →
 * Kafka headers → consumer). Otherwise it starts nothing: no instrumentation, no context manager,
 * no propagator; the project's spans are the API's no-ops and no traceparent is created.
 */
export function startTelemetry(env: Record<string, string | undefined> = process.env): Telemetry {
  if (!telemetryEnabled(env)) return { exporting: false, shutdown: () => Promise.resolve() };
  const sdk = new NodeSDK({
    resource: telemetryResource(env),
    resourceDetectors: [envDetector],
    instrumentations: [
      // Probes and Prometheus's scrapes (every 5 s on every ops port) make no spans.
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => /^\/(healthz|readyz|metrics)(\?|$)/.test(req.url ?? ''),
      }),
      // The route's handler span (it names http.route); not one per middleware (JSON body,
      // auth, rate limit, …), which the HTTP span already covers.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      new GrpcInstrumentation({ ignoreGrpcMethods: ['Check', 'Watch'] }),
      // A span per statement, not per pool checkout (10 of the 112 spans of an order).
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      new IORedisInstrumentation(),
      // No kafkajs instrumentation: the trace context travels in the message envelope (stored
      // with each outbox row; packages/event-bus-kafka/src/tracing.ts makes the send and process
      // spans from it). kafkajs's own spans would take the relay's context, not the message's.
    ],
    // No sampler: the SDK reads OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (unset:
    // parentbased_always_on).
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
    // Traces only: no metric readers (metrics are prom-client's, on the ops port) and no log
    // processors (logs are pino's JSON lines on stdout, with trace_id/span_id); left unset, the SDK
    // would build OTLP exporters for both from the environment.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return { exporting: true, shutdown: () => sdk.shutdown() };
}
