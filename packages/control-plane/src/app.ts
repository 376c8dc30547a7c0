import { controlPlaneV1 } from '@bulkhead/contracts';
import {
  createPool,
  databaseUrl,
  ensureDatabase,
  migrate,
  migrationsDir,
  type Pool,
} from '@bulkhead/db';
import { createGrpcServer, type GrpcServer } from '@bulkhead/grpc';
import type { Logger } from '@bulkhead/logger';
import type { App } from '@bulkhead/service-runtime';
import { createAdminApi } from './admin-api.js';
import { DEFAULT_ADMIN_TOKEN, type ControlPlaneConfig } from './config.js';
import { listenHttp, type HttpServer } from '@bulkhead/http';
import { syncCells } from './registry.js';
import { SnapshotFeed } from './snapshot-feed.js';
import { watchSnapshotHandler } from './watch-service.js';

export interface ControlPlaneApp extends App {
  /** Bound admin HTTP port (known after start; config may say 0). */
  readonly httpPort: number;
  /** Bound gRPC port (known after start). */
  readonly grpcPort: number;
}

const DRAIN_GRACE_MS = 10_000;

/**
 * The control plane: admin REST API (tenants, cells) on one port, WatchSnapshot (gRPC) on another.
 * It owns its database: created and migrated at start, cells synced from configuration.
 */
export function createControlPlaneApp(
  config: ControlPlaneConfig,
  deps: { logger: Logger },
): ControlPlaneApp {
  const { logger } = deps;
  let state: 'new' | 'starting' | 'ready' | 'stopping' | 'stopped' = 'new';
  let pool: Pool | undefined;
  let feed: SnapshotFeed | undefined;
  let grpcServer: GrpcServer | undefined;
  let httpServer: HttpServer | undefined;
  let grpcPort = 0;
  let stopping: Promise<void> | undefined;

  async function start(): Promise<void> {
    if (state !== 'new') throw new Error(`cannot start the control plane: it is ${state}`);
    state = 'starting';
    if (config.adminToken === DEFAULT_ADMIN_TOKEN) {
      logger.warn('CONTROL_PLANE_ADMIN_TOKEN is not set: using the development default token');
    }
    await ensureDatabase(config.pgUrl, config.database);
    const url = databaseUrl(config.pgUrl, config.database);
    await migrate(
      url,
      [{ name: 'control-plane', directory: migrationsDir(import.meta.url) }],
      logger,
    );
    pool = createPool(url, { applicationName: 'control-plane', logger });
    const version = await syncCells(pool, config.cells, logger);
    if (version !== undefined)
      logger.info({ version, cells: config.cells.map((c) => c.id) }, 'cells updated');

    feed = new SnapshotFeed(pool, logger);
    await feed.start();

    grpcServer = createGrpcServer();
    grpcServer.server.addService(controlPlaneV1.ControlPlaneServiceService, {
      watchSnapshot: watchSnapshotHandler(feed, logger),
    });
    grpcPort = await grpcServer.listen(config.grpc.host, config.grpc.port);

    httpServer = await listenHttp(
      createAdminApi({
        pool,
        adminToken: config.adminToken,
        defaultRateLimit: config.defaultRateLimit,
        logger,
        isReady: () => state === 'ready',
      }),
      config.http.host,
      config.http.port,
    );

    grpcServer.setServing(true);
    state = 'ready';
    logger.info(
      { httpPort: httpServer.port, grpcPort, version: feed.current()?.version },
      'control plane ready',
    );
  }

  /** HTTP drains first (in-flight requests finish), then watch streams end, then gRPC and the database. */
  async function drain(): Promise<void> {
    state = 'stopping';
    grpcServer?.setServing(false);
    await httpServer?.close(DRAIN_GRACE_MS);
    await feed?.close();
    await grpcServer?.shutdown(DRAIN_GRACE_MS);
    await pool?.end();
    state = 'stopped';
  }

  return {
    start,
    stop: () => (stopping ??= drain()),
    isReady: () => state === 'ready',
    get httpPort() {
      return httpServer?.port ?? 0;
    },
    get grpcPort() {
      return grpcPort;
    },
  };
}
