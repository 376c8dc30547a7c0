import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ordersV1 } from '@bulkhead/contracts';
import {
  hashApiKey,
  writeSnapshotFile,
  type RoutingSnapshot,
  type TenantRoute,
} from '@bulkhead/routing-snapshot';
import { CATALOG_LABELS, cardinalityProblems, sampleValue, type Sample } from '@bulkhead/metrics';
import { startOpsServer } from '@bulkhead/service-runtime';
import {
  eventually,
  infra,
  recordingLogger,
  scrapeMetrics,
  testLogger,
  uniqueName,
} from '@bulkhead/testkit';
import {
  createGatewayApp,
  loadGatewayConfig,
  openApiSchemas,
  type GatewayApp,
} from '../src/index.js';
import { startFakeCell, type FakeCell } from './fake-cell.js';

// Real gRPC servers (one per cell), a real snapshot file, real Redis; the gateway on port 0.

interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

interface Tenant {
  route: TenantRoute;
  apiKey: string;
}

function newTenant(cellId: string, rateLimitPerSecond = 0): Tenant {
  const apiKey = randomBytes(32).toString('base64url');
  const id = uniqueName('tenant');
  return {
    apiKey,
    route: { id, name: id, cellId, apiKeySha256: hashApiKey(apiKey), rateLimitPerSecond },
  };
}

async function send(
  port: number,
  method: string,
  path: string,
  options: {
    apiKey?: string;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.apiKey !== undefined) headers.authorization = `Bearer ${options.apiKey}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, body });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    headers: res.headers,
    text,
    body: type.includes('json') && text ? JSON.parse(text) : text,
  };
}

const problemShape = z.object({
  type: z.string().min(1),
  title: z.string().min(1),
  status: z.int(),
  detail: z.string().min(1),
});

/** Asserts an RFC 9457 problem with this status and no internals; returns its body. */
function expectProblem(reply: Reply, status: number): Record<string, unknown> {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = problemShape.parse(reply.body);
  expect(problem.status).toBe(status);
  expect(reply.text).not.toMatch(/stack|\n\s+at |node_modules|127\.0\.0\.1/);
  return reply.body as Record<string, unknown>;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Sends a request as raw bytes (repeated headers, malformed lines) and reads to the close. */
async function sendRaw(port: number, request: string): Promise<Reply> {
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
  const [head = '', text = ''] = raw.split('\r\n\r\n', 2);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const type = headers.get('content-type') ?? '';
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    text,
    body: type.includes('json') && text ? JSON.parse(text) : text,
  };
}

const validOrder = {
  customerId: 'cust-1',
  items: [{ sku: 'mug', quantity: 2 }],
  paymentToken: 'tok_ok',
};

describe('gateway', () => {
  let dir: string;
  let snapshotPath: string;
  let cellA: FakeCell;
  let cellB: FakeCell;
  let cellC: FakeCell;
  let snapshot: RoutingSnapshot;
  const apps: GatewayApp[] = [];
  const extraCells: FakeCell[] = [];
  let gw: GatewayApp;
  const tenantA = newTenant('cell-a');
  const tenantA2 = newTenant('cell-a');
  const tenantB = newTenant('cell-b');
  const tenantC = newTenant('cell-c');

  /** Writes the next snapshot version (the config-agent's job in production). */
  async function publish(change: (s: RoutingSnapshot) => void = () => undefined): Promise<void> {
    change(snapshot);
    snapshot = {
      ...snapshot,
      version: snapshot.version + 1,
      publishedAt: new Date().toISOString(),
    };
    await writeSnapshotFile(snapshotPath, snapshot);
  }

  async function startGateway(
    env: Record<string, string> = {},
    logger = testLogger('gateway'),
  ): Promise<GatewayApp> {
    const config = loadGatewayConfig({
      SNAPSHOT_PATH: snapshotPath,
      GATEWAY_PORT: '0',
      BULKHEAD_REDIS_URL: infra.redisUrl,
      GRPC_DEADLINE_MS: '1000',
      ...env,
    });
    const app = createGatewayApp(config, { logger });
    apps.push(app);
    await app.start();
    return app;
  }

  const calls = (cell: FakeCell): number => cell.calls.length;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-test-'));
    snapshotPath = join(dir, 'routing.json');
    [cellA, cellB, cellC] = await Promise.all([
      startFakeCell('cell-a'),
      startFakeCell('cell-b'),
      startFakeCell('cell-c'),
    ]);
    snapshot = {
      version: 1,
      publishedAt: new Date().toISOString(),
      cells: [cellA.endpoints, cellB.endpoints, cellC.endpoints],
      tenants: [tenantA.route, tenantA2.route, tenantB.route, tenantC.route],
    };
    await writeSnapshotFile(snapshotPath, snapshot);
    gw = await startGateway();
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await Promise.all(
      [cellA, cellB, cellC, ...extraCells].filter(Boolean).map((cell) => cell.stop()),
    );
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves liveness and readiness without auth', async () => {
    expect((await send(gw.port, 'GET', '/healthz')).status).toBe(200);
    expect((await send(gw.port, 'GET', '/readyz')).status).toBe(200);
    expect(gw.isReady()).toBe(true);
  });

  it('is not ready (503) until a routing snapshot exists, then serves it', async () => {
    const lateDir = join(dir, 'late');
    const late = await startGateway({ SNAPSHOT_PATH: join(lateDir, 'routing.json') });
    expect((await send(late.port, 'GET', '/readyz')).status).toBe(503);
    expect(late.isReady()).toBe(false);
    expectProblem(
      await send(late.port, 'GET', '/v1/products/mug', { apiKey: tenantA.apiKey }),
      503,
    );

    await writeSnapshotFile(join(lateDir, 'routing.json'), snapshot);
    await eventually(async () =>
      (await send(late.port, 'GET', '/readyz')).status === 200 ? true : undefined,
    );
    await late.stop();
  });

  it('answers 401 with WWW-Authenticate for missing, malformed and unknown keys', async () => {
    const before = calls(cellA) + calls(cellB);
    const invalid = 'Bearer error="invalid_token"';
    // [Authorization header, expected WWW-Authenticate]; no credentials → no error code (RFC 6750).
    const cases: Record<string, [string | undefined, string]> = {
      missing: [undefined, 'Bearer'],
      basic: ['Basic dXNlcjpwYXNz', 'Bearer'],
      'empty bearer': ['Bearer', invalid],
      'lowercase scheme, unknown key': ['bearer abc', invalid],
      'two tokens': [`Bearer ${tenantA.apiKey} extra`, invalid],
      unknown: [`Bearer ${randomBytes(32).toString('base64url')}`, invalid],
    };
    for (const [name, [authorization, challenge]] of Object.entries(cases)) {
      const reply = await send(gw.port, 'GET', '/v1/products/mug', {
        headers: authorization === undefined ? {} : { authorization },
      });
      expectProblem(reply, 401);
      expect(reply.headers.get('www-authenticate'), name).toBe(challenge);
    }
    expect(calls(cellA) + calls(cellB)).toBe(before);
    // The scheme is case-insensitive.
    const lower = await send(gw.port, 'GET', '/v1/products/nope', {
      headers: { authorization: `bearer ${tenantA.apiKey}` },
    });
    expect(lower.status).toBe(404);
  });

  it("routes each tenant to its own cell with the tenant's id", async () => {
    const a = await send(gw.port, 'PUT', '/v1/products/mug', {
      apiKey: tenantA.apiKey,
      body: { name: 'Mug A', priceCents: 1200, stock: 10 },
    });
    const b = await send(gw.port, 'PUT', '/v1/products/mug', {
      apiKey: tenantB.apiKey,
      body: { name: 'Mug B', priceCents: 900, stock: 3 },
    });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(cellA.calls.at(-1)).toMatchObject({
      method: 'UpsertProduct',
      tenantId: tenantA.route.id,
    });
    expect(cellB.calls.at(-1)).toMatchObject({
      method: 'UpsertProduct',
      tenantId: tenantB.route.id,
    });
    expect(cellA.calls.some((c) => c.tenantId === tenantB.route.id)).toBe(false);
    expect(cellB.calls.some((c) => c.tenantId === tenantA.route.id)).toBe(false);
    // Same sku, different tenants: separate products.
    expect(
      (await send(gw.port, 'GET', '/v1/products/mug', { apiKey: tenantB.apiKey })).body,
    ).toMatchObject({
      name: 'Mug B',
    });
  });

  it('PUT and GET a product with the public shape', async () => {
    const product = {
      sku: 'lamp.v2_x-1',
      name: 'Lamp',
      priceCents: 4999,
      available: 7,
      reserved: 0,
    };
    const put = await send(gw.port, 'PUT', `/v1/products/${product.sku}`, {
      apiKey: tenantA.apiKey,
      body: { name: 'Lamp', priceCents: 4999, stock: 7 },
    });
    expect(put.status).toBe(200);
    expect(put.headers.get('content-type')).toMatch(/^application\/json/);
    expect(put.body).toEqual(product);

    const get = await send(gw.port, 'GET', `/v1/products/${product.sku}`, {
      apiKey: tenantA.apiKey,
    });
    expect(get.status).toBe(200);
    expect(get.body).toEqual(product);

    const missing = await send(gw.port, 'GET', '/v1/products/nope', { apiKey: tenantA.apiKey });
    expectProblem(missing, 404);
    // Another tenant (same cell) does not see it.
    expectProblem(
      await send(gw.port, 'GET', `/v1/products/${product.sku}`, { apiKey: tenantA2.apiKey }),
      404,
    );

    const before = calls(cellA);
    expectProblem(
      await send(gw.port, 'GET', '/v1/products/-not-a-sku', { apiKey: tenantA.apiKey }),
      404,
    );
    expect(calls(cellA)).toBe(before);
  });

  it('POST /v1/orders answers 202 with Location; GET returns the order shape', async () => {
    const post = await send(gw.port, 'POST', '/v1/orders', {
      apiKey: tenantA.apiKey,
      body: validOrder,
    });
    expect(post.status).toBe(202);
    const order = post.body as { id: string };
    expect(post.headers.get('location')).toBe(`/v1/orders/${order.id}`);
    expect(post.headers.get('idempotent-replayed')).toBeNull();
    expect(post.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'PENDING',
      items: [{ sku: 'mug', quantity: 2, unitPriceCents: 0 }],
      totalCents: 0,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });

    const get = await send(gw.port, 'GET', `/v1/orders/${order.id}`, { apiKey: tenantA.apiKey });
    expect(get.status).toBe(200);
    expect(get.body).toEqual(post.body);
    expect(get.body).not.toHaveProperty('reason');

    cellA.setOrderStatus(order.id, ordersV1.OrderStatus.ORDER_STATUS_REJECTED, 'out_of_stock');
    const rejected = await send(gw.port, 'GET', `/v1/orders/${order.id}`, {
      apiKey: tenantA.apiKey,
    });
    expect(rejected.body).toMatchObject({
      id: order.id,
      status: 'REJECTED',
      reason: 'out_of_stock',
    });
    cellA.setOrderStatus(order.id, ordersV1.OrderStatus.ORDER_STATUS_CONFIRMED);
    const confirmed = await send(gw.port, 'GET', `/v1/orders/${order.id}`, {
      apiKey: tenantA.apiKey,
    });
    expect(confirmed.body).toMatchObject({ status: 'CONFIRMED' });
    expect(confirmed.body).not.toHaveProperty('reason');
  });

  it("answers 404 for another tenant's order, unknown and malformed ids", async () => {
    const post = await send(gw.port, 'POST', '/v1/orders', {
      apiKey: tenantA.apiKey,
      body: validOrder,
    });
    const { id } = post.body as { id: string };
    expectProblem(await send(gw.port, 'GET', `/v1/orders/${id}`, { apiKey: tenantA2.apiKey }), 404);
    expectProblem(await send(gw.port, 'GET', `/v1/orders/${id}`, { apiKey: tenantB.apiKey }), 404);
    expectProblem(
      await send(gw.port, 'GET', `/v1/orders/${randomUUID()}`, { apiKey: tenantA.apiKey }),
      404,
    );
    const before = calls(cellA);
    expectProblem(
      await send(gw.port, 'GET', '/v1/orders/not-a-uuid', { apiKey: tenantA.apiKey }),
      404,
    );
    expect(calls(cellA)).toBe(before);
  });

  it('rejects invalid requests with 400 problem+json without calling the services', async () => {
    const before = calls(cellA);
    const items = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ sku: `s${i}`, quantity: 1 }));
    const cases: {
      name: string;
      path: string;
      method: string;
      body?: unknown;
      rawBody?: string;
      pointer?: string;
      headers?: Record<string, string>;
    }[] = [
      { name: 'malformed JSON', method: 'POST', path: '/v1/orders', rawBody: '{"customerId":' },
      { name: 'JSON scalar', method: 'POST', path: '/v1/orders', rawBody: '42' },
      { name: 'no body', method: 'POST', path: '/v1/orders' },
      {
        name: 'unknown field',
        method: 'POST',
        path: '/v1/orders',
        body: { ...validOrder, coupon: 'x' },
        pointer: '/coupon',
      },
      {
        name: 'unknown item field',
        method: 'POST',
        path: '/v1/orders',
        body: { ...validOrder, items: [{ sku: 'a', quantity: 1, price: 1 }] },
        pointer: '/items/0/price',
      },
      {
        name: 'no items',
        method: 'POST',
        path: '/v1/orders',
        body: { ...validOrder, items: [] },
        pointer: '/items',
      },
      {
        name: '51 items',
        method: 'POST',
        path: '/v1/orders',
        body: { ...validOrder, items: items(51) },
        pointer: '/items',
      },
      {
        name: 'duplicate skus',
        method: 'POST',
        path: '/v1/orders',
        body: {
          ...validOrder,
          items: [
            { sku: 'a', quantity: 1 },
            { sku: 'a', quantity: 2 },
          ],
        },
        pointer: '/items',
      },
      {
        name: 'quantity 0',
        method: 'POST',
        path: '/v1/orders',
        body: { ...validOrder, items: [{ sku: 'a', quantity: 0 }] },
        pointer: '/items/0/quantity',
      },
      {
        name: 'quantity 10001',
        method: 'POST',
        path: '/v1/orders',
        body: { ...validOrder, items: [{ sku: 'a', quantity: 10_001 }] },
        pointer: '/items/0/quantity',
      },
      {
        name: 'bad item sku',
        method: 'POST',
        path: '/v1/orders',
        body: { ...validOrder, items: [{ sku: 'a b', quantity: 1 }] },
        pointer: '/items/0/sku',
      },
      {
        name: 'empty customerId',
        method: 'POST',
        path: '/v1/orders',
        body: { ...validOrder, customerId: '' },
        pointer: '/customerId',
      },
      {
        name: 'long paymentToken',
        method: 'POST',
        path: '/v1/orders',
        body: { ...validOrder, paymentToken: 'x'.repeat(129) },
        pointer: '/paymentToken',
      },
      {
        name: 'Idempotency-Key with a space',
        method: 'POST',
        path: '/v1/orders',
        body: validOrder,
        headers: { 'idempotency-key': 'a b' },
      },
      {
        name: 'Idempotency-Key too long',
        method: 'POST',
        path: '/v1/orders',
        body: validOrder,
        headers: { 'idempotency-key': 'k'.repeat(256) },
      },
      {
        name: 'fractional price',
        method: 'PUT',
        path: '/v1/products/mug',
        body: { name: 'Mug', priceCents: 1.5, stock: 1 },
        pointer: '/priceCents',
      },
      {
        name: 'negative stock',
        method: 'PUT',
        path: '/v1/products/mug',
        body: { name: 'Mug', priceCents: 1, stock: -1 },
        pointer: '/stock',
      },
      {
        name: 'price too large',
        method: 'PUT',
        path: '/v1/products/mug',
        body: { name: 'Mug', priceCents: 1_000_000_001, stock: 1 },
        pointer: '/priceCents',
      },
      {
        name: 'name too long',
        method: 'PUT',
        path: '/v1/products/mug',
        body: { name: 'n'.repeat(201), priceCents: 1, stock: 1 },
        pointer: '/name',
      },
      {
        name: 'missing name',
        method: 'PUT',
        path: '/v1/products/mug',
        body: { priceCents: 1, stock: 1 },
        pointer: '/name',
      },
      {
        name: 'string stock',
        method: 'PUT',
        path: '/v1/products/mug',
        body: { name: 'Mug', priceCents: 1, stock: '5' },
        pointer: '/stock',
      },
      {
        name: 'invalid sku in path',
        method: 'PUT',
        path: '/v1/products/.hidden',
        body: { name: 'Mug', priceCents: 1, stock: 1 },
      },
      {
        name: 'sku too long',
        method: 'PUT',
        path: `/v1/products/${'s'.repeat(65)}`,
        body: { name: 'Mug', priceCents: 1, stock: 1 },
      },
    ];
    for (const c of cases) {
      const headers = {
        ...(c.rawBody !== undefined ? { 'content-type': 'application/json' } : {}),
        ...c.headers,
      };
      const reply = await send(gw.port, c.method, c.path, {
        apiKey: tenantA.apiKey,
        body: c.body,
        rawBody: c.rawBody,
        headers,
      });
      const problem = expectProblem(reply, 400);
      if (c.pointer !== undefined) {
        expect(problem.errors, c.name).toEqual(
          expect.arrayContaining([expect.objectContaining({ pointer: c.pointer })]),
        );
      }
    }
    expect(calls(cellA)).toBe(before);
  });

  it('answers 413 for a body over 64 kB and 415 for a non-JSON body', async () => {
    const before = calls(cellA);
    const big = { ...validOrder, customerId: 'x'.repeat(70_000) };
    expectProblem(
      await send(gw.port, 'POST', '/v1/orders', { apiKey: tenantA.apiKey, body: big }),
      413,
    );
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const reply = await send(gw.port, 'POST', '/v1/orders', {
        apiKey: tenantA.apiKey,
        rawBody: JSON.stringify(validOrder),
        headers: { 'content-type': type },
      });
      expectProblem(reply, 415);
    }
    expect(calls(cellA)).toBe(before);
  });

  it('answers hostile paths, headers and bodies with 4xx problem+json, never a cell call', async () => {
    const before = calls(cellA);
    const key = tenantA.apiKey;
    const product = { name: 'Mug', priceCents: 1, stock: 1 };
    // Invalid percent-encoding in a path parameter (URIError in the router).
    for (const path of ['/v1/products/%E0%A4%A', '/v1/products/%ZZ', `/v1/orders/%C0%AF`]) {
      expectProblem(await send(gw.port, 'GET', path, { apiKey: key }), 400);
    }
    // Control characters, NUL and lone surrogates in text fields; lengths in characters.
    const bodies: [string, unknown][] = [
      ['/v1/products/mug', { ...product, name: 'a\u0000b' }],
      ['/v1/products/mug', { ...product, name: 'tab\tname' }],
      ['/v1/products/mug', { ...product, name: 'c1\u0085' }],
      ['/v1/products/mug', { ...product, name: 'a\ud800b' }],
      ['/v1/products/mug', { ...product, name: '\udc00' }],
      ['/v1/products/mug', { ...product, name: '\u3000 \u00a0' }],
      ['/v1/products/mug', { ...product, name: '😀'.repeat(201) }],
      ['/v1/products/mug', { ...product, priceCents: 1_000_000_001 }],
      ['/v1/products/mug', { ...product, stock: 2 ** 53 }],
      ['/v1/products/mug', { ...product, stock: -0.5 }],
    ];
    for (const [path, body] of bodies) {
      const reply = await send(gw.port, 'PUT', path, { apiKey: key, body });
      expect(expectProblem(reply, 400).errors, JSON.stringify(body)).toBeDefined();
    }
    for (const body of [
      { ...validOrder, customerId: 'c\u0000' },
      { ...validOrder, paymentToken: 'tok\ud83d' },
      { ...validOrder, items: [{ sku: 'mug', quantity: Number.POSITIVE_INFINITY }] },
    ]) {
      expectProblem(await send(gw.port, 'POST', '/v1/orders', { apiKey: key, body }), 400);
    }
    // Numbers beyond every range, and deep nesting, as raw JSON.
    for (const rawBody of [
      '{"name":"Mug","priceCents":1e400,"stock":1}',
      '{"name":"Mug","priceCents":123456789012345678901234567890,"stock":1}',
      '['.repeat(20_000) + ']'.repeat(20_000),
      '{"name":"Mug","priceCents":1,"stock":1,"__proto__":{"x":1}}',
    ]) {
      const reply = await send(gw.port, 'PUT', '/v1/products/mug', {
        apiKey: key,
        rawBody,
        headers: { 'content-type': 'application/json' },
      });
      expectProblem(reply, 400);
    }
    // Repeated headers that may appear once: Node would keep the first and drop the rest.
    const body = JSON.stringify(product);
    const put = (headers: string) =>
      sendRaw(
        gw.port,
        `PUT /v1/products/mug HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}` +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
      );
    const auth = `Authorization: Bearer ${key}\r\n`;
    for (const headers of [
      `${auth}Content-Type: application/json\r\nContent-Type: text/plain\r\n`,
      `${auth}${auth}Content-Type: application/json\r\n`,
      `${auth}Content-Type: application/json\r\nIdempotency-Key: a\r\nIdempotency-Key: b\r\n`,
    ]) {
      const reply = await put(headers);
      expect(expectProblem(reply, 400).errors, headers).toEqual([
        { header: expect.any(String), detail: 'may appear only once' },
      ]);
    }
    // What Node's parser refuses before any route: as problem+json too.
    expectProblem(await put(`${auth}Bad Header\r\n`), 400);
    expectProblem(
      await sendRaw(
        gw.port,
        `GET /v1/products/${'a'.repeat(20_000)} HTTP/1.1\r\n` +
          `Host: x\r\nX-Padding: ${'p'.repeat(20_000)}\r\n\r\n`,
      ),
      431,
    );
    expect(calls(cellA)).toBe(before);
  });

  it('answers 404 for unknown routes and 405 with Allow for wrong methods', async () => {
    for (const path of ['/', '/nope', '/v1/products', '/v1/orders/a/b', '/v2/orders']) {
      expectProblem(await send(gw.port, 'GET', path, { apiKey: tenantA.apiKey }), 404);
    }
    const cases: [string, string, string][] = [
      ['DELETE', '/v1/products/mug', 'GET, HEAD, PUT'],
      ['POST', '/v1/products/mug', 'GET, HEAD, PUT'],
      ['GET', '/v1/orders', 'POST'],
      ['PUT', `/v1/orders/${randomUUID()}`, 'GET, HEAD'],
      ['POST', '/openapi.json', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const reply = await send(gw.port, method, path, { apiKey: tenantA.apiKey });
      expectProblem(reply, 405);
      expect(reply.headers.get('allow')).toBe(allow);
    }
  });

  it('replays an Idempotency-Key with the same body and maps reuse (422) and in-flight (409)', async () => {
    const key = randomUUID();
    const headers = { 'idempotency-key': key };
    const first = await send(gw.port, 'POST', '/v1/orders', {
      apiKey: tenantA.apiKey,
      body: validOrder,
      headers,
    });
    expect(first.status).toBe(202);
    const ordersBefore = cellA.orderCount();
    // Same body with keys in another order and other spacing: the same fingerprint.
    const reordered = `{ "paymentToken": "tok_ok", "items": [{"quantity": 2, "sku": "mug"}], "customerId": "cust-1" }`;
    const replay = await send(gw.port, 'POST', '/v1/orders', {
      apiKey: tenantA.apiKey,
      rawBody: reordered,
      headers: { ...headers, 'content-type': 'application/json' },
    });
    expect(replay.status).toBe(202);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('location')).toBe(first.headers.get('location'));
    expect(replay.body).toEqual(first.body);
    expect(cellA.orderCount()).toBe(ordersBefore);

    const reused = await send(gw.port, 'POST', '/v1/orders', {
      apiKey: tenantA.apiKey,
      body: { ...validOrder, paymentToken: 'tok_other' },
      headers,
    });
    expect(expectProblem(reused, 422).reason).toBe('idempotency_key_reused');

    // Two concurrent requests with one key: the first is still running when the second arrives.
    const slowKey = { 'idempotency-key': randomUUID() };
    const slowOrder = { ...validOrder, customerId: 'sleep-1500' };
    const racing = await Promise.all([
      send(gw.port, 'POST', '/v1/orders', {
        apiKey: tenantA.apiKey,
        body: slowOrder,
        headers: slowKey,
      }),
      sleep(100).then(() =>
        send(gw.port, 'POST', '/v1/orders', {
          apiKey: tenantA.apiKey,
          body: slowOrder,
          headers: slowKey,
        }),
      ),
    ]);
    // The slow order outlives the 1 s deadline: the first caller gets 504 and may retry with the key.
    expect(racing.map((r) => r.status)).toEqual([504, 409]);
    expect(expectProblem(racing[1], 409).reason).toBe('idempotency_key_in_flight');
  });

  it('maps gRPC failures: INTERNAL to a generic 500, DEADLINE_EXCEEDED to 504, UNAVAILABLE to 503', async () => {
    const boom = await send(gw.port, 'PUT', '/v1/products/boom', {
      apiKey: tenantA.apiKey,
      body: { name: 'Boom', priceCents: 1, stock: 1 },
    });
    expect(expectProblem(boom, 500).detail).toBe('internal error');
    expect(boom.text).not.toContain('secret');

    const started = Date.now();
    expectProblem(await send(gw.port, 'GET', '/v1/products/slow', { apiKey: tenantA.apiKey }), 504);
    expect(Date.now() - started).toBeLessThan(1_400); // GRPC_DEADLINE_MS=1000, the server takes 1500

    expect(
      (
        await send(gw.port, 'PUT', '/v1/products/x', {
          apiKey: tenantC.apiKey,
          body: { name: 'X', priceCents: 1, stock: 1 },
        })
      ).status,
    ).toBe(200);
    await cellC.stop();
    expectProblem(await send(gw.port, 'GET', '/v1/products/x', { apiKey: tenantC.apiKey }), 503);
  });

  it('picks up a tenant added to the snapshot file within 1 s', async () => {
    const tenant = newTenant('cell-b');
    expectProblem(await send(gw.port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey }), 401);
    const published = Date.now();
    await publish((s) => s.tenants.push(tenant.route));
    await eventually(
      async () => {
        const reply = await send(gw.port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey });
        return reply.status === 401 ? undefined : reply;
      },
      { timeoutMs: 1_000, intervalMs: 20 },
    );
    expect(Date.now() - published).toBeLessThan(1_000);
    expect(cellB.calls.at(-1)).toMatchObject({ method: 'GetProduct', tenantId: tenant.route.id });
  });

  it('follows a cell moved to a new address', async () => {
    const [before, after] = await Promise.all([startFakeCell('cell-d'), startFakeCell('cell-d')]);
    extraCells.push(before, after);
    const tenant = newTenant('cell-d');
    await publish((s) => {
      s.cells.push(before.endpoints);
      s.tenants.push(tenant.route);
    });
    await eventually(async () =>
      (await send(gw.port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey })).status === 404
        ? true
        : undefined,
    );
    expect(before.calls.length).toBeGreaterThan(0);

    await publish((s) => {
      s.cells = s.cells.map((cell) => (cell.id === 'cell-d' ? after.endpoints : cell));
    });
    await eventually(async () => {
      await send(gw.port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey });
      return after.calls.length > 0 ? true : undefined;
    });
    const stale = before.calls.length;
    await send(gw.port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey });
    expect(before.calls.length).toBe(stale);
  });

  it('loads a file of a new control-plane epoch whatever its version, and ignores older versions of the same epoch', async () => {
    const path = join(dir, 'epochs', 'routing.json');
    const [first, second, third] = [newTenant('cell-a'), newTenant('cell-b'), newTenant('cell-a')];
    const file = (epoch: string | undefined, version: number, tenants: Tenant[]) =>
      writeSnapshotFile(path, {
        ...(epoch === undefined ? {} : { epoch }),
        version,
        publishedAt: new Date().toISOString(),
        cells: [cellA.endpoints, cellB.endpoints],
        tenants: tenants.map((t) => t.route),
      });
    const routed = async (tenant: Tenant, port: number) =>
      (await send(port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey })).status !== 401;
    const log = recordingLogger('gateway');
    const [epoch1, epoch2] = [randomUUID(), randomUUID()];

    await file(undefined, 24, [first]); // written by an agent from before epochs
    const epochs = await startGateway({ SNAPSHOT_PATH: path }, log.logger);
    expect(await routed(first, epochs.port)).toBe(true);

    // The upgraded agent writes the same version with its epoch: taken, an unknown epoch differs.
    await file(epoch1, 24, [first, second]);
    await eventually(async () => ((await routed(second, epochs.port)) ? true : undefined));

    // Same epoch, older version: ignored.
    await file(epoch1, 23, [third]);
    await eventually(async () =>
      log.entries.some((e) => e.msg.includes('not newer') && e.version === 23) ? true : undefined,
    );
    expect(await routed(third, epochs.port)).toBe(false);
    expect(await routed(second, epochs.port)).toBe(true);

    // A new epoch (the control plane's database was replaced) at a lower version: replaces it all.
    await file(epoch2, 2, [third]);
    await eventually(async () => ((await routed(third, epochs.port)) ? true : undefined));
    expect(await routed(first, epochs.port)).toBe(false);
    expect(await routed(second, epochs.port)).toBe(false);
    expect(log.entries.find((e) => e.level === 'warn')).toMatchObject({
      previousEpoch: epoch1,
      previousVersion: 24,
      epoch: epoch2,
      version: 2,
    });
    await epochs.stop();
  });

  it('serves an OpenAPI 3.1 document generated from the validators, without auth', async () => {
    const reply = await send(gw.port, 'GET', '/openapi.json');
    expect(reply.status).toBe(200);
    const doc = reply.body as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(Object.keys(doc.paths['/v1/products/{sku}'] ?? {})).toEqual(
      expect.arrayContaining(['get', 'put']),
    );
    expect(Object.keys(doc.paths['/v1/orders'] ?? {})).toContain('post');
    expect(Object.keys(doc.paths['/v1/orders/{id}'] ?? {})).toContain('get');
    for (const path of ['/openapi.json', '/healthz', '/readyz'])
      expect(doc.paths).toHaveProperty(path);
    expect(Object.keys(doc.components.schemas).sort()).toEqual(Object.keys(openApiSchemas).sort());
    expect(doc.paths['/v1/orders']).toMatchObject({
      post: {
        requestBody: {
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/CreateOrderInput' } },
          },
        },
      },
    });
    expect(doc.paths['/v1/products/{sku}']).toMatchObject({
      put: {
        requestBody: {
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/ProductInput' } },
          },
        },
      },
    });
  });

  it('rate-limits a tenant across gateway instances through Redis (429 + Retry-After)', async () => {
    const tenant = newTenant('cell-a', 5);
    await publish((s) => s.tenants.push(tenant.route));
    const second = await startGateway();
    // Both instances must know the tenant; these probes are counted too, so start a fresh window after.
    for (const app of [gw, second]) {
      await eventually(async () =>
        (await send(app.port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey })).status !== 401
          ? true
          : undefined,
      );
    }
    await sleep(1_100); // a fresh window

    const statuses: number[] = [];
    for (const app of [gw, gw, gw, second, second, second]) {
      statuses.push(
        (await send(app.port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey })).status,
      );
    }
    expect(statuses.slice(0, 5)).toEqual([404, 404, 404, 404, 404]);
    expect(statuses[5]).toBe(429);
    const limited = await send(second.port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey });
    expectProblem(limited, 429);
    expect(limited.headers.get('retry-after')).toBe('1');

    // Other tenants are not affected; the tenant gets through again after Retry-After.
    expect(
      (await send(gw.port, 'GET', '/v1/products/mug', { apiKey: tenantA.apiKey })).status,
    ).toBe(200);
    await sleep(1_050);
    expect((await send(gw.port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey })).status).toBe(
      404,
    );
    await second.stop();
  });

  it('keeps serving and limiting per instance while Redis is unreachable; stop() drains', async () => {
    const tenant = newTenant('cell-a', 5);
    await publish((s) => s.tenants.push(tenant.route));
    const port = await closedPort();
    const isolated = await startGateway({ BULKHEAD_REDIS_URL: `redis://127.0.0.1:${port}` });
    await eventually(async () =>
      (await send(isolated.port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey })).status !==
      401
        ? true
        : undefined,
    );
    await sleep(1_100); // a fresh window

    const statuses: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (await send(isolated.port, 'GET', '/v1/products/mug', { apiKey: tenant.apiKey })).status,
      );
    }
    expect(Date.now() - started).toBeLessThan(800); // no waiting on the dead Redis
    expect(statuses).toEqual([404, 404, 404, 404, 404, 429]);

    // An in-flight request completes during stop(); afterwards the port is closed.
    await sleep(1_100);
    const inFlight = send(isolated.port, 'POST', '/v1/orders', {
      apiKey: tenantA.apiKey,
      body: { ...validOrder, customerId: 'sleep-300' },
    });
    await sleep(50);
    const stopping = Date.now();
    await isolated.stop();
    expect((await inFlight).status).toBe(202);
    expect(Date.now() - stopping).toBeLessThan(1_000);
    await expect(send(isolated.port, 'GET', '/healthz')).rejects.toThrow();
  });

  describe('under overload', () => {
    const slowOrder = (ms: number) => ({ ...validOrder, customerId: `sleep-${String(ms)}` });
    const post = (port: number, tenant: Tenant, body: unknown) =>
      send(port, 'POST', '/v1/orders', { apiKey: tenant.apiKey, body });

    /** The gateway's admission state of a (cell, class), from its ops view. */
    const admission = (app: GatewayApp, key: string) =>
      (
        app.opsViews?.['/resilience']?.() as {
          admission: { limits: Record<string, { inflight: number } | undefined> };
        }
      ).admission.limits[key];

    /** 503 problem+json with Retry-After and this reason, answered within `withinMs`. */
    async function expectShed(reply: Promise<Reply>, reason: string, withinMs = 50) {
      const started = performance.now();
      const answer = await reply;
      const took = performance.now() - started;
      const problem = expectProblem(answer, 503);
      expect(problem.reason).toBe(reason);
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(took).toBeLessThan(withinMs);
    }

    it("gives each call to the cell the request's deadline (arrival + GRPC_DEADLINE_MS)", async () => {
      const sent = Date.now();
      expect(
        (await send(gw.port, 'GET', '/v1/products/absent', { apiKey: tenantB.apiKey })).status,
      ).toBe(404);
      const deadline = cellB.calls.at(-1)?.deadline;
      expect(deadline).toBeDefined();
      expect(deadline! - sent).toBeGreaterThan(800);
      expect(deadline! - sent).toBeLessThan(1_100); // GRPC_DEADLINE_MS=1000
    });

    it('sheds writes beyond the cell limit at once with 503 + Retry-After; reads keep working', async () => {
      const tight = await startGateway({ ADMISSION_MAX_LIMIT: '2', ADMISSION_SLOW_MS: '5000' });
      const held = [
        post(tight.port, tenantA, slowOrder(600)),
        post(tight.port, tenantA, slowOrder(600)),
      ];
      await eventually(async () =>
        admission(tight, 'cell-a/write')?.inflight === 2 ? true : undefined,
      );
      const before = calls(cellA);
      await expectShed(post(tight.port, tenantA, validOrder), 'cell_at_capacity');
      expect(calls(cellA)).toBe(before); // nothing reached the cell
      // Reads have their own limit: they are served while writes are shed.
      expect(
        (await send(tight.port, 'GET', '/v1/products/absent', { apiKey: tenantA.apiKey })).status,
      ).toBe(404);
      expect((await Promise.all(held)).map((r) => r.status)).toEqual([202, 202]);
      expect((await post(tight.port, tenantA, validOrder)).status).toBe(202);
      await tight.stop();
    });

    it("sheds the heaviest tenant first: a flood by one leaves room for the cell's others", async () => {
      const tight = await startGateway({ ADMISSION_MAX_LIMIT: '4', ADMISSION_SLOW_MS: '5000' });
      const light = [post(tight.port, tenantA2, slowOrder(800))];
      await eventually(async () =>
        admission(tight, 'cell-a/write')?.inflight === 1 ? true : undefined,
      );
      const flood = Array.from({ length: 6 }, () => post(tight.port, tenantA, slowOrder(800)));
      const floodStatuses = (await Promise.all(flood)).map((r) => r.status).sort();
      // Its fair share is 4 / 2 tenants = 2; beyond it, only while < 75% of the limit is used.
      expect(floodStatuses).toEqual([202, 202, 503, 503, 503, 503]);
      light.push(post(tight.port, tenantA2, slowOrder(10)));
      expect((await Promise.all(light)).map((r) => r.status)).toEqual([202, 202]);
      await tight.stop();
    });

    it('answers 503 saga_backlog_full when the cell refuses orders for backpressure, then refuses them itself for 250 ms', async () => {
      const own = await startGateway();
      await expectShed(
        post(own.port, tenantA, { ...validOrder, customerId: 'backlog-full' }),
        'saga_backlog_full',
      );
      // For the next 250 ms the gateway refuses the cell's new orders without calling it.
      const before = calls(cellA);
      const refusedAt = performance.now();
      await expectShed(post(own.port, tenantA, validOrder), 'saga_backlog_full');
      expect(calls(cellA)).toBe(before);
      // Other cells and reads are not held back.
      expect((await post(own.port, tenantB, validOrder)).status).toBe(202);
      // Once the hold has passed (the behaviour under test is time-based), the cell decides again.
      await eventually(async () => (performance.now() - refusedAt > 250 ? true : undefined));
      expect((await post(own.port, tenantA, validOrder)).status).toBe(202);
      expect(calls(cellA)).toBe(before + 1);
      await own.stop();
    });

    it("opens the breaker of a stopped cell's service: fast 503 circuit_open, other cells unaffected", async () => {
      const cellD = await startFakeCell('cell-d');
      extraCells.push(cellD);
      const tenantD = newTenant('cell-d');
      await publish((s) => {
        s.cells.push(cellD.endpoints);
        s.tenants.push(tenantD.route);
      });
      await eventually(async () =>
        (await send(gw.port, 'GET', '/v1/products/mug', { apiKey: tenantD.apiKey })).status === 404
          ? true
          : undefined,
      );
      await cellD.stop();
      const reasons: unknown[] = [];
      for (let i = 0; i < 30; i++) {
        const reply = await send(gw.port, 'GET', '/v1/products/mug', { apiKey: tenantD.apiKey });
        reasons.push((reply.body as { reason?: unknown }).reason);
      }
      expect(reasons).toContain('service_unavailable');
      expect(reasons.at(-1)).toBe('circuit_open');
      await expectShed(
        send(gw.port, 'GET', '/v1/products/mug', { apiKey: tenantD.apiKey }),
        'circuit_open',
        20,
      );
      const state = gw.opsViews?.['/resilience']?.() as {
        calls: Record<string, { breaker: string } | undefined>;
      };
      expect(state.calls['cell-d/inventory']?.breaker).toBe('open');
      expect(state.calls['cell-b/inventory']?.breaker).toBe('closed');
      // The other cells are not affected.
      expect(
        (await send(gw.port, 'GET', '/v1/products/absent', { apiKey: tenantB.apiKey })).status,
      ).toBe(404);
    });
  });

  it('exposes RED by route, admission, breakers, rate limits and the snapshot at /metrics', async () => {
    // A tenant allowed 1 request per second: its second request in a row is refused.
    const limited = newTenant('cell-a', 1);
    await publish((s) => s.tenants.push(limited.route));
    await eventually(async () =>
      (await send(gw.port, 'GET', '/v1/products/mug', { apiKey: limited.apiKey })).status !== 401
        ? true
        : undefined,
    );
    expectProblem(await send(gw.port, 'GET', '/v1/products/mug', { apiKey: limited.apiKey }), 429);
    const orderId = randomUUID();
    await send(gw.port, 'GET', `/v1/orders/${orderId}`, { apiKey: tenantA.apiKey });

    const ops = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      isReady: () => true,
      metrics: gw.metrics!,
    });
    let samples: Sample[];
    try {
      samples = await scrapeMetrics(ops.port);
    } finally {
      await ops.close();
    }
    const value = (name: string, labels: Record<string, string>) =>
      sampleValue(samples, name, labels);
    const red = 'http_server_request_duration_seconds_count';
    // Route patterns, never the raw path; `unmatched` for what no route matched.
    expect(
      value(red, { service: 'gateway', method: 'GET', route: '/v1/products/:sku', code: '200' }),
    ).toBeGreaterThan(0);
    expect(value(red, { method: 'GET', route: '/v1/products/:sku', code: '429' })).toBeGreaterThan(
      0,
    );
    expect(value(red, { method: 'POST', route: '/v1/orders', code: '202' })).toBeGreaterThan(0);
    expect(value(red, { route: '/v1/orders/:id' })).toBeGreaterThan(0);
    expect(value(red, { route: 'unmatched', code: '404' })).toBeGreaterThan(0);
    expect(samples.some((s) => Object.values(s.labels).some((v) => v.includes(orderId)))).toBe(
      false,
    );
    expect(value('rate_limit_rejections_total', { route: '/v1/products/:sku' })).toBeGreaterThan(0);
    expect(value('rate_limit_rejections_total', { route: '/v1/orders' })).toBe(0);
    // The calls to the cells, by callee cell and canonical code.
    const client = {
      grpc_service: 'bulkhead.inventory.v1.InventoryService',
      grpc_method: 'GetProduct',
    };
    expect(
      value('grpc_client_handling_seconds_count', { ...client, cell: 'cell-a', grpc_code: 'OK' }),
    ).toBeGreaterThan(0);
    expect(
      value('grpc_client_handling_seconds_count', {
        ...client,
        cell: 'cell-d',
        grpc_code: 'UNAVAILABLE',
      }),
    ).toBeGreaterThan(0);
    // Admission per cell and class: both outcomes exist, the limit and what is in flight.
    const read = { cell: 'cell-a', class: 'read' };
    expect(value('admission_requests_total', { ...read, outcome: 'admitted' })).toBeGreaterThan(0);
    expect(value('admission_requests_total', { ...read, outcome: 'shed' })).toBe(0);
    expect(value('admission_limit', read)).toBeGreaterThan(0);
    expect(value('admission_inflight', read)).toBe(0);
    // The breaker of the stopped cell-d is open; the others closed (a state set: one 1 each).
    const breaker = (cell: string, state: string) =>
      value('circuit_breaker_state', { cell, target: 'inventory', state });
    expect([
      breaker('cell-d', 'open'),
      breaker('cell-d', 'closed'),
      breaker('cell-d', 'half_open'),
    ]).toEqual([1, 0, 0]);
    expect([breaker('cell-b', 'open'), breaker('cell-b', 'closed')]).toEqual([0, 1]);
    // The snapshot in use.
    expect(value('routing_snapshot_version', {})).toBe(snapshot.version);
    expect(value('routing_snapshot_cells', { state: 'serving' })).toBe(snapshot.cells.length);
    expect(value('routing_snapshot_cells', { state: 'incomplete' })).toBe(0);
    expect(value('routing_snapshot_age_seconds', {})).toBeGreaterThanOrEqual(0);
    expect(value('nodejs_heap_size_used_bytes', { service: 'gateway' })).toBeGreaterThan(0);
    // No tenant, key or id as a label.
    expect(cardinalityProblems(samples, { allowedLabels: CATALOG_LABELS })).toEqual([]);
  });
});
