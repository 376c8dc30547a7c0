import { listenHttp, type HttpServer } from '@bulkhead/http';
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
  let server: HttpServer | undefined;
  let ready = false;
  let stopping: Promise<void> | undefined;

  const isReady = (): boolean => ready && store?.current() !== undefined;

  return {
    get port(): number {
      if (!server) throw new Error('gateway not started');
      return server.port;
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
      server = await listenHttp(app, config.host, config.port);
      ready = true;
      logger.info(
        { host: config.host, port: server.port, snapshotVersion: store.current()?.version },
        'gateway listening',
      );
    },

    stop() {
      stopping ??= (async () => {
        ready = false;
        await server?.close(DRAIN_MS);
        clients.close();
        redis?.disconnect();
        store?.close();
      })();
      return stopping;
    },
  };
}
