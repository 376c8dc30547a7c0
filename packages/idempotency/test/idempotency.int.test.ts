import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction, type Pool } from '@bulkhead/db';
import { migratedTestDatabase, type MigratedTestDatabase } from '@bulkhead/testkit';
import {
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  idempotencyMigrations,
  withIdempotencyKey,
} from '../src/index.js';

let db: MigratedTestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await migratedTestDatabase('idem', [idempotencyMigrations]);
  pool = db.pool;
  await pool.query('CREATE TABLE effects (id serial PRIMARY KEY, scope text NOT NULL)');
});

afterAll(() => db?.drop());

const effectCount = async (scope: string) =>
  (await pool.query('SELECT count(*)::int AS n FROM effects WHERE scope = $1', [scope])).rows[0]
    .n as number;

function createEffect(
  scope: string,
  key: string,
  fingerprint: string,
  hold?: Promise<void>,
  entered?: () => void,
) {
  return withTransaction(pool, (tx) =>
    withIdempotencyKey(tx, { scope, key, fingerprint }, async () => {
      entered?.(); // the key's lock is held from here until the transaction ends
      const row = await tx.query<{ id: number }>(
        'INSERT INTO effects (scope) VALUES ($1) RETURNING id',
        [scope],
      );
      await hold;
      return { id: row.rows[0]!.id };
    }),
  );
}

describe('withIdempotencyKey', () => {
  it('replays the first response for the same key and fingerprint', async () => {
    const first = await createEffect('t1', 'k1', 'f1');
    const second = await createEffect('t1', 'k1', 'f1');
    expect(first.replayed).toBe(false);
    expect(second).toEqual({ response: first.response, replayed: true });
    expect(await effectCount('t1')).toBe(1);
  });

  it('rejects the same key with a different fingerprint', async () => {
    await createEffect('t2', 'k1', 'f1');
    await expect(createEffect('t2', 'k1', 'other')).rejects.toBeInstanceOf(
      IdempotencyKeyReusedError,
    );
    expect(await effectCount('t2')).toBe(1);
  });

  it('scopes keys per tenant', async () => {
    await createEffect('t3a', 'same', 'f');
    const other = await createEffect('t3b', 'same', 'f');
    expect(other.replayed).toBe(false);
  });

  it('answers in-flight for a concurrent request with the same key, and one effect only', async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const first = createEffect('t4', 'k', 'f', hold, entered);
    await inside;
    await expect(createEffect('t4', 'k', 'f')).rejects.toBeInstanceOf(IdempotencyKeyInFlightError);
    release();
    const done = await first;
    expect((await createEffect('t4', 'k', 'f')).response).toEqual(done.response);
    expect(await effectCount('t4')).toBe(1);
  });

  it('records nothing when the effect rolls back, so a retry performs it', async () => {
    await expect(
      withTransaction(pool, (tx) =>
        withIdempotencyKey(tx, { scope: 't5', key: 'k', fingerprint: 'f' }, async () => {
          await tx.query("INSERT INTO effects (scope) VALUES ('t5')");
          throw new Error('crash between steps');
        }),
      ),
    ).rejects.toThrow('crash between steps');
    expect(await effectCount('t5')).toBe(0);
    const retry = await createEffect('t5', 'k', 'f');
    expect(retry.replayed).toBe(false);
    expect(await effectCount('t5')).toBe(1);
  });

  it('many concurrent retries of one key create exactly one effect', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => createEffect('t6', 'k', 'f')),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failures = results.filter((r) => r.status === 'rejected');
    for (const f of failures) expect(f.reason).toBeInstanceOf(IdempotencyKeyInFlightError);
    expect(ok.length).toBeGreaterThan(0);
    expect(await effectCount('t6')).toBe(1);
  });
});
