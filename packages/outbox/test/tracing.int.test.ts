/**
 * The trace model across one Kafka hop (docs/observability.md, "Trace model"), against real
 * PostgreSQL and Kafka with an in-memory span exporter: the send span of a message is the child of
 * the span that wrote its outbox row, the process span the child of the send span (one causal
 * tree per saga); a relay round and a consumer batch are spans of their own that link to the
 * messages they carry; a failed handler run is a process span with status ERROR.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction, type Pool } from '@bulkhead/db';
import { currentTraceContext } from '@bulkhead/telemetry/context';
import { createTestBus, type TestBus } from '@bulkhead/saga-driver';
import {
  eventually,
  migratedTestDatabase,
  testLogger,
  type MigratedTestDatabase,
} from '@bulkhead/testkit';
import { recordSpans, type ReadableSpan, type RecordedSpans } from '@bulkhead/testkit/tracing';
import { createOutbox, createOutboxRelay, outboxMigrations } from '../src/index.js';

const logger = testLogger('outbox-tracing');
const { enqueue } = createOutbox({ traceContext: currentTraceContext });
let db: MigratedTestDatabase;
let pool: Pool;
let testBus: TestBus;
let spans: RecordedSpans;

beforeAll(async () => {
  spans = recordSpans();
  db = await migratedTestDatabase('outbox_tracing', [outboxMigrations]);
  pool = db.pool;
  testBus = createTestBus('outbox-tracing');
});

afterAll(async () => {
  await testBus?.close();
  await db?.drop();
  await spans?.stop();
});

const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('trace model of a Kafka hop', () => {
  it('send is the child of the row writer, process the child of send; round and batch link', async () => {
    const topic = await testBus.topic();
    const groupId = testBus.group();
    const handled: string[] = [];
    let failedOnce = false;
    const subscription = await testBus.bus.subscribe({
      groupId,
      topics: [topic],
      handler: async (message) => {
        // The first run of the first message fails: its process span records the error.
        if (!failedOnce) {
          failedOnce = true;
          throw new Error('handler failed once');
        }
        handled.push(message.envelope.messageId);
      },
    });
    const relay = createOutboxRelay({ pool, bus: testBus.bus, logger, pollIntervalMs: 20 });
    await relay.start();
    const tracer = trace.getTracer('test');
    const writer = await tracer.startActiveSpan('write rows', async (span) => {
      await withTransaction(pool, (tx) =>
        enqueue(
          tx,
          ['first', 'second'].map((body) => ({
            topic,
            key: 'order-1',
            type: 'bulkhead.test.v1.Thing',
            payload: new TextEncoder().encode(body),
            tenantId: 'tenant-1',
            cellId: 'cell-1',
            correlationId: 'order-1',
          })),
        ),
      );
      span.end();
      return span.spanContext();
    });
    try {
      await eventually(async () => (handled.length === 2 ? true : undefined), {
        timeoutMs: 20_000,
      });
    } finally {
      await relay.stop();
      await subscription.stop();
    }

    const finished = spans.finished();
    const named = (name: string) => finished.filter((s) => s.name === name);
    const sends = named(`send ${topic}`);
    const processes = named(`process ${topic}`);

    // One send per message, the child of the span that wrote the rows, in its trace.
    expect(sends).toHaveLength(2);
    for (const send of sends) {
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(send.spanContext().traceId).toBe(writer.traceId);
      expect(parentOf(send)).toBe(writer.spanId);
      expect(send.attributes).toMatchObject({
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.destination.name': topic,
        'messaging.kafka.message.key': 'order-1',
        'messaging.message.id': expect.any(String),
      });
    }
    // Each run of a handler: a process span, the child of its message's send span.
    const sendOf = new Map(sends.map((s) => [idOf(s), s]));
    expect(processes).toHaveLength(3); // the failed run, its retry, the second message
    for (const process of processes) {
      expect(process.kind).toBe(SpanKind.CONSUMER);
      const send = sendOf.get(parentOf(process) ?? '');
      expect(send, 'the parent of a process span is a send span').toBeDefined();
      expect(process.spanContext().traceId).toBe(writer.traceId);
      expect(process.attributes).toMatchObject({
        'messaging.operation.type': 'process',
        'messaging.consumer.group.name': groupId,
        'messaging.destination.partition.id': '0',
        'messaging.message.id': send!.attributes['messaging.message.id'],
      });
      expect(typeof process.attributes['messaging.kafka.offset']).toBe('number');
    }
    const failed = processes.filter((p) => p.status.code === SpanStatusCode.ERROR);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.status.message).toBe('handler failed once');
    expect(failed[0]!.events.map((e) => e.name)).toEqual(['exception']);
    expect(new Set(processes.map(parentOf))).toEqual(new Set(sendOf.keys()));
    expect(new Set(handled)).toEqual(
      new Set(sends.map((s) => s.attributes['messaging.message.id'])),
    );

    // The relay round: its own trace, linked to the context each row was written in; no span
    // for the empty rounds (the relay polled every 20 ms meanwhile).
    const rounds = named('outbox relay round');
    expect(rounds).toHaveLength(1);
    expect(rounds[0]!.parentSpanContext).toBeUndefined();
    expect(rounds[0]!.spanContext().traceId).not.toBe(writer.traceId);
    expect(rounds[0]!.attributes['messaging.batch.message_count']).toBe(2);
    expect(rounds[0]!.links.map((l) => l.context.spanId)).toEqual([writer.spanId, writer.spanId]);

    // The consumer's batches: their own traces, linked to the send spans of their records.
    const batches = named(`receive ${topic}`);
    expect(batches.length).toBeGreaterThan(0);
    const linked = new Set<string>();
    for (const batch of batches) {
      expect(batch.parentSpanContext).toBeUndefined();
      expect(batch.spanContext().traceId).not.toBe(writer.traceId);
      expect(batch.attributes['messaging.consumer.group.name']).toBe(groupId);
      for (const link of batch.links) linked.add(link.context.spanId);
    }
    expect(linked).toEqual(new Set(sendOf.keys()));
  }, 60_000);
});
