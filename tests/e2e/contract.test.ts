/**
 * The public contract (README), end to end, against the running stack: control plane admin API,
 * gateway, both cells, the order saga over real Kafka and PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { retryAfterDelay } from '@bulkhead/backoff';
import {
  ADMIN_TOKEN,
  CONTROL_PLANE,
  GATEWAY,
  platform,
  until,
  untilKeyWorksEverywhere,
} from './platform.js';

interface Tenant {
  id: string;
  name: string;
  cell: string;
  apiKey: string;
}

interface Order {
  id: string;
  status: 'PENDING' | 'CONFIRMED' | 'REJECTED';
  items: { sku: string; quantity: number; unitPriceCents: number }[];
  totalCents: number;
  reason?: string;
  createdAt: string;
  updatedAt: string;
}

async function request(
  base: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return {
    status: response.status,
    headers: response.headers,
    json: json as Record<string, unknown> & unknown[],
    text,
  };
}

const admin = (method: string, path: string, body?: unknown) =>
  request(CONTROL_PLANE, method, path, ADMIN_TOKEN, body);
const api = (
  tenant: Tenant,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) => request(GATEWAY, method, path, tenant.apiKey, body, headers);

async function createTenant(
  keyWithinMs = 15_000,
): Promise<{ tenant: Tenant; usableAfterMs: number }> {
  const created = await admin('POST', '/v1/tenants', { name: `e2e-${randomUUID().slice(0, 8)}` });
  expect(created.status).toBe(201);
  const tenant = created.json as unknown as Tenant;
  // The key reaches every gateway replica through control plane → config-agent → snapshot file.
  const usableAfterMs = await untilKeyWorksEverywhere(GATEWAY, tenant.apiKey, keyWithinMs);
  return { tenant, usableAfterMs };
}

async function finalOrder(tenant: Tenant, id: string): Promise<Order> {
  return until(`order ${id} to end`, async () => {
    const r = await api(tenant, 'GET', `/v1/orders/${id}`);
    expect(r.status).toBe(200);
    const order = r.json as unknown as Order;
    return order.status === 'PENDING' ? undefined : order;
  });
}

async function placeOrder(
  tenant: Tenant,
  items: { sku: string; quantity: number }[],
  paymentToken = 'tok_visa',
) {
  // As a client of a platform that sheds load should: one Idempotency-Key, and a shed attempt
  // (429, 503 with Retry-After: admission control, the saga backlog) tried again no sooner than
  // Retry-After, with jittered backoff on top, for up to 20 s.
  const key = randomUUID();
  const giveUpAt = Date.now() + 20_000;
  for (let attempt = 1; ; attempt++) {
    const r = await api(
      tenant,
      'POST',
      '/v1/orders',
      { customerId: 'c-1', items, paymentToken },
      { 'idempotency-key': key },
    );
    const wait = retryAfterDelay(attempt, r.headers.get('retry-after'), {
      initialMs: 250,
      maxMs: 4_000,
    });
    if ((r.status !== 429 && r.status !== 503) || Date.now() + wait > giveUpAt) {
      expect(r.status, r.text).toBe(202);
      return r;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

async function product(tenant: Tenant, sku: string) {
  const r = await api(tenant, 'GET', `/v1/products/${sku}`);
  expect(r.status).toBe(200);
  return r.json as unknown as {
    sku: string;
    name: string;
    priceCents: number;
    available: number;
    reserved: number;
  };
}

const tenantsByCell = new Map<string, Tenant>();
const keyLatenciesMs: number[] = [];

beforeAll(async () => {
  // Placement balances tenants over cells: create until both cells hold one of ours.
  const cells = (await admin('GET', '/v1/cells')).json as unknown as { id: string }[];
  expect(cells.length).toBeGreaterThanOrEqual(2);
  for (let i = 0; i < 6 && tenantsByCell.size < 2; i++) {
    const { tenant, usableAfterMs } = await createTenant();
    keyLatenciesMs.push(usableAfterMs);
    if (!tenantsByCell.has(tenant.cell)) tenantsByCell.set(tenant.cell, tenant);
  }
  expect(tenantsByCell.size).toBe(2);
});

describe('control plane admin API', () => {
  it('creates tenants with a one-time API key, places them in cells, lists cells', async () => {
    const created = await admin('POST', '/v1/tenants', { name: 'acme' });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      id: expect.any(String),
      name: 'acme',
      cell: expect.stringMatching(/^cell-\d+$/),
      apiKey: expect.any(String),
    });
    const fetched = await admin('GET', `/v1/tenants/${created.json.id as string}`);
    expect(fetched.status).toBe(200);
    expect(fetched.json).toEqual({ id: created.json.id, name: 'acme', cell: created.json.cell });
    const cells = await admin('GET', '/v1/cells');
    expect(cells.status).toBe(200);
    for (const cell of cells.json as unknown as { id: string; tenants: number }[]) {
      expect(cell.tenants).toBeGreaterThan(0);
    }
  });

  it('rejects a missing admin token and bad bodies with problem+json', async () => {
    const noAuth = await request(CONTROL_PLANE, 'POST', '/v1/tenants', undefined, { name: 'x' });
    expect(noAuth.status).toBe(401);
    expect(noAuth.headers.get('content-type')).toContain('application/problem+json');
    const bad = await admin('POST', '/v1/tenants', '{"name":');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({
      type: expect.any(String),
      title: expect.any(String),
      status: 400,
    });
  });

  it('a new tenant key works at every gateway replica within 1 s', () => {
    expect(Math.max(...keyLatenciesMs)).toBeLessThan(1_000);
  });
});

describe.each(['cell-1', 'cell-2'])('order saga in %s', (cellId) => {
  const tenant = () => tenantsByCell.get(cellId)!;
  const sku = `SKU-${randomUUID().slice(0, 8)}`;

  it('puts a product with stock 5', async () => {
    const r = await api(tenant(), 'PUT', `/v1/products/${sku}`, {
      name: 'Widget',
      priceCents: 1250,
      stock: 5,
    });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ sku, name: 'Widget', priceCents: 1250, available: 5, reserved: 0 });
  });

  it('order 2 → CONFIRMED and available 3', async () => {
    const accepted = await placeOrder(tenant(), [{ sku, quantity: 2 }]);
    expect(accepted.json).toMatchObject({ id: expect.any(String), status: 'PENDING' });
    expect(accepted.headers.get('location')).toBe(`/v1/orders/${accepted.json.id as string}`);
    const order = await finalOrder(tenant(), accepted.json.id as string);
    expect(order).toMatchObject({
      status: 'CONFIRMED',
      totalCents: 2500,
      items: [{ sku, quantity: 2, unitPriceCents: 1250 }],
    });
    expect(order.reason).toBeUndefined();
    expect(await product(tenant(), sku)).toMatchObject({ available: 3, reserved: 0 });
  });

  it('order 10 → REJECTED out_of_stock, stock unchanged', async () => {
    const accepted = await placeOrder(tenant(), [{ sku, quantity: 10 }]);
    const order = await finalOrder(tenant(), accepted.json.id as string);
    expect(order).toMatchObject({ status: 'REJECTED', reason: 'out_of_stock' });
    expect(await product(tenant(), sku)).toMatchObject({ available: 3, reserved: 0 });
  });

  it('tok_decline → REJECTED payment_declined, reservation released', async () => {
    const accepted = await placeOrder(tenant(), [{ sku, quantity: 1 }], 'tok_decline');
    const order = await finalOrder(tenant(), accepted.json.id as string);
    expect(order).toMatchObject({ status: 'REJECTED', reason: 'payment_declined' });
    // The outcome is decided with the decline; the release follows it.
    await until('the reservation to be released', async () => {
      const p = await product(tenant(), sku);
      return p.reserved === 0 ? p : undefined;
    });
    expect(await product(tenant(), sku)).toMatchObject({ available: 3, reserved: 0 });
  });

  it('unknown sku → REJECTED unknown_sku', async () => {
    const accepted = await placeOrder(tenant(), [
      { sku: `NOPE-${randomUUID().slice(0, 8)}`, quantity: 1 },
    ]);
    expect(await finalOrder(tenant(), accepted.json.id as string)).toMatchObject({
      status: 'REJECTED',
      reason: 'unknown_sku',
    });
  });

  it('concurrent orders never oversell', async () => {
    const hot = `HOT-${randomUUID().slice(0, 8)}`;
    await api(tenant(), 'PUT', `/v1/products/${hot}`, { name: 'Hot', priceCents: 100, stock: 5 });
    const accepted = await Promise.all(
      Array.from({ length: 12 }, () => placeOrder(tenant(), [{ sku: hot, quantity: 1 }])),
    );
    const orders = await Promise.all(
      accepted.map((a) => finalOrder(tenant(), a.json.id as string)),
    );
    expect(orders.filter((o) => o.status === 'CONFIRMED')).toHaveLength(5);
    expect(
      orders.filter((o) => o.status === 'REJECTED').every((o) => o.reason === 'out_of_stock'),
    ).toBe(true);
    expect(await product(tenant(), hot)).toMatchObject({ available: 0, reserved: 0 });
  });
});

describe('gateway contract', () => {
  const tenants = () => [...tenantsByCell.values()] as [Tenant, Tenant];

  it('Idempotency-Key: replay, 422 on a different body, one order only', async () => {
    const [t] = tenants();
    const sku = `IDEM-${randomUUID().slice(0, 8)}`;
    await api(t, 'PUT', `/v1/products/${sku}`, { name: 'Idem', priceCents: 10, stock: 100 });
    const key = randomUUID();
    const body = { customerId: 'c-1', items: [{ sku, quantity: 1 }], paymentToken: 'tok_visa' };
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        api(t, 'POST', '/v1/orders', body, { 'idempotency-key': key }),
      ),
    );
    const accepted = results.filter((r) => r.status === 202);
    expect(accepted.length).toBeGreaterThan(0);
    expect(results.every((r) => r.status === 202 || r.status === 409)).toBe(true);
    expect(new Set(accepted.map((r) => r.json.id)).size).toBe(1);
    const replay = await api(t, 'POST', '/v1/orders', body, { 'idempotency-key': key });
    expect(replay.status).toBe(202);
    expect(replay.json).toEqual(accepted[0]!.json);
    const other = await api(
      t,
      'POST',
      '/v1/orders',
      { ...body, customerId: 'c-2' },
      { 'idempotency-key': key },
    );
    expect(other.status).toBe(422);
    await finalOrder(t, accepted[0]!.json.id as string);
    expect(await product(t, sku)).toMatchObject({ available: 99 });
  });

  it('tenants are isolated: another tenant’s order and product are 404', async () => {
    const [t1, t2] = tenants();
    const sku = `ISO-${randomUUID().slice(0, 8)}`;
    await api(t1, 'PUT', `/v1/products/${sku}`, { name: 'Mine', priceCents: 1, stock: 1 });
    const accepted = await placeOrder(t1, [{ sku, quantity: 1 }]);
    expect((await api(t2, 'GET', `/v1/orders/${accepted.json.id as string}`)).status).toBe(404);
    expect((await api(t2, 'GET', `/v1/products/${sku}`)).status).toBe(404);
  });

  it('errors are problem+json: 401, 400 (nothing written), 404 unknown route, no stack traces', async () => {
    const [t] = tenants();
    const noKey = await request(GATEWAY, 'GET', '/v1/products/x');
    expect(noKey.status).toBe(401);
    const badKey = await request(GATEWAY, 'GET', '/v1/products/x', 'bk_not-a-key');
    expect(badKey.status).toBe(401);
    const sku = `BAD-${randomUUID().slice(0, 8)}`;
    const malformed = await api(t, 'PUT', `/v1/products/${sku}`, '{"name": "x", ');
    expect(malformed.status).toBe(400);
    const invalid = await api(t, 'PUT', `/v1/products/${sku}`, {
      name: 'x',
      priceCents: -1,
      stock: 1,
    });
    expect(invalid.status).toBe(400);
    expect((await api(t, 'GET', `/v1/products/${sku}`)).status).toBe(404);
    const badOrder = await api(t, 'POST', '/v1/orders', {
      customerId: 'c',
      items: [],
      paymentToken: 'tok_visa',
    });
    expect(badOrder.status).toBe(400);
    const unknown = await api(t, 'GET', '/v1/nothing-here');
    expect(unknown.status).toBe(404);
    for (const r of [noKey, badKey, malformed, invalid, badOrder, unknown]) {
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.json).toMatchObject({
        type: expect.any(String),
        title: expect.any(String),
        status: r.status,
      });
      expect(r.text).not.toMatch(/\bat .+\.(js|ts):\d+/);
    }
  });

  it('serves health, readiness and its OpenAPI document', async () => {
    for (const base of [GATEWAY, CONTROL_PLANE]) {
      expect((await request(base, 'GET', '/healthz')).status).toBe(200);
      expect((await request(base, 'GET', '/readyz')).status).toBe(200);
    }
    const doc = await request(GATEWAY, 'GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.json).toMatchObject({ openapi: expect.stringMatching(/^3\.1\./) });
    expect(Object.keys(doc.json.paths as object)).toEqual(
      expect.arrayContaining(['/v1/products/{sku}', '/v1/orders', '/v1/orders/{id}']),
    );
  });
});

describe('static stability', () => {
  it('with the control plane stopped, existing tenants still place and read orders', async () => {
    const [t] = [...tenantsByCell.values()] as [Tenant];
    await platform.stopControlPlane();
    await until('the control plane to stop', async () => {
      try {
        await fetch(`${CONTROL_PLANE}/healthz`);
        return undefined;
      } catch {
        return true;
      }
    });
    try {
      const sku = `STATIC-${randomUUID().slice(0, 8)}`;
      expect(
        (await api(t, 'PUT', `/v1/products/${sku}`, { name: 'S', priceCents: 5, stock: 2 })).status,
      ).toBe(200);
      const accepted = await placeOrder(t, [{ sku, quantity: 1 }]);
      expect(await finalOrder(t, accepted.json.id as string)).toMatchObject({
        status: 'CONFIRMED',
      });
      expect((await request(GATEWAY, 'GET', '/readyz')).status).toBe(200);
    } finally {
      await platform.startControlPlane();
    }
    // Back and ready (on kind the NodePort routes to the new pods a moment after they are ready).
    await until(
      'the control plane to be ready again',
      () =>
        request(CONTROL_PLANE, 'GET', '/readyz').then(
          (r) => (r.status === 200 ? true : undefined),
          () => undefined,
        ),
      30_000,
    );
    // And whole again: the config agents watch the new control plane, so a new tenant's key
    // reaches every gateway replica (on kind the agents' watches take a few reconnects to find
    // the new pods; the next test files create tenants with a 15 s budget).
    await createTenant(60_000);
  }, 300_000);
});
