import { context, propagation } from '@opentelemetry/api';

/** The W3C trace context of the work in progress, as header values. */
export interface TraceContext {
  traceparent?: string;
  tracestate?: string;
}

/**
 * The active trace context (what the outbox stores with each row so that the consumer's work
 * joins the trace of the request that caused it). Only the OpenTelemetry API: importing this
 * entry (`@bulkhead/telemetry/context`) loads no SDK.
 */
export function currentTraceContext(): TraceContext {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return {
    ...(carrier.traceparent ? { traceparent: carrier.traceparent } : {}),
    ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}),
  };
}
