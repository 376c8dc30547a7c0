import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, parseExposition, sampleValue } from '@bulkhead/metrics';
import { eventually, infra, testLogger, uniqueName } from '@bulkhead/testkit';
import {
  deadLetterTopic,
  PermanentMessageError,
  type BatchingMessageHandler,
  type DeadLetter,
  type EachMessage,
  type EventBus,
  type IncomingMessage,
} from '@bulkhead/event-bus';
import { createKafkaEventBus } from '../src/index.js';
import { KafkaTestSpace, body, message } from './support.js';

const space = new KafkaTestSpace();
const metrics = createMetrics({ service: 'event-bus-batching-test', runtime: false });
let bus: EventBus;

beforeAll(async () => {
  await space.start();
  bus = createKafkaEventBus({
    clientId: uniqueName('event-bus-batching'),
    brokers: infra.kafkaBrokers,
    logger: testLogger('event-bus-batching'),
    metrics,
  });
});

afterAll(async () => {
  await bus.close();
  await space.cleanUp();
});

/**
 * A batching handler with the inbox's contract: a run takes effect all or nothing (here: its
 * bodies are appended to `effects` only if no message of the run is poison). It records the
 * size of every run it got and every message it got alone.
 */
function recordingHandler(isPoison: (m: IncomingMessage) => boolean) {
  const effects: string[] = [];
  const runs: number[] = [];
  const alone: string[] = [];
  const handler: BatchingMessageHandler = Object.assign(
    async (m: IncomingMessage): Promise<void> => {
      alone.push(body(m));
      if (isPoison(m)) throw new PermanentMessageError(`poison: ${body(m)}`);
      effects.push(body(m));
    },
    {
      batch: async (messages: readonly IncomingMessage[], each: EachMessage) => {
        runs.push(messages.length);
        const done: string[] = [];
        for (const m of messages) {
          await each(m, async () => {
            if (isPoison(m)) throw new PermanentMessageError(`poison: ${body(m)}`);
            done.push(body(m));
          });
        }
        effects.push(...done); // all or nothing
        return messages.map(() => undefined);
      },
    },
  );
  return { handler, effects, runs, alone };
}

describe('batching consumer', () => {
  it('hands runs of a partition to a batching handler; a failing message is isolated, dead-lettered alone, the rest take effect once, in order', async () => {
    const topic = space.topicName();
    await bus.ensureTopics([
      { name: topic, partitions: 1 },
      { name: space.track(deadLetterTopic(topic)), partitions: 1 },
    ]);
    const groupId = space.group();
    const bodies = Array.from({ length: 40 }, (_, i) => `m-${i}`);
    const { handler, effects, runs, alone } = recordingHandler((m) => body(m) === 'm-17');
    const deadLetters: DeadLetter[] = [];
    // Published before the subscription: the first fetch brings them all.
    await bus.publish(bodies.map((b) => message(topic, 'one-key', b)));
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handler,
      maxBatchSize: 16,
      onDeadLetter: async (deadLetter) => {
        deadLetters.push(deadLetter);
      },
    });
    await eventually(async () =>
      (await space.committed(groupId, topic)).join() === '40' ? true : undefined,
    );
    await subscription.stop();

    expect(effects).toEqual(bodies.filter((b) => b !== 'm-17'));
    expect(Math.max(...runs)).toBe(16); // runs were capped by maxBatchSize, not one by one
    expect(alone).toEqual(['m-17']); // only the message at fault took the per-message path
    // Every run counted once, the failed ones too (each was a transaction), besides the messages.
    const samples = parseExposition(await metrics.scrape());
    const labels = { group: groupId, topic };
    expect(sampleValue(samples, 'consumer_runs_total', labels)).toBe(runs.length + alone.length);
    expect(sampleValue(samples, 'messages_consumed_total', { ...labels, outcome: 'handled' })).toBe(
      39,
    );
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({
      kind: 'permanent',
      attempts: 1,
      message: { topic, offset: '17' },
    });
    expect((await space.records(deadLetterTopic(topic))).map((r) => r.value?.toString())).toEqual([
      'm-17',
    ]);
  });

  it('maxBatchSize 1 hands every message to the handler alone', async () => {
    const topic = space.topicName();
    await bus.ensureTopics([{ name: topic, partitions: 1 }]);
    const groupId = space.group();
    const { handler, effects, runs, alone } = recordingHandler(() => false);
    await bus.publish(['a', 'b', 'c'].map((b) => message(topic, 'k', b)));
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handler,
      maxBatchSize: 1,
    });
    await eventually(async () =>
      (await space.committed(groupId, topic)).join() === '3' ? true : undefined,
    );
    await subscription.stop();
    expect(effects).toEqual(['a', 'b', 'c']);
    expect(alone).toEqual(['a', 'b', 'c']);
    expect(runs).toEqual([]);
  });
});
