import { cellConsumerGroup, cellDatabaseName, cellTopicSpecs, cellTopics } from '@bulkhead/cell';
import { inventoryV1 } from '@bulkhead/contracts';
import {
  createPool,
  databaseUrl,
  ensureDatabase,
  type MigrationSet,
  migrate,
  migrationsDir,
} from '@bulkhead/db';
import { createKafkaEventBus, type EventBus, type Subscription } from '@bulkhead/event-bus';
import { createGrpcServer, type GrpcServer } from '@bulkhead/grpc';
import { inboxMigrations } from '@bulkhead/inbox';
import type { Logger } from '@bulkhead/logger';
import { createOutboxRelay, type OutboxRelay, outboxMigrations } from '@bulkhead/outbox';
import type { App } from '@bulkhead/service-runtime';
import { inventoryService } from './api.js';
import { inventoryRoutes } from './commands.js';
import type { InventoryConfig } from './config.js';
import { commandHandler } from '@bulkhead/saga-participant';

export const inventoryMigrations: MigrationSet = {
  name: 'inventory',
  directory: migrationsDir(import.meta.url),
};

/** Command partitions handled at once; each holds one pooled connection while it works. */
const COMMAND_CONCURRENCY = 3;

export interface InventoryApp extends App {
  /** The bound gRPC port (useful when configured as 0); 0 until started. */
  readonly grpcPort: number;
}

/** Composition root of the inventory service of one cell. */
export function createInventoryApp(
  config: InventoryConfig,
  deps: { logger: Logger },
): InventoryApp {
  const { logger } = deps;
  const cellId = config.CELL_ID;
  const database = config.DATABASE_NAME ?? cellDatabaseName(cellId, 'inventory');
  const url = databaseUrl(config.BULKHEAD_PG_URL, database);
  const topics = cellTopics(cellId);
  const pool = createPool(url, {
    max: config.DB_POOL_SIZE,
    applicationName: `inventory-${cellId}`,
  });
  // An idle connection can fail (server restart, terminated backend): log it, the pool replaces
  // it. Without a listener the 'error' event would crash the process.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
  let bus: EventBus | undefined;
  let relay: OutboxRelay | undefined;
  let subscription: Subscription | undefined;
  let grpc: GrpcServer | undefined;
  let grpcPort = 0;
  let ready = false;
  let stopped: Promise<void> | undefined;

  return {
    get grpcPort() {
      return grpcPort;
    },
    isReady: () => ready,
    async start() {
      await ensureDatabase(config.BULKHEAD_PG_URL, database);
      await migrate(url, [outboxMigrations, inboxMigrations, inventoryMigrations], logger);
      bus = createKafkaEventBus({
        clientId: `inventory-${cellId}`,
        brokers: config.BULKHEAD_KAFKA_BROKERS,
        logger,
      });
      await bus.ensureTopics(cellTopicSpecs(cellId));
      relay = createOutboxRelay({ pool, bus, logger });
      await relay.start();
      subscription = await bus.subscribe({
        groupId: cellConsumerGroup(cellId, 'inventory'),
        topics: [topics.inventoryCommands],
        partitionsConcurrently: COMMAND_CONCURRENCY,
        handler: commandHandler({
          pool,
          logger,
          consumer: 'inventory',
          repliesTopic: topics.sagaReplies,
          routes: inventoryRoutes(logger),
        }),
      });
      grpc = createGrpcServer();
      grpc.server.addService(inventoryV1.InventoryServiceService, inventoryService(pool, logger));
      grpcPort = await grpc.listen(config.GRPC_HOST, config.GRPC_PORT);
      grpc.setServing(true);
      ready = true;
      logger.info({ cell: cellId, database, grpcPort }, 'inventory ready');
    },
    stop() {
      stopped ??= (async () => {
        ready = false;
        await grpc?.shutdown();
        await subscription?.stop();
        await relay?.stop();
        await bus?.close();
        await pool.end();
      })();
      return stopped;
    },
  };
}
