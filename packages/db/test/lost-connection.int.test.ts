import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@bulkhead/logger';
import { createPool, withTransaction } from '../src/index.js';

const PG_URL = process.env.BULKHEAD_PG_URL ?? 'postgres://postgres@127.0.0.1:15432/postgres';
const pool = createPool(PG_URL, { max: 2, logger: createLogger('lost-connection-test', 'silent') });
afterAll(() => pool.end());

describe('a connection lost while a transaction holds it', () => {
  it('fails that transaction without crashing the process, and the pool goes on', async () => {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const outcome = withTransaction(pool, async (client) => {
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // While the transaction waits on something else (a relay on Kafka, say), the server
        // drops the connection: the socket error arrives with no query in flight.
        await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await client.query('SELECT 1');
      });
      await expect(outcome).rejects.toThrow();
      // The broken client was destroyed, not handed out again.
      for (let i = 0; i < 4; i++) {
        const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
        expect(rows[0]!.one).toBe(1);
      }
    } finally {
      await admin.end();
    }
  });
});
