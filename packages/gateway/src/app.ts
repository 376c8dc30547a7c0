import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Logger } from '@bulkhead/logger';
import { openSnapshotStore, type SnapshotStore } from '@bulkhead/routing-snapshot';
import type { App } from '@bulkhead/service-runtime';
import { CellClients } from './cell-clients.js';
import type { GatewayConfig } from './config.js';
import { createHttpApp } from './http.js';
import { createRateLimitRedis, TenantRateLimiter } from './rate-limit.js';

export interface GatewayDeps {
  logger: Logger;
}

export interface GatewayApp extends App {
  /** The bound port (useful with GATEWAY_PORT=0); throws before start(). */
  readonly port: number;
}

/** How long stop() lets in-flight requests finish before closing their connections. */
const DRAIN_MS = 10_000;

/**
 * The gateway: authenticates tenants by API key, rate-limits them, and forwards REST calls as
 * gRPC to the services of the tenant's cell, all from the routing snapshot file.
 */
export function createGatewayApp(config: GatewayConfig, deps: GatewayDeps): GatewayApp {
  const { logger } = deps;
  const clients = new CellClients(config.grpcDeadlineMs);
  let store: SnapshotStore | undefined;
  let redis: Redis | undefined;
  let server: http.Server | undefined;
  let boundPort: number | undefined;
  let ready = false;
  let stopping: Promise<void> | undefined;

  const isReady = (): boolean => ready && store?.current() !== undefined;

  return {
    get port(): number {
      if (boundPort === undefined) throw new Error('gateway not started');
      return boundPort;
    },

    isReady,

    async start() {
      store = await openSnapshotStore(config.snapshotPath, logger, {
        onChange: (table) => clients.retain(table),
      });
      redis = createRateLimitRedis(config.redisUrl, logger);
      const app = createHttpApp({
        logger,
        routing: () => store?.current(),
        clients,
        limiter: new TenantRateLimiter(redis, logger),
        defaultRateLimitPerSecond: config.defaultRateLimitPerSecond,
        isReady,
      });
      const listening = http.createServer(app);
      // Requests that arrive on kept-alive connections while draining close them afterwards.
      listening.prependListener('request', (_req, res: http.ServerResponse) => {
        if (stopping) res.setHeader('Connection', 'close');
      });
      server = listening;
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen(config.port, config.host, () => {
          listening.off('error', reject);
          resolve();
        });
      });
      boundPort = (listening.address() as AddressInfo).port;
      ready = true;
      logger.info(
        { host: config.host, port: boundPort, snapshotVersion: store.current()?.version },
        'gateway listening',
      );
    },

    stop() {
      stopping ??= (async () => {
        ready = false;
        if (server?.listening) await drain(server, DRAIN_MS);
        clients.close();
        redis?.disconnect();
        store?.close();
      })();
      return stopping;
    },
  };
}

/**
 * Stops accepting connections and waits for in-flight requests; a keep-alive connection is
 * closed as soon as it is idle, and whatever is left after graceMs is cut.
 */
function drain(server: http.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(force);
      resolve();
    });
  });
}
