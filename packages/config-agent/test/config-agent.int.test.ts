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
import type { Logger } from '@bulkhead/logger';
import {
  hashApiKey,
  readSnapshotFile,
  routingSnapshotSchema,
  writeSnapshotFile,
} from '@bulkhead/routing-snapshot';
import {
  backupTestDatabase,
  createTestDatabase,
  eventually,
  scrapeMetrics,
  infra,
  recordingLogger,
  restoreTestDatabase,
  testLogger,
  type TestDatabase,
  TEST_CELLS,
} from '@bulkhead/testkit';
import { controlPlaneV1 } from '@bulkhead/contracts';
import { createGrpcClient, grpc } from '@bulkhead/grpc';
import { CATALOG_LABELS, cardinalityProblems, sampleValue } from '@bulkhead/metrics';
import { startOpsServer } from '@bulkhead/service-runtime';
import { createConfigAgentApp, loadConfigAgentConfig, type ConfigAgentApp } from '../src/index.js';

const ADMIN_TOKEN = 'agent-test-admin-token';

let db: TestDatabase;
let dir: string;
let controlPlane: ControlPlaneApp;
let grpcPort: number;
const apps: { stop(): Promise<void> }[] = [];

async function startControlPlane(port = 0, database = db.name): Promise<ControlPlaneApp> {
  const app = createControlPlaneApp(
    loadControlPlaneConfig({
      BULKHEAD_PG_URL: infra.pgUrl,
      CONTROL_PLANE_DATABASE: database,
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

async function startAgent(
  path: string,
  env: Record<string, string> = {},
  logger: Logger = testLogger('config-agent'),
): Promise<ConfigAgentApp> {
  const agent = createConfigAgentApp(
    loadConfigAgentConfig({
      CONTROL_PLANE_ADDRESS: `127.0.0.1:${grpcPort}`,
      SNAPSHOT_PATH: path,
      ...env,
    }),
    { logger },
  );
  apps.push(agent);
  await agent.start();
  return agent;
}

async function createTenant(
  name: string,
  on: ControlPlaneApp = controlPlane,
): Promise<{ id: string; apiKey: string }> {
  const response = await fetch(`http://127.0.0.1:${on.httpPort}/v1/tenants`, {
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

  it('cancels a watch the control plane never opens, and tries again', async () => {
    // A control plane that takes the connection but not the first watch (no headers, no end):
    // what a connection attempt to a replaced pod's address looks like from the agent. Later
    // watches are passed through to the real control plane.
    const real = createGrpcClient(
      controlPlaneV1.ControlPlaneServiceService,
      `127.0.0.1:${grpcPort}`,
      {
        deadlineMs: 60_000,
      },
    );
    let watches = 0;
    const peers: string[] = [];
    const wedged = new grpc.Server();
    wedged.addService(controlPlaneV1.ControlPlaneServiceService, {
      watchSnapshot: (
        call: grpc.ServerWritableStream<controlPlaneV1.WatchSnapshotRequest, unknown>,
      ) => {
        watches += 1;
        peers.push(call.getPeer());
        if (watches === 1) return;
        const upstream = real.watchSnapshot(call.request);
        upstream.on('metadata', (metadata) => call.sendMetadata(metadata));
        upstream.on('data', (message) => call.write(message));
        upstream.on('error', () => undefined);
        upstream.on('status', () => call.end());
        call.on('cancelled', () => upstream.cancel());
      },
    } as unknown as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      wedged.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    try {
      const path = join(dir, 'never-opened', 'routing.json');
      const agent = await startAgent(path, {
        CONTROL_PLANE_ADDRESS: `127.0.0.1:${port}`,
        WATCH_OPEN_TIMEOUT_MS: '300',
      });
      const tenant = await createTenant('after-a-wedged-watch');
      const started = performance.now();
      await fileHasKey(path, tenant.apiKey);
      // Without the open timeout the agent would wait for the watch's deadline (5 minutes).
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(watches).toBeGreaterThanOrEqual(2);
      // Tried again on a new connection (another client port), not behind the stuck one.
      expect(peers[1]).not.toBe(peers[0]);
      await agent.stop();
    } finally {
      wedged.forceShutdown();
      real.close();
    }
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
    // Both end on the same version (a newer one may still be on its way to one of them when the
    // key arrives: compared once both have settled, not at one instant).
    await eventually(
      async () => (restarted.snapshotVersion() === agent.snapshotVersion() ? true : undefined),
      { timeoutMs: 5_000 },
    );
  });

  // The reproduction: the control plane's database is replaced (a fresh database, a lost volume)
  // and its versions restart below the agents'. Before epochs the agents waited for a version
  // above theirs forever and new tenants' keys never reached the gateway.
  it("replaces a snapshot of a replaced control-plane database, although the new one's versions are lower", async () => {
    const oldDb = await createTestDatabase('config_agent_old');
    const freshDb = await createTestDatabase('config_agent_fresh');
    try {
      const old = await startControlPlane(0, oldDb.name);
      const address = { CONTROL_PLANE_ADDRESS: `127.0.0.1:${old.grpcPort}` };
      const path = join(dir, 'replaced', 'routing.json');
      const log = recordingLogger('config-agent');
      const running = await startAgent(path, address, log.logger);
      let last = await createTenant('old-0', old);
      for (let i = 1; i < 5; i++) last = await createTenant(`old-${i}`, old);
      await fileHasKey(path, last.apiKey);
      const stale = (await readSnapshotFile(path))!;
      // An agent restarted meanwhile keeps its file too (same volume).
      const restartedPath = join(dir, 'replaced-restarted', 'routing.json');
      await mkdir(join(dir, 'replaced-restarted'));
      await copyFile(path, restartedPath);
      await old.stop();

      // Back on the same address, on a fresh database: version 1 (its cells), then 2.
      const fresh = await startControlPlane(old.grpcPort, freshDb.name);
      const tenant = await createTenant('fresh-0', fresh);
      const restarted = await startAgent(restartedPath, address);
      await Promise.all([
        fileHasKey(path, tenant.apiKey),
        fileHasKey(restartedPath, tenant.apiKey),
      ]);

      for (const file of [path, restartedPath]) {
        const replaced = (await readSnapshotFile(file))!;
        expect(replaced.epoch).toEqual(expect.any(String));
        expect(replaced.epoch).not.toBe(stale.epoch);
        expect(replaced.version).toBeLessThan(stale.version);
        // Replaced, not merged: the old database's tenants are gone.
        expect(replaced.tenants.map((t) => t.name)).toEqual(['fresh-0']);
      }
      const warning = log.entries.find((e) => e.level === 'warn' && e.previousEpoch !== undefined);
      expect(warning).toMatchObject({
        previousEpoch: stale.epoch,
        previousVersion: stale.version,
        epoch: (await readSnapshotFile(path))!.epoch,
        version: expect.any(Number),
      });
      // Within the new epoch, versions compare again: each new tenant arrives in order.
      const next = await createTenant('fresh-1', fresh);
      await fileHasKey(path, next.apiKey);
      expect((await readSnapshotFile(path))?.version).toBe(3);
      await Promise.all([running.stop(), restarted.stop(), fresh.stop()]);
    } finally {
      await Promise.all([oldDb.drop(), freshDb.drop()]);
    }
  });

  // A restore keeps the epoch (it is in the backup) but takes the versions back: the control
  // plane sees an agent holding a version of its epoch it never reached, and starts a new epoch.
  it('replaces a snapshot the control-plane database lost in a restore from a backup', async () => {
    const live = await createTestDatabase('config_agent_live');
    let backup: TestDatabase | undefined;
    try {
      let plane = await startControlPlane(0, live.name);
      const port = plane.grpcPort;
      await createTenant('in-backup', plane); // version 2
      await plane.stop();
      backup = await backupTestDatabase(live);

      plane = await startControlPlane(port, live.name);
      const path = join(dir, 'restored', 'routing.json');
      const log = recordingLogger('config-agent');
      const agent = await startAgent(
        path,
        { CONTROL_PLANE_ADDRESS: `127.0.0.1:${port}` },
        log.logger,
      );
      await createTenant('lost-0', plane);
      const lost = await createTenant('lost-1', plane); // version 4
      await fileHasKey(path, lost.apiKey);
      const held = (await readSnapshotFile(path))!;
      await plane.stop();

      await restoreTestDatabase(live, backup); // the same epoch, at version 2
      plane = await startControlPlane(port, live.name);
      const tenant = await createTenant('after-restore', plane);
      await fileHasKey(path, tenant.apiKey);
      const restored = (await readSnapshotFile(path))!;
      expect(restored.epoch).toEqual(expect.any(String));
      expect(restored.epoch).not.toBe(held.epoch);
      expect(restored.tenants.map((t) => t.name)).toEqual(['in-backup', 'after-restore']);
      expect(log.entries.find((e) => e.level === 'warn' && e.previousEpoch)).toMatchObject({
        previousEpoch: held.epoch,
        previousVersion: held.version,
      });
      await Promise.all([agent.stop(), plane.stop()]);
    } finally {
      await Promise.all([live.drop(), backup?.drop()]);
    }
  });

  it('reads a file without an epoch (written by an older agent) and takes the epoch at the same version', async () => {
    const currentPath = join(dir, 'current', 'routing.json');
    const current = await startAgent(currentPath);
    await eventually(async () => (current.isReady() ? true : undefined));
    const { epoch, ...withoutEpoch } = (await readSnapshotFile(currentPath))!;
    expect(epoch).toEqual(expect.any(String));
    const legacyPath = join(dir, 'legacy', 'routing.json');
    await writeSnapshotFile(legacyPath, withoutEpoch);

    const log = recordingLogger('config-agent');
    const upgraded = await startAgent(legacyPath, {}, log.logger);
    expect(upgraded.isReady()).toBe(true); // the file alone is enough
    expect(upgraded.snapshotVersion()).toBe(withoutEpoch.version);
    // Versions alone say "up to date"; the unknown epoch makes the control plane send it again.
    await eventually(async () =>
      (await readSnapshotFile(legacyPath))?.epoch === epoch ? true : undefined,
    );
    expect(await readSnapshotFile(legacyPath)).toEqual({ ...withoutEpoch, epoch });
    // Logged at info, not warn: an upgrade, not a replaced database.
    const adopted = log.entries.find((e) => e.previousVersion !== undefined);
    expect(adopted).toMatchObject({
      level: 'info',
      previousVersion: withoutEpoch.version,
      epoch,
      version: withoutEpoch.version,
    });
    expect(adopted).not.toHaveProperty('previousEpoch');
  });

  it('does not rewrite what it holds (same epoch and version): the next write is the next version', async () => {
    const path = join(dir, 'same-epoch', 'routing.json');
    const first = await startAgent(path);
    await eventually(async () => (first.isReady() ? true : undefined));
    await first.stop();
    const held = (await readSnapshotFile(path))!;

    const log = recordingLogger('config-agent');
    const agent = await startAgent(path, {}, log.logger);
    await eventually(async () =>
      log.entries.some((e) => e.msg === 'watching the control plane') ? true : undefined,
    );
    await createTenant('after-same-epoch');
    const written = () => log.entries.filter((e) => e.msg === 'routing snapshot written');
    await eventually(async () => (written().length > 0 ? true : undefined));
    // The stream sends in order: had the held version been sent again, it would be written first.
    expect(written().map((e) => [e.epoch, e.version])).toEqual([[held.epoch, held.version + 1]]);
    expect(agent.snapshotVersion()).toBe(held.version + 1);
  });

  it("exposes the agent's written version and watch, and the admin API's RED, at /metrics", async () => {
    const agent = await startAgent(join(dir, 'metrics', 'routing.json'));
    await eventually(async () => (agent.isReady() ? true : undefined));
    await createTenant('metrics');
    const servers = await Promise.all(
      [agent, controlPlane].map((app) =>
        startOpsServer({ host: '127.0.0.1', port: 0, isReady: () => true, metrics: app.metrics! }),
      ),
    );
    const [agentOps, controlPlaneOps] = servers.map((server) => server.port) as [number, number];
    try {
      const agentSamples = await eventually(async () => {
        const samples = await scrapeMetrics(agentOps);
        return sampleValue(samples, 'config_agent_snapshot_version') === agent.snapshotVersion()
          ? samples
          : undefined;
      });
      expect(agent.snapshotVersion()).toBeGreaterThan(0);
      expect(sampleValue(agentSamples, 'config_agent_watch_up', { service: 'config-agent' })).toBe(
        1,
      );
      const cp = await scrapeMetrics(controlPlaneOps);
      expect(
        sampleValue(cp, 'http_server_request_duration_seconds_count', {
          service: 'control-plane',
          method: 'POST',
          route: '/v1/tenants',
          code: '201',
        }),
      ).toBeGreaterThan(0);
      for (const samples of [agentSamples, cp]) {
        expect(cardinalityProblems(samples, { allowedLabels: CATALOG_LABELS })).toEqual([]);
      }
      await agent.stop();
      expect(sampleValue(await scrapeMetrics(agentOps), 'config_agent_watch_up')).toBe(0);
    } finally {
      for (const server of servers) await server.close();
    }
  });
});
