import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace } from '@opentelemetry/api';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { backoffDelay } from '@bulkhead/backoff';
import type {
  IncomingMessage,
  MessageHandler,
  SubscribeOptions,
  Subscription,
} from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import { envelopeFromHeaders, MalformedMessageError } from './headers.js';

const tracer = trace.getTracer('@bulkhead/event-bus-kafka');

/** Handler retries: 100 ms, 200 ms, … capped at 30 s; never skipped. */
const HANDLER_RETRY = { initialMs: 100, maxMs: 30_000 };
/** Consumer group session: a member that sends no heartbeat for this long is removed. */
const SESSION_TIMEOUT_MS = 10_000;
/** Heartbeat interval, also while a handler is being retried. */
const HEARTBEAT_EVERY_MS = 1_000;
/** Long-poll time of a fetch (kafkajs default 5 s, which is also how long stop() could take). */
const FETCH_MAX_WAIT_MS = 500;
/** Resolved offsets are committed at least this often while a batch is processed, and at its end. */
const COMMIT_EVERY_MS = 1_000;

/**
 * One consumer-group subscription: fetches, runs the handler once per message in order per
 * partition (retrying a failing handler with backoff while heartbeating), commits resolved
 * offsets, and reports a consumer that crashed for good through healthy().
 */
export async function subscribe(
  kafka: Kafka,
  subscribeOptions: SubscribeOptions,
  logger: Logger,
  onStop: () => void,
): Promise<Subscription> {
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
  return {
    healthy: () => !crashed,
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort(); // cut a handler retry's backoff short
        await consumer.stop(); // stops fetching; waits for the batch in hand, which commits what it handled
        await consumer.disconnect(); // leaves the group: partitions move at once
        onStop();
        log.info('unsubscribed');
      })()),
  };
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
