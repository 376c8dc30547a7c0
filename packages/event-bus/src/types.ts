/**
 * The project's own event-bus interface: types (and two error classes), no broker client and no
 * dependencies.
 * Services and the messaging patterns (outbox, inbox, saga participant) depend on this; the
 * broker lives behind it in its own package (@bulkhead/event-bus-kafka), so a second broker
 * client is one new package and no change anywhere else.
 */

/** Envelope carried next to the protobuf payload (Kafka: in headers). */
export interface Envelope {
  /** Unique id of this message; consumers deduplicate on it (inbox). */
  messageId: string;
  /** Fully-qualified protobuf type name, e.g. bulkhead.inventory.v1.ReserveStock. */
  type: string;
  tenantId: string;
  cellId: string;
  /** Saga / correlation id (the order id for the order saga). */
  correlationId: string;
  /** Id of the message that caused this one, when there is one. */
  causationId?: string;
  /** W3C trace context. */
  traceparent?: string;
  tracestate?: string;
  /** ISO-8601 time the message was created (enqueued in the outbox). */
  occurredAt: string;
}

export interface OutgoingMessage {
  topic: string;
  /** Partition key: the aggregate id. Messages with one key keep their order. */
  key: string;
  envelope: Envelope;
  payload: Uint8Array;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  envelope: Envelope;
  payload: Uint8Array;
}

/**
 * Handles one message. It may resolve to `'duplicate'` to say the message had been processed
 * before and had no effect this time (an idempotent consumer's inbox): counted apart.
 */
export type MessageHandler = (message: IncomingMessage) => Promise<void | 'duplicate'>;

/** Runs one message's part of a batch in that message's own context (its process span). */
export type EachMessage = <T>(message: IncomingMessage, work: () => Promise<T>) => Promise<T>;

/**
 * A MessageHandler that can also take a run of consecutive messages of one partition at once,
 * all or nothing (the inbox's: one transaction for the run). `batch` resolves to what the
 * handler would have for each message, in order; if it throws, nothing of the run took effect.
 * The consumer then splits the run to find the message at fault, which alone takes the
 * per-message path (retries, dead letter); the rest are batched again.
 */
export interface BatchingMessageHandler {
  (message: IncomingMessage): Promise<void | 'duplicate'>;
  batch(
    messages: readonly IncomingMessage[],
    each: EachMessage,
  ): Promise<Array<void | 'duplicate'>>;
}

/**
 * How a handler's failure is treated (SubscribeOptions.classify):
 * - `permanent`: retrying cannot help (undecodable, unknown type, a data or constraint error, a
 *   request that contradicts the state): the message is dead-lettered at once;
 * - `transient`: it may succeed later (a deadlock, a timeout, a bug that a redrive after the fix
 *   gets past): retried with backoff, dead-lettered after `maxAttempts`;
 * - `unavailable`: a dependency is down (the database cannot be reached): the message is not at
 *   fault, so it is retried with backoff until the dependency is back, never dead-lettered.
 */
export type FailureKind = 'permanent' | 'transient' | 'unavailable';

/** Thrown by a handler for a message that no retry can make work: dead-lettered at once. */
export class PermanentMessageError extends Error {
  override readonly name = 'PermanentMessageError';
}

/** The dead-letter topic of a consumed topic: `<topic>.dead-letters`. */
export function deadLetterTopic(topic: string): string {
  return `${topic}.dead-letters`;
}

/** A message given up on: published to deadLetterTopic(message.topic) with the error and origin. */
export interface DeadLetter {
  /** The message as consumed; `envelope` is undefined when the record carried none. */
  message: Omit<IncomingMessage, 'envelope'> & { envelope: Envelope | undefined };
  groupId: string;
  kind: Exclude<FailureKind, 'unavailable'>;
  /** The last error: its name and message (no stack). */
  error: { name: string; message: string };
  /** How often the handler ran (0: the record could not even be decoded). */
  attempts: number;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  /** How long the broker keeps messages (retention.ms); the broker's default when absent. */
  retentionMs?: number;
}

export interface SubscribeOptions {
  /** Consumer group id; one group per consuming service and cell. */
  groupId: string;
  topics: string[];
  /**
   * Called once per message, in order per partition. The offset is committed only after it
   * resolves; if it throws, the failure's kind (`classify`) decides: the same message is retried
   * with backoff (handlers must be idempotent) or dead-lettered. A partition whose message waits
   * for its next try does not hold up the others.
   */
  handler: MessageHandler | BatchingMessageHandler;
  /**
   * A BatchingMessageHandler gets runs of up to this many consecutive messages of a partition
   * (what one fetch brought; nothing waits for a run to fill). Default 100; 1: one at a time.
   */
  maxBatchSize?: number;
  /** Partitions processed concurrently (default 1). */
  partitionsConcurrently?: number;
  /** Classifies a handler failure (default: PermanentMessageError → permanent, else transient). */
  classify?: (error: unknown) => FailureKind;
  /** Runs of the handler for a transient failure before the message is dead-lettered (default 5). */
  maxAttempts?: number;
  /**
   * Called after a message was dead-lettered, before its offset is committed (e.g. a saga
   * participant answers the saga with a failure). Retried with backoff while it throws.
   */
  onDeadLetter?: (deadLetter: DeadLetter) => Promise<void>;
}

/** How far a consumer group is behind on one partition. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** The group's committed offset (the next one it reads); undefined if it has committed none. */
  committed: string | undefined;
  /** The partition's log end offset (the offset the next record appended gets). */
  logEnd: string;
  /** Records not yet consumed: logEnd − committed (from the log's start when none committed). */
  lag: number;
}

export interface Subscription {
  /** False while the consumer is down after a crash kafkajs would not recover from (the adapter starts it again). */
  healthy(): boolean;
  /** The group's lag on every partition of its topics, read from the broker. */
  lag(): Promise<PartitionLag[]>;
  /** Stops fetching, waits for the message in hand, commits, and leaves the group. */
  stop(): Promise<void>;
}

/**
 * A publish that failed. `unavailable`: the broker could not be reached or did not answer in
 * time (retry the same messages later); `rejected`: the broker refused them for a reason retrying
 * will not fix (an unknown topic, a message too large) — the caller isolates and parks them.
 */
export class PublishError extends Error {
  override readonly name = 'PublishError';
  constructor(
    message: string,
    readonly kind: 'unavailable' | 'rejected',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface EventBus {
  /**
   * Publishes the messages (acks from all in-sync replicas); rejects with a PublishError on
   * failure or timeout. Never runs two publishes at once: a call made while an earlier one is
   * still in flight (e.g. one that timed out) waits for it, or fails `unavailable` without sending.
   */
  publish(messages: OutgoingMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Creates missing topics with their partition counts; existing ones are left as they are. */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /** Disconnects producers, consumers and admin clients. */
  close(): Promise<void>;
}
