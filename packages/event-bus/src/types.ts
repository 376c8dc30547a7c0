/**
 * The project's own event-bus interface: types only, no broker client and no dependencies.
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

export type MessageHandler = (message: IncomingMessage) => Promise<void>;

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
   * resolves; if it throws, the same message is retried with backoff (handlers must be idempotent).
   */
  handler: MessageHandler;
  /** Partitions processed concurrently (default 1). */
  partitionsConcurrently?: number;
}

export interface Subscription {
  /** False once the consumer has stopped on a non-retriable error (it will not resume by itself). */
  healthy(): boolean;
  /** Stops fetching, waits for the message in hand, commits, and leaves the group. */
  stop(): Promise<void>;
}

export interface EventBus {
  /** Publishes the messages (acks from all in-sync replicas); rejects on failure or timeout. */
  publish(messages: OutgoingMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Creates missing topics with their partition counts; existing ones are left as they are. */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /** Disconnects producers, consumers and admin clients. */
  close(): Promise<void>;
}
