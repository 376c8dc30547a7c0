import { randomBytes } from 'node:crypto';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { deadLetterTopic } from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import {
  DEAD_LETTER_HEADERS,
  ENVELOPE_HEADERS,
  headerText,
  withoutDeadLetterHeaders,
} from './headers.js';
import type { KafkaPublisher } from './producer.js';

/** What one redrive re-published: the dead letter and what it says about itself. */
export interface Redriven {
  /** Where the dead letter is: partition and offset of `<topic>.dead-letters`. */
  partition: number;
  offset: string;
  key: string | undefined;
  messageId: string | undefined;
  type: string | undefined;
  kind: string | undefined;
  error: string | undefined;
  deadLetteredAt: string | undefined;
}

export interface RedriveOptions {
  /** The consumed topic whose dead letters are re-published to it. */
  topic: string;
  /**
   * Only the dead letter of this message id (the latest, if it was dead-lettered more than
   * once), whether redriven before or not; the progress of whole redrives is left alone.
   */
  messageId?: string;
  /** Called after each dead letter was re-published (e.g. to print it). */
  onRedriven?: (redriven: Redriven) => void;
}

/** The consumer group that keeps a whole redrive's progress on `<topic>.dead-letters`. */
export function redriveGroup(topic: string): string {
  return `${deadLetterTopic(topic)}.redrive`;
}

/** Topic names Kafka accepts (and no more than it accepts). */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** A redrive that reads nothing for this long (another one holds the partitions?) gives up. */
const IDLE_MS = 30_000;

/**
 * Re-publishes dead letters of `<topic>.dead-letters` to `topic` after a fix: the same key, the
 * value and the original headers (the dead-letter ones stripped), so the message keeps its
 * message id and the consumer's inbox still deduplicates a message that did get through once.
 *
 * Without a message id: every dead letter not redriven before, up to the end the topic has when
 * the redrive starts; the progress is the committed offset of redriveGroup(topic), committed
 * after each batch was re-published (an interrupted redrive goes on where it stopped; at worst
 * it re-publishes the batch in hand again, which the inbox absorbs). With a message id: that
 * message only, found by reading the whole topic with a throwaway group.
 */
export async function redrive(
  kafka: Kafka,
  publisher: KafkaPublisher,
  options: RedriveOptions,
  logger: Logger,
): Promise<Redriven[]> {
  const { topic, messageId, onRedriven } = options;
  if (!TOPIC_NAME.test(topic)) throw new TypeError(`not a topic name: ${JSON.stringify(topic)}`);
  if (messageId !== undefined && messageId.trim() === '') {
    throw new TypeError('the message id is empty');
  }
  const source = deadLetterTopic(topic);
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, { low: bigint; high: bigint }>;
  let committed: Map<number, bigint>;
  try {
    const existing = new Set(await admin.listTopics());
    if (!existing.has(source)) {
      const hint = topic.endsWith('.dead-letters') ? ' (TOPIC is the consumed topic)' : '';
      throw new Error(`there is no topic ${source}${hint}`);
    }
    if (!existing.has(topic)) throw new Error(`there is no topic ${topic} to redrive to`);
    const offsets = await admin.fetchTopicOffsets(source);
    ends = new Map(offsets.map((p) => [p.partition, { low: BigInt(p.low), high: BigInt(p.high) }]));
    const [group] = await admin.fetchOffsets({ groupId: redriveGroup(topic), topics: [source] });
    committed = new Map((group?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }

  const redriven: Redriven[] = [];
  const republish = async (partition: number, records: KafkaMessage[]): Promise<void> => {
    if (records.length === 0) return;
    await publisher.sendRecords(
      [
        {
          topic,
          messages: records.map((record) => ({
            key: record.key,
            value: record.value,
            headers: withoutDeadLetterHeaders(record.headers),
          })),
        },
      ],
      `redriving ${records.length} dead letters of ${source} to ${topic}`,
    );
    for (const record of records) {
      const done = describe(partition, record);
      redriven.push(done);
      onRedriven?.(done);
    }
  };

  if (messageId === undefined) {
    // From the committed offset (or the log's start) to the end as it is now, per partition.
    const todo = new Map<number, { from: bigint; to: bigint }>();
    for (const [partition, { low, high }] of ends) {
      const next = committed.get(partition);
      const from = next !== undefined && next > low ? next : low;
      if (from < high) todo.set(partition, { from, to: high });
    }
    if (todo.size === 0) return [];
    await readTopic(kafka, source, redriveGroup(topic), todo, logger, async (payload, records) => {
      await republish(payload.batch.partition, records);
      const last = records.at(-1);
      if (!last) return;
      const offset = (BigInt(last.offset) + 1n).toString();
      await payload.commitOffsetsIfNecessary({
        topics: [{ topic: source, partitions: [{ partition: payload.batch.partition, offset }] }],
      });
    });
    return redriven;
  }

  // By id: read every partition from its start; the latest dead letter of the id wins.
  const todo = new Map<number, { from: bigint; to: bigint }>();
  for (const [partition, { low, high }] of ends) {
    if (low < high) todo.set(partition, { from: low, to: high });
  }
  let found: { partition: number; record: KafkaMessage } | undefined;
  const scanGroup = `${source}.redrive-one.${randomBytes(4).toString('hex')}`;
  if (todo.size > 0) {
    try {
      await readTopic(kafka, source, scanGroup, todo, logger, async (payload, records) => {
        for (const record of records) {
          if (headerText(record.headers, ENVELOPE_HEADERS.messageId) !== messageId) continue;
          if (!found || isLater(record, found.record)) {
            found = { partition: payload.batch.partition, record };
          }
        }
      });
    } finally {
      const cleanUp = kafka.admin();
      await cleanUp.connect();
      await cleanUp.deleteGroups([scanGroup]).catch(() => undefined); // it committed nothing
      await cleanUp.disconnect();
    }
  }
  if (!found) throw new Error(`no dead letter of message ${messageId} in ${source}`);
  await republish(found.partition, [found.record]);
  return redriven;
}

function describe(partition: number, record: KafkaMessage): Redriven {
  const text = (name: string): string | undefined => headerText(record.headers, name);
  const errorName = text(DEAD_LETTER_HEADERS.errorName);
  const errorMessage = text(DEAD_LETTER_HEADERS.errorMessage);
  return {
    partition,
    offset: record.offset,
    key: record.key?.toString('utf8'),
    messageId: text(ENVELOPE_HEADERS.messageId),
    type: text(ENVELOPE_HEADERS.type),
    kind: text(DEAD_LETTER_HEADERS.kind),
    error: errorName === undefined ? errorMessage : `${errorName}: ${errorMessage ?? ''}`,
    deadLetteredAt: text(DEAD_LETTER_HEADERS.deadLetteredAt),
  };
}

/** Dead-lettered later (by its header; by offset within a partition if it has none). */
function isLater(a: KafkaMessage, b: KafkaMessage): boolean {
  const at = (r: KafkaMessage): number =>
    Date.parse(headerText(r.headers, DEAD_LETTER_HEADERS.deadLetteredAt) ?? '') || 0;
  return at(a) !== at(b) ? at(a) > at(b) : BigInt(a.offset) > BigInt(b.offset);
}

/**
 * Reads [from, to) of each partition in `todo` as member of `groupId` (starting at its committed
 * offset, else the log's start), batch by batch in order, and returns once every range is read.
 */
async function readTopic(
  kafka: Kafka,
  topic: string,
  groupId: string,
  todo: Map<number, { from: bigint; to: bigint }>,
  logger: Logger,
  onRecords: (payload: EachBatchPayload, records: KafkaMessage[]) => Promise<void>,
): Promise<void> {
  const remaining = new Map(todo);
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500, allowAutoTopicCreation: false });
  let lastProgress = Date.now();
  let settle!: (error?: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error));
  });
  consumer.on(consumer.events.CRASH, ({ payload: { error, restart } }) => {
    if (!restart) settle(error);
  });
  const idle = setInterval(() => {
    if (Date.now() - lastProgress > IDLE_MS) {
      const left = [...remaining.keys()].join(', ');
      settle(new Error(`${topic}: nothing read for ${IDLE_MS} ms, partitions ${left} left`));
    }
  }, 1_000);
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        const { partition } = payload.batch;
        const range = remaining.get(partition);
        if (!range) return; // read already, or nothing to read
        const records = payload.batch.messages.filter((r) => BigInt(r.offset) < range.to);
        await onRecords(payload, records);
        lastProgress = Date.now();
        for (const record of records) payload.resolveOffset(record.offset);
        const last = records.at(-1);
        if (
          payload.batch.messages.length > records.length ||
          (last && BigInt(last.offset) + 1n >= range.to)
        ) {
          remaining.delete(partition);
          payload.pause(); // past its range: nothing more from it
          if (remaining.size === 0) settle();
        }
      },
    });
    await finished;
  } catch (error) {
    logger.debug({ err: error, topic, groupId }, 'reading the dead letters failed');
    throw error;
  } finally {
    clearInterval(idle);
    await consumer.disconnect();
  }
}
