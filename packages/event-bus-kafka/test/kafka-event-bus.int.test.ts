import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigResourceTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, parseExposition, sampleValue } from '@bulkhead/metrics';
import { eventually, infra, testLogger, uniqueName } from '@bulkhead/testkit';
import type { EventBus, IncomingMessage, OutgoingMessage } from '@bulkhead/event-bus';
import { createKafkaEventBus } from '../src/index.js';
import { KafkaTestSpace, body, message } from './support.js';

const space = new KafkaTestSpace();
let bus: EventBus;
const metrics = createMetrics({ service: 'event-bus-test', runtime: false });

beforeAll(async () => {
  await space.start();
  bus = createKafkaEventBus({
    clientId: uniqueName('event-bus-test'),
    brokers: infra.kafkaBrokers,
    logger: testLogger('event-bus'),
    metrics,
  });
});

afterAll(async () => {
  await bus.close(); // stops any subscription a failed test left running
  await space.cleanUp();
});

async function newTopic(partitions: number): Promise<string> {
  const name = space.topicName();
  await bus.ensureTopics([{ name, partitions }]);
  return name;
}

const newGroup = (): string => space.group();
const committed = (groupId: string, topic: string): Promise<string[]> =>
  space.committed(groupId, topic);

describe('kafka event bus', () => {
  it('delivers payload, key and every envelope field through Kafka headers', async () => {
    const topic = await newTopic(1);
    const received: IncomingMessage[] = [];
    const subscription = await bus.subscribe({
      groupId: newGroup(),
      topics: [topic],
      handler: async (m) => {
        received.push(m);
      },
    });
    const sent = message(topic, 'order-1', 'hello', {
      causationId: randomUUID(),
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=value',
    });
    await bus.publish([sent]);
    await eventually(async () => (received.length > 0 ? true : undefined));
    await subscription.stop();

    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      topic,
      partition: 0,
      offset: '0',
      key: 'order-1',
      envelope: sent.envelope,
    });
    expect(body(received[0]!)).toBe('hello');
  });

  it('keeps per-key order on a multi-partition topic', async () => {
    const topic = await newTopic(4);
    const keys = Array.from({ length: 8 }, (_, i) => `key-${i}`);
    const perKey = 30;
    const seen = new Map<string, number[]>();
    const partitions = new Set<number>();
    const subscription = await bus.subscribe({
      groupId: newGroup(),
      topics: [topic],
      partitionsConcurrently: 4,
      handler: async (m) => {
        await sleep(Math.random() < 0.1 ? 5 : 0); // uneven handler times across partitions
        partitions.add(m.partition);
        seen.set(m.key, [...(seen.get(m.key) ?? []), Number(body(m))]);
      },
    });
    // 6 publishes, each interleaving all keys.
    for (let round = 0; round < 6; round++) {
      const batch: OutgoingMessage[] = [];
      for (let i = 0; i < perKey / 6; i++) {
        for (const key of keys) batch.push(message(topic, key, String(round * (perKey / 6) + i)));
      }
      await bus.publish(batch);
    }
    const total = keys.length * perKey;
    await eventually(async () => {
      const count = [...seen.values()].reduce((sum, list) => sum + list.length, 0);
      return count >= total ? true : undefined;
    });
    await subscription.stop();

    expect(partitions.size).toBeGreaterThan(1); // the keys really were spread
    const expected = Array.from({ length: perKey }, (_, i) => i);
    for (const key of keys) expect(seen.get(key), key).toEqual(expected);
  });

  it('retries a failing handler on the same message, then commits it and moves on', async () => {
    const topic = await newTopic(1);
    const groupId = newGroup();
    const attempts = new Map<string, number>();
    const processed: string[] = [];
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handler: async (m) => {
        const attempt = (attempts.get(body(m)) ?? 0) + 1;
        attempts.set(body(m), attempt);
        if (body(m) === 'flaky' && attempt <= 2) throw new Error(`transient failure ${attempt}`);
        processed.push(body(m));
        // A handler says when the message had no effect (an inbox that had it already).
        return body(m) === 'again' ? 'duplicate' : undefined;
      },
    });
    await bus.publish([
      message(topic, 'k', 'flaky'),
      message(topic, 'k', 'next'),
      message(topic, 'k', 'again'),
    ]);
    await eventually(async () => (processed.length >= 3 ? true : undefined));
    // The commit follows the handler: wait for it rather than race it.
    await eventually(async () => ((await committed(groupId, topic))[0] === '3' ? true : undefined));
    await subscription.stop();

    expect(processed).toEqual(['flaky', 'next', 'again']);
    expect(attempts.get('flaky')).toBe(3);
    expect(attempts.get('next')).toBe(1);
    // Each failed run counted as retried, every run timed.
    const samples = parseExposition(await metrics.scrape());
    const consumed = (outcome: string) =>
      sampleValue(samples, 'messages_consumed_total', { group: groupId, topic, outcome });
    expect(['handled', 'duplicate', 'retried', 'dead_lettered'].map(consumed)).toEqual([
      2, 1, 2, 0,
    ]);
    expect(sampleValue(samples, 'message_handling_seconds_count', { group: groupId, topic })).toBe(
      5,
    );
  });

  it('stop() waits for the message in hand and commits it', async () => {
    const topic = await newTopic(1);
    const groupId = newGroup();
    let started = false;
    let finished = false;
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handler: async () => {
        started = true;
        await sleep(500);
        finished = true;
      },
    });
    await bus.publish([message(topic, 'k', 'slow')]);
    await eventually(async () => (started ? true : undefined));
    await subscription.stop();
    expect(finished).toBe(true);
    expect(await committed(groupId, topic)).toEqual(['1']);
  });

  it('stop() during retries leaves the message uncommitted; the group gets it again', async () => {
    const topic = await newTopic(1);
    const groupId = newGroup();
    let failures = 0;
    const failing = await bus.subscribe({
      groupId,
      topics: [topic],
      classify: () => 'unavailable', // retried until it works, never dead-lettered
      handler: async () => {
        failures += 1;
        throw new Error('down');
      },
    });
    await bus.publish([message(topic, 'k', 'stuck')]);
    await eventually(async () => (failures >= 2 ? true : undefined));
    const stopStarted = Date.now();
    await failing.stop();
    expect(Date.now() - stopStarted).toBeLessThan(5_000); // the backoff was cut short

    expect(await committed(groupId, topic)).toEqual(['-1']); // nothing committed
    const received: string[] = [];
    const healthy = await bus.subscribe({
      groupId,
      topics: [topic],
      handler: async (m) => {
        received.push(body(m));
      },
    });
    await eventually(async () => (received.length > 0 ? true : undefined));
    await healthy.stop();
    expect(received).toEqual(['stuck']);
  });

  it('a new subscriber in the group resumes after the committed offset', async () => {
    const topic = await newTopic(1);
    const groupId = newGroup();
    const first = Array.from({ length: 5 }, (_, i) => message(topic, 'k', `first-${i}`));
    const second = Array.from({ length: 5 }, (_, i) => message(topic, 'k', `second-${i}`));

    const seenByA: string[] = [];
    const a = await bus.subscribe({
      groupId,
      topics: [topic],
      handler: async (m) => {
        seenByA.push(m.envelope.messageId);
      },
    });
    await bus.publish(first);
    await eventually(async () => (seenByA.length >= 5 ? true : undefined));
    await a.stop();
    expect(await committed(groupId, topic)).toEqual(['5']);

    await bus.publish(second);
    const seenByB: string[] = [];
    const b = await bus.subscribe({
      groupId,
      topics: [topic],
      handler: async (m) => {
        seenByB.push(m.envelope.messageId);
      },
    });
    // One partition: a replay of the first five would arrive before the second five.
    await eventually(async () => (seenByB.length >= 5 ? true : undefined));
    await b.stop();

    expect(seenByA).toEqual(first.map((m) => m.envelope.messageId));
    expect(seenByB).toEqual(second.map((m) => m.envelope.messageId));
  });

  it("lag() reports per partition the group's committed offset, the log end and the lag", async () => {
    const topic = await newTopic(2);
    const groupId = newGroup();
    const handled: IncomingMessage[] = [];
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handler: async (m) => {
        handled.push(m);
      },
    });
    expect(await subscription.lag()).toEqual([
      { topic, partition: 0, committed: undefined, logEnd: '0', lag: 0 },
      { topic, partition: 1, committed: undefined, logEnd: '0', lag: 0 },
    ]);
    const first = [message(topic, 'a', '1'), message(topic, 'b', '2'), message(topic, 'c', '3')];
    await bus.publish(first);
    await eventually(async () => (handled.length >= 3 ? true : undefined));
    await subscription.stop(); // commits what it handled
    await bus.publish([message(topic, 'a', '4'), message(topic, 'a', '5')]);
    const ends = await space.admin.fetchTopicOffsets(topic);
    const partitionOfA = handled.find((m) => m.key === 'a')!.partition;
    const lag = await subscription.lag();
    expect(lag.map((p) => p.partition)).toEqual([0, 1]);
    for (const { partition, committed: next, logEnd, lag: behind } of lag) {
      const handledHere = handled.filter((m) => m.partition === partition).length;
      expect(logEnd).toBe(ends.find((e) => e.partition === partition)?.high);
      expect(next).toBe(handledHere === 0 ? undefined : String(handledHere));
      expect(behind).toBe(partition === partitionOfA ? 2 : 0);
    }
  });

  it('ensureTopics creates missing topics and leaves existing ones alone', async () => {
    const existing = await newTopic(3);
    const fresh = space.topicName();
    await bus.ensureTopics([
      { name: existing, partitions: 3 },
      { name: fresh, partitions: 2, retentionMs: 3_600_000 },
    ]);
    await bus.ensureTopics([
      { name: existing, partitions: 6 }, // asks for more: logged, not changed
      { name: fresh, partitions: 2 },
    ]);
    const metadata = await space.admin.fetchTopicMetadata({ topics: [existing, fresh] });
    const partitions = Object.fromEntries(
      metadata.topics.map((t) => [t.name, t.partitions.length]),
    );
    expect(partitions).toEqual({ [existing]: 3, [fresh]: 2 });
    const configs = await space.admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: fresh, configNames: ['retention.ms'] }],
      includeSynonyms: false,
    });
    expect(configs.resources[0]?.configEntries[0]).toMatchObject({
      configName: 'retention.ms',
      configValue: '3600000',
    });
  });
});
