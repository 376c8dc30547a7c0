import type http from 'node:http';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { HttpProblem, listenHttp, sendProblem } from '@bulkhead/http';
import type { Logger } from '@bulkhead/logger';
import type { Metrics } from '@bulkhead/metrics';

/** What every composition root returns: `createApp(config)` builds it, `start`/`stop` run it. */
export interface App {
  start(): Promise<void>;
  /** Drains in-flight work and releases every resource. Idempotent. */
  stop(): Promise<void>;
  /** True once started and able to serve; false while starting or draining. */
  isReady(): boolean;
  /**
   * Read-only JSON views of the app's internals served on the ops port (never the public one),
   * by path: e.g. `/resilience` → breakers and limits. A view may return a promise.
   */
  readonly opsViews?: Record<string, () => unknown>;
  /** The app's metrics (@bulkhead/metrics): served as Prometheus text at `GET /metrics` on the ops port. */
  readonly metrics?: Metrics;
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

export type HealthRoutes = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

/** Responds to GET /healthz (alive) and GET /readyz (ready to serve); returns false for other paths. */
export function healthRoutes(isReady: () => boolean): HealthRoutes {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/healthz' && path !== '/readyz') return false;
    const ok = path === '/healthz' || isReady();
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
    return true;
  };
}

/** 405 for a method other than GET or HEAD on an ops route. */
function notAllowed(res: http.ServerResponse, method: string | undefined): void {
  sendProblem(
    res,
    new HttpProblem(405, `${method} is not allowed here; allowed: GET, HEAD`, {
      headers: { Allow: 'GET, HEAD' },
    }),
  );
}

/**
 * Serves the app's metrics in Prometheus text format (GET, HEAD); a scrape that fails (a gauge
 * could not read its source) answers 503.
 */
function serveMetrics(metrics: Metrics, req: http.IncomingMessage, res: http.ServerResponse): void {
  metrics.scrape().then(
    (text) => {
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(req.method === 'GET' ? text : undefined);
    },
    (error: unknown) =>
      sendProblem(res, new HttpProblem(503, `the metrics could not be read: ${String(error)}`)),
  );
}

/** A small HTTP server for probes, the app's ops views and its metrics on its own port. */
export async function startOpsServer(options: {
  host: string;
  port: number;
  isReady: () => boolean;
  views?: Record<string, () => unknown>;
  metrics?: Metrics;
}): Promise<OpsServer> {
  const routes = healthRoutes(options.isReady);
  const runtime = runtimeView();
  const views = new Map(Object.entries({ '/runtime': runtime.read, ...options.views }));
  const { metrics } = options;
  const server = await listenHttp(
    (req, res) => {
      if (routes(req, res)) return;
      const path = (req.url ?? '').split('?')[0] ?? '';
      const view = views.get(path);
      const readable = req.method === 'GET' || req.method === 'HEAD';
      if ((view || (metrics && path === '/metrics')) && !readable) {
        notAllowed(res, req.method);
        return;
      }
      if (metrics && path === '/metrics') {
        serveMetrics(metrics, req, res);
        return;
      }
      if (view) {
        // A view may be async (it reads the database): one that fails answers 503.
        Promise.resolve()
          .then(view)
          .then(
            (body) => {
              res.writeHead(200, { 'content-type': 'application/json' });
              res.end(req.method === 'GET' ? JSON.stringify(body) : undefined);
            },
            (error: unknown) =>
              sendProblem(
                res,
                new HttpProblem(503, `the view could not be read: ${String(error)}`),
              ),
          );
        return;
      }
      sendProblem(res, new HttpProblem(404, `no route for ${req.method} ${req.url}`));
    },
    options.host,
    options.port,
  );
  return {
    port: server.port,
    close: async () => {
      runtime.stop();
      await server.close(1_000);
    },
  };
}

/**
 * The process's own health as the ops port shows it at `/runtime`: event-loop delay (p50, p99,
 * max in ms), event-loop utilisation and garbage collection (count, total and longest pause)
 * since the previous read, and the heap. Read it twice around a run.
 */
function runtimeView(): { read: () => unknown; stop: () => void } {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let since = performance.eventLoopUtilization();
  const gc = { count: 0, totalMs: 0, maxMs: 0 };
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count += 1;
      gc.totalMs += entry.duration;
      gc.maxMs = Math.max(gc.maxMs, entry.duration);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const read = () => {
    const utilisation = performance.eventLoopUtilization(since);
    since = performance.eventLoopUtilization();
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    const view = {
      eventLoopDelayMs: {
        p50: ms(delay.percentile(50)),
        p99: ms(delay.percentile(99)),
        max: ms(delay.max),
      },
      eventLoopUtilization: Math.round(utilisation.utilization * 1000) / 1000,
      heapUsedBytes: process.memoryUsage().heapUsed,
      gc: { count: gc.count, totalMs: Math.round(gc.totalMs), maxMs: Math.round(gc.maxMs) },
    };
    delay.reset();
    Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0 });
    return view;
  };
  return {
    read,
    stop: () => {
      gcObserver.disconnect();
      delay.disable();
    },
  };
}

export interface RunOptions {
  app: App;
  logger: Logger;
  /** Ops server for /healthz and /readyz; omit when the app serves them itself. */
  ops?: { host: string; port: number };
  /** Upper bound on draining after SIGTERM/SIGINT. */
  drainTimeoutMs?: number;
  signals?: NodeJS.Signals[];
}

/**
 * Starts the app (and its ops server), then waits for SIGTERM/SIGINT and drains it.
 * Resolves when stopped cleanly; rejects if start fails, if draining exceeds the timeout, or if a
 * second signal arrives while draining (the operator insists). Never calls process.exit.
 */
export async function runService(options: RunOptions): Promise<void> {
  const { app, logger } = options;
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const drainTimeoutMs = options.drainTimeoutMs ?? 20_000;
  let ops: OpsServer | undefined;
  const received: NodeJS.Signals[] = [];
  let onSignal: (() => void) | undefined;
  const listener = (signal: NodeJS.Signals) => {
    received.push(signal);
    onSignal?.();
  };
  for (const signal of signals) process.on(signal, listener);
  const nextSignal = () =>
    new Promise<void>((resolve) => {
      if (received.length > 0) return resolve();
      onSignal = resolve;
    });
  try {
    try {
      if (options.ops) {
        ops = await startOpsServer({
          ...options.ops,
          isReady: () => app.isReady(),
          ...(app.opsViews ? { views: app.opsViews } : {}),
          ...(app.metrics ? { metrics: app.metrics } : {}),
        });
      }
      await app.start();
    } catch (error) {
      logger.fatal({ err: error }, 'start failed');
      await app.stop().catch(() => undefined);
      await ops?.close();
      throw error;
    }
    logger.info({ opsPort: ops?.port }, 'started');
    await nextSignal();
    logger.info({ signal: received[0] }, 'draining');
    received.length = 0;
    let timer: NodeJS.Timeout | undefined;
    const abandon = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`drain exceeded ${drainTimeoutMs} ms`)),
        drainTimeoutMs,
      );
      timer.unref();
      void nextSignal().then(() =>
        reject(new Error(`${received[0]} received again while draining`)),
      );
    });
    try {
      await Promise.race([app.stop(), abandon]);
    } finally {
      clearTimeout(timer);
      await ops?.close();
    }
    logger.info('stopped');
  } finally {
    for (const signal of signals) process.off(signal, listener);
  }
}

/**
 * The whole body of a deployable's main.ts: builds the run options (config, logger, app), runs
 * the service, and returns the process exit code: 0 after a clean drain; 78 (EX_CONFIG) for a
 * configuration error, printed as a clear message without a stack trace; 1 for any other failure.
 * After a failure, resources may still hold the event loop open: main exits with the code.
 */
export async function runMain(setup: () => RunOptions | Promise<RunOptions>): Promise<number> {
  let options: RunOptions;
  try {
    options = await setup();
  } catch (error) {
    if (error instanceof Error && error.name === 'ConfigError') {
      process.stderr.write(`${error.message}\n`);
      return 78;
    }
    throw error;
  }
  try {
    await runService(options);
    return 0;
  } catch (error) {
    options.logger.fatal({ err: error }, 'stopped with an error');
    return 1;
  }
}

export { Lifecycle, systemClock, type Clock } from './lifecycle.js';
