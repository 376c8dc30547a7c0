import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool, PoolClient } from '@bulkhead/db';
import type { IncomingMessage } from '@bulkhead/event-bus';
import { migratedTestDatabase, testLogger, type MigratedTestDatabase } from '@bulkhead/testkit';
import { consumeOnce, inboxHandler, inboxMigrations, purgeProcessed } from '../src/index.js';

let db: MigratedTestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await migratedTestDatabase('inbox', [inboxMigrations]);
  pool = db.pool;
  // The consumer's own state: a counter the effect increments.
  await pool.query('CREATE TABLE counter (name text PRIMARY KEY, value int NOT NULL)');
});

afterAll(() => db?.drop());

function incoming(messageId = randomUUID()): IncomingMessage {
  return {
    topic: 'orders',
    partition: 0,
    offset: '0',
    key: 'order-1',
    payload: new Uint8Array(),
    envelope: {
      messageId,
      type: 'bulkhead.test.v1.Thing',
      tenantId: 'tenant-1',
      cellId: 'cell-1',
      correlationId: 'order-1',
      occurredAt: new Date().toISOString(),
    },
  };
}

/** The effect under test: one increment of the named counter. */
function increment(name: string) {
  return async (tx: PoolClient): Promise<void> => {
    await tx.query(
      `INSERT INTO counter (name, value) VALUES ($1, 1)
       ON CONFLICT (name) DO UPDATE SET value = counter.value + 1`,
      [name],
    );
  };
}

async function counter(name: string): Promise<number> {
  const { rows } = await pool.query<{ value: number }>(
    'SELECT value FROM counter WHERE name = $1',
    [name],
  );
  return rows[0]?.value ?? 0;
}

describe('inbox (idempotent consumer)', () => {
  it('applies a message delivered twice in a row once', async () => {
    const message = incoming();
    expect(await consumeOnce(pool, 'inventory', message, increment('sequential'))).toBe(
      'processed',
    );
    expect(await consumeOnce(pool, 'inventory', message, increment('sequential'))).toBe(
      'duplicate',
    );
    expect(await counter('sequential')).toBe(1);
  });

  it('applies a message delivered many times concurrently once', async () => {
    const message = incoming();
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () =>
        consumeOnce(pool, 'inventory', message, async (tx) => {
          await increment('concurrent')(tx);
          await tx.query('SELECT pg_sleep(0.05)'); // hold the transaction open: overlap them
        }),
      ),
    );
    expect(outcomes.filter((o) => o === 'processed')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(7);
    expect(await counter('concurrent')).toBe(1);
  });

  it('records nothing when the effect fails, so a redelivery processes the message', async () => {
    const message = incoming();
    await expect(
      consumeOnce(pool, 'inventory', message, async (tx) => {
        await increment('failing')(tx);
        throw new Error('effect failed');
      }),
    ).rejects.toThrow('effect failed');
    expect(await counter('failing')).toBe(0);
    const { rowCount } = await pool.query('SELECT 1 FROM inbox WHERE message_id = $1', [
      message.envelope.messageId,
    ]);
    expect(rowCount).toBe(0);

    expect(await consumeOnce(pool, 'inventory', message, increment('failing'))).toBe('processed');
    expect(await counter('failing')).toBe(1);
  });

  it('a concurrent duplicate proceeds when the first delivery rolls back', async () => {
    const message = incoming();
    let firstRecorded!: () => void;
    const recorded = new Promise<void>((resolve) => (firstRecorded = resolve));
    let failFirst!: () => void;
    const firstMayFail = new Promise<void>((resolve) => (failFirst = resolve));
    const first = consumeOnce(pool, 'inventory', message, async (tx) => {
      firstRecorded(); // its inbox row is inserted, not committed
      await increment('rollback-race')(tx);
      await firstMayFail;
      throw new Error('first delivery failed');
    });
    await recorded;
    // The second delivery blocks on the first one's uncommitted inbox row...
    let secondDone = false;
    const second = consumeOnce(pool, 'inventory', message, increment('rollback-race')).finally(
      () => (secondDone = true),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(secondDone).toBe(false);
    failFirst(); // ...until the first rolls back; then it inserts and runs the effect.
    await expect(first).rejects.toThrow('first delivery failed');
    expect(await second).toBe('processed');
    expect(await counter('rollback-race')).toBe(1);
  });

  it('deduplicates per consumer: another consumer still processes the same message', async () => {
    const message = incoming();
    expect(await consumeOnce(pool, 'inventory', message, increment('per-consumer'))).toBe(
      'processed',
    );
    expect(await consumeOnce(pool, 'payments', message, increment('per-consumer'))).toBe(
      'processed',
    );
    expect(await consumeOnce(pool, 'payments', message, increment('per-consumer'))).toBe(
      'duplicate',
    );
    expect(await counter('per-consumer')).toBe(2);
  });
});

describe('inbox handler, in batches', () => {
  /** Each message increments the counter its key names; `fail` makes that effect throw. */
  function counting(fail: (key: string) => boolean = () => false) {
    const committed: string[] = [];
    const prepared: number[] = [];
    const handler = inboxHandler<string, string>({
      pool,
      consumer: 'batching',
      logger: testLogger('inbox'),
      decode: (m) => m.key,
      async handle(tx, key) {
        if (fail(key)) throw new Error(`effect of ${key} failed`);
        await increment(key)(tx);
        return key;
      },
      committed: (key) => committed.push(key),
      prepareBatch: async (_, messages) => {
        prepared.push(messages.length);
      },
    });
    return { handler, committed, prepared };
  }
  const keyed = (key: string, messageId = randomUUID()): IncomingMessage => ({
    ...incoming(messageId),
    key,
  });
  const each = <T>(_: IncomingMessage, work: () => Promise<T>): Promise<T> => work();

  it('runs a batch in one transaction: duplicates of earlier runs and within the run are skipped', async () => {
    const { handler, committed, prepared } = counting();
    const seen = keyed('batch-seen');
    expect(await handler(seen)).toBeUndefined();
    const twice = keyed('batch-twice');
    const results = await handler.batch(
      [keyed('batch-a'), twice, seen, keyed('batch-b'), { ...twice, offset: '9' }],
      each,
    );
    expect(results).toEqual([undefined, undefined, 'duplicate', undefined, 'duplicate']);
    expect(prepared).toEqual([3]); // with the new messages only
    expect(committed).toEqual(['batch-seen', 'batch-a', 'batch-twice', 'batch-b']);
    for (const key of ['batch-seen', 'batch-a', 'batch-twice', 'batch-b']) {
      expect(await counter(key), key).toBe(1);
    }
    // The whole run again: every message is a duplicate now.
    expect(await handler.batch([seen, twice], each)).toEqual(['duplicate', 'duplicate']);
  });

  it('a batch with a failing effect takes no effect at all and records no id', async () => {
    const { handler, committed } = counting((key) => key === 'batch-bad');
    const good = keyed('batch-good');
    await expect(handler.batch([good, keyed('batch-bad')], each)).rejects.toThrow(
      'effect of batch-bad failed',
    );
    expect(await counter('batch-good')).toBe(0);
    expect(committed).toEqual([]);
    // Nothing of it was recorded: alone, the good message takes effect.
    expect(await handler.batch([good], each)).toEqual([undefined]);
    expect(await counter('batch-good')).toBe(1);
  });
});

describe('purgeProcessed', () => {
  it('forgets only ids processed longer ago than asked', async () => {
    const old = incoming();
    const recent = incoming();
    await consumeOnce(pool, 'purge-test', old, increment('purge'));
    await consumeOnce(pool, 'purge-test', recent, increment('purge'));
    await pool.query(
      "UPDATE inbox SET processed_at = now() - interval '2 hours' WHERE message_id = $1",
      [old.envelope.messageId],
    );
    expect(await purgeProcessed(pool, 3_600_000)).toBe(1);
    const { rows } = await pool.query<{ message_id: string }>(
      "SELECT message_id FROM inbox WHERE consumer = 'purge-test'",
    );
    expect(rows.map((r) => r.message_id)).toEqual([recent.envelope.messageId]);
  });
});
