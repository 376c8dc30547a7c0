import type { EventBus, IncomingMessage } from '@bulkhead/event-bus';
import { createKafkaEventBus } from '@bulkhead/event-bus-kafka';
import { infra, testLogger, uniqueName } from '@bulkhead/testkit';
import { withKafkaAdmin } from './kafka-admin.js';

/** A consumer that keeps every message it receives. */
export interface Collector {
  readonly received: IncomingMessage[];
  stop(): Promise<void>;
}

/** The real event bus for one test file, with fresh topics and consumer groups of its own. */
export interface TestBus {
  readonly bus: EventBus;
  /** Creates a fresh topic; close() deletes it. */
  topic(partitions?: number): Promise<string>;
  /** A fresh consumer group name; close() deletes the group. */
  group(): string;
  /** Subscribes a fresh group to the topics and collects every message it receives. */
  collect(topics: string[], options?: { partitionsConcurrently?: number }): Promise<Collector>;
  /** Closes the bus (stopping its subscriptions), then deletes its topics and groups. */
  close(): Promise<void>;
}

/**
 * A Kafka event bus on the local infra (or on `brokers`, e.g. a startPrivateKafka broker of
 * @bulkhead/testkit), named after the test (client id, topics, groups).
 */
export function createTestBus(
  name: string,
  { brokers = infra.kafkaBrokers }: { brokers?: string[] } = {},
): TestBus {
  const bus = createKafkaEventBus({
    clientId: uniqueName(name),
    brokers,
    logger: testLogger(name),
  });
  const topics: string[] = [];
  const groups: string[] = [];
  const group = (): string => {
    const groupId = uniqueName(name);
    groups.push(groupId);
    return groupId;
  };
  return {
    bus,
    group,
    async topic(partitions = 1) {
      const topic = uniqueName(name);
      await bus.ensureTopics([{ name: topic, partitions }]);
      topics.push(topic);
      return topic;
    },
    async collect(subscribed, { partitionsConcurrently } = {}) {
      const received: IncomingMessage[] = [];
      const subscription = await bus.subscribe({
        groupId: group(),
        topics: subscribed,
        partitionsConcurrently,
        handler: async (message) => {
          received.push(message);
        },
      });
      return { received, stop: () => subscription.stop() };
    },
    async close() {
      await bus.close();
      if (topics.length === 0 && groups.length === 0) return;
      await withKafkaAdmin(async (admin) => {
        // A group the broker still counts as non-empty stays behind: harmless, and it expires.
        if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
        if (topics.length > 0) await admin.deleteTopics({ topics });
      }, brokers);
    },
  };
}
