import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT, context, propagation, trace, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction, type Pool } from '@bulkhead/db';
import { currentTraceContext } from '@bulkhead/telemetry/context';
import {
  PublishError,
  type EventBus,
  type IncomingMessage,
  type OutgoingMessage,
} from '@bulkhead/event-bus';
import { createTestBus, withKafkaAdmin, type TestBus } from '@bulkhead/saga-driver';
import {
  eventually,
  migratedTestDatabase,
  recordingLogger,
  testLogger,
  uniqueName,
  type MigratedTestDatabase,
} from '@bulkhead/testkit';
import {
  createOutboxRelay,
  createOutbox,
  outboxMigrations,
  outboxState,
  purgeSent,
  requeueParked,
  type OutboxMessage,
  type OutboxRelayOptions,
} from '../src/index.js';

const logger = testLogger('outbox');

// The outbox of a service, reading the trace context the way the cell services' outbox does.
const outbox = createOutbox({ traceContext: currentTraceContext });
const { enqueue } = outbox;
let db: MigratedTestDatabase;
let pool: Pool;
let testBus: TestBus;
let bus: EventBus;

beforeAll(async () => {
  // What @bulkhead/telemetry sets up in a service: W3C propagation and an async context.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  db = await migratedTestDatabase('outbox', [outboxMigrations], { poolSize: 20 });
  pool = db.pool;
  testBus = createTestBus('outbox');
  bus = testBus.bus;
});

afterAll(async () => {
  await testBus?.close();
  await db?.drop();
  context.disable();
  propagation.disable();
});

function outboxMessage(topic: string, key: string, body: string): OutboxMessage {
  return {
    topic,
    key,
    type: 'bulkhead.test.v1.Thing',
    payload: new TextEncoder().encode(body),
    tenantId: 'tenant-1',
    cellId: 'cell-1',
    correlationId: key,
  };
}

const body = (m: IncomingMessage): string => Buffer.from(m.payload).toString();

/** Subscribes a fresh group to the topic and collects everything it receives. */
const collect = (topic: string) => testBus.collect([topic], { partitionsConcurrently: 4 });

async function untilReceived(
  received: unknown[],
  count: number,
  timeoutMs = 10_000,
): Promise<void> {
  await eventually(async () => (received.length >= count ? true : undefined), { timeoutMs });
}

async function unsentCount(): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL',
  );
  return rows[0]?.n ?? -1;
}

/** The rows of one topic, in seq order, with their attempts and whether they are sent or parked. */
async function rowsOf(topic: string) {
  const { rows } = await pool.query<{
    message_id: string;
    attempts: number;
    last_error: string | null;
    sent: boolean;
    parked: boolean;
  }>(
    `SELECT message_id, attempts, last_error, sent_at IS NOT NULL AS sent,
            parked_at IS NOT NULL AS parked
       FROM outbox WHERE topic = $1 ORDER BY seq`,
    [topic],
  );
  return rows;
}

/**
 * Enqueues in a transaction that is not withTransaction's (as another process, or a tool, would
 * commit): nothing in this process learns of the commit but through PostgreSQL's NOTIFY.
 */
async function enqueueElsewhere(messages: OutboxMessage[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await enqueue(client, messages);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** Starts a relay, runs fn, and always stops the relay. */
async function withRelay<T>(
  options: Partial<OutboxRelayOptions>,
  fn: () => Promise<T>,
): Promise<T> {
  // The relay of the process that writes through `outbox` (as in a cell service).
  const relay = createOutboxRelay({ pool, bus, logger, outbox, ...options });
  await relay.start();
  try {
    return await fn();
  } finally {
    await relay.stop();
  }
}

describe('transactional outbox', () => {
  it('publishes nothing for a rolled-back transaction', async () => {
    const topic = await testBus.topic();
    const consumer = await collect(topic);
    await withRelay({}, async () => {
      await expect(
        withTransaction(pool, async (tx) => {
          await enqueue(tx, [outboxMessage(topic, 'k', 'rolled back')]);
          throw new Error('business rule violated');
        }),
      ).rejects.toThrow('business rule violated');
      // A committed marker afterwards: once it arrives, the relay has been past that point.
      await withTransaction(pool, (tx) => enqueue(tx, [outboxMessage(topic, 'k', 'committed')]));
      await untilReceived(consumer.received, 1);
    });
    await consumer.stop();
    expect(consumer.received.map(body)).toEqual(['committed']);
  });

  it('writes every enqueue of a transaction in one statement before its COMMIT, in order, each with its trace context', async () => {
    const topic = uniqueName('not_published');
    const span = (spanId: string): SpanContext => ({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId,
      traceFlags: 1,
    });
    const inserts: string[] = [];
    let spied: { query?: unknown } | undefined;
    const seenBeforeCommit = await withTransaction(pool, async (tx) => {
      // The statements this transaction sends, as PostgreSQL gets them (until it ended).
      spied = tx as { query?: unknown };
      const query = tx.query.bind(tx) as (...args: unknown[]) => Promise<unknown>;
      spied.query = (...args: unknown[]) => {
        const [text] = args;
        const sql = typeof text === 'string' ? text : (text as { text?: string }).text;
        if (sql?.includes('INSERT INTO outbox')) inserts.push(sql);
        return query(...args);
      };
      // As a batch does: each message of the run enqueues under its own trace context.
      for (const [i, spanId] of ['00f067aa0ba902b1', '00f067aa0ba902b2'].entries()) {
        await context.with(trace.setSpanContext(ROOT_CONTEXT, span(spanId)), () =>
          enqueue(tx, [
            outboxMessage(topic, `k${i}`, `${i}a`),
            outboxMessage(topic, `k${i}`, `${i}b`),
          ]),
        );
      }
      const { rows } = await tx.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM outbox WHERE topic = $1',
        [topic],
      );
      return rows[0]?.n;
    }).finally(() => delete spied?.query); // the prototype's again
    try {
      expect(seenBeforeCommit).toBe(0);
      expect(inserts).toHaveLength(1);
      const { rows } = await pool.query<{ body: string; traceparent: string | null }>(
        `SELECT convert_from(payload, 'UTF8') AS body, traceparent FROM outbox
          WHERE topic = $1 ORDER BY seq`,
        [topic],
      );
      const traceparent = (spanId: string) => `00-4bf92f3577b34da6a3ce929d0e0e4736-${spanId}-01`;
      expect(rows).toEqual([
        { body: '0a', traceparent: traceparent('00f067aa0ba902b1') },
        { body: '0b', traceparent: traceparent('00f067aa0ba902b1') },
        { body: '1a', traceparent: traceparent('00f067aa0ba902b2') },
        { body: '1b', traceparent: traceparent('00f067aa0ba902b2') },
      ]);
    } finally {
      await pool.query('DELETE FROM outbox WHERE topic = $1', [topic]); // no relay may see it
    }
  });

  it('rolls back the whole transaction when its rows cannot be written at COMMIT', async () => {
    const topic = uniqueName('not_published');
    await expect(
      withTransaction(pool, async (tx) => {
        await enqueue(tx, [outboxMessage(topic, 'k', 'good')]);
        await enqueue(tx, [{ ...outboxMessage(topic, 'k', 'bad'), messageId: 'not-a-uuid' }]);
      }),
    ).rejects.toThrow(/uuid/);
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE topic = $1',
      [topic],
    );
    expect(rows[0]?.n).toBe(0);
  });

  it('publishes committed rows in seq order with their envelope, then marks them sent', async () => {
    const topic = await testBus.topic();
    const consumer = await collect(topic);
    const givenId = '01890a5d-ac96-774b-bcce-b302099a8057';
    const first = [
      { ...outboxMessage(topic, 'order-1', 'a'), messageId: givenId },
      { ...outboxMessage(topic, 'order-2', 'b'), causationId: 'cause-1' },
    ];
    const second = [outboxMessage(topic, 'order-1', 'c')];
    // Enqueued before the relay starts: the first round picks them up.
    await withTransaction(pool, (tx) => enqueue(tx, first));
    await withTransaction(pool, (tx) => enqueue(tx, second));
    await withRelay({}, () => untilReceived(consumer.received, 3));
    await consumer.stop();

    const { rows } = await pool.query<{
      message_id: string;
      created_at: Date;
      sent_at: Date | null;
    }>('SELECT message_id, created_at, sent_at FROM outbox WHERE topic = $1 ORDER BY seq', [topic]);
    expect(consumer.received.map(body)).toEqual(['a', 'b', 'c']);
    expect(consumer.received.map((m) => m.key)).toEqual(['order-1', 'order-2', 'order-1']);
    expect(consumer.received.map((m) => m.envelope.messageId)).toEqual(
      rows.map((r) => r.message_id),
    );
    expect(rows[0]?.message_id).toBe(givenId);
    expect(rows[1]?.message_id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(rows.every((r) => r.sent_at !== null)).toBe(true);
    expect(consumer.received[1]?.envelope).toEqual({
      messageId: rows[1]?.message_id,
      type: 'bulkhead.test.v1.Thing',
      tenantId: 'tenant-1',
      cellId: 'cell-1',
      correlationId: 'order-2',
      causationId: 'cause-1',
      occurredAt: rows[1]?.created_at.toISOString(),
    });
  });

  it('two relays on one database publish every row exactly once, keeping per-key order', async () => {
    const topic = await testBus.topic(3);
    const consumer = await collect(topic);
    const keys = Array.from({ length: 10 }, (_, i) => `order-${i}`);
    const txPerKey = 15; // 2 messages per transaction: 300 rows
    const publishedBy = [0, 0];
    const countingBus = (relay: number): EventBus => ({
      ...bus,
      publish: async (messages: OutgoingMessage[]) => {
        await bus.publish(messages);
        publishedBy[relay] = (publishedBy[relay] ?? 0) + messages.length;
      },
    });
    const relayA = createOutboxRelay({ pool, bus: countingBus(0), logger, batchSize: 20 });
    const relayB = createOutboxRelay({ pool, bus: countingBus(1), logger, batchSize: 20 });
    await Promise.all([relayA.start(), relayB.start()]);
    const started = Date.now();
    try {
      // One writer per key (transactions on one aggregate are serialized), all keys at once.
      await Promise.all(
        keys.map(async (key) => {
          for (let i = 0; i < txPerKey; i++) {
            await withTransaction(pool, (tx) =>
              enqueue(tx, [
                outboxMessage(topic, key, String(2 * i)),
                outboxMessage(topic, key, String(2 * i + 1)),
              ]),
            );
          }
        }),
      );
      await untilReceived(consumer.received, keys.length * txPerKey * 2, 20_000);
      const elapsedMs = Date.now() - started;
      await sleep(500); // room for a duplicate to show up
      logger.info({ elapsedMs, publishedBy }, '300 rows through two relays');
    } finally {
      await Promise.all([relayA.stop(), relayB.stop()]);
      await consumer.stop();
    }

    const ids = consumer.received.map((m) => m.envelope.messageId);
    expect(ids).toHaveLength(300);
    expect(new Set(ids).size).toBe(300);
    const { rows } = await pool.query<{ message_id: string }>(
      'SELECT message_id FROM outbox WHERE topic = $1',
      [topic],
    );
    expect(new Set(ids)).toEqual(new Set(rows.map((r) => r.message_id)));
    expect(await unsentCount()).toBe(0);
    expect((publishedBy[0] ?? 0) + (publishedBy[1] ?? 0)).toBe(300);
    for (const key of keys) {
      const sequence = consumer.received.filter((m) => m.key === key).map((m) => Number(body(m)));
      expect(sequence, key).toEqual(Array.from({ length: 2 * txPerKey }, (_, i) => i));
    }
  });

  it.each([
    ['a transaction of its own process: in-process, without NOTIFY', false],
    ['a transaction elsewhere: on NOTIFY', true],
  ])('wakes at the commit of %s, long before the fallback poll', async (_, elsewhere) => {
    const topic = await testBus.topic();
    // What PostgreSQL delivers on the relays' channel meanwhile.
    const listening = await pool.connect();
    let notified = 0;
    listening.on('notification', () => (notified += 1));
    await listening.query('LISTEN outbox');
    await withRelay({ pollIntervalMs: 10_000 }, async () => {
      await sleep(200); // the relay's first round is over; it now waits to be woken
      for (const body of ['first', 'second']) {
        const messages = [outboxMessage(topic, 'k', body)];
        if (elsewhere) await enqueueElsewhere(messages);
        else await withTransaction(pool, (tx) => enqueue(tx, messages));
        const committedAt = Date.now();
        await eventually(async () => ((await unsentCount()) === 0 ? true : undefined), {
          timeoutMs: 500,
          intervalMs: 5,
        });
        logger.info({ latencyMs: Date.now() - committedAt }, 'commit to published');
      }
    });
    // The relay woke on the NOTIFYs, so they have been sent: the listener here gets them too.
    if (elsewhere) await eventually(async () => (notified >= 2 ? true : undefined));
    await listening.query('UNLISTEN outbox');
    listening.release();
    expect(notified).toBe(elsewhere ? 2 : 0);
  });

  it('reconnects its LISTEN connection after it drops', async () => {
    const topic = await testBus.topic();
    const listeners = async (): Promise<number[]> => {
      const { rows } = await pool.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE '% listen outbox'
            AND query = 'LISTEN outbox'`, // its LISTEN has run
      );
      return rows.map((r) => r.pid);
    };
    await withRelay({ pollIntervalMs: 10_000 }, async () => {
      const dropped = await listeners();
      expect(dropped.length).toBeGreaterThan(0);
      await pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [dropped]);
      // A new listener connection shows up and LISTENs...
      await eventually(async () =>
        (await listeners()).some((pid) => !dropped.includes(pid)) ? true : undefined,
      );
      // ...and commits wake the relay again (the fallback poll is 10 s away).
      await enqueueElsewhere([outboxMessage(topic, 'k', 'after drop')]);
      await eventually(async () => ((await unsentCount()) === 0 ? true : undefined), {
        timeoutMs: 1_000,
      });
    });
  });

  it('keeps rows unsent while the broker is unavailable, counting no attempts, and publishes them after', async () => {
    const topic = await testBus.topic();
    const consumer = await collect(topic);
    let brokerDown = true;
    let failures = 0;
    const flakyBus: EventBus = {
      ...bus,
      publish: async (messages) => {
        if (brokerDown) {
          failures += 1;
          throw new PublishError('broker unavailable', 'unavailable');
        }
        await bus.publish(messages);
      },
    };
    // More failed rounds than maxAttempts: an unavailable broker parks nothing.
    await withRelay({ bus: flakyBus, maxAttempts: 2 }, async () => {
      await withTransaction(pool, (tx) =>
        enqueue(tx, [outboxMessage(topic, 'k', 'one'), outboxMessage(topic, 'k', 'two')]),
      );
      await eventually(async () => (failures >= 4 ? true : undefined));
      expect(await unsentCount()).toBe(2); // every failed round rolled back
      expect(await rowsOf(topic)).toMatchObject([
        { attempts: 0, parked: false, last_error: null },
        { attempts: 0, parked: false, last_error: null },
      ]);
      brokerDown = false;
      await untilReceived(consumer.received, 2);
    });
    await consumer.stop();
    expect(consumer.received.map(body)).toEqual(['one', 'two']);
    expect(await unsentCount()).toBe(0);
  });

  it('parks a row the broker keeps rejecting; the rest of its round is published, its key waits until then', async () => {
    const topic = await testBus.topic();
    const consumer = await collect(topic);
    const poisonId = '01890a5d-ac96-774b-bcce-b30209900001';
    let rejecting = true;
    const published: string[] = []; // bodies, in publish order, as the broker accepted them
    const rejected: string[] = [];
    const pickyBus: EventBus = {
      ...bus,
      publish: async (messages) => {
        if (rejecting && messages.some((m) => m.envelope.messageId === poisonId)) {
          rejected.push(...messages.map((m) => Buffer.from(m.payload).toString()));
          throw new PublishError('MESSAGE_TOO_LARGE', 'rejected');
        }
        await bus.publish(messages);
        published.push(...messages.map((m) => Buffer.from(m.payload).toString()));
      },
    };
    const { logger: relayLogger, entries } = recordingLogger('relay');
    const options = {
      bus: pickyBus,
      logger: relayLogger,
      maxAttempts: 3,
      attemptRetry: { initialMs: 100, maxMs: 200 },
    };
    await withRelay(options, async () => {
      // One transaction, one round: the poison row among rows of other keys, and a later row of
      // its own key.
      await withTransaction(pool, (tx) =>
        enqueue(tx, [
          outboxMessage(topic, 'k1', 'a'),
          { ...outboxMessage(topic, 'kp', 'poison'), messageId: poisonId },
          outboxMessage(topic, 'k2', 'b'),
          outboxMessage(topic, 'kp', 'after poison'),
          outboxMessage(topic, 'k3', 'c'),
        ]),
      );
      await untilReceived(consumer.received, 4);
    });
    // The first batch was rejected as a whole, then every row alone; the poison row alone on its
    // second and third attempt. 'after poison' went out only once the poison row was parked.
    expect(rejected).toEqual([
      'a',
      'poison',
      'b',
      'after poison',
      'c',
      'poison',
      'poison',
      'poison',
    ]);
    expect(published).toEqual(['a', 'b', 'c', 'after poison']);
    expect(consumer.received.map(body).sort()).toEqual(['a', 'after poison', 'b', 'c']);
    const rows = await rowsOf(topic);
    expect(rows.find((r) => r.message_id === poisonId)).toMatchObject({
      attempts: 3,
      parked: true,
      sent: false,
      last_error: 'PublishError: MESSAGE_TOO_LARGE',
    });
    expect(rows.filter((r) => r.sent)).toHaveLength(4);
    const parkedLogs = entries.filter((e) => e.msg.startsWith('outbox row parked'));
    expect(parkedLogs).toEqual([
      expect.objectContaining({ level: 'error', messageId: poisonId, topic, attempts: 3 }),
    ]);
    expect(parkedLogs[0]?.err).toMatchObject({ message: 'MESSAGE_TOO_LARGE' });

    // Visible, kept by the housekeeping, and published once requeued after the fix.
    const state = await outboxState(pool);
    expect(state).toMatchObject({ parked: 1, unsent: 0, retrying: 0, oldestUnsentAgeMs: null });
    expect(state.oldestParkedAgeMs).toBeGreaterThanOrEqual(0);
    await purgeSent(pool, 0);
    expect((await rowsOf(topic)).map((r) => r.message_id)).toEqual([poisonId]);
    rejecting = false;
    await withRelay(options, async () => {
      expect(await requeueParked(pool, { messageId: '01890a5d-ac96-774b-bcce-b30209900002' })).toBe(
        0,
      );
      expect(await requeueParked(pool, { messageId: poisonId })).toBe(1);
      await untilReceived(consumer.received, 5);
    });
    await consumer.stop();
    expect(consumer.received.map(body).at(-1)).toBe('poison');
    expect(await rowsOf(topic)).toMatchObject([{ attempts: 0, parked: false, sent: true }]);
    expect(await outboxState(pool)).toMatchObject({ parked: 0, oldestParkedAgeMs: null });
  });

  it('parks a row to a missing topic and a row too large for its topic; the rows around them are published', async () => {
    const topic = await testBus.topic(3);
    const missing = uniqueName('outbox_missing');
    const small = uniqueName('outbox_small');
    await withKafkaAdmin(async (admin) => {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: small,
            numPartitions: 1,
            configEntries: [{ name: 'max.message.bytes', value: '1024' }],
          },
        ],
      });
    });
    const consumer = await collect(topic);
    const smallConsumer = await collect(small);
    const { logger: relayLogger, entries } = recordingLogger('relay');
    const tooLarge = { ...outboxMessage(small, 'k-large', 'x'), payload: new Uint8Array(4096) };
    try {
      await withRelay(
        { logger: relayLogger, maxAttempts: 3, attemptRetry: { initialMs: 100, maxMs: 200 } },
        async () => {
          await withTransaction(pool, (tx) =>
            enqueue(tx, [
              outboxMessage(topic, 'k1', 'a'),
              outboxMessage(missing, 'k-missing', 'to a missing topic'),
              outboxMessage(topic, 'k2', 'b'),
              tooLarge,
              outboxMessage(small, 'k-fits', 'fits'),
              outboxMessage(topic, 'k3', 'c'),
            ]),
          );
          await eventually(
            async () => ((await outboxState(pool)).parked === 2 ? true : undefined),
            {
              timeoutMs: 60_000,
            },
          );
          await untilReceived(consumer.received, 3);
          await untilReceived(smallConsumer.received, 1);
          expect(await unsentCount()).toBe(0);
        },
      );
      const rows = await pool.query<{
        topic: string;
        attempts: number;
        parked: boolean;
        sent: boolean;
        last_error: string | null;
      }>(
        `SELECT topic, attempts, parked_at IS NOT NULL AS parked, sent_at IS NOT NULL AS sent, last_error
           FROM outbox WHERE topic = ANY($1) ORDER BY seq`,
        [[topic, missing, small]],
      );
      expect(rows.rows.map((r) => [r.topic, r.sent, r.parked, r.attempts])).toEqual([
        [topic, true, false, expect.any(Number)],
        [missing, false, true, 3],
        [topic, true, false, expect.any(Number)],
        [small, false, true, 3],
        [small, true, false, expect.any(Number)],
        [topic, true, false, expect.any(Number)],
      ]);
      expect(rows.rows.filter((r) => r.parked).every((r) => (r.last_error ?? '').length > 0)).toBe(
        true,
      );
      const parkedLogs = entries.filter((e) => e.msg.startsWith('outbox row parked'));
      expect(parkedLogs.map((e) => [e.level, e.topic])).toEqual([
        ['error', expect.any(String)],
        ['error', expect.any(String)],
      ]);
      expect(new Set(parkedLogs.map((e) => e.topic))).toEqual(new Set([missing, small]));
      // Every good row arrived (a row that shared a rejected produce request may arrive twice).
      expect(new Set(consumer.received.map(body))).toEqual(new Set(['a', 'b', 'c']));
      expect(smallConsumer.received.map(body)).toContain('fits');
      logger.info(
        { received: consumer.received.length + smallConsumer.received.length, unique: 4 },
        'rows around the rejected ones, as consumed',
      );
      // After the fix (the topic created), the row parked for it goes out.
      await testBus.bus.ensureTopics([{ name: missing, partitions: 1 }]);
      const missingConsumer = await collect(missing);
      expect(await requeueParked(pool, { topic: missing })).toBe(1);
      await withRelay({}, () => untilReceived(missingConsumer.received, 1));
      expect(missingConsumer.received.map(body)).toEqual(['to a missing topic']);
      await missingConsumer.stop();
    } finally {
      // A failed run leaves no row behind that could hold up the later tests' rounds.
      await pool.query('DELETE FROM outbox WHERE topic = ANY($1) AND sent_at IS NULL', [
        [missing, small],
      ]);
      await consumer.stop();
      await smallConsumer.stop();
      await withKafkaAdmin(async (admin) => {
        const existing = new Set(await admin.listTopics());
        const topics = [missing, small].filter((t) => existing.has(t));
        if (topics.length > 0) await admin.deleteTopics({ topics });
      });
    }
  }, 120_000);

  it('carries the trace context of the enqueuing request through the relay to the consumer', async () => {
    const topic = await testBus.topic();
    const request: SpanContext = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
    };
    const seenEnvelopes: Array<string | undefined> = [];
    const seenInHandler: Array<SpanContext | undefined> = [];
    const subscription = await bus.subscribe({
      groupId: testBus.group(),
      topics: [topic],
      handler: async (message) => {
        seenEnvelopes.push(message.envelope.traceparent);
        seenInHandler.push(trace.getSpanContext(context.active()));
      },
    });
    await withRelay({}, async () => {
      await context.with(trace.setSpanContext(ROOT_CONTEXT, request), () =>
        withTransaction(pool, (tx) => enqueue(tx, [outboxMessage(topic, 'k', 'traced')])),
      );
      await untilReceived(seenInHandler, 1);
    });
    await subscription.stop();

    const { rows } = await pool.query<{ traceparent: string | null }>(
      'SELECT traceparent FROM outbox WHERE topic = $1',
      [topic],
    );
    expect(rows[0]?.traceparent).toBe(`00-${request.traceId}-${request.spanId}-01`);
    expect(seenEnvelopes[0]).toBe(`00-${request.traceId}-${request.spanId}-01`);
    expect(seenInHandler[0]?.traceId).toBe(request.traceId);
  });

  it('purgeSent deletes only rows sent longer ago than asked', async () => {
    const topic = uniqueName('not_published');
    await withTransaction(pool, (tx) =>
      enqueue(tx, [
        outboxMessage(topic, 'k', 'old'),
        outboxMessage(topic, 'k', 'new'),
        outboxMessage(topic, 'k', 'unsent'),
      ]),
    );
    await pool.query(
      `UPDATE outbox SET sent_at = CASE convert_from(payload, 'UTF8')
         WHEN 'old' THEN now() - interval '2 hours' WHEN 'new' THEN now() END
       WHERE topic = $1`,
      [topic],
    );
    try {
      expect(await purgeSent(pool, 60 * 60 * 1000)).toBe(1);
      const { rows } = await pool.query<{ body: string }>(
        "SELECT convert_from(payload, 'UTF8') AS body FROM outbox WHERE topic = $1 ORDER BY seq",
        [topic],
      );
      expect(rows.map((r) => r.body)).toEqual(['new', 'unsent']);
    } finally {
      await pool.query('DELETE FROM outbox WHERE topic = $1', [topic]); // no relay may see it
    }
  });
});
