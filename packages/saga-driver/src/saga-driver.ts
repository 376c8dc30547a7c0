import { randomBytes, randomUUID } from 'node:crypto';
import { cellTopic } from '@bulkhead/cell';
import type { MessageCodec } from '@bulkhead/contracts';
import type { IncomingMessage } from '@bulkhead/event-bus';
import { eventually } from '@bulkhead/testkit';
import { createTestBus, type Collector } from './test-bus.js';

/**
 * A cell id no other test run uses (cell ids allow no underscore): letters only, so that no
 * metric label made from it looks like an id to the cardinality check (random hex can hold a run
 * of six digits, which failed orders' metrics test now and then).
 */
export const testCellId = (): string =>
  `t${Array.from(randomBytes(8), (byte) => String.fromCharCode(97 + (byte % 26))).join('')}`;

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
  const testBus = createTestBus('saga-driver');
  const { bus } = testBus;
  let collector: Collector;
  try {
    collector = await testBus.collect([cellTopic(cellId, 'orders', 'saga-replies')]);
  } catch (error) {
    await testBus.close();
    throw error;
  }
  const replies = collector.received;
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
    close: () => testBus.close(),
  };
}
