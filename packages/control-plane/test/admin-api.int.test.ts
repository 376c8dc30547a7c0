import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@bulkhead/db';
import { hashApiKey } from '@bulkhead/routing-snapshot';
import { createTestDatabase, testLogger, type TestDatabase } from '@bulkhead/testkit';
import { createControlPlaneApp, type ControlPlaneApp } from '../src/index.js';
import { Status } from '@bulkhead/grpc';
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

let db: TestDatabase;
let app: ControlPlaneApp;
let pool: Pool;
const watches: Watch[] = [];

beforeAll(async () => {
  db = await createTestDatabase('control_plane');
  app = createControlPlaneApp(testConfig(db.name), { logger: testLogger('control-plane') });
  await app.start();
  pool = createPool(db.url, { max: 2 });
});

afterAll(async () => {
  for (const watch of watches) watch.close();
  await app?.stop();
  await pool?.end();
  await db?.drop();
});

const tenantRows = async (): Promise<number> =>
  (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM tenants')).rows[0]!.n;

const currentVersion = async (): Promise<number> => (await storedPosition(pool)).version;

async function cellCounts(): Promise<{ id: string; tenants: number }[]> {
  const response = await api(app.httpPort, 'GET', '/v1/cells');
  expect(response.status).toBe(200);
  return response.body as { id: string; tenants: number }[];
}

function expectProblem(
  response: { status: number; headers: Headers; body: unknown },
  status: number,
): void {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
  expect(JSON.stringify(response.body)).not.toMatch(/\bat .+:\d+:\d+|node_modules/);
}

describe('authentication', () => {
  it.each([
    ['no Authorization header', null],
    ['a wrong token', 'wrong-token'],
    ['an empty token', ''],
  ])('rejects %s with 401 and a Bearer challenge', async (_case, token) => {
    const response = await api(app.httpPort, 'GET', '/v1/cells', { token });
    expectProblem(response, 401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('rejects another scheme carrying the right token', async () => {
    const response = await fetch(`http://127.0.0.1:${app.httpPort}/v1/cells`, {
      headers: {
        authorization: `Basic ${Buffer.from(`admin:test-admin-token-0123456789`).toString('base64')}`,
      },
    });
    expect(response.status).toBe(401);
  });

  it('rejects an unauthenticated creation without writing anything', async () => {
    const before = await tenantRows();
    const response = await api(app.httpPort, 'POST', '/v1/tenants', {
      json: { name: 'intruder' },
      token: null,
    });
    expectProblem(response, 401);
    expect(await tenantRows()).toBe(before);
  });

  it('serves /healthz and /readyz without a token', async () => {
    expect((await api(app.httpPort, 'GET', '/healthz', { token: null })).status).toBe(200);
    expect((await api(app.httpPort, 'GET', '/readyz', { token: null })).status).toBe(200);
  });
});

describe('POST /v1/tenants', () => {
  it('creates a tenant, shows the API key once and stores only its hash', async () => {
    // The name is kept exactly as sent (not trimmed: no value is silently altered).
    const response = await api(app.httpPort, 'POST', '/v1/tenants', { json: { name: '  acme  ' } });
    expect(response.status).toBe(201);
    const tenant = response.body as { id: string; name: string; cell: string; apiKey: string };
    expect(Object.keys(tenant).sort()).toEqual(['apiKey', 'cell', 'id', 'name']);
    expect(tenant.name).toBe('  acme  ');
    expect(tenant.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(TWO_CELLS.map((c) => c.id)).toContain(tenant.cell);
    expect(tenant.apiKey).toMatch(/^bk_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(tenant.apiKey.slice(3), 'base64url')).toHaveLength(32);
    expect(response.headers.get('location')).toBe(`/v1/tenants/${tenant.id}`);
    expect(response.headers.get('cache-control')).toBe('no-store');

    const { rows } = await pool.query<{ hash: string; row: string }>(
      'SELECT api_key_sha256 AS hash, row_to_json(t)::text AS row FROM tenants t WHERE id = $1',
      [tenant.id],
    );
    expect(rows[0]!.hash).toBe(hashApiKey(tenant.apiKey));
    expect(rows[0]!.row).not.toContain(tenant.apiKey);
    expect(rows[0]!.row).not.toContain(tenant.apiKey.slice(3));
  });

  it('gives every tenant a different key', async () => {
    const a = await createTenant(app.httpPort, 'key-a');
    const b = await createTenant(app.httpPort, 'key-b');
    expect(a.apiKey).not.toBe(b.apiKey);
  });

  it('places each tenant in the cell with the fewest tenants (ties: lowest id)', async () => {
    for (let i = 0; i < 6; i++) {
      const counts = await cellCounts();
      const fewest = Math.min(...counts.map((c) => c.tenants));
      const expected = counts.find((c) => c.tenants === fewest)!.id;
      const tenant = await createTenant(app.httpPort, `sequential-${i}`);
      expect(tenant.cell).toBe(expected);
    }
    const counts = await cellCounts();
    expect(
      Math.max(...counts.map((c) => c.tenants)) - Math.min(...counts.map((c) => c.tenants)),
    ).toBeLessThanOrEqual(1);
  });

  it('keeps cells balanced under 10 concurrent creations', async () => {
    const before = await cellCounts();
    const created = await Promise.all(
      Array.from({ length: 10 }, (_, i) => createTenant(app.httpPort, `concurrent-${i}`)),
    );
    expect(new Set(created.map((t) => t.id)).size).toBe(10);
    const after = await cellCounts();
    const total = (cells: { tenants: number }[]) => cells.reduce((sum, c) => sum + c.tenants, 0);
    expect(total(after) - total(before)).toBe(10);
    const sizes = after.map((c) => c.tenants);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  describe('rejects invalid requests with a problem and writes nothing', () => {
    const cases: [string, { json?: unknown; body?: string; contentType?: string }, number][] = [
      ['malformed JSON', { body: '{"name": "acme"', contentType: 'application/json' }, 400],
      [
        'a JSON string instead of an object',
        { body: '"acme"', contentType: 'application/json' },
        400,
      ],
      ['an array', { json: [{ name: 'acme' }] }, 400],
      ['an empty body', { body: '', contentType: 'application/json' }, 400],
      ['a missing name', { json: {} }, 400],
      ['an empty name', { json: { name: '' } }, 400],
      ['a blank name', { json: { name: '   ' } }, 400],
      ['a name over 100 characters', { json: { name: 'x'.repeat(101) } }, 400],
      [
        'a name over 100 characters, counted in characters',
        { json: { name: '😀'.repeat(101) } },
        400,
      ],
      ['a NUL in the name', { json: { name: 'ac\u0000me' } }, 400],
      ['a control character in the name', { json: { name: 'acme\n' } }, 400],
      ['a lone surrogate in the name', { json: { name: 'acme\ud800' } }, 400],
      ['a name of only whitespace', { json: { name: '\u3000\u00a0' } }, 400],
      ['a non-string name', { json: { name: 42 } }, 400],
      ['an unknown field', { json: { name: 'acme', cell: 'cell-1' } }, 400],
      ['text/plain', { body: '{"name":"acme"}', contentType: 'text/plain' }, 415],
      ['form data', { body: 'name=acme', contentType: 'application/x-www-form-urlencoded' }, 415],
      ['no content type', { body: '{"name":"acme"}' }, 415],
      ['a body over 16 kB', { json: { name: 'acme', padding: 'x'.repeat(20_000) } }, 413],
    ];
    it.each(cases)('%s', async (_case, request, status) => {
      const before = await tenantRows();
      const versionBefore = await currentVersion();
      const response = await api(app.httpPort, 'POST', '/v1/tenants', request);
      expectProblem(response, status);
      expect(await tenantRows()).toBe(before);
      expect(await currentVersion()).toBe(versionBefore);
    });

    it('lists what is wrong with an invalid body', async () => {
      const response = await api(app.httpPort, 'POST', '/v1/tenants', { json: { extra: true } });
      expectProblem(response, 400);
      const { errors } = response.body as { errors: { pointer: string; detail: string }[] };
      expect(errors.length).toBeGreaterThan(0);
      expect(errors).toEqual(
        expect.arrayContaining([
          { pointer: '/name', detail: expect.any(String) },
          { pointer: '/extra', detail: 'unknown field' },
        ]),
      );
    });

    it('accepts a name of exactly 100 characters', async () => {
      const tenant = await createTenant(app.httpPort, 'y'.repeat(100));
      expect(tenant.name).toHaveLength(100);
      const astral = await createTenant(app.httpPort, '😀'.repeat(100));
      expect(astral.name).toBe('😀'.repeat(100));
    });
  });
});

describe('GET /v1/tenants/{id}', () => {
  it('returns the tenant without its key', async () => {
    const created = await createTenant(app.httpPort, 'globex');
    const response = await api(app.httpPort, 'GET', `/v1/tenants/${created.id}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ id: created.id, name: 'globex', cell: created.cell });
  });

  it.each([randomUUID(), 'not-a-uuid'])('answers 404 for unknown id %s', async (id) => {
    expectProblem(await api(app.httpPort, 'GET', `/v1/tenants/${id}`), 404);
  });
});

describe('GET /v1/cells', () => {
  it('lists every cell with its tenant count, ordered by id', async () => {
    const { rows } = await pool.query<{ id: string; n: number }>(
      'SELECT cell_id AS id, count(*)::int AS n FROM tenants GROUP BY cell_id',
    );
    const counts = await cellCounts();
    expect(counts.map((c) => c.id)).toEqual(['cell-1', 'cell-2']);
    for (const cell of counts) {
      expect(Object.keys(cell).sort()).toEqual(['id', 'tenants']);
      expect(cell.tenants).toBe(rows.find((r) => r.id === cell.id)?.n ?? 0);
    }
  });
});

describe('routing errors', () => {
  it('answers 404 problem for an unknown route, with or without a token', async () => {
    expectProblem(await api(app.httpPort, 'GET', '/v1/nope'), 404);
    expectProblem(await api(app.httpPort, 'GET', '/nope', { token: null }), 404);
  });

  it('answers 400 problem for a path that is not percent-encoded UTF-8', async () => {
    for (const path of ['/v1/tenants/%ZZ', '/v1/tenants/%E0%A4%A', '/v1/tenants/%C0%AF'])
      expectProblem(await api(app.httpPort, 'GET', path), 400);
  });

  it('answers 405 with Allow for a wrong method', async () => {
    const response = await api(app.httpPort, 'DELETE', '/v1/cells');
    expectProblem(response, 405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
    const put = await api(app.httpPort, 'PUT', `/v1/tenants/${randomUUID()}`, {
      json: { name: 'x' },
    });
    expectProblem(put, 405);
  });
});

describe('WatchSnapshot', () => {
  it('delivers the current snapshot on subscribe', async () => {
    const watch = openWatch(app.grpcPort, 0);
    watches.push(watch);
    const { snapshot } = await watch.waitFor(() => true);
    const stored = await storedPosition(pool);
    expect(snapshot.version).toBe(stored.version);
    expect(snapshot.epoch).toMatch(EPOCH_PATTERN);
    expect(snapshot.epoch).toBe(stored.epoch);
    expect(snapshot.publishedAt).toBeInstanceOf(Date);
    expect(snapshot.cells).toEqual(TWO_CELLS);
    const { rows } = await pool.query<{ id: string; api_key_sha256: string }>(
      'SELECT id, api_key_sha256 FROM tenants',
    );
    expect(snapshot.tenants).toHaveLength(rows.length);
    for (const row of rows) {
      expect(snapshot.tenants.find((t) => t.id === row.id)?.apiKeySha256).toBe(row.api_key_sha256);
    }
  });

  it('pushes a new tenant to an open stream in under a second', async ({ annotate }) => {
    const watch = openWatch(app.grpcPort, 0);
    watches.push(watch);
    await watch.waitFor(() => true);
    const sent = performance.now();
    const tenant = await createTenant(app.httpPort, 'pushed');
    const { snapshot, at } = await watch.waitFor((s) => s.tenants.some((t) => t.id === tenant.id));
    const latencyMs = at - sent;
    await annotate(
      `tenant visible on the stream ${latencyMs.toFixed(1)} ms after the POST was sent`,
    );
    expect(latencyMs).toBeLessThan(1_000);
    expect(snapshot.tenants.find((t) => t.id === tenant.id)).toEqual({
      id: tenant.id,
      name: 'pushed',
      cellId: tenant.cell,
      apiKeySha256: hashApiKey(tenant.apiKey),
      rateLimitPerSecond: 0,
    });
  });

  it('sends nothing to a stream that is up to date (same epoch and version) until the next change', async () => {
    const { epoch, version } = await storedPosition(pool);
    const watch = openWatch(app.grpcPort, version, epoch);
    watches.push(watch);
    await watch.opened;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(watch.received).toHaveLength(0);
    await createTenant(app.httpPort, 'next-change');
    const { snapshot } = await watch.waitFor(() => true);
    expect(snapshot.version).toBe(version + 1);
    expect(snapshot.epoch).toBe(epoch);
    expect(watch.received).toHaveLength(1);
  });

  it.each([
    ['another epoch', () => randomUUID()],
    ['no epoch (an agent from before epochs)', () => ''],
  ])(
    'sends the current snapshot to a watcher that knows %s, whatever its version',
    async (_case, knownEpoch) => {
      const stored = await storedPosition(pool);
      // Ahead of this database, as a watcher of a replaced database is.
      const watch = openWatch(app.grpcPort, stored.version + 1_000, knownEpoch());
      watches.push(watch);
      const { snapshot } = await watch.waitFor(() => true);
      expect(snapshot).toMatchObject(stored);
      // Then newer versions of this epoch, as to any watcher.
      const tenant = await createTenant(app.httpPort, 'after-epoch-change');
      const next = await watch.waitFor((s) => s.tenants.some((t) => t.id === tenant.id));
      expect(next.snapshot).toMatchObject({ epoch: stored.epoch, version: stored.version + 1 });
    },
  );

  it('answers INVALID_ARGUMENT to a known_epoch that is not a UUID, and sends nothing', async () => {
    const watch = openWatch(app.grpcPort, 0, 'not-an-epoch');
    watches.push(watch);
    const status = await watch.ended;
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/^known_epoch: /);
    expect(watch.received).toHaveLength(0);
  });

  it('sends versions in increasing order', async () => {
    const watch = openWatch(app.grpcPort, 0);
    watches.push(watch);
    await watch.waitFor(() => true);
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => createTenant(app.httpPort, `burst-${i}`)),
    );
    const last = await currentVersion();
    await watch.waitFor((s) => s.version === last);
    const versions = watch.received.map((r) => r.snapshot.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });
});
