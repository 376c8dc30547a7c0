/**
 * One trace per order, against the running stack and its Jaeger (docs/observability.md, "Trace
 * model"): the client's traceparent on POST /v1/orders, and from there the gateway, every saga
 * step in orders, inventory and payments and every Kafka hop are one causal tree — every send
 * span to a consumed topic has exactly one process span as its child, every span's parent is in
 * the trace, and the span that ends the saga says how it ended.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  CONTROL_PLANE,
  GATEWAY,
  JAEGER,
  until,
  untilKeyWorksEverywhere,
} from './platform.js';

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
  processID: string;
}

interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

/** A span of the trace, read for the checks. */
interface Span {
  id: string;
  parent: string | undefined;
  name: string;
  /** The deployable (service.name without a `-cell-n` suffix, should the name carry one). */
  service: string;
  tags: Map<string, unknown>;
}

/** The hops of a saga: the messages it sends, by type (the short protobuf name). */
const CONFIRMED = [
  'ReserveStock',
  'StockReserved',
  'AuthorizePayment',
  'PaymentAuthorized',
  'CommitStock',
  'StockCommitted',
  'CapturePayment',
  'PaymentCaptured',
  'OrderConfirmed',
];
const DECLINED = [
  'ReserveStock',
  'StockReserved',
  'AuthorizePayment',
  'PaymentDeclined',
  'ReleaseStock',
  'StockReleased',
  'OrderRejected',
];
/**
 * How long a trace may take to show up whole in Jaeger after the order ended: span batches leave
 * each process within 5 s (BatchSpanProcessor), and the collector's tail sampling holds a trace
 * for its decision wait before it passes it on.
 */
const TRACE_ARRIVES_WITHIN_MS = 60_000;
/** Nothing in the platform consumes the order events (they are for the world outside). */
const UNCONSUMED = /\.orders\.events$/;

async function fetchTrace(traceId: string): Promise<Span[] | undefined> {
  const response = await fetch(`${JAEGER}/api/traces/${traceId}`);
  if (response.status === 404) return undefined;
  expect(response.status).toBe(200);
  const body = (await response.json()) as { data: JaegerTrace[] | null };
  const found = body.data?.[0];
  if (!found) return undefined;
  return found.spans.map((span) => ({
    id: span.spanID,
    parent: span.references?.find((r) => r.refType === 'CHILD_OF' && r.traceID === span.traceID)
      ?.spanID,
    name: span.operationName,
    service: (found.processes[span.processID]?.serviceName ?? '').replace(/-cell-\d+$/, ''),
    tags: new Map(span.tags.map((t) => [t.key, t.value])),
  }));
}

/** The Kafka hops of a trace: each send span with its process children. */
function hops(spans: Span[]) {
  const sends = spans.filter((s) => s.name.startsWith('send '));
  return sends.map((send) => ({
    type: String(send.tags.get('bulkhead.message.type') ?? '').replace(/^.*\./, ''),
    topic: String(send.tags.get('messaging.destination.name')),
    send,
    processes: spans.filter((s) => s.parent === send.id && s.name.startsWith('process ')),
  }));
}

/**
 * The trace once every expected message was sent and every consumed one processed, and the
 * saga's end recorded (spans arrive in batches, per process, in any order).
 */
function complete(spans: Span[] | undefined, expected: string[]): Span[] | undefined {
  if (!spans) return undefined;
  const all = hops(spans);
  if (all.length < expected.length) return undefined;
  const processed = all.every((h) => UNCONSUMED.test(h.topic) || h.processes.length > 0);
  const ended = spans.some((s) => s.tags.has('bulkhead.saga.outcome'));
  return processed && ended ? spans : undefined;
}

let apiKey: string;
const sku = `TR-${randomUUID().slice(0, 8)}`;

async function gateway(method: string, path: string, body?: unknown, headers = {}) {
  const response = await fetch(`${GATEWAY}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  const created = await fetch(`${CONTROL_PLANE}/v1/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `traces-${randomUUID().slice(0, 8)}` }),
  });
  expect(created.status).toBe(201);
  apiKey = ((await created.json()) as { apiKey: string }).apiKey;
  await untilKeyWorksEverywhere(GATEWAY, apiKey, 15_000);
  const put = await gateway('PUT', `/v1/products/${sku}`, {
    name: 'Traced',
    priceCents: 250,
    stock: 100,
  });
  expect(put.status).toBe(200);
});

/**
 * Places an order under the test's own trace (its traceparent names a parent span that only the
 * test knows), waits for its outcome, then for Jaeger to hold its whole saga.
 */
async function tracedOrder(paymentToken: string, status: string, expected: string[]) {
  const traceId = randomBytes(16).toString('hex');
  const clientSpanId = randomBytes(8).toString('hex');
  const placed = await gateway(
    'POST',
    '/v1/orders',
    { customerId: 'c-traces', items: [{ sku, quantity: 1 }], paymentToken },
    { traceparent: `00-${traceId}-${clientSpanId}-01`, 'idempotency-key': randomUUID() },
  );
  expect(placed.status).toBe(202);
  const id = placed.json.id as string;
  await until(`order ${id} to be ${status}`, async () => {
    const order = await gateway('GET', `/v1/orders/${id}`);
    return order.json.status === status ? true : undefined;
  });
  const spans = await until(
    `trace ${traceId} in Jaeger with every hop of its saga`,
    async () => complete(await fetchTrace(traceId), expected),
    TRACE_ARRIVES_WITHIN_MS,
  );
  return { traceId, clientSpanId, orderId: id, spans };
}

/** The checks every order's trace passes, whatever its outcome. */
function expectOneCausalTree(
  { clientSpanId, orderId, spans }: Awaited<ReturnType<typeof tracedOrder>>,
  expected: string[],
  outcome: 'completed' | 'compensated',
) {
  // Every service the saga went through.
  const services = new Set(spans.map((s) => s.service));
  for (const service of ['gateway', 'orders', 'inventory', 'payments']) {
    expect(services, `spans of ${service}`).toContain(service);
  }
  // Every span's parent is in the trace, but the gateway's request: its parent is the client's.
  const ids = new Set(spans.map((s) => s.id));
  const orphans = spans.filter((s) => s.parent === undefined || !ids.has(s.parent));
  expect(orphans.map((s) => [s.service, s.parent])).toEqual([['gateway', clientSpanId]]);
  // Every message of the saga sent once, in this trace; every consumed one processed once.
  const all = hops(spans);
  expect(all.map((h) => h.type).sort()).toEqual([...expected].sort());
  for (const hop of all) {
    expect(hop.send.tags.get('messaging.system')).toBe('kafka');
    expect(hop.send.tags.get('span.kind')).toBe('producer');
    const consumers = UNCONSUMED.test(hop.topic) ? 0 : 1;
    expect(hop.processes, `process spans of ${hop.type} (${hop.topic})`).toHaveLength(consumers);
    for (const process of hop.processes) {
      expect(process.tags.get('span.kind')).toBe('consumer');
      expect(process.tags.get('messaging.message.id')).toBe(
        hop.send.tags.get('messaging.message.id'),
      );
      expect(process.tags.get('messaging.consumer.group.name')).toEqual(expect.any(String));
    }
  }
  // The saga's moves are spans of orders; the one that ends it carries the outcome.
  const moves = spans.filter((s) => s.name.startsWith('saga order '));
  expect(
    moves.every((m) => m.service === 'orders' && m.tags.get('bulkhead.order.id') === orderId),
  ).toBe(true);
  const ends = moves.filter((m) => m.tags.has('bulkhead.saga.outcome'));
  expect(ends.map((m) => m.tags.get('bulkhead.saga.outcome'))).toEqual([outcome]);
}

describe('one trace per order, in Jaeger', () => {
  it('a confirmed order: gateway, every saga step and every Kafka hop in one trace', async () => {
    const traced = await tracedOrder('tok_visa', 'CONFIRMED', CONFIRMED);
    expectOneCausalTree(traced, CONFIRMED, 'completed');
    // One move per step answered, after the one that began the saga.
    const moves = traced.spans.filter((s) => s.name.startsWith('saga order '));
    expect(moves.map((m) => m.name).sort()).toEqual(
      ['saga order begin', ...Array<string>(4).fill('saga order step answered')].sort(),
    );
  }, 120_000);

  it('a declined payment: the compensation is in the trace, marked compensated', async () => {
    const traced = await tracedOrder('tok_decline', 'REJECTED', DECLINED);
    expectOneCausalTree(traced, DECLINED, 'compensated');
    const release = traced.spans.filter((s) => s.name === 'saga order compensation answered');
    expect(release.map((s) => s.tags.get('bulkhead.saga.step'))).toEqual(['reserveStock']);
  }, 120_000);
});
