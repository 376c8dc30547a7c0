/**
 * Crash faults against the running platform, in rounds (platform.ts): locally, services of both
 * cells are killed (SIGKILL) together; on kind, one pod of every Deployment and StatefulSet is
 * deleted, one workload per round. Each round hits in the middle of a burst of orders. Nothing may
 * be lost or applied twice; the invariants are checked from the outside, through the public API.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  CONTROL_PLANE,
  GATEWAY,
  platform,
  untilKeyWorksEverywhere,
} from './platform.js';

async function json<T>(
  url: string,
  init: RequestInit & { token: string; idempotencyKey?: string },
): Promise<T> {
  const response = await fetch(url, {
    ...init,
    headers: {
      authorization: `Bearer ${init.token}`,
      'content-type': 'application/json',
      ...(init.idempotencyKey ? { 'idempotency-key': init.idempotencyKey } : {}),
    },
  });
  const body = (await response.json()) as T;
  if (!response.ok) throw new Error(`${url}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Order {
  id: string;
  status: string;
  reason?: string;
}

// Top-level await: the rounds name the test.
const rounds = await platform.crashRounds();

describe('crash faults', () => {
  // Per round and tenant, two bursts of PER_BURST one-unit orders; the stock covers two thirds.
  const PER_BURST = platform.name === 'kind' ? 5 : 15;
  const ordered = rounds.length * 2 * PER_BURST;
  const stock = Math.floor((ordered * 2) / 3);
  const names = rounds.map((r) => r.map((d) => d.name).join(' + ')).join('; ');

  it(
    `orders placed while crashing (${names}) all end, and stock adds up`,
    async () => {
      // One tenant per cell, each with one product of `stock` units.
      const tenants = new Map<string, { apiKey: string }>();
      while (tenants.size < 2) {
        const t = await json<{ cell: string; apiKey: string }>(`${CONTROL_PLANE}/v1/tenants`, {
          method: 'POST',
          token: ADMIN_TOKEN,
          body: JSON.stringify({ name: 'faults' }),
        });
        tenants.set(t.cell, t);
      }
      const sku = `FAULT-${randomUUID().slice(0, 8)}`;
      const keys = [tenants.get('cell-1')!.apiKey, tenants.get('cell-2')!.apiKey];
      for (const key of keys) {
        await untilKeyWorksEverywhere(GATEWAY, key, 15_000);
        await until(
          'the key to work',
          () =>
            json(`${GATEWAY}/v1/products/${sku}`, {
              method: 'PUT',
              token: key,
              body: JSON.stringify({ name: 'Fault', priceCents: 100, stock }),
            }),
          5_000,
        );
      }

      // Retried like a careful client: with an Idempotency-Key, so a retry after a lost answer
      // cannot place the order twice (a crashed service may still be coming back).
      const place = async (key: string) => {
        const idempotencyKey = randomUUID();
        const order = await until(
          'the order to be accepted',
          () =>
            json<Order>(`${GATEWAY}/v1/orders`, {
              method: 'POST',
              token: key,
              idempotencyKey,
              body: JSON.stringify({
                customerId: 'c',
                items: [{ sku, quantity: 1 }],
                paymentToken: 'tok_visa',
              }),
            }),
          30_000,
        );
        return { key, id: order.id };
      };
      const burst = (perTenant: number) =>
        Promise.all(keys.flatMap((key) => Array.from({ length: perTenant }, () => place(key))));

      // Each round's crashes hit right after a burst was accepted, while its sagas are in flight;
      // the next burst comes while the platform is still recovering.
      const placed: { key: string; id: string }[] = [];
      for (const round of rounds) {
        placed.push(...(await burst(PER_BURST)));
        await Promise.all(round.map((d) => d.run()));
        const back = platform.recover();
        placed.push(...(await burst(PER_BURST)));
        await back;
      }

      // Every order ends (nothing is lost), and for each tenant exactly the stock was sold.
      const final = await Promise.all(
        placed.map(({ key, id }) =>
          until(
            `order ${id} to end`,
            async () => {
              const o = await json<Order>(`${GATEWAY}/v1/orders/${id}`, { token: key });
              return o.status === 'PENDING' ? undefined : { key, ...o };
            },
            60_000,
          ),
        ),
      );
      for (const key of keys) {
        const mine = final.filter((o) => o.key === key);
        expect(mine).toHaveLength(ordered);
        expect(mine.filter((o) => o.status === 'CONFIRMED')).toHaveLength(stock);
        expect(
          mine.filter((o) => o.status === 'REJECTED').every((o) => o.reason === 'out_of_stock'),
        ).toBe(true);
        const product = await json<{ available: number; reserved: number }>(
          `${GATEWAY}/v1/products/${sku}`,
          {
            token: key,
          },
        );
        expect(product).toMatchObject({ available: 0, reserved: 0 });
      }
    },
    180_000 * rounds.length,
  );
});
