import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool, PoolClient } from '@bulkhead/db';
import type { IncomingMessage } from '@bulkhead/event-bus';
import { migratedTestDatabase, type MigratedTestDatabase } from '@bulkhead/testkit';
import { consumeOnce, inboxMigrations, purgeProcessed } from '../src/index.js';

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
