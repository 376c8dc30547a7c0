import { context, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { DestinationStream, Logger };

/**
 * The ids of the active span, as `trace_id` and `span_id`, so that a log line leads to its trace
 * (and a span to its lines). Only the OpenTelemetry API: without an SDK there is never a valid
 * span, and the cost is one context lookup per line.
 */
export function traceIds(): { trace_id?: string; span_id?: string } {
  const spanContext = trace.getSpan(context.active())?.spanContext();
  // A new object every time: pino merges the line's fields into what the mixin returns.
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

/**
 * The one logger factory: JSON lines on stdout (or `destination`, e.g. a test recording them),
 * with the service name on every line, and the trace and span ids of the active span on every
 * line written inside one.
 */
export function createLogger(
  service: string,
  level: LoggerOptions['level'] = 'info',
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      level,
      base: { service },
      mixin: traceIds,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
