import {
  ROOT_CONTEXT,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Context,
  type Link,
  type Span,
  type SpanOptions,
  type Tracer,
} from '@opentelemetry/api';

/** The W3C trace context of the work in progress, as header values. */
export interface TraceContext {
  traceparent?: string;
  tracestate?: string;
}

/** A context as its W3C header values (empty when it holds no valid span context). */
export function traceContextOf(ctx: Context): TraceContext {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return {
    ...(carrier.traceparent ? { traceparent: carrier.traceparent } : {}),
    ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}),
  };
}

/**
 * The active trace context (what the outbox stores with each row so that the consumer's work
 * joins the trace of the request that caused it). Only the OpenTelemetry API: importing this
 * entry (`@bulkhead/telemetry/context`) loads no SDK.
 */
export function currentTraceContext(): TraceContext {
  return traceContextOf(context.active());
}

/** The context stored header values stand for (the root context when they hold none). */
export function contextFrom(stored: TraceContext): Context {
  if (!stored.traceparent) return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent: stored.traceparent };
  if (stored.tracestate) carrier.tracestate = stored.tracestate;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/**
 * Links to the span contexts the stored header values stand for, for a span that fans in many
 * messages (a relay round, a consumer batch): each message keeps its own trace as parent, the
 * fan-in span points at them. Values without a valid context are skipped.
 */
export function linksTo(stored: readonly TraceContext[]): Link[] {
  const links: Link[] = [];
  for (const one of stored) {
    const spanContext = one.traceparent ? trace.getSpanContext(contextFrom(one)) : undefined;
    if (spanContext && trace.isSpanContextValid(spanContext)) links.push({ context: spanContext });
  }
  return links;
}

/**
 * Starts a fan-in span (a relay round, a consumer batch): a root, in a trace of its own, that
 * links to the context of each message it handles. The links are only built for a span that
 * records (when exporting): unexported, the span costs an id and nothing per message.
 */
export function startFanInSpan(
  tracer: Tracer,
  name: string,
  options: SpanOptions,
  messages: () => readonly TraceContext[],
): Span {
  const span = tracer.startSpan(name, { ...options, root: true });
  if (span.isRecording()) span.addLinks(linksTo(messages()));
  return span;
}

/** Marks a span failed by an error: status ERROR, the exception recorded as an event. */
export function recordFailure(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/**
 * Runs work in a new active span (child of `parent`, default the active context) and ends it;
 * a throw marks it failed (recordFailure) and is rethrown. The one way this project wraps work
 * in a manual span.
 */
export function inSpan<T>(
  tracer: Tracer,
  name: string,
  options: SpanOptions,
  work: (span: Span) => Promise<T>,
  parent: Context = context.active(),
): Promise<T> {
  return tracer.startActiveSpan(name, options, parent, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}
