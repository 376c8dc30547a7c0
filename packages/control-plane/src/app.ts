import { controlPlaneV1 } from '@bulkhead/contracts';
import { createPool, migrationsDir, prepareDatabase, type Pool } from '@bulkhead/db';
import { createGrpcServer } from '@bulkhead/grpc';
import { listenHttp } from '@bulkhead/http';
import type { Logger } from '@bulkhead/logger';
import { createMetrics, type Metrics } from '@bulkhead/metrics';
import { Lifecycle, type App } from '@bulkhead/service-runtime';
import { createAdminApi } from './admin-api.js';
import { DEFAULT_ADMIN_TOKEN, type ControlPlaneConfig } from './config.js';
import { syncCells } from './registry.js';
import { SnapshotFeed } from './snapshot-feed.js';
import { watchSnapshotHandler } from './watch-service.js';

export interface ControlPlaneApp extends App {
  /** Bound admin HTTP port (known after start; config may say 0). */
  readonly httpPort: number;
  /** Bound gRPC port (known after start). */
  readonly grpcPort: number;
}

/** Alternatives to what the control plane builds (tests); it closes only what it built. */
export interface ControlPlaneOverrides {
  logger: Logger;
  pool?: Pool;
  /** The app's metrics (default: a registry of its own, labelled service="control-plane"). */
  metrics?: Metrics;
}

const DRAIN_GRACE_MS = 10_000;

/**
 * The control plane: admin REST API (tenants, cells) on one port, WatchSnapshot (gRPC) on another.
 * It owns its database: created and migrated at start (the same bring-up as a cell service's),
 * cells synced from configuration. stop() drains HTTP first (in-flight requests finish), then the
 * watch streams end, then gRPC and the database: the reverse of start.
 */
export function createControlPlaneApp(
  config: ControlPlaneConfig,
  overrides: ControlPlaneOverrides,
): ControlPlaneApp {
  const { logger } = overrides;
  const lifecycle = new Lifecycle(logger);
  let state: 'new' | 'starting' | 'ready' | 'stopping' = 'new';
  let ports = { http: 0, grpc: 0 };
  const metrics = overrides.metrics ?? createMetrics({ service: 'control-plane' });

  async function start(): Promise<void> {
    if (state !== 'new') throw new Error(`cannot start the control plane: it is ${state}`);
    state = 'starting';
    if (config.adminToken === DEFAULT_ADMIN_TOKEN) {
      logger.warn('CONTROL_PLANE_ADMIN_TOKEN is not set: using the development default token');
    }
    const url = await prepareDatabase({
      serverUrl: config.pgUrl,
      database: config.database,
      migrations: [{ name: 'control-plane', directory: migrationsDir(import.meta.url) }],
      logger,
    });
    const pool = await lifecycle.open(
      'pool',
      () => overrides.pool ?? createPool(url, { applicationName: 'control-plane', logger }),
      (p) => (overrides.pool ? undefined : p.end()),
    );
    const version = await syncCells(pool, config.cells, logger);
    if (version !== undefined)
      logger.info({ version, cells: config.cells.map((c) => c.id) }, 'cells updated');

    const grpcServer = await lifecycle.open(
      'gRPC server',
      () => createGrpcServer({ metrics }),
      (s) => s.shutdown(DRAIN_GRACE_MS),
    );
    const feed = await lifecycle.open(
      'snapshot feed',
      async () => {
        const f = new SnapshotFeed(pool, logger);
        await f.start();
        return f;
      },
      (f) => f.close(),
    );
    grpcServer.addService(controlPlaneV1.ControlPlaneServiceService, {
      watchSnapshot: watchSnapshotHandler(feed, logger),
    });
    const grpcPort = await grpcServer.listen(config.grpc.host, config.grpc.port);

    const admin = createAdminApi({
      pool,
      adminToken: config.adminToken,
      defaultRateLimit: config.defaultRateLimit,
      logger,
      isReady: () => state === 'ready',
      metrics,
    });
    const httpServer = await lifecycle.open(
      'admin HTTP server',
      () => listenHttp(admin, config.http.host, config.http.port),
      (s) => s.close(DRAIN_GRACE_MS),
    );
    lifecycle.defer('gRPC health', () => grpcServer.setServing(false));
    grpcServer.setServing(true);
    ports = { http: httpServer.port, grpc: grpcPort };
    state = 'ready';
    logger.info(
      {
        httpPort: httpServer.port,
        grpcPort,
        epoch: feed.current()?.epoch,
        version: feed.current()?.version,
      },
      'control plane ready',
    );
  }

  return {
    start,
    stop: () => {
      state = 'stopping';
      return lifecycle.close();
    },
    isReady: () => state === 'ready',
    metrics,
    get httpPort() {
      return ports.http;
    },
    get grpcPort() {
      return ports.grpc;
    },
  };
}
