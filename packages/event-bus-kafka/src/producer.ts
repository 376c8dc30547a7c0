import {
  Kafka,
  Partitioners,
  type KafkaConfig,
  type Producer,
  type RetryOptions,
  type TopicMessages,
} from 'kafkajs';
import { PublishError, type OutgoingMessage } from '@bulkhead/event-bus';
import type { Logger } from '@bulkhead/logger';
import { envelopeToHeaders } from './headers.js';
import { endSendSpans, startSendSpans } from './tracing.js';

export interface KafkaPublisher {
  publish(messages: OutgoingMessage[]): Promise<void>;
  /**
   * Sends records as they are (dead letters, redrives: their headers are not an envelope of
   * ours), through the same one-send-at-a-time gate and with the same errors as publish().
   */
  sendRecords(topicMessages: TopicMessages[], what: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Retries of one send, inside kafkajs (100 ms, 200 ms, … five times), for the producer's own
 * client. kafkajs retries an idempotent producer's send without end by default, and a send
 * that never settles would hold the gate below for good; bounded, a failing send settles
 * within seconds (an unknown topic, a refused connection) or (retries + 1) request timeouts
 * (a broker that accepts and never answers). kafkajs warns that bounding the retries of an
 * idempotent producer "may invalidate EoS guarantees": the risk is a new batch reusing the
 * sequence numbers of one that failed (see retire below), which this module never lets happen.
 */
const SEND_RETRY: RetryOptions = { initialRetryTime: 100, retries: 5 };

/**
 * Refusals retrying cannot fix: the messages are at fault (too large, invalid) or their topic
 * is (unknown: auto-create is off and topics are created explicitly; not writable by us).
 * Anything else (connection, timeout, retries exhausted on them, a broker going away, no leader)
 * is `unavailable`. CLUSTER_AUTHORIZATION_FAILED is left `unavailable` on purpose: it refuses
 * every message alike (a misconfigured principal), so parking the messages would lose them all
 * to a configuration fault that retrying after the fix gets past.
 */
const REJECTED = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'INVALID_TOPIC_EXCEPTION',
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'TOPIC_AUTHORIZATION_FAILED',
]);

/**
 * The kind of a kafkajs send failure, from the error and its causes (kafkajs wraps the last
 * error of exhausted retries in KafkaJSNumberOfRetriesExceeded). Checked against the broker
 * (kafka-event-bus.int.test.ts): an unknown topic with auto-create off is
 * KafkaJSNumberOfRetriesExceeded caused by KafkaJSProtocolError UNKNOWN_TOPIC_OR_PARTITION (the
 * metadata request is retried first); a message over the topic's max.message.bytes is
 * KafkaJSProtocolError MESSAGE_TOO_LARGE at once, also for a batch of small messages whose
 * total exceeds it.
 */
export function publishFailureKind(error: unknown): PublishError['kind'] {
  const seen = new Set<unknown>();
  for (let e = error; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && REJECTED.has(type)) return 'rejected';
  }
  return 'unavailable';
}

/** Builds the producer's own kafkajs client (its retries are SEND_RETRY, see above). */
export function publisherClient(config: KafkaConfig, publishTimeoutMs: number): Kafka {
  return new Kafka({
    ...config,
    retry: SEND_RETRY,
    // A produce request the broker has not answered within the publish timeout is retried;
    // the default (30 s) would keep an abandoned send alive for minutes.
    requestTimeout: Math.max(publishTimeoutMs, 1_000),
  });
}

/**
 * The publishing side: an idempotent producer (its own retries cannot duplicate or reorder a
 * partition's messages), connected on first use, acks from all in-sync replicas.
 *
 * **One send at a time.** Sends go through a FIFO gate: a publish waits for the send before it,
 * within its own timeout (waiting included), and fails `unavailable` without sending if that
 * one has not settled by then. A publish that timed out rejects at once, but its send keeps the
 * gate until kafkajs settles it (SEND_RETRY bounds that): abandoned sends cannot pile up during
 * an outage, and nothing sent later overtakes a batch that may still land (per-key order).
 *
 * **A producer that failed a send is never used again (retire).** kafkajs numbers a batch's
 * records before producing and gives the numbers back when the request fails — also when the
 * broker did append it (a request timed out after the write, or a request to several partitions
 * of which one was refused). The next batch would reuse those sequence numbers and the broker
 * would drop it as a duplicate of the appended one (same count) or refuse it as out of order.
 * So after any failed send, once it has settled, the producer is disconnected and the next send
 * starts a fresh one: a fresh producer id, a fresh sequence space. (Disconnecting it while the
 * send is still retrying would not stop it: kafkajs reconnects a disconnected cluster inside
 * the send's retries.)
 *
 * Delivery stays at-least-once: a batch whose send timed out may still land, and the caller
 * publishes it again; consumers deduplicate on the message id (inbox).
 */
export function createPublisher(
  kafka: Kafka,
  publishTimeoutMs: number,
  logger: Logger,
): KafkaPublisher {
  const log = logger.child({ component: 'publisher' });
  let current: { producer: Producer; connected: Promise<void> } | undefined;
  /** Settles when every send queued so far has settled (and its producer retired if it failed). */
  let tail: Promise<void> = Promise.resolve();
  let closed = false;

  function producer(): { producer: Producer; connected: Promise<void> } {
    if (current) return current;
    const created = kafka.producer({
      idempotent: true, // retries cannot duplicate or reorder a partition's messages
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner, // murmur2 of the key, like the Java client
      retry: SEND_RETRY,
    });
    const connected = created.connect();
    connected.catch(() => undefined); // awaited by the send; a failure retires it there
    return (current = { producer: created, connected });
  }

  /** One send on the current producer; any failure retires it (after the send settled). */
  async function sendOnce(topicMessages: TopicMessages[]): Promise<void> {
    const used = producer();
    try {
      await used.connected;
      await used.producer.sendBatch({ topicMessages, acks: -1, timeout: publishTimeoutMs });
    } catch (error) {
      if (current === used) current = undefined;
      await used.producer.disconnect().catch((disconnectError: unknown) => {
        log.warn({ err: disconnectError }, 'disconnecting a failed producer failed');
      });
      log.debug({ err: error }, 'send failed; the next one uses a fresh producer');
      throw error;
    }
  }

  async function sendRecords(topicMessages: TopicMessages[], what: string): Promise<void> {
    if (topicMessages.length === 0) return;
    if (closed) throw new PublishError(`${what}: the event bus is closed`, 'unavailable');
    const deadline = Date.now() + publishTimeoutMs;
    const previous = tail;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    tail = previous.then(() => released);

    if (!(await settlesBy(previous, deadline))) {
      release(); // the next in line waits for `previous` only
      throw new PublishError(
        `${what}: an earlier send has been in flight for the whole ${publishTimeoutMs} ms timeout; not sent`,
        'unavailable',
      );
    }
    const sending = sendOnce(topicMessages);
    void sending.then(release, release); // the gate opens when the send settles, not before
    if (!(await settlesBy(sending, deadline))) {
      throw new PublishError(`${what} timed out after ${publishTimeoutMs} ms`, 'unavailable');
    }
    try {
      await sending;
    } catch (error) {
      const kind = publishFailureKind(error);
      const reason = error instanceof Error ? error.message : String(error);
      throw new PublishError(`${what} failed (${kind}): ${reason}`, kind, { cause: error });
    }
  }

  return {
    async publish(messages) {
      // One send span per message (tracing.ts); its context travels in the published headers.
      const { spans, traced } = startSendSpans(messages);
      try {
        await sendRecords(toTopicMessages(traced), `publishing ${messages.length} messages`);
      } catch (error) {
        endSendSpans(spans, error);
        throw error;
      }
      endSendSpans(spans);
    },
    sendRecords,
    async close() {
      closed = true;
      // A send still in flight settles first (bounded), so that disconnecting cannot race it.
      await settlesBy(tail, Date.now() + publishTimeoutMs);
      const last = current;
      current = undefined;
      if (last) await last.producer.disconnect();
    },
  };
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

/** True once `work` settled (either way), false if `deadline` (epoch ms) came first. */
async function settlesBy(work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
