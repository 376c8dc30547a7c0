import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@bulkhead/logger';

/** What every composition root returns: `createApp(config)` builds it, `start`/`stop` run it. */
export interface App {
  start(): Promise<void>;
  /** Drains in-flight work and releases every resource. Idempotent. */
  stop(): Promise<void>;
  /** True once started and able to serve; false while starting or draining. */
  isReady(): boolean;
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

/** A small HTTP server for probes (and later metrics) on its own port. */
export async function startOpsServer(options: {
  host: string;
  port: number;
  isReady: () => boolean;
}): Promise<OpsServer> {
  const routes = healthRoutes(options.isReady);
  const server = http.createServer((req, res) => {
    if (routes(req, res)) return;
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404 }));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
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
 * Resolves when stopped cleanly; rejects if start fails or draining exceeds the timeout.
 * Never calls process.exit: the deployable's main decides.
 */
export async function runService(options: RunOptions): Promise<void> {
  const { app, logger } = options;
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const drainTimeoutMs = options.drainTimeoutMs ?? 20_000;
  let ops: OpsServer | undefined;
  const stopping = new Promise<NodeJS.Signals>((resolve) => {
    for (const signal of signals) process.once(signal, () => resolve(signal));
  });
  try {
    if (options.ops) ops = await startOpsServer({ ...options.ops, isReady: () => app.isReady() });
    await app.start();
  } catch (error) {
    logger.fatal({ err: error }, 'start failed');
    await app.stop().catch(() => undefined);
    await ops?.close();
    throw error;
  }
  logger.info({ opsPort: ops?.port }, 'started');
  const signal = await stopping;
  logger.info({ signal }, 'draining');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`drain exceeded ${drainTimeoutMs} ms`)),
      drainTimeoutMs,
    );
    timer.unref();
  });
  try {
    await Promise.race([app.stop(), timeout]);
  } finally {
    clearTimeout(timer);
    await ops?.close();
  }
  logger.info('stopped');
}

/**
 * The whole body of a deployable's main.ts: builds the run options (config, logger, app), runs
 * the service, and turns failures into an exit code. A configuration error is printed as a clear
 * message (no stack trace) and exits 78 (EX_CONFIG); any other failure exits 1.
 */
export async function runMain(setup: () => RunOptions | Promise<RunOptions>): Promise<void> {
  let options: RunOptions;
  try {
    options = await setup();
  } catch (error) {
    if (error instanceof Error && error.name === 'ConfigError') {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 78;
      return;
    }
    throw error;
  }
  try {
    await runService(options);
  } catch (error) {
    options.logger.fatal({ err: error }, 'stopped with an error');
    process.exitCode = 1;
  }
}
