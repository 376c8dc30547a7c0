import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@bulkhead/logger';
import { createPool, withTransaction } from '../src/index.js';

const PG_URL = process.env.BULKHEAD_PG_URL ?? 'postgres://postgres@127.0.0.1:15432/postgres';
const pool = createPool(PG_URL, { max: 1, logger: createLogger('guard-test', 'silent') });
afterAll(() => pool.end());

// Every notice the server sends the pool's connections (e.g. "there is no transaction in
// progress" for a ROLLBACK without BEGIN).
const notices: string[] = [];
pool.on('connect', (client: pg.PoolClient) =>
  client.on('notice', (notice) => notices.push(notice.message ?? '')),
);

class DeadlinePassed extends Error {}

/** A guard like the gRPC deadline's: the milliseconds left, throwing once none are. */
function deadlineIn(ms: number): () => number {
  const deadline = Date.now() + ms;
  return () => {
    const left = deadline - Date.now();
    if (left <= 0) throw new DeadlinePassed(`deadline passed ${String(-left)} ms ago`);
    return left;
  };
}

describe('withTransaction with a guard (a caller’s deadline)', () => {
  it('stops waiting for a busy pool when the deadline passes, and the pool goes on', async () => {
    const holder = await pool.connect(); // the pool's only connection
    try {
      const started = Date.now();
      const waited = withTransaction(pool, (tx) => tx.query('SELECT 1'), {
        guard: deadlineIn(150),
      });
      await expect(waited).rejects.toBeInstanceOf(DeadlinePassed);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(140);
      // Well before the pool's own 5 s connection timeout.
      expect(took).toBeLessThan(1_000);
    } finally {
      holder.release();
    }
    // The connection the abandoned wait got later went back to the pool.
    const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0]!.one).toBe(1);
    expect(pool.waitingCount).toBe(0);
  });

  it('does not queue at all once the deadline has passed', async () => {
    const holder = await pool.connect();
    try {
      const expired = () => {
        throw new DeadlinePassed('already');
      };
      await expect(withTransaction(pool, async () => 1, { guard: expired })).rejects.toThrow(
        'already',
      );
      expect(pool.waitingCount).toBe(0);
    } finally {
      holder.release();
    }
  });

  it('sends no ROLLBACK when the guard fails before BEGIN', async () => {
    let calls = 0;
    // Passes before the wait, fails once the connection is in hand (the wait took the time).
    const guard = () => {
      calls += 1;
      if (calls > 1) throw new DeadlinePassed('passed while waiting');
      return 10_000;
    };
    notices.length = 0;
    await expect(withTransaction(pool, async () => 1, { guard })).rejects.toThrow(
      'passed while waiting',
    );
    // A round trip on the same (only) connection: a notice of the ROLLBACK would be in by now.
    await pool.query('SELECT 1');
    expect(notices).toEqual([]);
    // And a ROLLBACK without BEGIN does produce one on this server (the check can fail).
    await pool.query('ROLLBACK');
    expect(notices).toContain('there is no transaction in progress');
  });

  it('waits for a connection under a deadline further off than a timer or statement_timeout reaches', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const holder = await pool.connect();
      const waiting = withTransaction(pool, async () => 'served', {
        guard: () => 40 * 86_400_000, // 40 days left
      });
      setTimeout(() => holder.release(), 50);
      await expect(waiting).resolves.toBe('served');
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('commits when the deadline leaves time', async () => {
    const result = await withTransaction(
      pool,
      async (tx) => (await tx.query<{ n: number }>('SELECT 2 AS n')).rows[0]!.n,
      { guard: deadlineIn(5_000) },
    );
    expect(result).toBe(2);
  });
});
