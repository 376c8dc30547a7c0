import { cellConsumerGroup, cellDatabaseName, cellTopicSpecs, cellTopics } from '@bulkhead/cell';
import { ordersV1 } from '@bulkhead/contracts';
import {
  createPool,
  databaseUrl,
  ensureDatabase,
  migrate,
  migrationsDir,
  type Pool,
} from '@bulkhead/db';
import { createKafkaEventBus, type EventBus, type Subscription } from '@bulkhead/event-bus';
import { createGrpcServer, type GrpcServer } from '@bulkhead/grpc';
import { idempotencyMigrations } from '@bulkhead/idempotency';
import { consumeOnce, inboxMigrations } from '@bulkhead/inbox';
import type { Logger } from '@bulkhead/logger';
import { createOutboxRelay, outboxMigrations } from '@bulkhead/outbox';
import type { App } from '@bulkhead/service-runtime';
import { ordersService } from './api.js';
import type { OrdersConfig } from './config.js';
import { handleSagaReply } from './orders.js';

export interface OrdersApp extends App {
  /** The bound gRPC port (useful when configured as 0). */
  readonly grpcPort: number;
  readonly pool: Pool;
}

/** Composition root of the orders service of one cell. */
export function createOrdersApp(config: OrdersConfig, deps: { logger: Logger }): OrdersApp {
  const logger = deps.logger;
  const cell = { cellId: config.CELL_ID };
  const database = config.DATABASE_NAME ?? cellDatabaseName(config.CELL_ID, 'orders');
  const url = databaseUrl(config.BULKHEAD_PG_URL, database);
  const pool = createPool(url, {
    max: config.DB_POOL_SIZE,
    applicationName: `orders-${config.CELL_ID}`,
    logger,
  });
  let bus: EventBus | undefined;
  let relay: ReturnType<typeof createOutboxRelay> | undefined;
  let subscription: Subscription | undefined;
  let grpc: GrpcServer | undefined;
  let grpcPort = 0;
  let ready = false;
  let stopped: Promise<void> | undefined;

  return {
    get grpcPort() {
      return grpcPort;
    },
    pool,
    isReady: () => ready,
    async start() {
      await ensureDatabase(config.BULKHEAD_PG_URL, database);
      await migrate(
        url,
        [
          outboxMigrations,
          inboxMigrations,
          idempotencyMigrations,
          { name: 'orders', directory: migrationsDir(import.meta.url) },
        ],
        logger,
      );
      bus = createKafkaEventBus({
        clientId: `orders-${config.CELL_ID}`,
        brokers: config.BULKHEAD_KAFKA_BROKERS,
        logger,
      });
      await bus.ensureTopics(cellTopicSpecs(config.CELL_ID));
      relay = createOutboxRelay({ pool, bus, logger });
      await relay.start();
      subscription = await bus.subscribe({
        groupId: cellConsumerGroup(config.CELL_ID, 'orders'),
        topics: [cellTopics(config.CELL_ID).sagaReplies],
        partitionsConcurrently: 3,
        handler: async (message) => {
          await consumeOnce(pool, 'orders', message, (tx) =>
            handleSagaReply(tx, cell, message, logger),
          );
        },
      });
      grpc = createGrpcServer();
      grpc.server.addService(ordersV1.OrdersServiceService, ordersService(pool, cell, logger));
      grpcPort = await grpc.listen(config.GRPC_HOST, config.GRPC_PORT);
      grpc.setServing(true);
      ready = true;
      logger.info({ cell: config.CELL_ID, grpcPort, database }, 'orders ready');
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
