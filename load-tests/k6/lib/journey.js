// What one virtual user does in one iteration, over REST through the gateway: an order journey
// (POST with an Idempotency-Key, then polling the order at a polite interval until it is
// CONFIRMED or REJECTED, bounded) or a product read. Every request is tagged with its endpoint
// (`name`), so thresholds and the report can judge each endpoint apart; the custom metrics below
// are what the summary and the plot are made of.
import http from 'k6/http';
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import { GATEWAY, SCARCE_SKU, SKUS, headers } from './platform.js';

export const ENDPOINT = {
  postOrder: 'POST /v1/orders',
  getOrder: 'GET /v1/orders/:id',
  getProduct: 'GET /v1/products/:sku',
};

// Each order offered is exactly one of accepted (202), shed (429 or 503: the platform declined
// the work, with Retry-After) or failed (anything else, including no answer). Each accepted order
// ends as confirmed, rejected (tag `reason`) or unfinished (not terminal within the poll bound).
export const offered = new Counter('orders_offered');
export const accepted = new Counter('orders_accepted');
export const shed = new Counter('orders_shed');
export const failed = new Counter('orders_failed');
const confirmed = new Counter('orders_confirmed');
const rejected = new Counter('orders_rejected');
const unfinished = new Counter('orders_unfinished');
// From the order's createdAt to its updatedAt once terminal: the orders service's own clock, so
// the poll interval does not blur it.
const acceptedToTerminal = new Trend('accepted_to_terminal', true);
// The same for the orders that ended CONFIRMED only (make bench's accepted → confirmed).
const acceptedToConfirmed = new Trend('accepted_to_confirmed', true);

export const isShed = (status) => status === 429 || status === 503;

/** The order journey's knobs, from the environment (seconds; shares of the orders, 0..1). */
export const journeyOptions = (defaults = {}) => ({
  pollInterval: Number(__ENV.POLL_INTERVAL || defaults.pollInterval || 0.5),
  pollTimeout: Number(__ENV.POLL_TIMEOUT || defaults.pollTimeout || 30),
  declineShare: Number(__ENV.DECLINE_SHARE ?? defaults.declineShare ?? 0.1),
  scarceShare: Number(__ENV.SCARCE_SHARE ?? defaults.scarceShare ?? 0.05),
});

const pick = (tenants) => tenants[exec.scenario.iterationInTest % tenants.length];

/** The order of this iteration: mostly approvable, a share declined, a share out of stock. */
function nextOrder(options) {
  const draw = Math.random();
  const kind =
    draw < options.declineShare
      ? 'decline'
      : draw < options.declineShare + options.scarceShare
        ? 'scarce'
        : 'visa';
  const n = exec.scenario.iterationInTest;
  return {
    kind,
    body: {
      customerId: `c-${n % 1000}`,
      items: [{ sku: kind === 'scarce' ? SCARCE_SKU : `LOAD-${n % SKUS}`, quantity: 1 }],
      paymentToken: kind === 'decline' ? 'tok_decline' : 'tok_visa',
    },
  };
}

/** What each kind of order may end as. */
export function expectedOutcome(kind, order) {
  if (kind === 'decline') return order.status === 'REJECTED' && order.reason === 'payment_declined';
  if (kind === 'scarce') {
    return (
      order.status === 'CONFIRMED' ||
      (order.status === 'REJECTED' && order.reason === 'out_of_stock')
    );
  }
  return order.status === 'CONFIRMED';
}

/** Records a terminal (or unfinished) order; returns whether it was terminal. */
export function recordEnd(order, kind) {
  if (!order) {
    unfinished.add(1);
    check(null, { 'order terminal within the poll bound': () => false });
    return false;
  }
  const tookMs = Date.parse(order.updatedAt) - Date.parse(order.createdAt);
  if (order.status === 'CONFIRMED') {
    confirmed.add(1);
    acceptedToConfirmed.add(tookMs);
  } else rejected.add(1, { reason: String(order.reason) });
  acceptedToTerminal.add(tookMs);
  check(order, {
    'order terminal within the poll bound': () => true,
    'order ends as its kind should': (o) => expectedOutcome(kind, o),
  });
  return true;
}

/** Polls `get()` (returns the order or undefined) every interval until terminal or the bound. */
export function pollUntilTerminal(get, options) {
  const deadline = Date.now() + options.pollTimeout * 1000;
  while (Date.now() < deadline) {
    sleep(options.pollInterval);
    const order = get();
    if (order && order.status !== 'PENDING') return order;
  }
  return undefined;
}

/**
 * One order journey. `tenants` from setup(). Returns how it went: `shed` (429/503, with the
 * Retry-After seconds in `retryAfter`), `failed`, or `ended` (accepted, then polled to its end).
 */
export function orderJourney(tenants, options) {
  const tenant = pick(tenants);
  const { kind, body } = nextOrder(options);
  const key = `${exec.scenario.name}-${exec.scenario.iterationInTest}`;
  offered.add(1);
  const post = http.post(`${GATEWAY}/v1/orders`, JSON.stringify(body), {
    headers: headers(tenant.apiKey, { 'idempotency-key': key }),
    tags: { name: ENDPOINT.postOrder },
  });
  if (isShed(post.status)) {
    shed.add(1, { status: String(post.status) });
    return { outcome: 'shed', retryAfter: Number(post.headers['Retry-After']) || 1 };
  }
  const ok = check(post, {
    'POST /v1/orders is 202 with a Location': (r) => r.status === 202 && !!r.headers.Location,
  });
  if (!ok) {
    failed.add(1, { status: String(post.status) });
    return { outcome: 'failed' };
  }
  accepted.add(1);
  const location = `${GATEWAY}${post.headers.Location}`;
  const order = pollUntilTerminal(() => {
    const r = http.get(location, {
      headers: headers(tenant.apiKey),
      tags: { name: ENDPOINT.getOrder },
    });
    return r.status === 200 ? r.json() : undefined;
  }, options);
  recordEnd(order, kind);
  return { outcome: 'ended' };
}

/** One product read (a shopper browsing). */
export function productRead(tenants) {
  const tenant = tenants[Math.floor(Math.random() * tenants.length)];
  const r = http.get(`${GATEWAY}/v1/products/LOAD-${Math.floor(Math.random() * SKUS)}`, {
    headers: headers(tenant.apiKey),
    tags: { name: ENDPOINT.getProduct },
  });
  check(r, { 'GET /v1/products/:sku is 200': (res) => res.status === 200 });
}
