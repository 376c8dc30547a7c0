import { createHook } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '@bulkhead/metrics';
import { eventually, infra, testLogger, uniqueName } from '@bulkhead/testkit';
import type { EventBus, Subscription } from '@bulkhead/event-bus';
import { createKafkaEventBus } from '../src/index.js';
import { KafkaTestSpace, message } from './support.js';

// kafkajs 2.2.4 re-armed a timer of ≤ 0 ms after every check of an idle request queue: about a
// thousand timers a second per broker connection, forever (kafkajs issues #1556, #1704). The
// project patches it (patches/kafkajs@2.2.4.patch, pnpm's patchedDependencies); this test fails
// without the patch.

const space = new KafkaTestSpace();
let bus: EventBus;
let subscription: Subscription | undefined;

beforeAll(async () => {
  await space.start();
  bus = createKafkaEventBus({
    clientId: uniqueName('idle-timers-test'),
    brokers: infra.kafkaBrokers,
    logger: testLogger('idle-timers'),
    metrics: createMetrics({ service: 'idle-timers-test', runtime: false }),
  });
});

afterAll(async () => {
  await subscription?.stop();
  await bus.close();
  await space.cleanUp();
});

/** Timers (setTimeout and setInterval objects) created in the process during `ms`. */
async function timersCreatedDuring(ms: number): Promise<number> {
  let created = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'Timeout') created++;
    },
  }).enable();
  try {
    await sleep(ms);
  } finally {
    hook.disable();
  }
  return created;
}

describe('an idle kafkajs client', () => {
  it('arms no timer loop: a connected producer and consumer create few timers a second', async () => {
    const topic = space.topicName();
    await bus.ensureTopics([{ name: topic, partitions: 1 }]);
    const received: string[] = [];
    subscription = await bus.subscribe({
      groupId: space.group(),
      topics: [topic],
      handler: async (m) => {
        received.push(m.envelope.messageId);
      },
    });
    // Both connected and done with their work: one message published and consumed.
    const sent = message(topic, 'idle', 'idle');
    await bus.publish([sent]);
    await eventually(async () => (received.includes(sent.envelope.messageId) ? true : undefined), {
      timeoutMs: 30_000,
    });
    // What stays: the consumer's fetch long-polls (500 ms) and heartbeats (1 s), each request's
    // bookkeeping, the test's own sleep: 0.5 a second measured. Unpatched: 3 600 a second.
    const perSecond = (await timersCreatedDuring(2_000)) / 2;
    expect(perSecond, `${perSecond} timers a second`).toBeLessThan(20);
  });
});
