/**
 * Bulkheads between cells, against the running platform: with one cell's orders service gone
 * entirely, the other cell's tenants see no errors and no added latency, the stopped cell's
 * tenants get fast 503s with Retry-After (not timeouts) while the rest of their cell (products)
 * keeps working, and the cell comes back by itself once the service does.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  CONTROL_PLANE,
  GATEWAY,
  platform,
  untilKeyWorksEverywhere,
} from './platform.js';

interface Answer {
  status: number;
  ms: number;
  retryAfter: string | null;
  body: { reason?: string };
}

async function call(method: string, path: string, key: string, body?: unknown): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${GATEWAY}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    ms: performance.now() - started,
    retryAfter: response.headers.get('retry-after'),
    body: text ? (JSON.parse(text) as Answer['body']) : {},
  };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

describe('bulkhead between cells', () => {
  let stopped = false;
  afterAll(async () => {
    if (stopped) await platform.startCellService('orders', 'cell-1');
  });

  it("with cell-1's orders stopped, cell-2 is unaffected and cell-1 gets fast 503s", async () => {
    const keys = new Map<string, string>();
    while (keys.size < 2) {
      const response = await fetch(`${CONTROL_PLANE}/v1/tenants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bulkhead' }),
      });
      const tenant = (await response.json()) as { cell: string; apiKey: string };
      keys.set(tenant.cell, tenant.apiKey);
    }
    const one = keys.get('cell-1')!;
    const two = keys.get('cell-2')!;
    const sku = `BH-${randomUUID().slice(0, 8)}`;
    for (const key of [one, two]) {
      await untilKeyWorksEverywhere(GATEWAY, key, 15_000);
      const put = await call('PUT', `/v1/products/${sku}`, key, {
        name: 'Bulkhead',
        priceCents: 100,
        stock: 1_000,
      });
      expect(put.status).toBe(200);
    }
    const order = { customerId: 'c', items: [{ sku, quantity: 1 }], paymentToken: 'tok_visa' };

    const before: number[] = [];
    for (let i = 0; i < 20; i++) {
      const answer = await call('POST', '/v1/orders', two, order);
      expect(answer.status).toBe(202);
      before.push(answer.ms);
    }

    await platform.stopCellService('orders', 'cell-1');
    stopped = true;
    const during: number[] = [];
    const refused: Answer[] = [];
    for (let i = 0; i < 20; i++) {
      const answer = await call('POST', '/v1/orders', two, order);
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
      during.push(answer.ms);
      refused.push(await call('POST', '/v1/orders', one, order));
    }
    // Until the breaker opens (≥ 50% failures over its 5 s window, which may still hold
    // successes from before the stop), cell-1's answers are 503 service_unavailable; then
    // circuit_open. Both fast, with Retry-After.
    for (let i = 0; i < 200 && refused.at(-1)?.body.reason !== 'circuit_open'; i++) {
      refused.push(await call('POST', '/v1/orders', one, order));
    }
    expect(refused.at(-1)?.body.reason).toBe('circuit_open');
    // Every answer's status, reason and time, to tell in a failure which answers were slow.
    const seen = JSON.stringify(refused.map((a) => [a.status, a.body.reason, Math.round(a.ms)]));
    // Right after the stop a call may wait on a connection attempt nobody answers (seen on kind:
    // the gateway's attempt was routed to the pod just gone) until the gRPC connect guard gives
    // the attempt up after 1 s (503) or the call's deadline passes (504), nothing written. A few
    // at most, and only before the first fast answer: from then on every answer is a fast 503.
    const transition = refused.slice(
      0,
      Math.max(
        0,
        refused.findIndex((a) => a.ms < 500),
      ),
    );
    expect(transition.length, seen).toBeLessThanOrEqual(3);
    for (const answer of transition) {
      expect([503, 504], seen).toContain(answer.status);
      if (answer.status === 503) expect(answer.body.reason, seen).toBe('service_unavailable');
    }
    for (const answer of refused.slice(transition.length)) {
      expect(answer.status, seen).toBe(503);
      expect(['service_unavailable', 'circuit_open'], seen).toContain(answer.body.reason);
      expect(Number(answer.retryAfter), seen).toBeGreaterThanOrEqual(1);
      expect(answer.ms, seen).toBeLessThan(500);
    }
    // The rest of cell-1 works: its products are another service behind another breaker.
    expect((await call('GET', `/v1/products/${sku}`, one)).status).toBe(200);
    // cell-2: no errors (above) and no added latency, within the noise of a shared box.
    expect(median(during)).toBeLessThan(median(before) * 2 + 20);

    await platform.startCellService('orders', 'cell-1');
    stopped = false;
    // The breaker lets a trial through after at most 2 s, and closes when it succeeds.
    const deadline = Date.now() + 60_000;
    let status = 0;
    while (status !== 202 && Date.now() < deadline) {
      status = (await call('POST', '/v1/orders', one, order)).status;
      if (status !== 202) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(status).toBe(202);
  }, 120_000);
});
