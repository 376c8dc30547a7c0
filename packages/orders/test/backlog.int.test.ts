import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsDir, type Pool } from '@bulkhead/db';
import { migratedTestDatabase, type MigratedTestDatabase } from '@bulkhead/testkit';
import { SagaBacklog } from '../src/backlog.js';

// The saga backlog's estimate against a real (empty) orders database, on a clock of the test's
// own: no count is re-read unless the test moves the clock.
let db: MigratedTestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await migratedTestDatabase('orders_backlog', [
    { name: 'orders', directory: migrationsDir(new URL('../src/app.js', import.meta.url).href) },
  ]);
  pool = db.pool;
});

afterAll(() => db?.drop());

describe('saga backlog', () => {
  it('an admission given back (its transaction rolled back) frees its place at once, once', async () => {
    const now = 0;
    const backlog = new SagaBacklog(pool, { max: 2, refreshMs: 100, now: () => now });
    const first = await backlog.tryAdmit(); // the first count: 0 open sagas
    expect(first).toBeDefined();
    expect(await backlog.tryAdmit()).toBeDefined();
    expect(await backlog.tryAdmit()).toBeUndefined(); // 2 admitted: full
    first!.release();
    first!.release(); // a second release gives nothing more back
    expect(backlog.state.estimate).toBe(1);
    expect(await backlog.tryAdmit()).toBeDefined();
    expect(await backlog.tryAdmit()).toBeUndefined();
  });

  it('an admission a later count already left out is not given back twice', async () => {
    let now = 0;
    const backlog = new SagaBacklog(pool, { max: 2, refreshMs: 100, now: () => now });
    const admitted = await backlog.tryAdmit();
    expect(backlog.state.estimate).toBe(1);
    now = 1_000; // the count is old: the next decision re-reads it in the background
    const second = await backlog.tryAdmit();
    // That count started after the first admission: once it is back (no saga in the database,
    // the first admission never committed) the estimate holds only the second one.
    await expect.poll(() => backlog.state.countedAt).toBe(1_000);
    expect(backlog.state.estimate).toBe(1);
    admitted!.release(); // already left out by the count: nothing to give back
    expect(backlog.state.estimate).toBe(1);
    second!.release(); // admitted after that count started: given back
    expect(backlog.state.estimate).toBe(0);
  });
});
