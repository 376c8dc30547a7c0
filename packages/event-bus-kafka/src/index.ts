import { Kafka, logLevel, type ISocketFactory, type KafkaConfig } from 'kafkajs';
import type { EventBus, Subscription } from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import { subscribe } from './consumer.js';
import { kafkaLogCreator } from './logging.js';
import { createPublisher, publisherClient } from './producer.js';
import { ensureTopics } from './topics.js';

export {
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
}

/** Seams for this package's own tests, not for services. */
export interface KafkaEventBusInternals {
  /** kafkajs's socket factory for every client of the bus (a test routes them through a proxy). */
  socketFactory?: ISocketFactory;
}

/**
 * The event bus over Kafka (kafkajs): the producer (producer.ts), consumer-group subscriptions
 * with retries and offset commits (consumer.ts), topic creation (topics.ts) and the envelope in
 * headers (headers.ts). Nothing outside this package imports kafkajs.
 */
export function createKafkaEventBus(
  options: KafkaEventBusOptions,
  internals: KafkaEventBusInternals = {},
): EventBus {
  const { logger, publishTimeoutMs = 10_000 } = options;
  const config: KafkaConfig = {
    clientId: options.clientId,
    brokers: options.brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    ...(internals.socketFactory ? { socketFactory: internals.socketFactory } : {}),
  };
  const kafka = new Kafka(config);
  const publisher = createPublisher(
    publisherClient(config, publishTimeoutMs),
    publishTimeoutMs,
    logger,
  );
  const subscriptions = new Set<Subscription>();

  return {
    publish: (messages) => publisher.publish(messages),
    async subscribe(subscribeOptions) {
      const subscription: Subscription = await subscribe(kafka, subscribeOptions, logger, () =>
        subscriptions.delete(subscription),
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
