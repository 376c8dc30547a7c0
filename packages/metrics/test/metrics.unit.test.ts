import { describe, expect, it } from 'vitest';
import {
  cardinalityProblems,
  createMetrics,
  LATENCY_BUCKETS,
  parseExposition,
  sampleValue,
  sharedRead,
} from '../src/index.js';

describe('Metrics', () => {
  it('labels every series with the service (and the cell) and serves the runtime metrics', async () => {
    const metrics = createMetrics({ service: 'orders', cell: 'cell-1' });
    metrics.counter({ name: 'things_total', help: 'things' }).inc(2);
    const samples = parseExposition(await metrics.scrape());
    expect(sampleValue(samples, 'things_total', { service: 'orders', cell: 'cell-1' })).toBe(2);
    for (const name of [
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(sampleValue(samples, name, { service: 'orders' }), name).toBeDefined();
    }
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('gets the instrument declared before under the same name, and refuses a different one', () => {
    const metrics = createMetrics({ service: 'gateway', runtime: false });
    const first = metrics.counter({ name: 'calls_total', help: 'calls', labelNames: ['code'] });
    expect(metrics.counter({ name: 'calls_total', help: 'calls', labelNames: ['code'] })).toBe(
      first,
    );
    expect(() =>
      metrics.counter({ name: 'calls_total', help: 'calls', labelNames: ['route'] }),
    ).toThrow(/already registered/);
    expect(() => metrics.gauge({ name: 'calls_total', help: 'calls' })).toThrow(
      /already registered/,
    );
  });

  it('keeps registries apart: two apps in one process do not share series', async () => {
    const a = createMetrics({ service: 'a', runtime: false });
    const b = createMetrics({ service: 'b', runtime: false });
    a.counter({ name: 'x_total', help: 'x' }).inc();
    expect(await b.scrape()).not.toContain('x_total');
  });

  it('histograms use the catalog latency buckets by default, and reads gauges at scrape time', async () => {
    const metrics = createMetrics({ service: 's', runtime: false });
    metrics.histogram({ name: 'h_seconds', help: 'h' }).observe(0.3);
    let reads = 0;
    metrics.gauge({
      name: 'g',
      help: 'g',
      collect() {
        reads += 1;
        this.set(reads * 10);
      },
    });
    const samples = parseExposition(await metrics.scrape());
    const les = samples.filter((s) => s.name === 'h_seconds_bucket').map((s) => s.labels.le);
    expect(les).toEqual([...LATENCY_BUCKETS.map(String), '+Inf']);
    expect(sampleValue(samples, 'h_seconds_bucket', { le: '0.25' })).toBe(0);
    expect(sampleValue(samples, 'h_seconds_bucket', { le: '0.5' })).toBe(1);
    expect(sampleValue(samples, 'g')).toBe(10);
    expect(sampleValue(parseExposition(await metrics.scrape()), 'g')).toBe(20);
  });
});

describe('parseExposition / sampleValue', () => {
  it('reads names, escaped label values and values; sums over partial labels', () => {
    const samples = parseExposition(
      [
        '# HELP a_total a',
        '# TYPE a_total counter',
        'a_total{kind="x",msg="say \\"hi\\"\\\\"} 3',
        'a_total{kind="y",msg=""} 4',
        'b 1.5e3',
        '',
      ].join('\n'),
    );
    expect(samples[0]?.labels).toEqual({ kind: 'x', msg: 'say "hi"\\' });
    expect(sampleValue(samples, 'a_total')).toBe(7);
    expect(sampleValue(samples, 'a_total', { kind: 'y' })).toBe(4);
    expect(sampleValue(samples, 'a_total', { kind: 'z' })).toBeUndefined();
    expect(sampleValue(samples, 'b')).toBe(1500);
    expect(() => parseExposition('not a sample')).toThrow(/not a sample/);
  });
});

describe('cardinalityProblems', () => {
  const rules = { allowedLabels: new Set(['service', 'route', 'topic', 'partition']) };
  const sample = (labels: Record<string, string>) => ({ name: 'm', labels, value: 1 });

  it('accepts bounded categories (route patterns, topics, partitions, buckets)', () => {
    expect(
      cardinalityProblems(
        [
          sample({ service: 'gateway', route: '/v1/orders/:id', le: '0.5' }),
          sample({ topic: 'cell-1.orders.saga-replies', partition: '5' }),
        ],
        rules,
      ),
    ).toEqual([]);
  });

  it('refuses a label outside the allowlist and values that look like ids', () => {
    expect(
      cardinalityProblems(
        [
          sample({ tenant: 'acme' }),
          sample({ route: '/v1/orders/0192f0c4-6a2b-7c3d-8e4f-5a6b7c8d9e0f' }),
          sample({ route: 'deadbeefdeadbeefdeadbeef' }),
          sample({ route: '/v1/products/' + 'x'.repeat(80) }),
          sample({ partition: '1234567' }),
        ],
        rules,
      ),
    ).toHaveLength(5);
  });
});

describe('sharedRead', () => {
  it('reads once for the gauges of one scrape, again once the value is old, and forgets a failure', async () => {
    let reads = 0;
    let now = 0;
    const read = sharedRead(
      async () => {
        reads += 1;
        if (reads === 2) throw new Error('down');
        return reads;
      },
      1_000,
      () => now,
    );
    expect(await Promise.all([read(), read(), read()])).toEqual([1, 1, 1]);
    now = 999;
    expect(await read()).toBe(1);
    now = 1_000;
    await expect(read()).rejects.toThrow('down');
    expect(await read()).toBe(3);
  });
});
