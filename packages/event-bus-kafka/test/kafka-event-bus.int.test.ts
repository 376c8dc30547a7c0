import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, Partitioners, logLevel, type Admin, ConfigResourceTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, infra, testLogger, uniqueName } from '@bulkhead/testkit';
import type { EventBus, IncomingMessage, OutgoingMessage } from '@bulkhead/event-bus';
import { createKafkaEventBus } from '../src/index.js';
import { body, message } from './support.js';

let bus: EventBus;
let admin: Admin;
const topics: string[] = [];
const groups: string[] = [];

beforeAll(async () => {
  bus = createKafkaEventBus({
    clientId: uniqueName('event-bus-test'),
    brokers: infra.kafkaBrokers,
    logger: testLogger('event-bus'),
  });
  admin = new Kafka({ brokers: infra.kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});

afterAll(async () => {
  await bus.close(); // stops any subscription a failed test left running
  if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  if (topics.length > 0) await admin.deleteTopics({ topics });
  await admin.disconnect();
});

async function newTopic(partitions: number): Promise<string> {
  const name = uniqueName('event_bus');
  await bus.ensureTopics([{ name, partitions }]);
  topics.push(name);
  return name;
}

function newGroup(): string {
  const name = uniqueName('event_bus_group');
  groups.push(name);
  return name;
}

/** The group's committed offset (the next offset to read) per partition of a topic. */
async function committed(groupId: string, topic: string): Promise<string[]> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (offsets?.partitions ?? []).sort((a, b) => a.partition - b.partition).map((p) => p.offset);
}

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

  it('skips (and commits past) a record without envelope headers instead of blocking on it', async () => {
    const topic = await newTopic(1);
    const groupId = newGroup();
    const raw = new Kafka({ brokers: infra.kafkaBrokers, logLevel: logLevel.NOTHING }).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await raw.connect();
    await raw.send({ topic, messages: [{ key: 'k', value: 'no headers' }] });
    await raw.disconnect();
    await bus.publish([message(topic, 'k', 'valid')]);

    const received: string[] = [];
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handler: async (m) => {
        received.push(body(m));
      },
    });
    await eventually(async () => (received.length > 0 ? true : undefined));
    await subscription.stop();
    expect(received).toEqual(['valid']);
    expect(await committed(groupId, topic)).toEqual(['2']);
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
      },
    });
    await bus.publish([message(topic, 'k', 'flaky'), message(topic, 'k', 'next')]);
    await eventually(async () => (processed.length >= 2 ? true : undefined));
    // The commit follows the handler: wait for it rather than race it.
    await eventually(async () => ((await committed(groupId, topic))[0] === '2' ? true : undefined));
    await subscription.stop();

    expect(processed).toEqual(['flaky', 'next']);
    expect(attempts.get('flaky')).toBe(3);
    expect(attempts.get('next')).toBe(1);
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

  it('ensureTopics creates missing topics and leaves existing ones alone', async () => {
    const existing = await newTopic(3);
    const fresh = uniqueName('event_bus');
    topics.push(fresh);
    await bus.ensureTopics([
      { name: existing, partitions: 3 },
      { name: fresh, partitions: 2, retentionMs: 3_600_000 },
    ]);
    await bus.ensureTopics([
      { name: existing, partitions: 6 }, // asks for more: logged, not changed
      { name: fresh, partitions: 2 },
    ]);
    const metadata = await admin.fetchTopicMetadata({ topics: [existing, fresh] });
    const partitions = Object.fromEntries(
      metadata.topics.map((t) => [t.name, t.partitions.length]),
    );
    expect(partitions).toEqual({ [existing]: 3, [fresh]: 2 });
    const configs = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: fresh, configNames: ['retention.ms'] }],
      includeSynonyms: false,
    });
    expect(configs.resources[0]?.configEntries[0]).toMatchObject({
      configName: 'retention.ms',
      configValue: '3600000',
    });
  });
});
