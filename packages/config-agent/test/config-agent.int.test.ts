import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createControlPlaneApp,
  loadControlPlaneConfig,
  type ControlPlaneApp,
} from '@bulkhead/control-plane';
import { hashApiKey, readSnapshotFile, routingSnapshotSchema } from '@bulkhead/routing-snapshot';
import {
  createTestDatabase,
  eventually,
  infra,
  testLogger,
  type TestDatabase,
  TEST_CELLS,
} from '@bulkhead/testkit';
import { createConfigAgentApp, loadConfigAgentConfig, type ConfigAgentApp } from '../src/index.js';

const ADMIN_TOKEN = 'agent-test-admin-token';

let db: TestDatabase;
let dir: string;
let controlPlane: ControlPlaneApp;
let grpcPort: number;
const apps: { stop(): Promise<void> }[] = [];

async function startControlPlane(port = 0): Promise<ControlPlaneApp> {
  const app = createControlPlaneApp(
    loadControlPlaneConfig({
      BULKHEAD_PG_URL: infra.pgUrl,
      CONTROL_PLANE_DATABASE: db.name,
      CONTROL_PLANE_HTTP_PORT: '0',
      CONTROL_PLANE_GRPC_PORT: String(port),
      CONTROL_PLANE_ADMIN_TOKEN: ADMIN_TOKEN,
      BULKHEAD_CELLS: JSON.stringify(TEST_CELLS),
    }),
    { logger: testLogger('control-plane') },
  );
  apps.push(app);
  await app.start();
  return app;
}

async function startAgent(path: string, env: Record<string, string> = {}): Promise<ConfigAgentApp> {
  const agent = createConfigAgentApp(
    loadConfigAgentConfig({
      CONTROL_PLANE_ADDRESS: `127.0.0.1:${grpcPort}`,
      SNAPSHOT_PATH: path,
      ...env,
    }),
    { logger: testLogger('config-agent') },
  );
  apps.push(agent);
  await agent.start();
  return agent;
}

async function createTenant(name: string): Promise<{ id: string; apiKey: string }> {
  const response = await fetch(`http://127.0.0.1:${controlPlane.httpPort}/v1/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; apiKey: string };
}

/** Resolves once the file holds the tenant with this API key. */
const fileHasKey = (path: string, apiKey: string) =>
  eventually(
    async () =>
      (await readSnapshotFile(path))?.tenants.some((t) => t.apiKeySha256 === hashApiKey(apiKey))
        ? true
        : undefined,
    { timeoutMs: 15_000, intervalMs: 5 },
  );

beforeAll(async () => {
  db = await createTestDatabase('config_agent');
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-config-agent-'));
  controlPlane = await startControlPlane();
  grpcPort = controlPlane.grpcPort;
});

afterAll(async () => {
  for (const app of apps.reverse()) await app.stop();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('config agent', () => {
  it('writes every endpoint by default, and only those of SNAPSHOT_SERVICES when set', async () => {
    const allPath = join(dir, 'all-endpoints', 'routing.json');
    const somePath = join(dir, 'some-endpoints', 'routing.json');
    const all = await startAgent(allPath);
    const some = await startAgent(somePath, { SNAPSHOT_SERVICES: 'orders,inventory' });
    await eventually(async () => (all.isReady() && some.isReady() ? true : undefined));
    expect((await readSnapshotFile(allPath))?.cells).toEqual(TEST_CELLS);
    expect((await readSnapshotFile(somePath))?.cells).toEqual(
      TEST_CELLS.map(({ id, endpoints: { orders, inventory } }) => ({
        id,
        endpoints: { orders, inventory },
      })),
    );
  });

  it('writes the current snapshot at start and each new tenant within a second', async ({
    annotate,
  }) => {
    const path = join(dir, 'live', 'routing.json');
    const agent = await startAgent(path);
    expect(agent.isReady()).toBe(false);
    await eventually(async () => (agent.isReady() ? true : undefined));
    const initial = await readSnapshotFile(path);
    expect(initial?.version).toBe(agent.snapshotVersion());
    expect(initial?.cells.map((c) => c.id)).toEqual(['cell-1', 'cell-2']);

    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const tenant = await createTenant(`latency-${i}`);
      const returned = performance.now();
      await fileHasKey(path, tenant.apiKey);
      latencies.push(performance.now() - returned);
    }
    await annotate(
      `POST returned → hash in the file: ${latencies.map((ms) => ms.toFixed(1)).join(', ')} ms`,
    );
    expect(Math.max(...latencies)).toBeLessThan(1_000);
  });

  it('never exposes a partially written file', async ({ annotate }) => {
    const path = join(dir, 'atomic', 'routing.json');
    const agent = await startAgent(path);
    await eventually(async () => (agent.isReady() ? true : undefined));

    let done = false;
    let reads = 0;
    const versions: number[] = [];
    const reader = (async () => {
      while (!done) {
        const text = await readFile(path, 'utf8');
        versions.push(routingSnapshotSchema.parse(JSON.parse(text)).version); // throws on a torn read
        reads++;
      }
    })();
    const created = [];
    for (let i = 0; i < 20; i++) created.push(await createTenant(`atomic-${i}`));
    await fileHasKey(path, created[19]!.apiKey);
    done = true;
    await reader;

    await annotate(
      `${reads} reads during 20 creations, ${new Set(versions).size} versions seen, all complete`,
    );
    expect(reads).toBeGreaterThan(20);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    const final = await readSnapshotFile(path);
    for (const tenant of created) {
      expect(final?.tenants.some((t) => t.apiKeySha256 === hashApiKey(tenant.apiKey))).toBe(true);
    }
    expect(await readdir(join(dir, 'atomic'))).toEqual(['routing.json']); // no temporary files left
  });

  it('re-opens the watch when its deadline expires and keeps receiving', async () => {
    const path = join(dir, 'deadline', 'routing.json');
    const agent = await startAgent(path, { WATCH_DEADLINE_MS: '200' });
    await eventually(async () => (agent.isReady() ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 700)); // several deadlines pass
    const tenant = await createTenant('after-deadlines');
    const returned = performance.now();
    await fileHasKey(path, tenant.apiKey);
    expect(performance.now() - returned).toBeLessThan(1_000);
  });

  it('stops watching on stop()', async () => {
    const path = join(dir, 'stopped', 'routing.json');
    const agent = await startAgent(path);
    await eventually(async () => (agent.isReady() ? true : undefined));
    const version = agent.snapshotVersion();
    await agent.stop();
    expect(agent.isReady()).toBe(false);
    await createTenant('after-stop');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await readSnapshotFile(path))?.version).toBe(version);
  });

  it('keeps serving the last snapshot while the control plane is down, then catches up', async ({
    annotate,
  }) => {
    const path = join(dir, 'outage', 'routing.json');
    const agent = await startAgent(path);
    await eventually(async () => (agent.isReady() ? true : undefined));
    const before = await readFile(path, 'utf8');

    await controlPlane.stop();
    const down = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(agent.isReady()).toBe(true);
    expect(await readFile(path, 'utf8')).toBe(before);

    // A restarted agent (new process, same volume) is ready from the file alone ...
    const restartedPath = join(dir, 'restarted', 'routing.json');
    await mkdir(join(dir, 'restarted'));
    await copyFile(path, restartedPath);
    const restarted = await startAgent(restartedPath);
    expect(restarted.isReady()).toBe(true);
    expect(restarted.snapshotVersion()).toBe(agent.snapshotVersion());
    // ... while an agent with no file and no control plane is not.
    const empty = await startAgent(join(dir, 'empty', 'routing.json'));
    expect(empty.isReady()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(restarted.isReady()).toBe(true);
    expect(agent.isReady()).toBe(true);

    controlPlane = await startControlPlane(grpcPort);
    const up = performance.now();
    expect(controlPlane.grpcPort).toBe(grpcPort);
    const tenant = await createTenant('after-restart');
    await Promise.all([fileHasKey(path, tenant.apiKey), fileHasKey(restartedPath, tenant.apiKey)]);
    await eventually(async () => (empty.isReady() ? true : undefined), { timeoutMs: 15_000 });
    const caughtUp = performance.now() - up;
    await annotate(
      `control plane down ${(up - down).toFixed(0)} ms; all agents caught up ${caughtUp.toFixed(0)} ms after it was back`,
    );
    // Bounded by the agent's backoff cap (5 s), not by the gRPC channel's default (up to 120 s).
    expect(caughtUp).toBeLessThan(6_000);
    expect(restarted.snapshotVersion()).toBe(agent.snapshotVersion());
  });
});
