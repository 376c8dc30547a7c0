import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createPool, type Pool } from '@bulkhead/db';
import { grpc } from '@bulkhead/grpc';
import {
  backupTestDatabase,
  createTestDatabase,
  eventually,
  restoreTestDatabase,
  testLogger,
  type TestDatabase,
} from '@bulkhead/testkit';
import { createControlPlaneApp, type CellConfig, type ControlPlaneApp } from '../src/index.js';
import { PLACEMENT_LOCK } from '../src/registry.js';
import {
  api,
  createTenant,
  EPOCH_PATTERN,
  openWatch,
  storedPosition,
  testConfig,
  TWO_CELLS,
  type Watch,
} from './harness.js';

// Several instances on one database, cell changes between restarts, and draining on stop.
let db: TestDatabase;
let pool: Pool;
const apps: ControlPlaneApp[] = [];
const watches: Watch[] = [];

beforeAll(async () => {
  db = await createTestDatabase('control_plane_lifecycle');
  pool = createPool(db.url, { max: 2 });
});

afterAll(async () => {
  for (const watch of watches) watch.close();
  for (const app of apps) await app.stop();
  await pool?.end();
  await db?.drop();
});

async function startApp(
  cells: CellConfig[] = TWO_CELLS,
  database = db.name,
): Promise<ControlPlaneApp> {
  const app = createControlPlaneApp(testConfig(database, cells), {
    logger: testLogger('control-plane'),
  });
  apps.push(app);
  await app.start();
  return app;
}

function watch(app: ControlPlaneApp, knownVersion = 0): Watch {
  const opened = openWatch(app.grpcPort, knownVersion);
  watches.push(opened);
  return opened;
}

const currentVersion = async (): Promise<number> => (await storedPosition(pool)).version;

describe('control plane lifecycle', () => {
  it('every instance on the database pushes changes made through any of them', async () => {
    const a = await startApp();
    const versionAfterFirstStart = await currentVersion();
    expect(versionAfterFirstStart).toBe(1); // the cells were inserted
    const b = await startApp();
    expect(await currentVersion()).toBe(versionAfterFirstStart); // same cells: nothing changed

    const onB = watch(b);
    await onB.waitFor(() => true);
    const tenant = await createTenant(a.httpPort, 'via-a');
    const { snapshot } = await onB.waitFor((s) => s.tenants.some((t) => t.id === tenant.id));
    expect(snapshot.version).toBe(versionAfterFirstStart + 1);
    expect((await api(b.httpPort, 'GET', `/v1/tenants/${tenant.id}`)).status).toBe(200);

    await Promise.all([a.stop(), b.stop()]);
  });

  it('syncs cells from configuration at start and keeps removed cells that hold tenants', async () => {
    let app = await startApp();
    await createTenant(app.httpPort, 'one'); // tenants now: cell-1 1 (from the first test), cell-2 1
    await app.stop();

    const cell1Moved = {
      ...TWO_CELLS[0]!,
      endpoints: { ...TWO_CELLS[0]!.endpoints, orders: '127.0.0.1:27111' },
    };
    const cell3 = {
      id: 'cell-3',
      endpoints: {
        orders: '127.0.0.1:17311',
        inventory: '127.0.0.1:17312',
        payments: '127.0.0.1:17313',
      },
    };
    const cell4 = { ...cell3, id: 'cell-4' };
    const before = await currentVersion();
    app = await startApp([cell1Moved, cell3, cell4]);
    expect(await currentVersion()).toBe(before + 1);

    const cells = (await api(app.httpPort, 'GET', '/v1/cells')).body as {
      id: string;
      tenants: number;
    }[];
    expect(cells).toEqual([
      { id: 'cell-1', tenants: 1 },
      { id: 'cell-2', tenants: 1 },
      { id: 'cell-3', tenants: 0 },
      { id: 'cell-4', tenants: 0 },
    ]);
    const { snapshot } = await watch(app).waitFor(() => true);
    expect(snapshot.cells.map((c) => c.id)).toEqual(['cell-1', 'cell-2', 'cell-3', 'cell-4']);
    expect(snapshot.cells[0]!.endpoints.orders).toBe('127.0.0.1:27111');

    // cell-2 is out of the configuration: still routed to, but closed to new tenants.
    const placed = [];
    for (let i = 0; i < 5; i++) placed.push((await createTenant(app.httpPort, `after-${i}`)).cell);
    expect(placed).toEqual(['cell-3', 'cell-4', 'cell-1', 'cell-3', 'cell-4']);
    await app.stop();

    // A removed cell without tenants is deleted; restarting with the same config changes nothing.
    const tenantless = { ...cell3, id: 'cell-5' };
    app = await startApp([cell1Moved, cell3, cell4, tenantless]);
    await app.stop();
    const version = await currentVersion();
    app = await startApp([cell1Moved, cell3, cell4]);
    expect(await currentVersion()).toBe(version + 1);
    const ids = ((await api(app.httpPort, 'GET', '/v1/cells')).body as { id: string }[]).map(
      (c) => c.id,
    );
    expect(ids).toEqual(['cell-1', 'cell-2', 'cell-3', 'cell-4']);
    await app.stop();
    app = await startApp([cell1Moved, cell3, cell4]);
    expect(await currentVersion()).toBe(version + 1);
    await app.stop();
  });

  it('re-listens after losing its LISTEN connection and publishes what changed meanwhile', async () => {
    const app = await startApp();
    const stream = watch(app);
    await stream.waitFor(() => true);
    const killed = await pool.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'control-plane listen bulkhead_routing_snapshot'",
    );
    expect(killed.rowCount).toBe(1);
    const tenant = await createTenant(app.httpPort, 'while-not-listening');
    await stream.waitFor((s) => s.tenants.some((t) => t.id === tenant.id), 10_000);
    // And it listens again: the next change arrives too.
    const next = await createTenant(app.httpPort, 'after-relisten');
    await stream.waitFor((s) => s.tenants.some((t) => t.id === next.id));
    await app.stop();
  });

  it('stop() lets an in-flight request finish, ends watch streams cleanly and closes the ports', async () => {
    const app = await startApp();
    const stream = watch(app);
    await stream.waitFor(() => true);

    // Hold the placement lock so a creation is provably in flight when stop() is called.
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('SELECT pg_advisory_lock($1)', [PLACEMENT_LOCK]);
      const inFlight = api(app.httpPort, 'POST', '/v1/tenants', { json: { name: 'in-flight' } });
      await eventually(async () => {
        const { rows } = await pool.query(
          "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        );
        return rows.length > 0 ? true : undefined;
      });
      const stopped = app.stop();
      expect(app.isReady()).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await blocker.query('SELECT pg_advisory_unlock($1)', [PLACEMENT_LOCK]);
      expect((await inFlight).status).toBe(201);
      await stopped;
    } finally {
      await blocker.end();
    }

    expect((await stream.ended).code).toBe(grpc.status.OK);
    await expect(fetch(`http://127.0.0.1:${app.httpPort}/healthz`)).rejects.toThrow();
  });

  it('gives every instance on one database the same epoch, kept across restarts; a fresh database has its own', async () => {
    const { epoch } = await storedPosition(pool);
    expect(epoch).toMatch(EPOCH_PATTERN);
    const [a, b] = await Promise.all([startApp(), startApp()]);
    const [onA, onB] = await Promise.all([
      watch(a).waitFor(() => true),
      watch(b).waitFor(() => true),
    ]);
    expect(onA.snapshot.epoch).toBe(epoch);
    expect(onB.snapshot.epoch).toBe(epoch);
    await Promise.all([a.stop(), b.stop()]);
    const restarted = await startApp();
    expect((await watch(restarted).waitFor(() => true)).snapshot.epoch).toBe(epoch);
    await restarted.stop();

    const freshDb = await createTestDatabase('control_plane_fresh');
    try {
      // Two instances starting at once on an empty database: the migration runs once.
      const fresh = await Promise.all([
        startApp(TWO_CELLS, freshDb.name),
        startApp(TWO_CELLS, freshDb.name),
      ]);
      const [first, second] = await Promise.all(fresh.map((app) => watch(app).waitFor(() => true)));
      expect(first!.snapshot.epoch).toMatch(EPOCH_PATTERN);
      expect(first!.snapshot.epoch).not.toBe(epoch);
      expect(second!.snapshot.epoch).toBe(first!.snapshot.epoch);
      expect(first!.snapshot.version).toBe(1); // versions start over: only the epoch differs
      await Promise.all(fresh.map((app) => app.stop()));
    } finally {
      await freshDb.drop();
    }
  });

  it('starts a new epoch when its database is restored from a backup while it runs, and pushes it', async () => {
    const live = await createTestDatabase('control_plane_live');
    let backup: TestDatabase | undefined;
    try {
      let app = await startApp(TWO_CELLS, live.name);
      await app.stop();
      backup = await backupTestDatabase(live); // version 1: the cells
      app = await startApp(TWO_CELLS, live.name);
      const stream = watch(app);
      const tenant = await createTenant(app.httpPort, 'lost-in-restore');
      const held = (await stream.waitFor((s) => s.tenants.some((t) => t.id === tenant.id)))
        .snapshot;

      // The restore drops the connections: the feed re-listens, reloads an older version of its
      // epoch, and starts a new epoch (the open stream stays open through it all).
      await restoreTestDatabase(live, backup);
      const renewed = await stream.waitFor((s) => s.epoch !== held.epoch, 15_000);
      expect(renewed.snapshot.epoch).toMatch(EPOCH_PATTERN);
      expect(renewed.snapshot.tenants).toEqual([]);
      const restoredPool = createPool(live.url, { max: 1 });
      try {
        expect(await storedPosition(restoredPool)).toEqual({
          epoch: renewed.snapshot.epoch,
          version: renewed.snapshot.version,
        });
      } finally {
        await restoredPool.end();
      }
      await app.stop();
    } finally {
      await Promise.all([live.drop(), backup?.drop()]);
    }
  });
});
