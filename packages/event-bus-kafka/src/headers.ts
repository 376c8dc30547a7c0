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
  const read = (field: keyof Envelope): string | undefined => {
    let value = headers?.[ENVELOPE_HEADERS[field]];
    if (Array.isArray(value)) value = value[0]; // a repeated header: the first one wins
    return typeof value === 'string' ? value : value?.toString('utf8');
  };
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
