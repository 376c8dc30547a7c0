import type { IHeaders } from 'kafkajs';
import type { Envelope } from '@bulkhead/event-bus';

/** Kafka header names of the envelope fields. */
export const ENVELOPE_HEADERS = {
  messageId: 'message-id',
  type: 'message-type',
  tenantId: 'tenant-id',
  cellId: 'cell-id',
  correlationId: 'correlation-id',
  causationId: 'causation-id',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  occurredAt: 'occurred-at',
} as const satisfies Record<keyof Envelope, string>;

const REQUIRED = [
  'messageId',
  'type',
  'tenantId',
  'cellId',
  'correlationId',
  'occurredAt',
] as const;
const OPTIONAL = ['causationId', 'traceparent', 'tracestate'] as const;

/** Thrown for a record whose headers do not form an envelope: it can never be processed. */
export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError';
}

/** Envelope → Kafka headers (optional fields that are absent are left out). */
export function envelopeToHeaders(envelope: Envelope): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const field of [...REQUIRED, ...OPTIONAL]) {
    const value = envelope[field];
    if (value !== undefined) headers[ENVELOPE_HEADERS[field]] = value;
  }
  return headers;
}

/** Kafka headers (Buffers on the consumer side) → Envelope; throws MalformedMessageError. */
export function envelopeFromHeaders(headers: IHeaders | undefined): Envelope {
  // A repeated header: the first one wins.
  const read = (field: keyof Envelope): string | undefined =>
    headerText(headers, ENVELOPE_HEADERS[field]);
  const missing: string[] = [];
  const required = (field: (typeof REQUIRED)[number]): string => {
    const value = read(field);
    if (!value) missing.push(ENVELOPE_HEADERS[field]);
    return value ?? '';
  };
  const envelope: Envelope = {
    messageId: required('messageId'),
    type: required('type'),
    tenantId: required('tenantId'),
    cellId: required('cellId'),
    correlationId: required('correlationId'),
    occurredAt: required('occurredAt'),
  };
  if (missing.length > 0) {
    throw new MalformedMessageError(`missing envelope headers: ${missing.join(', ')}`);
  }
  for (const field of OPTIONAL) {
    const value = read(field);
    if (value !== undefined) envelope[field] = value;
  }
  return envelope;
}

/**
 * Headers a dead letter carries next to the original record's own (which are kept as they
 * were): why it was given up on and where it came from. A redrive strips exactly these.
 */
export const DEAD_LETTER_HEADERS = {
  /** 'permanent' or 'transient' (the FailureKind that gave up on it). */
  kind: 'dead-letter-kind',
  /** The last error's name and message (no stack; the message cut at 1,000 characters). */
  errorName: 'dead-letter-error-name',
  errorMessage: 'dead-letter-error-message',
  /** Where the record was consumed: topic, partition, offset. */
  originTopic: 'dead-letter-origin-topic',
  originPartition: 'dead-letter-origin-partition',
  originOffset: 'dead-letter-origin-offset',
  /** The consumer group that gave up on it. */
  groupId: 'dead-letter-group-id',
  /** Runs of the handler (0: the record could not even be decoded). */
  attempts: 'dead-letter-attempts',
  /** ISO-8601 time it was dead-lettered. */
  deadLetteredAt: 'dead-letter-at',
} as const;

const DEAD_LETTER_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(DEAD_LETTER_HEADERS));
const MAX_ERROR_MESSAGE = 1_000;

export interface DeadLetterFacts {
  kind: 'permanent' | 'transient';
  error: { name: string; message: string };
  origin: { topic: string; partition: number; offset: string };
  groupId: string;
  attempts: number;
  deadLetteredAt: Date;
}

/** The original headers plus the dead-letter ones (which replace any of the same name). */
export function deadLetterHeaders(
  original: IHeaders | undefined,
  facts: DeadLetterFacts,
): IHeaders {
  const headers = withoutDeadLetterHeaders(original);
  const message =
    facts.error.message.length > MAX_ERROR_MESSAGE
      ? `${facts.error.message.slice(0, MAX_ERROR_MESSAGE)}…`
      : facts.error.message;
  headers[DEAD_LETTER_HEADERS.kind] = facts.kind;
  headers[DEAD_LETTER_HEADERS.errorName] = facts.error.name;
  headers[DEAD_LETTER_HEADERS.errorMessage] = message;
  headers[DEAD_LETTER_HEADERS.originTopic] = facts.origin.topic;
  headers[DEAD_LETTER_HEADERS.originPartition] = String(facts.origin.partition);
  headers[DEAD_LETTER_HEADERS.originOffset] = facts.origin.offset;
  headers[DEAD_LETTER_HEADERS.groupId] = facts.groupId;
  headers[DEAD_LETTER_HEADERS.attempts] = String(facts.attempts);
  headers[DEAD_LETTER_HEADERS.deadLetteredAt] = facts.deadLetteredAt.toISOString();
  return headers;
}

/** A copy of the headers without the dead-letter ones: what the record carried originally. */
export function withoutDeadLetterHeaders(headers: IHeaders | undefined): IHeaders {
  const kept: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!DEAD_LETTER_HEADER_NAMES.has(name) && value !== undefined) kept[name] = value;
  }
  return kept;
}

/** One header as text (the first of a repeated one), undefined when absent. */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  let value = headers?.[name];
  if (Array.isArray(value)) value = value[0];
  return typeof value === 'string' ? value : value?.toString('utf8');
}
