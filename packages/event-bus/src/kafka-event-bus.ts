import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace } from '@opentelemetry/api';
import {
  Kafka,
  Partitioners,
  logLevel,
  type EachBatchPayload,
  type KafkaMessage,
  type TopicMessages,
} from 'kafkajs';
import type { Logger } from '@bulkhead/logger';
import { backoffDelay } from '@bulkhead/backoff';
import { envelopeFromHeaders, envelopeToHeaders, MalformedMessageError } from './headers.js';
import { kafkaLogCreator } from './kafka-logging.js';
import type {
  EventBus,
  IncomingMessage,
  MessageHandler,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from './types.js';

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

const tracer = trace.getTracer('@bulkhead/event-bus');

/** Handler retries: 100 ms, 200 ms, … capped at 30 s; never skipped. */
const HANDLER_RETRY = { initialMs: 100, maxMs: 30_000 };
/** Consumer group session: a member that sends no heartbeat for this long is removed. */
const SESSION_TIMEOUT_MS = 10_000;
/** Heartbeat interval, also while a handler is being retried. */
const HEARTBEAT_EVERY_MS = 1_000;
/** Long-poll time of a fetch (kafkajs default 5 s, which is also how long stop() could take). */
const FETCH_MAX_WAIT_MS = 500;
/** ensureTopics tries this often, waiting 200 ms, 400 ms, … up to 2 s in between. */
const ENSURE_TOPICS_ATTEMPTS = 8;
const ENSURE_TOPICS_RETRY = { initialMs: 200, maxMs: 2_000, jitter: true };
/** Resolved offsets are committed at least this often while a batch is processed, and at its end. */
const COMMIT_EVERY_MS = 1_000;

export function createKafkaEventBus(options: KafkaEventBusOptions): EventBus {
  const { logger, publishTimeoutMs = 10_000 } = options;
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
  });
  const producer = kafka.producer({
    idempotent: true, // retries cannot duplicate or reorder a partition's messages
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner, // murmur2 of the key, like the Java client
  });
  let producerReady: Promise<void> | undefined;
  const subscriptions = new Set<Subscription>();

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

  async function subscribe(subscribeOptions: SubscribeOptions): Promise<Subscription> {
    const { groupId, topics, handler, partitionsConcurrently = 1 } = subscribeOptions;
    const log = logger.child({ groupId });
    // A fetch waits up to maxWaitTimeInMs for data and stop() waits for that fetch: keep it short
    // (an idle consumer then polls twice a second; data is returned as soon as it arrives).
    const consumer = kafka.consumer({
      groupId,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      allowAutoTopicCreation: false, // topics are created by ensureTopics()
      // A crashed member holds its partitions until its session times out (kafkajs default
      // 30 s): a shorter session lets a restarted instance take over sooner.
      sessionTimeout: SESSION_TIMEOUT_MS,
      heartbeatInterval: HEARTBEAT_EVERY_MS,
    });
    const stopping = new AbortController();
    let crashed = false;

    consumer.on(consumer.events.CRASH, ({ payload: { error, restart } }) => {
      if (restart) {
        log.warn({ err: error }, 'consumer crashed; kafkajs restarts it');
      } else {
        crashed = true; // reported by healthy(): the service turns unready and gets replaced
        log.error({ err: error }, 'consumer crashed with a non-retriable error and stopped');
      }
    });

    // Runs the handler until it succeeds; false if the consumer is stopping or a seek is pending
    // (isStale). A rebalance that takes the partition away makes heartbeat() throw. Either way
    // the message stays uncommitted and is delivered again.
    async function handleWithRetry(
      message: IncomingMessage,
      payload: EachBatchPayload,
    ): Promise<boolean> {
      for (let attempt = 1; ; attempt++) {
        try {
          await traced(message, handler);
          return true;
        } catch (error) {
          const retryInMs = backoffDelay(attempt, HANDLER_RETRY);
          log.warn(
            {
              err: error,
              topic: message.topic,
              partition: message.partition,
              offset: message.offset,
              messageId: message.envelope.messageId,
              attempt,
              retryInMs,
            },
            'message handler failed; retrying the same message',
          );
          for (let waited = 0; waited < retryInMs; waited += HEARTBEAT_EVERY_MS) {
            await sleep(Math.min(HEARTBEAT_EVERY_MS, retryInMs - waited), undefined, {
              signal: stopping.signal,
            }).catch(() => undefined); // aborted by stop()
            if (!payload.isRunning() || payload.isStale()) return false;
            await payload.heartbeat(); // still alive: keep the partition
          }
        }
      }
    }

    async function eachBatch(payload: EachBatchPayload): Promise<void> {
      const { topic, partition } = payload.batch;
      // Offsets are committed after the handler resolved, in groups rather than one Kafka round
      // trip per message: a crash replays at most the uncommitted tail, which the handlers'
      // inbox deduplicates.
      let uncommitted: string | undefined;
      let lastCommit = Date.now();
      const commit = async (): Promise<void> => {
        if (uncommitted === undefined) return;
        // Kafka stores the NEXT offset to read.
        const offset = (BigInt(uncommitted) + 1n).toString();
        uncommitted = undefined;
        lastCommit = Date.now();
        await payload.commitOffsetsIfNecessary({
          topics: [{ topic, partitions: [{ partition, offset }] }],
        });
      };
      try {
        for (const record of payload.batch.messages) {
          // Stopping, or a seek is pending: leave the rest unresolved (delivered again).
          if (!payload.isRunning() || payload.isStale()) return;
          const message = decode(topic, partition, record, log);
          if (message && !(await handleWithRetry(message, payload))) return;
          payload.resolveOffset(record.offset);
          uncommitted = record.offset;
          if (Date.now() - lastCommit >= COMMIT_EVERY_MS) {
            await commit();
            await payload.heartbeat();
          }
        }
      } finally {
        if (!payload.isStale()) await commit();
      }
    }

    await consumer.connect();
    try {
      // A group without committed offsets starts at the beginning: nothing sent before the
      // service's first start is lost.
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        autoCommit: false, // we commit ourselves, only offsets whose handler resolved
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: partitionsConcurrently,
        eachBatch,
      });
    } catch (error) {
      await consumer.disconnect();
      throw error;
    }
    log.info({ topics }, 'subscribed');

    let stopped: Promise<void> | undefined;
    const subscription: Subscription = {
      healthy: () => !crashed,
      stop: () =>
        (stopped ??= (async () => {
          stopping.abort(); // cut a handler retry's backoff short
          await consumer.stop(); // stops fetching; waits for the batch in hand, which commits what it handled
          await consumer.disconnect(); // leaves the group: partitions move at once
          subscriptions.delete(subscription);
          log.info('unsubscribed');
        })()),
    };
    subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Retries transient failures: several services creating one cell's topics at once on a fresh
   * broker see errors like UNKNOWN_TOPIC_OR_PARTITION while the new topic's metadata spreads.
   */
  async function ensureTopics(specs: TopicSpec[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await ensureTopicsOnce(specs);
        return;
      } catch (error) {
        if (attempt >= ENSURE_TOPICS_ATTEMPTS) throw error;
        const retryInMs = backoffDelay(attempt, ENSURE_TOPICS_RETRY);
        logger.warn({ err: error, attempt, retryInMs }, 'creating topics failed; retrying');
        await sleep(retryInMs);
      }
    }
  }

  async function ensureTopicsOnce(specs: TopicSpec[]): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((spec) => !existing.has(spec.name));
      if (missing.length > 0) {
        // Returns false instead of throwing if another instance created them first.
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((spec) => ({
            topic: spec.name,
            numPartitions: spec.partitions,
            configEntries:
              spec.retentionMs === undefined
                ? []
                : [{ name: 'retention.ms', value: String(spec.retentionMs) }],
          })),
        });
        logger.info({ topics: missing }, 'topics created');
      }
      // Also confirms every topic is usable: right after a (possibly concurrent) creation the
      // broker may not serve its metadata yet, which throws here and is retried.
      const metadata = await admin.fetchTopicMetadata({ topics: specs.map((spec) => spec.name) });
      const present = specs.filter((spec) => existing.has(spec.name));
      for (const spec of present) {
        const partitions =
          metadata.topics.find((t) => t.name === spec.name)?.partitions.length ?? 0;
        if (partitions < spec.partitions) {
          // Adding partitions would move keys to other partitions and break per-key order.
          logger.warn(
            { topic: spec.name, partitions, wanted: spec.partitions },
            'topic exists with fewer partitions than asked; left as it is',
          );
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  async function close(): Promise<void> {
    await Promise.all([...subscriptions].map((subscription) => subscription.stop()));
    await producer.disconnect();
  }

  return { publish, subscribe, ensureTopics, close };
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

/** A Kafka record → IncomingMessage, or undefined (logged) if it carries no valid envelope. */
function decode(
  topic: string,
  partition: number,
  record: KafkaMessage,
  log: Logger,
): IncomingMessage | undefined {
  try {
    return {
      topic,
      partition,
      offset: record.offset,
      key: record.key?.toString('utf8') ?? '',
      envelope: envelopeFromHeaders(record.headers),
      payload: record.value ?? Buffer.alloc(0),
    };
  } catch (error) {
    if (!(error instanceof MalformedMessageError)) throw error;
    // It can never be processed, so it is skipped (committed). A dead-letter topic goes here.
    log.error(
      { err: error, topic, partition, offset: record.offset },
      'skipping a message without envelope',
    );
    return undefined;
  }
}

/**
 * Runs the handler in a consumer span whose parent is the context carried in the envelope, so the
 * handler's work continues the trace of the request that produced the message.
 */
async function traced(message: IncomingMessage, handler: MessageHandler): Promise<void> {
  const { traceparent, tracestate, messageId } = message.envelope;
  const carrier: Record<string, string> = {};
  if (traceparent) carrier.traceparent = traceparent;
  if (tracestate) carrier.tracestate = tracestate;
  const attributes = {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.destination.name': message.topic,
    'messaging.destination.partition.id': String(message.partition),
    'messaging.kafka.offset': message.offset,
    'messaging.message.id': messageId,
  };
  const parent = propagation.extract(ROOT_CONTEXT, carrier);
  await tracer.startActiveSpan(
    `process ${message.topic}`,
    { kind: SpanKind.CONSUMER, attributes },
    parent,
    async (span) => {
      try {
        await handler(message);
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
  );
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
