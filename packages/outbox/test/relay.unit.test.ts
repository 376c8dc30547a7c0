import { describe, expect, it } from 'vitest';
import type { EventBus } from '@bulkhead/event-bus';
import type { Pool, Queryable } from '@bulkhead/db';
import { testLogger } from '@bulkhead/testkit';
import { purgeSent, requeueParked } from '../src/maintenance.js';
import { createOutboxRelay, toOutgoingMessage, type OutboxRow } from '../src/relay.js';

const row: OutboxRow = {
  seq: 7,
  message_id: '01a204c8-9e35-71d1-b63e-bd5867275ab1',
  topic: 'cell-1.inventory.commands',
  message_key: 'order-1',
  message_type: 'bulkhead.inventory.v1.ReserveStock',
  payload: Buffer.from([1, 2, 3]),
  tenant_id: 'tenant-a',
  cell_id: 'cell-1',
  correlation_id: 'order-1',
  causation_id: null,
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: null,
  created_at: new Date('2026-11-22T10:00:00.000Z'),
  attempts: 0,
};

describe('toOutgoingMessage', () => {
  it('keys the message by the row key and carries the whole envelope', () => {
    expect(toOutgoingMessage(row)).toEqual({
      topic: 'cell-1.inventory.commands',
      key: 'order-1',
      payload: Buffer.from([1, 2, 3]),
      envelope: {
        messageId: row.message_id,
        type: 'bulkhead.inventory.v1.ReserveStock',
        tenantId: 'tenant-a',
        cellId: 'cell-1',
        correlationId: 'order-1',
        causationId: undefined,
        traceparent: row.traceparent,
        tracestate: undefined,
        occurredAt: '2026-11-22T10:00:00.000Z',
      },
    });
  });

  it('keeps the causation id and trace state when the row has them', () => {
    const message = toOutgoingMessage({ ...row, causation_id: 'cmd-1', tracestate: 'v=1' });
    expect(message.envelope.causationId).toBe('cmd-1');
    expect(message.envelope.tracestate).toBe('v=1');
  });
});

describe('input validation', () => {
  // Never reached: every case is refused before any I/O.
  const unreachable = {
    query: () => Promise.reject(new Error('no query expected')),
  } as unknown as Queryable & Pool;

  it('refuses relay options that are not positive integers', () => {
    const base = { pool: unreachable, bus: {} as EventBus, logger: testLogger() };
    for (const bad of [
      { batchSize: 0 },
      { batchSize: 1.5 },
      { maxAttempts: 0 },
      { maxAttempts: Number.NaN },
      { pollIntervalMs: -1 },
    ]) {
      expect(() => createOutboxRelay({ ...base, ...bad }), JSON.stringify(bad)).toThrow(RangeError);
    }
    expect(() => createOutboxRelay({ ...base, batchSize: 1, maxAttempts: 1 })).not.toThrow();
  });

  it('refuses a requeue filter that is not a UUID or a topic name', async () => {
    await expect(requeueParked(unreachable, { messageId: 'x; DROP TABLE outbox' })).rejects.toThrow(
      TypeError,
    );
    await expect(requeueParked(unreachable, { topic: '' })).rejects.toThrow(TypeError);
    await expect(purgeSent(unreachable, -1)).rejects.toThrow(RangeError);
  });
});
