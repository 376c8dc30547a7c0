import { randomUUID } from 'node:crypto';
import {
  Kafka,
  logLevel,
  Partitioners,
  type Admin,
  type IHeaders,
  type KafkaMessage,
} from 'kafkajs';
import { infra, uniqueName } from '@bulkhead/testkit';
import type { Envelope, IncomingMessage, OutgoingMessage, TopicSpec } from '@bulkhead/event-bus';

/** The package's integration tests share this: messages, throwaway topics and groups, raw Kafka. */
export function message(
  topic: string,
  key: string,
  body: string,
  extra: Partial<Envelope> = {},
): OutgoingMessage {
  return {
    topic,
    key,
    payload: Buffer.from(body),
    envelope: {
      messageId: randomUUID(),
      type: 'bulkhead.test.v1.Thing',
      tenantId: 'tenant-1',
      cellId: 'cell-1',
      correlationId: key,
      occurredAt: new Date().toISOString(),
      ...extra,
    },
  };
}

export const body = (m: Pick<IncomingMessage, 'payload'>): string =>
  Buffer.from(m.payload).toString();

/** A raw record's value as text. */
export const value = (record: Pick<KafkaMessage, 'value'>): string =>
  record.value?.toString() ?? '';

/** A plain kafkajs client on the local broker (what the bus hides: raw records, offsets). */
export const rawKafka = (): Kafka =>
  new Kafka({ brokers: infra.kafkaBrokers, logLevel: logLevel.NOTHING });

/**
 * Topics and groups made by one test file, deleted by cleanUp(). `admin` is connected by
 * start().
 */
export class KafkaTestSpace {
  readonly admin: Admin = rawKafka().admin();
  private readonly topics: string[] = [];
  private readonly groups: string[] = [];

  async start(): Promise<void> {
    await this.admin.connect();
  }

  async cleanUp(): Promise<void> {
    if (this.groups.length > 0) await this.admin.deleteGroups(this.groups).catch(() => undefined);
    const existing = new Set(await this.admin.listTopics());
    const topics = this.topics.filter((topic) => existing.has(topic));
    if (topics.length > 0) await this.admin.deleteTopics({ topics });
    await this.admin.disconnect();
  }

  /** A fresh topic name, deleted at the end (created by whoever uses it). */
  topicName(prefix = 'event_bus'): string {
    const name = uniqueName(prefix);
    this.topics.push(name);
    return name;
  }

  /** Marks a topic someone else creates (e.g. a dead-letter topic) for deletion at the end. */
  track(topic: string): string {
    this.topics.push(topic);
    return topic;
  }

  /** Creates a topic with the admin client (configEntries as Kafka names them). */
  async createTopic(
    spec: Omit<TopicSpec, 'name'> & { name?: string; config?: Record<string, string> },
  ): Promise<string> {
    const name = spec.name ?? this.topicName();
    await this.admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: name,
          numPartitions: spec.partitions,
          configEntries: Object.entries(spec.config ?? {}).map(([key, value]) => ({
            name: key,
            value,
          })),
        },
      ],
    });
    return name;
  }

  /** Marks a group someone else names (e.g. a redrive's) for deletion at the end. */
  trackGroup(groupId: string): string {
    this.groups.push(groupId);
    return groupId;
  }

  group(prefix = 'event_bus_group'): string {
    const name = uniqueName(prefix);
    this.groups.push(name);
    return name;
  }

  /** The group's committed offset (the next offset to read) per partition of a topic. */
  async committed(groupId: string, topic: string): Promise<string[]> {
    const [offsets] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return (offsets?.partitions ?? [])
      .sort((a, b) => a.partition - b.partition)
      .map((p) => p.offset);
  }

  /** Every record of a topic as it is now (read with offsets, not a group), partition by partition. */
  async records(topic: string): Promise<(KafkaMessage & { partition: number })[]> {
    const ends = await this.admin.fetchTopicOffsets(topic);
    const wanted = ends.filter((p) => BigInt(p.high) > BigInt(p.low));
    const out: (KafkaMessage & { partition: number })[] = [];
    if (wanted.length === 0) return out;
    const consumer = rawKafka().consumer({ groupId: this.group('records'), maxWaitTimeInMs: 100 });
    const remaining = new Map(wanted.map((p) => [p.partition, BigInt(p.high)]));
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const done = new Promise<void>((resolve) => {
        void consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message: record }) => {
            out.push({ ...record, partition });
            if (BigInt(record.offset) + 1n >= (remaining.get(partition) ?? 0n)) {
              remaining.delete(partition);
              if (remaining.size === 0) resolve();
            }
          },
        });
      });
      await done;
    } finally {
      await consumer.disconnect();
    }
    return out.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  }

  /** Writes records as they are (no envelope unless given), with the Java client's partitioner. */
  async produceRaw(
    topic: string,
    records: { key: string; value: string; headers?: IHeaders; partition?: number }[],
  ): Promise<void> {
    const producer = rawKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      await producer.send({ topic, messages: records });
    } finally {
      await producer.disconnect();
    }
  }
}

/**
 * A key the producer's partitioner (murmur2, like the Java client) sends to this partition of a
 * topic with `partitions` partitions: lets a test put messages on partitions of its choice.
 */
export function keyOnPartition(partition: number, partitions: number, prefix = 'key'): string {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));
  for (let i = 0; ; i++) {
    const key = `${prefix}-${i}`;
    const chosen = partitioner({ topic: 'any', partitionMetadata, message: { key, value: null } });
    if (chosen === partition) return key;
  }
}

/** A header's value as text (kafkajs gives Buffers on the consumer side). */
export function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}
