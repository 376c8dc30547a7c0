import { describe, expect, it } from 'vitest';
import type { Envelope } from '@bulkhead/event-bus';
import {
  ENVELOPE_HEADERS,
  MalformedMessageError,
  envelopeFromHeaders,
  envelopeToHeaders,
} from '../src/index.js';
import {
  DEAD_LETTER_HEADERS,
  deadLetterHeaders,
  headerText,
  withoutDeadLetterHeaders,
} from '../src/headers.js';

const full: Envelope = {
  messageId: '0190a1b2-0000-7000-8000-000000000001',
  type: 'bulkhead.inventory.v1.ReserveStock',
  tenantId: 'tenant-1',
  cellId: 'cell-a',
  correlationId: 'order-1',
  causationId: 'cause-1',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  tracestate: 'vendor=value',
  occurredAt: '2026-01-02T03:04:05.678Z',
};

/** What a consumer sees: every header value as a Buffer. */
function asReceived(headers: Record<string, string>): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]));
}

describe('envelope headers', () => {
  it('round-trips every field through Buffer headers', () => {
    const headers = envelopeToHeaders(full);
    expect(headers[ENVELOPE_HEADERS.messageId]).toBe(full.messageId);
    expect(headers.traceparent).toBe(full.traceparent);
    expect(envelopeFromHeaders(asReceived(headers))).toEqual(full);
  });

  it('leaves absent optional fields out, in both directions', () => {
    const { causationId: _c, traceparent: _p, tracestate: _s, ...minimal } = full;
    const headers = envelopeToHeaders(minimal);
    expect(Object.keys(headers).sort()).toEqual(
      [
        'message-id',
        'message-type',
        'tenant-id',
        'cell-id',
        'correlation-id',
        'occurred-at',
      ].sort(),
    );
    const decoded = envelopeFromHeaders(asReceived(headers));
    expect(decoded).toEqual(minimal);
    expect('causationId' in decoded).toBe(false);
  });

  it('takes the first value of a repeated header and accepts string values', () => {
    const headers: Record<string, Buffer | string | Buffer[]> = asReceived(envelopeToHeaders(full));
    headers[ENVELOPE_HEADERS.tenantId] = [Buffer.from('first'), Buffer.from('second')];
    headers[ENVELOPE_HEADERS.cellId] = 'cell-as-string';
    const decoded = envelopeFromHeaders(headers);
    expect(decoded.tenantId).toBe('first');
    expect(decoded.cellId).toBe('cell-as-string');
  });

  it('rejects a record that lacks required headers, naming them', () => {
    const headers = asReceived(envelopeToHeaders(full));
    delete headers[ENVELOPE_HEADERS.messageId];
    headers[ENVELOPE_HEADERS.type] = Buffer.alloc(0);
    expect(() => envelopeFromHeaders(headers)).toThrow(MalformedMessageError);
    expect(() => envelopeFromHeaders(headers)).toThrow('message-id, message-type');
    expect(() => envelopeFromHeaders(undefined)).toThrow(MalformedMessageError);
  });
});

describe('dead-letter headers', () => {
  const facts = {
    kind: 'transient' as const,
    error: { name: 'Error', message: 'x'.repeat(1_500) },
    origin: { topic: 'cell-1.inventory.commands', partition: 3, offset: '42' },
    groupId: 'cell-1.inventory',
    attempts: 5,
    deadLetteredAt: new Date('2026-01-02T03:04:05.000Z'),
  };

  it('keep the original headers, add the error and origin, and a redrive gets the original back', () => {
    const original = { 'message-id': Buffer.from('m-1'), 'x-extra': ['a', 'b'] };
    const headers = deadLetterHeaders(original, facts);
    expect(headers).toMatchObject({
      'message-id': Buffer.from('m-1'),
      'x-extra': ['a', 'b'],
      [DEAD_LETTER_HEADERS.kind]: 'transient',
      [DEAD_LETTER_HEADERS.errorName]: 'Error',
      [DEAD_LETTER_HEADERS.originTopic]: 'cell-1.inventory.commands',
      [DEAD_LETTER_HEADERS.originPartition]: '3',
      [DEAD_LETTER_HEADERS.originOffset]: '42',
      [DEAD_LETTER_HEADERS.groupId]: 'cell-1.inventory',
      [DEAD_LETTER_HEADERS.attempts]: '5',
      [DEAD_LETTER_HEADERS.deadLetteredAt]: '2026-01-02T03:04:05.000Z',
    });
    expect(headerText(headers, DEAD_LETTER_HEADERS.errorMessage)).toHaveLength(1_001); // cut, with …
    expect(withoutDeadLetterHeaders(headers)).toEqual(original);
  });

  it('replace the dead-letter headers of an earlier dead-lettering', () => {
    const first = deadLetterHeaders({ 'message-id': 'm-1' }, facts);
    const again = deadLetterHeaders(first, { ...facts, kind: 'permanent', attempts: 1 });
    expect(headerText(again, DEAD_LETTER_HEADERS.kind)).toBe('permanent');
    expect(headerText(again, DEAD_LETTER_HEADERS.attempts)).toBe('1');
  });
});
