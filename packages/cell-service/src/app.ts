import {
  CELL_TOPIC_RETENTION_MS,
  cellConsumerGroup,
  cellTopicSpecs,
  type CellService,
} from '@bulkhead/cell';
import {
  createPool,
  databaseUrl,
  ensureDatabase,
  migrate,
  type MigrationSet,
  type Pool,
} from '@bulkhead/db';
import type { EventBus, MessageHandler, Subscription } from '@bulkhead/event-bus';
import { createKafkaEventBus } from '@bulkhead/event-bus-kafka';
import { createGrpcServer, type grpc, type GrpcServer } from '@bulkhead/grpc';
import { inboxMigrations, purgeProcessed } from '@bulkhead/inbox';
import type { Logger } from '@bulkhead/logger';
import { createOutboxRelay, outboxMigrations, purgeSent, type OutboxRelay } from '@bulkhead/outbox';
import type { App } from '@bulkhead/service-runtime';
import type { CellServiceConfig } from './config.js';

/** What one service of a cell adds to the shared shape. */
export interface CellServiceParts {
  service: CellService;
  /** The service's own migrations, applied after the outbox's and the inbox's (and `extra`). */
  migrations: MigrationSet;
  extraMigrations?: MigrationSet[];
  /** Its gRPC API. */
  grpc(pool: Pool): {
    definition: grpc.ServiceDefinition;
    implementation: grpc.UntypedServiceImplementation;
  };
  /** The topic it consumes (with consumer group <cell>.<service>) and the handler. */
  consume: {
    topic: string;
    handler(pool: Pool): MessageHandler;
    /** Partitions handled at once; each holds one pooled connection while it works. */
    partitionsConcurrently?: number;
  };
  /** Extra periodic clean-up of the service's own tables (e.g. expired idempotency keys). */
  housekeeping?(pool: Pool): Promise<void>;
}

/** How often housekeeping runs, and how long sent outbox rows and inbox ids are kept. */
const HOUSEKEEPING_EVERY_MS = 10 * 60_000;
const KEEP_SENT_OUTBOX_MS = 24 * 3_600_000;
/** Longer than the cell topics' retention (CELL_TOPIC_RETENTION_MS): a redelivery is recognised. */
const KEEP_INBOX_MS = 2 * CELL_TOPIC_RETENTION_MS;

export interface CellServiceApp extends App {
  /** The bound gRPC port (useful when configured as 0); 0 until started. */
  readonly grpcPort: number;
  readonly pool: Pool;
}

/**
 * The composition every service of a cell shares: its own database (created and migrated at
 * start), the cell's topics, an outbox relay, one consumer, and a gRPC server with health.
 * Started in dependency order; stopped in reverse, draining each part.
 */
export function createCellServiceApp(
  config: CellServiceConfig,
  parts: CellServiceParts,
  deps: { logger: Logger },
): CellServiceApp {
  const { logger } = deps;
  const { cellId } = config;
  const url = databaseUrl(config.pgUrl, config.database);
  const pool = createPool(url, {
    max: config.dbPoolSize,
    applicationName: `${parts.service}-${cellId}`,
    logger,
  });
  let bus: EventBus | undefined;
  let relay: OutboxRelay | undefined;
  let subscription: Subscription | undefined;
  let server: GrpcServer | undefined;
  let housekeeping: NodeJS.Timeout | undefined;
  let grpcPort = 0;
  let ready = false;

  async function cleanUp(): Promise<void> {
    try {
      const sent = await purgeSent(pool, KEEP_SENT_OUTBOX_MS);
      const processed = await purgeProcessed(pool, KEEP_INBOX_MS);
      await parts.housekeeping?.(pool);
      logger.debug({ sent, processed }, 'housekeeping done');
    } catch (error) {
      logger.warn({ err: error }, 'housekeeping failed; trying again later');
    }
  }
  let stopped: Promise<void> | undefined;

  return {
    get grpcPort() {
      return grpcPort;
    },
    pool,
    // Not ready while starting, draining, or once the consumer has died: an orchestrator then
    // routes around the instance (and a liveness policy may restart it).
    isReady: () => ready && (subscription?.healthy() ?? false),
    async start() {
      await ensureDatabase(config.pgUrl, config.database);
      await migrate(
        url,
        [outboxMigrations, inboxMigrations, ...(parts.extraMigrations ?? []), parts.migrations],
        logger,
      );
      bus = createKafkaEventBus({
        clientId: `${parts.service}-${cellId}`,
        brokers: config.kafkaBrokers,
        logger,
      });
      await bus.ensureTopics(cellTopicSpecs(cellId));
      relay = createOutboxRelay({ pool, bus, logger });
      await relay.start();
      subscription = await bus.subscribe({
        groupId: cellConsumerGroup(cellId, parts.service),
        topics: [parts.consume.topic],
        partitionsConcurrently: parts.consume.partitionsConcurrently ?? 3,
        handler: parts.consume.handler(pool),
      });
      server = createGrpcServer();
      const api = parts.grpc(pool);
      server.server.addService(api.definition, api.implementation);
      grpcPort = await server.listen(config.grpc.host, config.grpc.port);
      server.setServing(true);
      housekeeping = setInterval(() => void cleanUp(), HOUSEKEEPING_EVERY_MS);
      housekeeping.unref();
      ready = true;
      logger.info({ cell: cellId, database: config.database, grpcPort }, `${parts.service} ready`);
    },
    stop() {
      stopped ??= (async () => {
        ready = false;
        clearInterval(housekeeping);
        await server?.shutdown();
        await subscription?.stop();
        await relay?.stop();
        await bus?.close();
        await pool.end();
      })();
      return stopped;
    },
  };
}
