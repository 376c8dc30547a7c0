import { listenHttp } from '@bulkhead/http';
import type { Logger } from '@bulkhead/logger';
import { createMetrics, type Metrics } from '@bulkhead/metrics';
import { openSnapshotStore } from '@bulkhead/routing-snapshot';
import { Lifecycle, type App } from '@bulkhead/service-runtime';
import { CellAdmission } from './admission.js';
import { CALLED_SERVICES, CellClients } from './cell-clients.js';
import type { GatewayConfig } from './config.js';
import { createHttpApp } from './http.js';
import { createRateLimitRedis, TenantRateLimiter } from './rate-limit.js';

export interface GatewayDeps {
  logger: Logger;
  /** The app's metrics (default: a registry of its own, labelled service="gateway"). */
  metrics?: Metrics;
}

export interface GatewayApp extends App {
  /** The bound port (useful with GATEWAY_PORT=0); throws before start(). */
  readonly port: number;
}

/** How long stop() lets in-flight requests finish before closing their connections. */
const DRAIN_MS = 10_000;

/**
 * The gateway: authenticates tenants by API key, rate-limits them, and forwards REST calls as
 * gRPC to the services of the tenant's cell, all from the routing snapshot file. start() opens the
 * parts in order; stop() closes them in reverse (HTTP drains first).
 */
export function createGatewayApp(config: GatewayConfig, deps: GatewayDeps): GatewayApp {
  const { logger } = deps;
  const lifecycle = new Lifecycle(logger);
  let port: number | undefined;
  let ready: () => boolean = () => false;
  // Built up front (they connect nothing until called), so that the ops views can read them.
  const metrics = deps.metrics ?? createMetrics({ service: 'gateway' });
  const admission = new CellAdmission(config.admission, undefined, metrics);
  const clients = new CellClients(config.grpcDeadlineMs, logger, metrics);

  return {
    get port(): number {
      if (port === undefined) throw new Error('gateway not started');
      return port;
    },

    isReady: () => ready(),

    metrics,

    opsViews: {
      /** Each (cell, service) breaker and retry counts, each (cell, class) admission limit. */
      '/resilience': () => ({ calls: clients.state(), admission: admission.state() }),
    },

    async start() {
      lifecycle.defer('cell clients', () => clients.close());
      const store = await lifecycle.open(
        'routing snapshot',
        () =>
          openSnapshotStore(config.snapshotPath, logger, {
            onChange: (t) => clients.retain(t),
            metrics: { metrics, services: CALLED_SERVICES },
          }),
        (s) => s.close(),
      );
      const redis = await lifecycle.open(
        'redis',
        () => createRateLimitRedis(config.redisUrl, logger),
        (r) => r.disconnect(),
      );
      let serving = false;
      const isReady = () => serving && store.current() !== undefined;
      const app = createHttpApp({
        logger,
        routing: () => store.current(),
        clients,
        limiter: new TenantRateLimiter(redis, logger),
        admission,
        defaultRateLimitPerSecond: config.defaultRateLimitPerSecond,
        deadlineMs: config.grpcDeadlineMs,
        isReady,
        metrics,
      });
      const server = await lifecycle.open(
        'HTTP server',
        () => listenHttp(app, config.host, config.port),
        (s) => s.close(DRAIN_MS),
      );
      lifecycle.defer('readiness', () => {
        serving = false;
      });
      serving = true;
      ready = isReady;
      port = server.port;
      logger.info(
        {
          host: config.host,
          port: server.port,
          snapshotEpoch: store.current()?.epoch,
          snapshotVersion: store.current()?.version,
        },
        'gateway listening',
      );
    },

    stop: () => lifecycle.close(),
  };
}
