import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@bulkhead/logger';
import { databaseUrl, prepareDatabase } from '../src/index.js';

const PG_URL = process.env.BULKHEAD_PG_URL ?? 'postgres://postgres@127.0.0.1:15432/postgres';
const logger = createLogger('prepare-database-test', 'silent');
const created: string[] = [];

afterEach(async () => {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  for (const name of created.splice(0)) await client.query(`DROP DATABASE IF EXISTS ${name}`);
  await client.end();
});

/** A free port on loopback (nothing listens on it once this returns). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP proxy on `port` to the real server, opened when called. */
async function openProxy(port: number): Promise<net.Server> {
  const target = new URL(PG_URL);
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

const viaPort = (port: number) => {
  const url = new URL(PG_URL);
  url.port = String(port);
  return url.toString();
};

describe('prepareDatabase waits for its server', () => {
  it('waits while nothing listens, then creates the database once the server appears', async () => {
    const port = await freePort();
    const database = `wait_${randomBytes(4).toString('hex')}`;
    created.push(database);
    const started = Date.now();
    // The server "appears" 800 ms after the service began waiting for it.
    const opening = new Promise<net.Server>((resolve, reject) => {
      setTimeout(() => void openProxy(port).then(resolve, reject), 800);
    });
    try {
      const url = await prepareDatabase({
        serverUrl: viaPort(port),
        database,
        migrations: [],
        logger,
        waitForServerMs: 20_000,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(800);
      expect(url).toBe(databaseUrl(viaPort(port), database));
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      await client.end();
      expect(found.rowCount).toBe(1);
    } finally {
      (await opening).close();
    }
  });

  it('gives up after waitForServerMs with the connection error', async () => {
    const port = await freePort();
    const started = Date.now();
    await expect(
      prepareDatabase({
        serverUrl: viaPort(port),
        database: 'never_created',
        migrations: [],
        logger,
        waitForServerMs: 1_000,
      }),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(400);
    expect(waited).toBeLessThan(5_000);
  });

  it('fails at once on an error that waiting cannot fix (a bad database name)', async () => {
    const started = Date.now();
    await expect(
      prepareDatabase({ serverUrl: PG_URL, database: 'Bad-Name', migrations: [], logger }),
    ).rejects.toThrow(/invalid database name/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
