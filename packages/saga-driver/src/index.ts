import { randomBytes, randomUUID } from 'node:crypto';
import { cellTopic, cellTopicSpecs } from '@bulkhead/cell';
import type { MessageCodec } from '@bulkhead/contracts';
import type { EventBus, IncomingMessage, Subscription } from '@bulkhead/event-bus';
import { createKafkaEventBus } from '@bulkhead/event-bus-kafka';
import { eventually, infra, testLogger, uniqueName } from '@bulkhead/testkit';
import { Kafka, logLevel } from 'kafkajs';

/** A cell id no other test run uses (cell ids allow no underscore). */
export const testCellId = () => `t${randomBytes(5).toString('hex')}`;

/**
 * The saga's side of a participant under test: publishes commands onto the cell's command topic
 * with the real event bus and collects every reply from the replies topic (own consumer group).
 */
export interface SagaDriver {
  readonly replies: IncomingMessage[];
  /** Publishes a command; returns its message id. */
  send(command: Command): Promise<string>;
  /** Publishes commands in one produce request (one key keeps their order); returns their ids. */
  sendBatch(commands: Command[]): Promise<string[]>;
  /** The reply caused by the command with this message id (waits for it). */
  replyTo(messageId: string): Promise<IncomingMessage>;
  close(): Promise<void>;
}

/** A command ready to publish: envelope fields and the encoded payload. */
export interface Command {
  type: string;
  payload: Uint8Array;
  orderId: string;
  tenantId: string;
  messageId?: string;
}

export function command<T extends { orderId: string }>(
  codec: MessageCodec<T>,
  body: T,
  options: { tenantId: string; messageId?: string },
): Command {
  return { type: codec.typeName, payload: codec.encode(body), orderId: body.orderId, ...options };
}

export async function startSagaDriver(cellId: string, commandTopic: string): Promise<SagaDriver> {
  const bus: EventBus = createKafkaEventBus({
    clientId: uniqueName('saga-driver'),
    brokers: infra.kafkaBrokers,
    logger: testLogger('saga-driver'),
  });
  const replies: IncomingMessage[] = [];
  let subscription: Subscription | undefined;
  try {
    subscription = await bus.subscribe({
      groupId: uniqueName('saga-driver'),
      topics: [cellTopic(cellId, 'orders', 'saga-replies')],
      handler: async (message) => {
        replies.push(message);
      },
    });
  } catch (error) {
    await bus.close();
    throw error;
  }
  async function sendBatch(commands: Command[]): Promise<string[]> {
    const outgoing = commands.map((c) => ({ ...c, messageId: c.messageId ?? randomUUID() }));
    await bus.publish(
      outgoing.map((c) => ({
        topic: commandTopic,
        key: c.orderId,
        envelope: {
          messageId: c.messageId,
          type: c.type,
          tenantId: c.tenantId,
          cellId,
          correlationId: c.orderId,
          occurredAt: new Date().toISOString(),
        },
        payload: c.payload,
      })),
    );
    return outgoing.map((c) => c.messageId);
  }
  return {
    replies,
    sendBatch,
    async send(c) {
      const messageId = c.messageId ?? randomUUID();
      await sendBatch([{ ...c, messageId }]);
      return messageId;
    },
    replyTo: (messageId) =>
      eventually(async () => replies.find((reply) => reply.envelope.causationId === messageId), {
        timeoutMs: 15_000,
      }),
    async close() {
      await subscription?.stop();
      await bus.close();
    },
  };
}

/** Deletes the cell's topics that exist (the event bus has no API for that: test cleanup only). */
export async function deleteCellTopics(cellId: string): Promise<void> {
  const admin = new Kafka({
    clientId: 'test-cleanup',
    brokers: infra.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const topics = cellTopicSpecs(cellId)
      .map((spec) => spec.name)
      .filter((name) => existing.has(name));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
