import { Kafka, logLevel } from 'kafkajs';
import type { EventBus, Subscription } from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import { subscribe } from './consumer.js';
import { kafkaLogCreator } from './logging.js';
import { createPublisher } from './producer.js';
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
   * Upper bound for one publish(), connecting included (default 10 s). The idempotent producer
   * retries for as long as the broker is down; past this bound publish() rejects so that the
   * caller (the outbox relay) can retry later.
   */
  publishTimeoutMs?: number;
}

/**
 * The event bus over Kafka (kafkajs): the producer (producer.ts), consumer-group subscriptions
 * with retries and offset commits (consumer.ts), topic creation (topics.ts) and the envelope in
 * headers (headers.ts). Nothing outside this package imports kafkajs.
 */
export function createKafkaEventBus(options: KafkaEventBusOptions): EventBus {
  const { logger, publishTimeoutMs = 10_000 } = options;
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
  });
  const publisher = createPublisher(kafka, publishTimeoutMs);
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
