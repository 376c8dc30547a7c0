import { Kafka, logLevel, type ISocketFactory, type KafkaConfig } from 'kafkajs';
import type { EventBus, Subscription } from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import type { Metrics } from '@bulkhead/metrics';
import { subscribe } from './consumer.js';
import { kafkaLogCreator } from './logging.js';
import { createPublisher, publisherClient, type KafkaPublisher } from './producer.js';
import { redrive, type RedriveOptions, type Redriven } from './redrive.js';
import { ensureTopics } from './topics.js';

export { consumerLagMetric } from './metrics.js';
export { redriveGroup, type RedriveOptions, type Redriven } from './redrive.js';
export {
  DEAD_LETTER_HEADERS,
  ENVELOPE_HEADERS,
  envelopeFromHeaders,
  envelopeToHeaders,
  MalformedMessageError,
} from './headers.js';

export interface KafkaEventBusOptions {
  clientId: string;
  brokers: string[];
  logger: Logger;
  /**
   * Upper bound for one publish(), waiting for an earlier send and connecting included (default
   * 10 s). Past it publish() rejects with PublishError('unavailable') so that the caller (the
   * outbox relay) can retry later; the send itself may still land (producer.ts).
   */
  publishTimeoutMs?: number;
  /**
   * The app's metrics: each subscription's consumed, dead-lettered and handling-time series
   * (consumer.ts); the lag is read at scrape time by whoever owns the subscription (consumerLagMetric).
   */
  metrics?: Metrics;
}

/** Seams for this package's own tests, not for services. */
export interface KafkaEventBusInternals {
  /** Consumer group session timeout (default 10 s; the broker's minimum is 6 s). */
  sessionTimeoutMs?: number;
  /** kafkajs's socket factory for every client of the bus (a test routes them through a proxy). */
  socketFactory?: ISocketFactory;
}

/** The package's kafkajs clients: one for consumers and admin, and the publisher's own. */
function clients(
  options: KafkaEventBusOptions,
  internals: KafkaEventBusInternals,
): { kafka: Kafka; publisher: KafkaPublisher } {
  const { logger, publishTimeoutMs = 10_000 } = options;
  const config: KafkaConfig = {
    clientId: options.clientId,
    brokers: options.brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    ...(internals.socketFactory ? { socketFactory: internals.socketFactory } : {}),
  };
  const publisher = createPublisher(
    publisherClient(config, publishTimeoutMs),
    publishTimeoutMs,
    logger,
  );
  return { kafka: new Kafka(config), publisher };
}

/**
 * The event bus over Kafka (kafkajs): the producer (producer.ts), consumer-group subscriptions
 * with failure handling, dead letters and offset commits (consumer.ts), topic creation
 * (topics.ts) and the envelope in headers (headers.ts). Nothing outside this package imports
 * kafkajs.
 */
export function createKafkaEventBus(
  options: KafkaEventBusOptions,
  internals: KafkaEventBusInternals = {},
): EventBus {
  const { logger } = options;
  const { kafka, publisher } = clients(options, internals);
  const subscriptions = new Set<Subscription>();

  return {
    publish: (messages) => publisher.publish(messages),
    async subscribe(subscribeOptions) {
      const subscription: Subscription = await subscribe(
        kafka,
        subscribeOptions,
        {
          logger,
          publisher,
          sessionTimeoutMs: internals.sessionTimeoutMs,
          ...(options.metrics ? { metrics: options.metrics } : {}),
        },
        () => subscriptions.delete(subscription),
      );
      subscriptions.add(subscription);
      return subscription;
    },
    ensureTopics: (specs) => ensureTopics(kafka, specs, logger),
    async close() {
      await Promise.all([...subscriptions].map((subscription) => subscription.stop()));
      await publisher.close();
    },
  };
}

/** Redrive of dead letters (redrive.ts) on clients of its own: what the CLI and tests use. */
export interface KafkaRedrive {
  redrive(options: RedriveOptions): Promise<Redriven[]>;
  close(): Promise<void>;
}

export function createKafkaRedrive(options: KafkaEventBusOptions): KafkaRedrive {
  const { kafka, publisher } = clients(options, {});
  return {
    redrive: (redriveOptions) => redrive(kafka, publisher, redriveOptions, options.logger),
    close: () => publisher.close(),
  };
}
