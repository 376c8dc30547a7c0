import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@bulkhead/logger';
import { createPool, transactionOf, withTransaction, type Queryable } from '../src/index.js';

const PG_URL = process.env.BULKHEAD_PG_URL ?? 'postgres://postgres@127.0.0.1:15432/postgres';
const pool = createPool(PG_URL, { max: 1, logger: createLogger('hooks-test', 'silent') });
afterAll(() => pool.end());

/** The id of the transaction the client is in (each statement outside one gets a new id). */
async function txid(client: Queryable): Promise<string> {
  const { rows } = await client.query<{ id: string }>('SELECT txid_current()::text AS id');
  return rows[0]!.id;
}

describe('withTransaction: work before and after COMMIT', () => {
  it('runs beforeCommit hooks after the work, in order, in the transaction; then afterCommit hooks', async () => {
    const seen: string[] = [];
    let inTransaction: string | undefined;
    await withTransaction(pool, async (tx) => {
      inTransaction = await txid(tx);
      const transaction = transactionOf(tx)!;
      transaction.beforeCommit(async () => {
        seen.push(`before 1 in ${await txid(tx)}`);
        // A hook may add another: it runs too, before COMMIT.
        transaction.beforeCommit(async () => {
          seen.push(`before 3 in ${await txid(tx)}`);
        });
      });
      transaction.beforeCommit(async () => {
        seen.push(`before 2 in ${await txid(tx)}`);
      });
      transaction.afterCommit(() => seen.push('after'));
      seen.push('work');
    });
    expect(seen).toEqual([
      'work',
      `before 1 in ${inTransaction}`,
      `before 2 in ${inTransaction}`,
      `before 3 in ${inTransaction}`,
      'after',
    ]);
  });

  it('rolls back and rejects with the error of a beforeCommit hook that throws; no afterCommit', async () => {
    const table = `hooks_${process.pid}`;
    await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (x int)`);
    try {
      let after = false;
      await expect(
        withTransaction(pool, async (tx) => {
          await tx.query(`INSERT INTO ${table} VALUES (1)`);
          transactionOf(tx)!.beforeCommit(() => Promise.reject(new Error('cannot write')));
          transactionOf(tx)!.afterCommit(() => (after = true));
        }),
      ).rejects.toThrow('cannot write');
      expect(after).toBe(false);
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      expect(rows[0]?.n).toBe(0);
    } finally {
      await pool.query(`DROP TABLE ${table}`);
    }
  });

  it('knows no transaction outside withTransaction, nor once it ended, whether it committed or not', async () => {
    const client = await pool.connect();
    try {
      expect(transactionOf(client)).toBeUndefined();
    } finally {
      client.release();
    }
    let before = 0;
    let seenInside: object | undefined;
    await withTransaction(pool, async (tx) => {
      seenInside = transactionOf(tx);
      transactionOf(tx)!.beforeCommit(async () => void (before += 1));
    });
    await expect(
      withTransaction(pool, async (tx) => {
        // The same pooled client (max: 1), a new transaction: nothing of the last one is left.
        expect(transactionOf(tx)).toBeDefined();
        expect(transactionOf(tx)).not.toBe(seenInside);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await withTransaction(pool, async () => undefined);
    expect(before).toBe(1);
    const after = await pool.connect();
    try {
      expect(transactionOf(after)).toBeUndefined();
    } finally {
      after.release();
    }
  });
});
