// A rough end-to-end throughput figure, in Node: what `make kind-test` runs on kind for a minute
// (the k6 suite next to it, load-tests/k6, is for the local stack). Creates one tenant per cell, places N orders with C in flight, and waits until
// every saga has ended. Bounded in count and time; targets the local stack only.
//   node load-tests/rough-throughput.mjs [orders=2000] [concurrency=32] [skus=1]
// skus > 1 spreads the orders over that many products per tenant (1 = one hot row per cell).
// BULKHEAD_LOAD_SECONDS=60 stops placing orders after that long; BULKHEAD_LOAD_RATE=25 paces them
// at that many orders/s in all (make kind-test: one minute at a rate the platform sustains).
import http from 'node:http';
import { retryAfterDelay } from '@bulkhead/backoff';

const GATEWAY = process.env.BULKHEAD_GATEWAY_URL ?? 'http://127.0.0.1:8080';
const CONTROL_PLANE = process.env.BULKHEAD_CONTROL_PLANE_URL ?? 'http://127.0.0.1:8081';
const ADMIN = process.env.CONTROL_PLANE_ADMIN_TOKEN ?? 'dev-admin-token';
const total = Math.min(Number(process.argv[2] ?? 2000), 20_000);
const concurrency = Math.min(Number(process.argv[3] ?? 32), 256);
const skus = Math.min(Math.max(Number(process.argv[4] ?? 1), 1), 100);
const deadline = Date.now() + 5 * 60_000;

/**
 * A client of a platform that sheds load: a refused request (429, 503, with Retry-After) is tried
 * again, no sooner than Retry-After and with jittered backoff on top, so that the clients refused
 * together spread out instead of coming back together; for at most RETRY_BUDGET_MS per request.
 */
const RETRYABLE = new Set([429, 503]);
const RETRY_BACKOFF = { initialMs: 250, maxMs: 4_000 };
const RETRY_BUDGET_MS = 30_000;
let retried = 0;

async function json(url, init = {}) {
  const giveUpAt = Date.now() + RETRY_BUDGET_MS;
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(url, init);
    const body = await response.json();
    if (response.ok) return body;
    const wait = retryAfterDelay(attempt, response.headers.get('retry-after'), RETRY_BACKOFF);
    if (!RETRYABLE.has(response.status) || Date.now() + wait > giveUpAt)
      throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${JSON.stringify(body)}`);
    retried += 1;
    await new Promise((r) => setTimeout(r, wait));
  }
}
const headers = (token) => ({
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
});

const tenants = new Map();
while (tenants.size < 2 && Date.now() < deadline) {
  const t = await json(`${CONTROL_PLANE}/v1/tenants`, {
    method: 'POST',
    headers: headers(ADMIN),
    body: JSON.stringify({ name: 'bench' }),
  });
  tenants.set(t.cell, t);
}
// Wait until each new key works at the gateway (control plane → config agent → gateway): ten
// answers in a row, so that every gateway instance behind the address has it. Each on a new
// connection: a Service or NodePort picks the replica per connection, and fetch would reuse one
// (then ten answers of one replica passed while the other did not have the key yet).
const statusOnNewConnection = (url, apiKey) =>
  new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: headers(apiKey) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
for (const t of tenants.values()) {
  for (let inARow = 0; inARow < 10;) {
    const status = await statusOnNewConnection(`${GATEWAY}/v1/products/none`, t.apiKey).catch(
      () => 401,
    );
    inARow = status === 401 ? 0 : inARow + 1;
    if (Date.now() > deadline) throw new Error('the new API keys never reached the gateway');
    if (inARow === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
for (const t of tenants.values()) {
  for (let s = 0; s < skus; s++) {
    await json(`${GATEWAY}/v1/products/BENCH-${s}`, {
      method: 'PUT',
      headers: headers(t.apiKey),
      body: JSON.stringify({ name: 'Bench', priceCents: 100, stock: 1_000_000 }),
    });
  }
}
const keys = [...tenants.values()].map((t) => t.apiKey);

const ids = [];
let next = 0;
const started = Date.now();
const seconds = Number(process.env.BULKHEAD_LOAD_SECONDS ?? 0);
const intakeUntil = seconds > 0 ? Math.min(deadline, started + seconds * 1000) : deadline;
const rate = Number(process.env.BULKHEAD_LOAD_RATE ?? 0);
async function worker() {
  while (next < total && Date.now() < intakeUntil) {
    const i = next++;
    const due = rate > 0 ? started + (i / rate) * 1000 : 0;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    const key = keys[i % keys.length];
    const order = await json(`${GATEWAY}/v1/orders`, {
      method: 'POST',
      // A retried POST must not create a second order: one Idempotency-Key per order.
      headers: { ...headers(key), 'idempotency-key': `rough-${started}-${i}` },
      body: JSON.stringify({
        customerId: `c-${i}`,
        items: [{ sku: `BENCH-${i % skus}`, quantity: 1 }],
        paymentToken: 'tok_visa',
      }),
    });
    ids.push([key, order.id]);
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const accepted = Date.now();

// Wait for every saga to end. Sagas finish roughly in order, so check the oldest pending orders
// first and stop a round at the first one still PENDING (light polling: it competes for CPU).
let pending = ids;
const statuses = {};
while (pending.length > 0 && Date.now() < deadline) {
  const [key, id] = pending[0];
  const order = await json(`${GATEWAY}/v1/orders/${id}`, { headers: headers(key) });
  if (order.status === 'PENDING') {
    await new Promise((r) => setTimeout(r, 250));
    continue;
  }
  statuses[order.status] = (statuses[order.status] ?? 0) + 1;
  pending = pending.slice(1);
}
const done = Date.now();
const s = (ms) => (ms / 1000).toFixed(1);
// Paced for a time, the orders the platform accepted must be the orders offered (retries
// included): a platform that only kept up by refusing has not sustained the rate.
const offered = rate > 0 && seconds > 0 ? Math.min(total, Math.floor(rate * seconds)) : 0;
const sustained = ids.length >= 0.95 * offered;
console.log(
  JSON.stringify({
    orders: ids.length,
    concurrency,
    skus,
    cells: tenants.size,
    statuses,
    stillPending: pending.length,
    retriedAfter429or503: retried,
    ...(offered > 0 && { offered, sustained }),
    // Orders per second from the first order placed until the last saga ended.
    endToEndPerSecond: Math.round((ids.length / ((done - started) / 1000)) * 10) / 10,
  }),
);
console.log(
  `accepted ${ids.length} orders in ${s(accepted - started)} s = ${Math.round(ids.length / ((accepted - started) / 1000))} orders/s (POST 202)`,
);
console.log(
  `all sagas ended after ${s(done - started)} s = ${Math.round(ids.length / ((done - started) / 1000))} orders/s end to end`,
);
if (!sustained) {
  console.error(`accepted ${ids.length} of ${offered} orders offered at ${rate}/s: under 95%`);
  process.exitCode = 1;
}
