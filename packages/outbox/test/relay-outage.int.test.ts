import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '@bulkhead/db';
import type { EventBus } from '@bulkhead/event-bus';
import { createTestBus, type TestBus } from '@bulkhead/saga-driver';
import {
  eventually,
  migratedTestDatabase,
  startPrivateKafka,
  testLogger,
  type MigratedTestDatabase,
  type PrivateKafka,
} from '@bulkhead/testkit';
import { createOutbox, createOutboxRelay, outboxMigrations, outboxState } from '../src/index.js';

/**
 * The relay through a Kafka outage: a broker of this test's own (the shared one is left alone) is
 * killed while rows keep being enqueued, and started again after BULKHEAD_RELAY_OUTAGE_SECONDS
 * (default 120; `make relay-outage MINUTES=10` for a longer one).
 */
const OUTAGE_SECONDS = Number(process.env.BULKHEAD_RELAY_OUTAGE_SECONDS ?? '120');
if (!Number.isFinite(OUTAGE_SECONDS) || OUTAGE_SECONDS < 30) {
  throw new Error('BULKHEAD_RELAY_OUTAGE_SECONDS must be a number of seconds, at least 30');
}
const OUTAGE_MS = OUTAGE_SECONDS * 1000;
/** One row every 100 ms (10 rows/s), keyed round-robin over 10 keys. */
const ENQUEUE_EVERY_MS = 100;
const KEYS = 10;
const BATCH_SIZE = 100;
/** Heap samples during the outage, after a forced full GC. */
const SAMPLE_EVERY_MS = 5_000;
/** The relay's first retries and the producer's reconnect attempts settle in this long. */
const SETTLE_MS = 15_000;
/** Heap growth allowed from the start of the outage to its end (the test process as a whole). */
const MAX_HEAP_GROWTH_BYTES = 8 * 1024 * 1024;
/** After the broker is back, the backlog is published and marked sent within this. */
const DRAIN_BOUND_MS = 60_000;

const logger = testLogger('relay-outage');
const { enqueue } = createOutbox();

// A full GC before each sample, without --expose-gc on vitest's command line.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let kafka: PrivateKafka;
let testBus: TestBus;
let db: MigratedTestDatabase;

beforeAll(async () => {
  kafka = await startPrivateKafka();
  testBus = createTestBus('relay-outage', { brokers: kafka.brokers });
  db = await migratedTestDatabase('relay_outage', [outboxMigrations]);
});

afterAll(async () => {
  await testBus?.close().catch(() => undefined); // its topics go with the broker's data anyway
  await kafka?.close();
  await db?.drop();
});

const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function sentCount(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NOT NULL',
  );
  return rows[0]?.n ?? -1;
}

describe('outbox relay through a Kafka outage', () => {
  it(
    `publishes every row after a ${OUTAGE_SECONDS} s outage, with flat memory meanwhile`,
    async () => {
      const topic = await testBus.topic(3);
      // Proof that the relay never overlaps two publishes (the producer's guarantee rests on it).
      let inFlight = 0;
      let maxInFlight = 0;
      let publishes = 0;
      // Armed, the next publish kills the broker as it sends (the batch is in flight).
      let killAtNextPublish = false;
      let killing: Promise<void> | undefined;
      let batchAtKill = 0;
      const bus: EventBus = {
        ...testBus.bus,
        publish: async (messages) => {
          inFlight += 1;
          publishes += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          if (killAtNextPublish) {
            killAtNextPublish = false;
            batchAtKill = messages.length;
            killing = kafka.stop('SIGKILL'); // a crash, no clean shutdown
          }
          try {
            await testBus.bus.publish(messages);
          } finally {
            inFlight -= 1;
          }
        },
      };
      const relay = createOutboxRelay({
        pool: db.pool,
        bus,
        logger: testLogger('relay'),
        batchSize: BATCH_SIZE,
      });
      await relay.start();

      // The writer: one row per transaction, at a steady rate, until told to stop. Only
      // counters are kept (the message ids are read back from the table at the end). A failed
      // transaction (the shared PostgreSQL restarted under the test) is counted and the writer
      // goes on: the table, not the counter, says which rows exist.
      let enqueued = 0;
      let writeFailures = 0;
      let writing = true;
      const writer = (async () => {
        for (let n = 0; writing; n++) {
          const key = `order-${n % KEYS}`;
          try {
            await withTransaction(db.pool, (tx) =>
              enqueue(tx, [
                {
                  topic,
                  key,
                  type: 'bulkhead.test.v1.Thing',
                  // The row's number within its key: per-key order is checked on it.
                  payload: new TextEncoder().encode(`${key}:${String(n).padStart(9, '0')}`),
                  tenantId: 'tenant-1',
                  cellId: 'cell-1',
                  correlationId: key,
                },
              ]),
            );
            enqueued += 1;
          } catch (error) {
            writeFailures += 1;
            logger.warn({ err: error, writeFailures }, 'enqueue failed; going on');
          }
          await sleep(ENQUEUE_EVERY_MS);
        }
      })();

      const heap: { atS: number; heapMb: number; rssMb: number }[] = [];
      let drainMs = 0;
      let unsentAtRestart = 0;
      try {
        // The relay publishes before the outage...
        await eventually(async () => ((await sentCount()) >= 50 ? true : undefined), {
          timeoutMs: 20_000,
        });
        // ...is stopped while a backlog builds up, and started again: the broker dies under the
        // batch that publishes the backlog.
        await relay.stop();
        await eventually(
          async () => ((await outboxState(db.pool)).unsent >= 50 ? true : undefined),
          { timeoutMs: 20_000 },
        );
        killAtNextPublish = true;
        await relay.start();
        await eventually(async () => (killing ? true : undefined), { timeoutMs: 10_000 });
        await killing;
        const outageStarted = Date.now();
        const publishesBefore = publishes;
        for (let at = SETTLE_MS; at <= OUTAGE_MS; at += SAMPLE_EVERY_MS) {
          await sleep(outageStarted + at - Date.now());
          gc();
          const { heapUsed, rss } = process.memoryUsage();
          heap.push({ atS: Math.round(at / 1000), heapMb: mb(heapUsed), rssMb: mb(rss) });
        }
        const publishesDuringOutage = publishes - publishesBefore;
        await kafka.start();
        const restarted = Date.now();
        unsentAtRestart = (await outboxState(db.pool)).unsent;
        writing = false;
        await writer;
        await eventually(
          async () => ((await outboxState(db.pool)).unsent === 0 ? true : undefined),
          { timeoutMs: DRAIN_BOUND_MS, intervalMs: 100 },
        );
        drainMs = Date.now() - restarted;
        logger.info(
          {
            outageS: OUTAGE_SECONDS,
            enqueued,
            writeFailures,
            batchAtKill,
            unsentAtRestart,
            drainMs,
            publishesDuringOutage,
            heap,
          },
          'outage over',
        );
      } finally {
        writing = false;
        await writer;
        await relay.stop();
      }

      // Every row arrived; duplicates are at most the batch in flight when the broker died.
      const { rows } = await db.pool.query<{ message_id: string }>(
        'SELECT message_id FROM outbox ORDER BY seq',
      );
      expect(rows.length).toBeGreaterThanOrEqual(enqueued);
      const consumer = await testBus.collect([topic], { partitionsConcurrently: 3 });
      try {
        await eventually(
          async () =>
            new Set(consumer.received.map((m) => m.envelope.messageId)).size >= rows.length
              ? true
              : undefined,
          { timeoutMs: 60_000 },
        );
      } finally {
        await consumer.stop();
      }
      const ids = consumer.received.map((m) => m.envelope.messageId);
      const duplicates = ids.length - new Set(ids).size;
      logger.info({ rows: rows.length, received: ids.length, duplicates }, 'consumed');
      expect(new Set(ids)).toEqual(new Set(rows.map((r) => r.message_id)));
      expect(batchAtKill).toBeGreaterThanOrEqual(50);
      expect(duplicates).toBeLessThanOrEqual(batchAtKill);
      // Per key, first deliveries come in enqueue order.
      for (let k = 0; k < KEYS; k++) {
        const seen = new Set<string>();
        const order: string[] = [];
        for (const m of consumer.received) {
          if (m.key !== `order-${k}` || seen.has(m.envelope.messageId)) continue;
          seen.add(m.envelope.messageId);
          order.push(Buffer.from(m.payload).toString());
        }
        expect(order.length, `order-${k}`).toBeGreaterThan(0);
        expect(order, `order-${k}`).toEqual([...order].sort());
      }

      expect(unsentAtRestart).toBeGreaterThan((OUTAGE_SECONDS * 1000) / ENQUEUE_EVERY_MS / 2);
      expect(drainMs).toBeLessThan(DRAIN_BOUND_MS);
      expect(maxInFlight).toBe(1);
      // Flat memory: the end of the outage against its start (medians of three samples each).
      const start = median(heap.slice(0, 3).map((s) => s.heapMb));
      const end = median(heap.slice(-3).map((s) => s.heapMb));
      expect(heap.length).toBeGreaterThanOrEqual(3);
      expect((end - start) * 1024 * 1024).toBeLessThan(MAX_HEAP_GROWTH_BYTES);
    },
    OUTAGE_MS + 240_000,
  );
});
