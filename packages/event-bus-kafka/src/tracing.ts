import {
  ROOT_CONTEXT,
  SpanKind,
  context,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import type { IncomingMessage, OutgoingMessage } from '@bulkhead/event-bus';
import {
  contextFrom,
  inSpan,
  recordFailure,
  startFanInSpan,
  traceContextOf,
  type TraceContext,
} from '@bulkhead/telemetry/context';
import type { KafkaMessage } from 'kafkajs';
import { ENVELOPE_HEADERS, headerText } from './headers.js';

/**
 * The spans of the Kafka hop (OpenTelemetry messaging semantic conventions), parent-child per
 * message so that a saga is one causal tree, one trace (docs/observability.md, "Trace model"):
 * - `send <topic>` (PRODUCER), one per message, the child of the context carried in its envelope
 *   (the span that wrote the outbox row; the active context for a message without one); its own
 *   context replaces that one in the published headers;
 * - `process <topic>` (CONSUMER), one per handler run, the child of the send span, read from the
 *   headers;
 * - `receive <topic>` (CLIENT), one per fetched batch that holds records: a fan-in span in a trace
 *   of its own that links to each record's send span.
 * No kafkajs instrumentation: its spans would take the relay's context, not the message's.
 */
const tracer = trace.getTracer('@bulkhead/event-bus-kafka');

const BASE = { 'messaging.system': 'kafka' } as const;

/** The consumer group a span's work belongs to. */
export interface ConsumerOrigin {
  topic: string;
  partition: number;
  groupId: string;
}

/**
 * Starts one send span per message and returns them with the messages to publish: the same,
 * with the send span's context in the envelope. End them with endSendSpans once the send settled.
 */
export function startSendSpans(messages: OutgoingMessage[]): {
  spans: Span[];
  traced: OutgoingMessage[];
} {
  const spans: Span[] = [];
  const traced = messages.map((message) => {
    const { envelope } = message;
    const span = tracer.startSpan(
      `send ${message.topic}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          ...BASE,
          'messaging.operation.type': 'send',
          'messaging.operation.name': 'send',
          'messaging.destination.name': message.topic,
          'messaging.message.id': envelope.messageId,
          'messaging.kafka.message.key': message.key,
          'bulkhead.message.type': envelope.type,
        },
      },
      // A message from the outbox carries its row's context; one published directly (a test, a
      // tool) is sent in the active one.
      envelope.traceparent ? contextFrom(envelope) : context.active(),
    );
    spans.push(span);
    // Without an SDK (a test) the span carries its parent's context, or none: keep the envelope's.
    const own = traceContextOf(trace.setSpan(ROOT_CONTEXT, span));
    if (!own.traceparent) return message;
    const { tracestate: _parents, ...rest } = envelope;
    return { ...message, envelope: { ...rest, ...own } };
  });
  return { spans, traced };
}

/** Ends the send spans of one publish; a failure marks each of them failed. */
export function endSendSpans(spans: Span[], error?: unknown): void {
  for (const span of spans) {
    if (error !== undefined) recordFailure(span, error);
    span.end();
  }
}

/** Runs the message's work in a `process <topic>` span, the child of the message's send span. */
export function processInSpan<T>(
  message: IncomingMessage,
  groupId: string,
  work: () => Promise<T>,
): Promise<T> {
  const { envelope } = message;
  const attributes: Attributes = {
    ...BASE,
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': message.topic,
    'messaging.consumer.group.name': groupId,
    'messaging.destination.partition.id': String(message.partition),
    'messaging.kafka.offset': Number(message.offset),
    'messaging.message.id': envelope.messageId,
    'messaging.kafka.message.key': message.key,
    'bulkhead.message.type': envelope.type,
  };
  return inSpan(
    tracer,
    `process ${message.topic}`,
    { kind: SpanKind.CONSUMER, attributes },
    work,
    contextFrom(envelope),
  );
}

/**
 * Starts the `receive <topic>` span of a fetched batch (a root, linking to each record's send
 * span); the caller ends it. Only for a batch with records: an idle consumer makes no traces.
 */
export function startReceiveSpan(origin: ConsumerOrigin, records: readonly KafkaMessage[]): Span {
  return startFanInSpan(
    tracer,
    `receive ${origin.topic}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        ...BASE,
        'messaging.operation.type': 'receive',
        'messaging.operation.name': 'receive',
        'messaging.destination.name': origin.topic,
        'messaging.destination.partition.id': String(origin.partition),
        'messaging.consumer.group.name': origin.groupId,
        'messaging.batch.message_count': records.length,
      },
    },
    () => records.map(recordTraceContext),
  );
}

/** The trace context in a record's headers (of its send span). */
function recordTraceContext(record: KafkaMessage): TraceContext {
  const traceparent = headerText(record.headers, ENVELOPE_HEADERS.traceparent);
  const tracestate = headerText(record.headers, ENVELOPE_HEADERS.tracestate);
  return { ...(traceparent ? { traceparent } : {}), ...(tracestate ? { tracestate } : {}) };
}
