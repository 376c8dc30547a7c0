import type { CellService } from '@bulkhead/cell';
import { createPool, databaseUrl, type Pool } from '@bulkhead/db';
import type { EventBus } from '@bulkhead/event-bus';
import { createKafkaEventBus } from '@bulkhead/event-bus-kafka';
import type { Logger } from '@bulkhead/logger';
import { createMetrics, type Metrics } from '@bulkhead/metrics';
import { createOutbox, type Outbox, type TraceContextSource } from '@bulkhead/outbox';
import { systemClock, type Clock } from '@bulkhead/service-runtime';
import { currentTraceContext } from '@bulkhead/telemetry/context';
import type { CellServiceConfig } from './config.js';

/**
 * Every dependency of one service of a cell, built once from its configuration (in the style of
 * atproto's AppContext.fromConfig) and passed down to the parts that need it. Building connects
 * nothing: the pool and the bus connect on first use, in start().
 */
export interface CellServiceContext<Settings = unknown> {
  readonly service: CellService;
  readonly cellId: string;
  readonly config: CellServiceConfig<Settings>;
  readonly logger: Logger;
  /** The service's metrics (labelled service and cell), served on its ops port at /metrics. */
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly pool: Pool;
  readonly bus: EventBus;
  /** Where the service's state changes enqueue their messages (with the active trace context). */
  readonly outbox: Outbox;
  /** Closes what the context built (not what was passed in as an override). */
  close(): Promise<void>;
}

/** Alternatives to what the context builds: tests, or another adapter (e.g. a second broker). */
export interface CellServiceOverrides {
  logger: Logger;
  metrics?: Metrics;
  clock?: Clock;
  pool?: Pool;
  bus?: EventBus;
  /** Where the outbox reads the active trace context (default: OpenTelemetry's). */
  traceContext?: TraceContextSource;
}

export function createCellServiceContext<Settings>(
  service: CellService,
  config: CellServiceConfig<Settings>,
  overrides: CellServiceOverrides,
): CellServiceContext<Settings> {
  const { logger } = overrides;
  const name = `${service}-${config.cellId}`;
  const metrics = overrides.metrics ?? createMetrics({ service, cell: config.cellId });
  const pool =
    overrides.pool ??
    createPool(databaseUrl(config.pgUrl, config.database), {
      max: config.dbPoolSize,
      applicationName: name,
      logger,
    });
  const bus =
    overrides.bus ??
    createKafkaEventBus({ clientId: name, brokers: config.kafkaBrokers, logger, metrics });
  let closed: Promise<void> | undefined;
  return {
    service,
    cellId: config.cellId,
    config,
    logger,
    metrics,
    clock: overrides.clock ?? systemClock,
    pool,
    bus,
    outbox: createOutbox({ traceContext: overrides.traceContext ?? currentTraceContext }),
    close: () =>
      (closed ??= (async () => {
        if (!overrides.bus) await bus.close();
        if (!overrides.pool) await pool.end();
      })()),
  };
}
