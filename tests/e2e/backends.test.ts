/**
 * The observability backends: Prometheus scrapes every process the platform runs, the
 * OpenTelemetry Collector passes an order's spans to Jaeger and turns every span into span
 * metrics that reach Prometheus. What is checked is the start-up wiring: targets from the
 * manifest (locally, infra/local/observability.sh) or from the release's pods (kind, the chart's
 * Kubernetes discovery), each service's OTLP endpoint and resource, the collector's pipelines.
 * make kind-test port-forwards Jaeger and Prometheus and sets their URLs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { eventually } from '@bulkhead/testkit';
import {
  ADMIN_TOKEN,
  CONTROL_PLANE,
  GATEWAY,
  JAEGER,
  PROMETHEUS,
  platform,
  untilKeyWorksEverywhere,
  type MetricsTarget,
} from './platform.js';

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

interface Target {
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

const query = async (promql: string) =>
  (
    await getJson<{ data: { result: PromResult[] } }>(
      `${PROMETHEUS}/api/v1/query?${new URLSearchParams({ query: promql })}`,
    )
  ).data.result;

interface JaegerTrace {
  spans: { spanID: string; operationName: string; processID: string }[];
  processes: Record<string, { serviceName: string }>;
}

/** A confirmed order placed with a trace id of our own (W3C traceparent): returns the trace id. */
async function placeTracedOrder(): Promise<string> {
  const tenant = await getJson<{ apiKey: string }>(`${CONTROL_PLANE}/v1/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'e2e-backends' }),
  });
  await untilKeyWorksEverywhere(GATEWAY, tenant.apiKey, 15_000);
  const headers = {
    authorization: `Bearer ${tenant.apiKey}`,
    'content-type': 'application/json',
  };
  const sku = `OBS-${randomUUID().slice(0, 8)}`;
  await getJson(`${GATEWAY}/v1/products/${sku}`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ name: 'Traced', priceCents: 100, stock: 5 }),
  });
  const traceId = randomBytes(16).toString('hex');
  const order = await getJson<{ id: string }>(`${GATEWAY}/v1/orders`, {
    method: 'POST',
    headers: {
      ...headers,
      'idempotency-key': randomUUID(),
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    },
    body: JSON.stringify({
      customerId: 'c',
      items: [{ sku, quantity: 1 }],
      paymentToken: 'tok_visa',
    }),
  });
  await eventually(
    async () => {
      const { status } = await getJson<{ status: string }>(`${GATEWAY}/v1/orders/${order.id}`, {
        headers,
      });
      return status === 'CONFIRMED' ? status : undefined;
    },
    { timeoutMs: 15_000 },
  );
  return traceId;
}

describe('observability backends', () => {
  it('Prometheus scrapes every process of the platform, labelled with service and cell', async () => {
    // Scraped at least once each; "up" exactly where the process serves GET /metrics (a process
    // without it yet is a target that is down with a 404, never a missing target). Read again
    // until both sides agree: a process that began to serve since its last scrape is up at the
    // next one, and on kind a pod replaced by an earlier suite takes discovery a moment.
    const served = async (e: MetricsTarget) =>
      // On kind every process serves /metrics (the suite cannot reach a pod IP to ask).
      !e.fetchable || (await fetch(e.scrapeUrl)).status === 200;
    const { expected, targets } = await eventually(
      async () => {
        const expected = await platform.metricsTargets();
        const { data } = await getJson<{ data: { activeTargets: Target[] } }>(
          `${PROMETHEUS}/api/v1/targets?state=active`,
        );
        const ours = data.activeTargets.filter((t) => t.scrapePool === 'bulkhead');
        if (ours.length !== expected.length) return undefined;
        for (const e of expected) {
          const health = ours.find((t) => t.scrapeUrl === e.scrapeUrl)?.health ?? 'unknown';
          if (health === 'unknown' || (health === 'up') !== (await served(e))) return undefined;
        }
        return { expected, targets: ours };
      },
      { timeoutMs: platform.name === 'kind' ? 90_000 : 20_000, intervalMs: 500 },
    );
    expect(expected.length).toBeGreaterThanOrEqual(6);
    for (const p of expected) {
      const target = targets.find((t) => t.scrapeUrl === p.scrapeUrl);
      expect(target, `a target for ${p.name}`).toBeDefined();
      expect(target!.labels.service).toBe(p.service);
      expect(target!.labels.cell).toBe(p.cell);
      expect(target!.labels).toMatchObject(p.labels);
      const up = await served(p);
      expect(`${p.name}: ${target!.health}`).toBe(`${p.name}: ${up ? 'up' : 'down'}`);
    }
  });

  it("Jaeger holds an order's trace across the gateway and the cell, with every service", async () => {
    const traceId = await placeTracedOrder();
    const services = await eventually(
      async () => {
        const { data } = await getJson<{ data: JaegerTrace[] }>(`${JAEGER}/api/traces/${traceId}`);
        const trace = data[0];
        if (!trace) return undefined;
        const names = new Set(trace.spans.map((s) => trace.processes[s.processID]!.serviceName));
        return ['gateway', 'orders', 'inventory', 'payments'].every((s) => names.has(s))
          ? names
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    ).catch((error: unknown) => {
      throw new Error(`trace ${traceId} did not reach Jaeger with spans of all four services`, {
        cause: error,
      });
    });
    expect([...services].sort()).toEqual(['gateway', 'inventory', 'orders', 'payments']);
    const { data: listed } = await getJson<{ data: string[] }>(`${JAEGER}/api/services`);
    // The control plane (admin API above) too; nothing but Bulkhead's services (Jaeger does not
    // trace itself into the store).
    expect(listed).toEqual(
      expect.arrayContaining(['gateway', 'orders', 'inventory', 'payments', 'control-plane']),
    );
    expect(listed).not.toContain('jaeger');
  });

  it("the collector's span metrics reach Prometheus, with low-cardinality labels only", async () => {
    const perService = await eventually(
      async () => {
        const result = await query(
          'sum by (service_name) (traces_span_metrics_calls_total{service_name=~"gateway|orders|inventory|payments"})',
        );
        // Each one counted (one sum was 0 in a run right after make up).
        return result.length === 4 && result.every((r) => Number(r.value[1]) > 0)
          ? result
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    for (const r of perService) expect(Number(r.value[1])).toBeGreaterThan(0);
    const buckets = await query(
      'traces_span_metrics_duration_seconds_bucket{service_name="gateway",span_kind="SPAN_KIND_SERVER"}',
    );
    expect(buckets.length).toBeGreaterThan(0);
    // The dimensions the connector keeps (otel-collector.yaml) and Prometheus's job/instance:
    // never an id of an order, a tenant or a message, in a name or a value.
    const allowed = new Set([
      '__name__',
      'job',
      'instance',
      'service_name',
      'span_name',
      'span_kind',
      'status_code',
      'bulkhead_cell',
      'collector_instance_id',
    ]);
    const series = await query('traces_span_metrics_calls_total');
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
    for (const { metric } of series) {
      for (const [label, value] of Object.entries(metric)) {
        expect(allowed, `label ${label}`).toContain(label);
        if (label !== 'collector_instance_id') expect(value, label).not.toMatch(uuid);
      }
    }
  });
});
