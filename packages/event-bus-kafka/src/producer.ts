import { Partitioners, type Kafka, type TopicMessages } from 'kafkajs';
import type { OutgoingMessage } from '@bulkhead/event-bus';
import { envelopeToHeaders } from './headers.js';

export interface KafkaPublisher {
  publish(messages: OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The publishing side: one idempotent producer (retries cannot duplicate or reorder a
 * partition's messages), connected on first use, acks from all in-sync replicas.
 */
export function createPublisher(kafka: Kafka, publishTimeoutMs: number): KafkaPublisher {
  const producer = kafka.producer({
    idempotent: true, // retries cannot duplicate or reorder a partition's messages
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner, // murmur2 of the key, like the Java client
  });
  let producerReady: Promise<void> | undefined;

  async function publish(messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const send = async (): Promise<void> => {
      producerReady ??= producer.connect().catch((error: unknown) => {
        producerReady = undefined; // the next publish tries again
        throw error;
      });
      await producerReady;
      await producer.sendBatch({ topicMessages: toTopicMessages(messages), acks: -1 });
    };
    // After a timeout kafkajs may still deliver the batch later; the caller then publishes it
    // again: delivery is at-least-once and consumers deduplicate on messageId (inbox).
    await withTimeout(send(), publishTimeoutMs, `publishing ${messages.length} messages`);
  }

  return { publish, close: () => producer.disconnect() };
}

/** Groups the messages per topic (one produce request), keeping their order within a topic. */
function toTopicMessages(messages: OutgoingMessage[]): TopicMessages[] {
  const byTopic = new Map<string, TopicMessages>();
  for (const { topic, key, envelope, payload } of messages) {
    let entry = byTopic.get(topic);
    if (!entry) byTopic.set(topic, (entry = { topic, messages: [] }));
    entry.messages.push({ key, value: Buffer.from(payload), headers: envelopeToHeaders(envelope) });
  }
  return [...byTopic.values()];
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
