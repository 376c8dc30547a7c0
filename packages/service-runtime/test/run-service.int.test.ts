import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@bulkhead/logger';
import { createMetrics, parseExposition, sampleValue } from '@bulkhead/metrics';
import { runMain, runService, startOpsServer, type App } from '../src/index.js';

// A signal no test runner uses, sent to this very process.
const SIGNAL = 'SIGUSR2';
const logger = createLogger('test', 'silent');
const signal = () => process.kill(process.pid, SIGNAL);
const tick = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

function fakeApp(options: { stopTakesMs?: number; failStart?: boolean } = {}) {
  const calls: string[] = [];
  let ready = false;
  const app: App = {
    async start() {
      calls.push('start');
      if (options.failStart) throw new Error('cannot start');
      ready = true;
    },
    async stop() {
      calls.push('stop');
      ready = false;
      await tick(options.stopTakesMs ?? 0);
    },
    isReady: () => ready,
  };
  return { app, calls };
}

afterEach(() => {
  expect(process.listenerCount(SIGNAL)).toBe(0); // runService removed its listeners
});

describe('runService', () => {
  it('starts, drains on the signal, and resolves', async () => {
    const { app, calls } = fakeApp();
    const run = runService({ app, logger, signals: [SIGNAL] });
    await tick();
    expect(app.isReady()).toBe(true);
    signal();
    await run;
    expect(calls).toEqual(['start', 'stop']);
  });

  it('rejects when draining exceeds the timeout', async () => {
    const { app } = fakeApp({ stopTakesMs: 500 });
    const run = runService({ app, logger, signals: [SIGNAL], drainTimeoutMs: 50 });
    await tick();
    signal();
    await expect(run).rejects.toThrow(/drain exceeded 50 ms/);
  });

  it('rejects when the signal comes again while draining', async () => {
    const { app } = fakeApp({ stopTakesMs: 500 });
    const run = runService({ app, logger, signals: [SIGNAL] });
    await tick();
    signal();
    await tick();
    signal();
    await expect(run).rejects.toThrow(/received again while draining/);
  });

  it('stops what started and rejects when start fails', async () => {
    const { app, calls } = fakeApp({ failStart: true });
    await expect(runService({ app, logger, signals: [SIGNAL] })).rejects.toThrow('cannot start');
    expect(calls).toEqual(['start', 'stop']);
  });

  it('serves /healthz always and /readyz only while the app is ready', async () => {
    let ready = false;
    const ops = await startOpsServer({ host: '127.0.0.1', port: 0, isReady: () => ready });
    try {
      const get = (path: string) =>
        fetch(`http://127.0.0.1:${ops.port}${path}`).then((r) => r.status);
      expect(await get('/healthz')).toBe(200);
      expect(await get('/readyz')).toBe(503);
      ready = true;
      expect(await get('/readyz')).toBe(200);
      expect(await get('/other')).toBe(404);
    } finally {
      await ops.close();
    }
  });

  it("serves the app's JSON views and the process's runtime view (read-only)", async () => {
    let reads = 0;
    const ops = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      isReady: () => true,
      views: { '/resilience': () => ({ reads: ++reads }) },
    });
    try {
      const base = `http://127.0.0.1:${ops.port}`;
      expect(await (await fetch(`${base}/resilience`)).json()).toEqual({ reads: 1 });
      const post = await fetch(`${base}/resilience`, { method: 'POST' });
      expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
      expect((await fetch(`${base}/nothing`)).status).toBe(404);
      const runtime = (await (await fetch(`${base}/runtime`)).json()) as Record<string, unknown>;
      expect(runtime).toMatchObject({
        eventLoopDelayMs: { p50: expect.any(Number), p99: expect.any(Number) },
        eventLoopUtilization: expect.any(Number),
        heapUsedBytes: expect.any(Number),
        gc: { count: expect.any(Number), maxMs: expect.any(Number) },
      });
    } finally {
      await ops.close();
    }
  });

  it("serves the app's metrics in Prometheus text format at /metrics", async () => {
    const metrics = createMetrics({ service: 'test' });
    metrics.counter({ name: 'ops_test_total', help: 'a counter' }).inc(3);
    const ops = await startOpsServer({ host: '127.0.0.1', port: 0, isReady: () => true, metrics });
    try {
      const base = `http://127.0.0.1:${ops.port}`;
      const response = await fetch(`${base}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(metrics.contentType);
      const samples = parseExposition(await response.text());
      expect(sampleValue(samples, 'ops_test_total', { service: 'test' })).toBe(3);
      expect(sampleValue(samples, 'nodejs_eventloop_lag_p99_seconds')).toBeDefined();
      const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
      expect([head.status, await head.text()]).toEqual([200, '']);
      const put = await fetch(`${base}/metrics`, { method: 'PUT' });
      expect([put.status, put.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    } finally {
      await ops.close();
    }
    // Without metrics there is no such route.
    const bare = await startOpsServer({ host: '127.0.0.1', port: 0, isReady: () => true });
    try {
      expect((await fetch(`http://127.0.0.1:${bare.port}/metrics`)).status).toBe(404);
    } finally {
      await bare.close();
    }
  });
});

describe('runMain', () => {
  it('returns 0 after a clean drain', async () => {
    const { app } = fakeApp();
    const code = runMain(() => ({ app, logger, signals: [SIGNAL] }));
    await tick();
    signal();
    expect(await code).toBe(0);
  });

  it('returns 78 for a configuration error and 1 for a failed start', async () => {
    const configError = Object.assign(new Error('invalid configuration:\n  - CELL_ID: required'), {
      name: 'ConfigError',
    });
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof write;
    try {
      expect(await runMain(() => Promise.reject(configError))).toBe(78);
    } finally {
      process.stderr.write = write;
    }
    expect(written.join('')).toContain('CELL_ID: required');
    const { app } = fakeApp({ failStart: true });
    expect(await runMain(() => ({ app, logger, signals: [SIGNAL] }))).toBe(1);
  });
});
