import {
  CELL_TOPIC_PARTITIONS,
  CELL_TOPIC_RETENTION_MS,
  DEAD_LETTER_TOPIC_RETENTION_MS,
  cellConsumerGroup,
  cellTopicSpecs,
  consumedTopic,
  type CellService,
} from '@bulkhead/cell';
import { prepareDatabase, type MigrationSet } from '@bulkhead/db';
import type {
  BatchingMessageHandler,
  DeadLetter,
  MessageHandler,
  Subscription,
} from '@bulkhead/event-bus';
import { createGrpcServer, type grpc } from '@bulkhead/grpc';
import { inboxMigrations, purgeProcessed } from '@bulkhead/inbox';
import { consumerLagMetric } from '@bulkhead/event-bus-kafka';
import { sharedRead } from '@bulkhead/metrics';
import {
  createOutboxRelay,
  outboxMetrics,
  outboxMigrations,
  outboxState,
  purgeSent,
} from '@bulkhead/outbox';
import { Lifecycle, type App } from '@bulkhead/service-runtime';
import type { z } from '@bulkhead/config';
import type { CellServiceConfig } from './config.js';
import { classifyFailure } from './failures.js';
import {
  createCellServiceContext,
  type CellServiceContext,
  type CellServiceOverrides,
} from './context.js';

/** What one service of a cell adds to the shared shape. */
export interface CellServiceParts<Settings = unknown> {
  service: CellService;
  /**
   * The service's own environment variables (a zod schema over the environment), read and
   * validated with the shared ones at start-up; the value is `context.config.settings`.
   */
  settings?: z.ZodType<Settings>;
  /** The service's own migration sets, applied after the outbox's and the inbox's, in order. */
  migrations: MigrationSet[];
  /** Its gRPC API. */
  grpc(context: CellServiceContext<Settings>): {
    definition: grpc.ServiceDefinition;
    implementation: grpc.UntypedServiceImplementation;
  };
  /**
   * The handler of the topic it consumes (the manifest's `consumes`, group <cell>.<service>); a
   * batching one (the inbox's) gets runs of each partition's messages at once.
   */
  handler(context: CellServiceContext<Settings>): MessageHandler | BatchingMessageHandler;
  /**
   * Called for each consumed message that was dead-lettered, before its offset is committed
   * (a saga participant answers the saga with a failure). Retried while it throws.
   */
  onDeadLetter?(context: CellServiceContext<Settings>): (deadLetter: DeadLetter) => Promise<void>;
  /**
   * Work of its own that runs beside the consumer (e.g. the saga sweeper): built with the app,
   * started after the consumer, stopped before it; its ops views join the app's.
   */
  background?(context: CellServiceContext<Settings>): BackgroundWork;
  /**
   * Partitions handled at once; each holds one pooled connection while it works. Default 6: every
   * partition of a cell topic.
   */
  partitionsConcurrently?: number;
  /** Extra periodic clean-up of the service's own tables (e.g. expired idempotency keys). */
  housekeeping?(context: CellServiceContext<Settings>): Promise<void>;
}

/** A cell service's own background work. */
export interface BackgroundWork {
  start(): void | Promise<void>;
  stop(): Promise<void>;
  /** Read-only views served on the ops port (see App.opsViews). */
  opsViews?: Record<string, () => unknown>;
}

/** How often housekeeping runs, and how long sent outbox rows and inbox ids are kept. */
const HOUSEKEEPING_EVERY_MS = 10 * 60_000;
const KEEP_SENT_OUTBOX_MS = 24 * 3_600_000;
/**
 * Longer than any message can come back: a redelivery from a cell topic (CELL_TOPIC_RETENTION_MS)
 * or a redrive from its dead letters (kept DEAD_LETTER_TOPIC_RETENTION_MS after the failure,
 * which itself comes at most a retention after the message) is recognised by its id.
 */
const KEEP_INBOX_MS = 2 * CELL_TOPIC_RETENTION_MS + DEAD_LETTER_TOPIC_RETENTION_MS;

export interface CellServiceApp<Settings = unknown> extends App {
  /** The bound gRPC port (useful when configured as 0); 0 until started. */
  readonly grpcPort: number;
  readonly context: CellServiceContext<Settings>;
}

/**
 * The composition every service of a cell shares: its own database (created and migrated at
 * start), the cell's topics, an outbox relay, one consumer, and a gRPC server with health.
 * Started in dependency order; stop() closes what was opened, in reverse, draining each part.
 */
export function createCellServiceApp<Settings>(
  config: CellServiceConfig<Settings>,
  parts: CellServiceParts<Settings>,
  overrides: CellServiceOverrides,
): CellServiceApp<Settings> {
  const context = createCellServiceContext(parts.service, config, overrides);
  const { logger, pool, bus, cellId, metrics } = context;
  const relay = createOutboxRelay({ pool, bus, logger, metrics, outbox: context.outbox });
  const background = parts.background?.(context);
  const lifecycle = new Lifecycle(logger);
  lifecycle.defer('context', () => context.close());
  let running: { grpcPort: number; subscription: Subscription } | undefined;
  let stopping = false;

  async function cleanUp(): Promise<void> {
    try {
      const sent = await purgeSent(pool, KEEP_SENT_OUTBOX_MS);
      const processed = await purgeProcessed(pool, KEEP_INBOX_MS);
      await parts.housekeeping?.(context);
      logger.debug({ sent, processed }, 'housekeeping done');
    } catch (error) {
      logger.warn({ err: error }, 'housekeeping failed; trying again later');
    }
  }

  /**
   * The async core at a glance (ops port, GET /messaging): the outbox (unsent rows and the age of
   * the oldest, parked rows) and the consumer group's lag per partition. A consumer down for long
   * shows here long before the topics' retention could delete what it has not read.
   */
  const messaging = async () => ({
    outbox: await outboxState(pool),
    consumer: running ? await running.subscription.lag() : null,
  });
  // The same reads, at scrape time: one query each per scrape, however many gauges they fill.
  outboxMetrics(
    metrics,
    sharedRead(() => outboxState(pool)),
  );
  const group = cellConsumerGroup(cellId, parts.service);
  consumerLagMetric(metrics, async () =>
    running ? { group, partitions: await running.subscription.lag() } : null,
  );

  return {
    context,
    metrics,
    opsViews: { '/messaging': messaging, ...background?.opsViews },
    get grpcPort() {
      return running?.grpcPort ?? 0;
    },
    // Not ready while starting, draining, or once the consumer has died: an orchestrator then
    // routes around the instance (and a liveness policy may restart it).
    isReady: () => !stopping && (running?.subscription.healthy() ?? false),
    async start() {
      await prepareDatabase({
        serverUrl: config.pgUrl,
        database: config.database,
        migrations: [outboxMigrations, inboxMigrations, ...parts.migrations],
        logger,
      });
      await bus.ensureTopics(cellTopicSpecs(cellId));
      await lifecycle.open(
        'outbox relay',
        () => relay.start(),
        () => relay.stop(),
      );
      const subscription = await lifecycle.open(
        'consumer',
        () =>
          bus.subscribe({
            groupId: group,
            topics: [consumedTopic(cellId, parts.service)],
            partitionsConcurrently: parts.partitionsConcurrently ?? CELL_TOPIC_PARTITIONS,
            handler: parts.handler(context),
            classify: classifyFailure,
            ...(parts.onDeadLetter && { onDeadLetter: parts.onDeadLetter(context) }),
          }),
        (s) => s.stop(),
      );
      if (background) {
        await lifecycle.open(
          'background work',
          () => background.start(),
          () => background.stop(),
        );
      }
      const server = await lifecycle.open(
        'gRPC server',
        () => createGrpcServer({ maxInFlight: config.grpc.maxInFlight, metrics }),
        (s) => s.shutdown(),
      );
      const api = parts.grpc(context);
      server.addService(api.definition, api.implementation);
      const grpcPort = await server.listen(config.grpc.host, config.grpc.port);
      server.setServing(true);
      const housekeeping = context.clock.every(HOUSEKEEPING_EVERY_MS, () => void cleanUp());
      lifecycle.defer('housekeeping', () => housekeeping.cancel());
      running = { grpcPort, subscription };
      logger.info({ cell: cellId, database: config.database, grpcPort }, `${parts.service} ready`);
    },
    stop() {
      stopping = true;
      return lifecycle.close();
    },
  };
}
