import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, parseExposition, sampleValue } from '@bulkhead/metrics';
import { eventually, infra, testLogger, uniqueName } from '@bulkhead/testkit';
import {
  deadLetterTopic,
  PermanentMessageError,
  type DeadLetter,
  type EventBus,
  type IncomingMessage,
} from '@bulkhead/event-bus';
import { createKafkaEventBus, DEAD_LETTER_HEADERS, ENVELOPE_HEADERS } from '../src/index.js';
import { KafkaTestSpace, body, header, keyOnPartition, message, value } from './support.js';

const space = new KafkaTestSpace();
let bus: EventBus;
const metrics = createMetrics({ service: 'faults-test', runtime: false });

beforeAll(async () => {
  await space.start();
  bus = createKafkaEventBus(
    {
      clientId: uniqueName('faults-test'),
      brokers: infra.kafkaBrokers,
      logger: testLogger('faults'),
      metrics,
    },
    { sessionTimeoutMs: 6_000 }, // the broker's minimum: the long-handler test takes ~10 s
  );
});

afterAll(async () => {
  await bus.close();
  await space.cleanUp();
});

/** A topic and its dead-letter topic (as a cell creates them). */
async function topicWithDeadLetters(partitions: number): Promise<string> {
  const topic = space.topicName();
  await bus.ensureTopics([
    { name: topic, partitions },
    { name: space.track(deadLetterTopic(topic)), partitions },
  ]);
  return topic;
}

class DatabaseDown extends Error {}

describe('a failing message', () => {
  it('permanent: dead-lettered at once with its headers, while its partition and the others go on', async () => {
    const topic = await topicWithDeadLetters(3);
    const groupId = space.group();
    const poisonKey = keyOnPartition(0, 3, 'poison');
    const otherKeys = [keyOnPartition(1, 3, 'other'), keyOnPartition(2, 3, 'other')];
    const handled: IncomingMessage[] = [];
    const deadLetters: DeadLetter[] = [];
    const runs = new Map<string, number>();
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      partitionsConcurrently: 3,
      handler: async (m) => {
        runs.set(body(m), (runs.get(body(m)) ?? 0) + 1);
        if (body(m) === 'poison') throw new PermanentMessageError('no such product: p-404');
        handled.push(m);
      },
      onDeadLetter: async (deadLetter) => {
        deadLetters.push(deadLetter);
      },
    });
    const poison = message(topic, poisonKey, 'poison');
    await bus.publish([
      message(topic, poisonKey, 'before'),
      poison,
      ...[1, 2, 3].map((i) => message(topic, poisonKey, `after-${i}`)),
      ...otherKeys.flatMap((key) => [1, 2].map((i) => message(topic, key, `${key}-${i}`))),
    ]);
    await eventually(async () =>
      handled.length >= 8 && deadLetters.length >= 1 ? true : undefined,
    );
    await eventually(async () =>
      (await space.committed(groupId, topic)).join() === '5,2,2' ? true : undefined,
    );
    await subscription.stop();

    expect(runs.get('poison')).toBe(1); // no retry for a permanent failure
    const onPartition0 = handled.filter((m) => m.partition === 0).map(body);
    expect(onPartition0).toEqual(['before', 'after-1', 'after-2', 'after-3']);
    expect(handled.filter((m) => m.partition !== 0)).toHaveLength(4);

    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({
      groupId,
      kind: 'permanent',
      attempts: 1,
      error: { name: 'PermanentMessageError', message: 'no such product: p-404' },
      message: { topic, partition: 0, offset: '1', key: poisonKey, envelope: poison.envelope },
    });
    const [record, ...more] = await space.records(deadLetterTopic(topic));
    expect(more).toHaveLength(0);
    expect(record?.key?.toString()).toBe(poisonKey);
    expect(value(record!)).toBe('poison');
    const headers = record!.headers;
    expect(header(headers, ENVELOPE_HEADERS.messageId)).toBe(poison.envelope.messageId);
    expect(header(headers, ENVELOPE_HEADERS.type)).toBe(poison.envelope.type);
    expect({
      kind: header(headers, DEAD_LETTER_HEADERS.kind),
      errorName: header(headers, DEAD_LETTER_HEADERS.errorName),
      errorMessage: header(headers, DEAD_LETTER_HEADERS.errorMessage),
      originTopic: header(headers, DEAD_LETTER_HEADERS.originTopic),
      originPartition: header(headers, DEAD_LETTER_HEADERS.originPartition),
      originOffset: header(headers, DEAD_LETTER_HEADERS.originOffset),
      groupId: header(headers, DEAD_LETTER_HEADERS.groupId),
      attempts: header(headers, DEAD_LETTER_HEADERS.attempts),
    }).toEqual({
      kind: 'permanent',
      errorName: 'PermanentMessageError',
      errorMessage: 'no such product: p-404',
      originTopic: topic,
      originPartition: '0',
      originOffset: '1',
      groupId,
      attempts: '1',
    });
    const at = Date.parse(header(headers, DEAD_LETTER_HEADERS.deadLetteredAt) ?? '');
    expect(Math.abs(Date.now() - at)).toBeLessThan(60_000);

    // Counted: one dead letter of kind permanent, 8 handled, nothing retried.
    const samples = parseExposition(await metrics.scrape());
    const labels = { group: groupId, topic };
    expect(
      sampleValue(samples, 'messages_dead_lettered_total', { ...labels, kind: 'permanent' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'messages_dead_lettered_total', { ...labels, kind: 'transient' }),
    ).toBe(0);
    const consumed = (outcome: string) =>
      sampleValue(samples, 'messages_consumed_total', { ...labels, outcome });
    expect([consumed('handled'), consumed('dead_lettered'), consumed('retried')]).toEqual([
      8, 1, 0,
    ]);
  });

  it('transient: retried maxAttempts times, then dead-lettered; other partitions are handled during its retries', async () => {
    const topic = await topicWithDeadLetters(2);
    const groupId = space.group();
    const poisonKey = keyOnPartition(0, 2, 'poison');
    const otherKey = keyOnPartition(1, 2, 'other');
    const events: string[] = [];
    const offsets = new Set<string>();
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      maxAttempts: 4,
      handler: async (m) => {
        if (body(m) !== 'poison') {
          events.push(body(m));
          return;
        }
        offsets.add(`${m.partition}@${m.offset}/${m.envelope.messageId}`);
        events.push(`poison#${events.filter((e) => e.startsWith('poison#')).length + 1}`);
        throw new Error('deadlock detected');
      },
      onDeadLetter: async (deadLetter) => {
        events.push(`dead-letter:${deadLetter.kind}:${deadLetter.attempts}`);
      },
    });
    await bus.publish([message(topic, poisonKey, 'poison'), message(topic, poisonKey, 'behind')]);
    await eventually(async () => (events.includes('poison#1') ? true : undefined));
    await bus.publish([message(topic, otherKey, 'other')]); // during the retries
    await eventually(async () => (events.includes('behind') ? true : undefined));
    await eventually(async () =>
      (await space.committed(groupId, topic)).join() === '2,1' ? true : undefined,
    );
    await subscription.stop();

    expect(events.filter((e) => e !== 'other')).toEqual([
      'poison#1',
      'poison#2',
      'poison#3',
      'poison#4',
      'dead-letter:transient:4',
      'behind',
    ]);
    const other = events.indexOf('other');
    expect(other).toBeGreaterThan(events.indexOf('poison#1'));
    expect(other).toBeLessThan(events.indexOf('dead-letter:transient:4'));
    expect(offsets.size).toBe(1); // the same record every time
    const [record] = await space.records(deadLetterTopic(topic));
    expect(header(record?.headers, DEAD_LETTER_HEADERS.kind)).toBe('transient');
    expect(header(record?.headers, DEAD_LETTER_HEADERS.attempts)).toBe('4');
    expect(header(record?.headers, DEAD_LETTER_HEADERS.errorMessage)).toBe('deadlock detected');
  });

  it('unavailable: never dead-lettered, however long; handled once the dependency is back', async () => {
    const topic = await topicWithDeadLetters(1);
    const groupId = space.group();
    let down = true;
    let failures = 0;
    const handled: string[] = [];
    const deadLetters: DeadLetter[] = [];
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      maxAttempts: 2,
      classify: (error) => (error instanceof DatabaseDown ? 'unavailable' : 'transient'),
      handler: async (m) => {
        if (down) {
          failures += 1;
          throw new DatabaseDown('connect ECONNREFUSED 127.0.0.1:15432');
        }
        handled.push(body(m));
      },
      onDeadLetter: async (deadLetter) => {
        deadLetters.push(deadLetter);
      },
    });
    await bus.publish([message(topic, 'k', 'waits'), message(topic, 'k', 'next')]);
    await eventually(async () => (failures > 2 ? true : undefined)); // more than maxAttempts
    down = false;
    await eventually(async () => (handled.length >= 2 ? true : undefined));
    await eventually(async () =>
      (await space.committed(groupId, topic)).join() === '2' ? true : undefined,
    );
    await subscription.stop();

    expect(handled).toEqual(['waits', 'next']);
    expect(deadLetters).toEqual([]);
    expect(await space.records(deadLetterTopic(topic))).toEqual([]);
  });

  it('a record without an envelope is dead-lettered as permanent with 0 attempts', async () => {
    const topic = await topicWithDeadLetters(1);
    const groupId = space.group();
    await space.produceRaw(topic, [
      { key: 'k', value: 'no headers', headers: { 'x-extra': 'kept' } },
    ]);
    await bus.publish([message(topic, 'k', 'valid')]);
    const handled: string[] = [];
    const deadLetters: DeadLetter[] = [];
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handler: async (m) => {
        handled.push(body(m));
      },
      onDeadLetter: async (deadLetter) => {
        deadLetters.push(deadLetter);
      },
    });
    await eventually(async () => (handled.length > 0 ? true : undefined));
    await eventually(async () =>
      (await space.committed(groupId, topic)).join() === '2' ? true : undefined,
    );
    await subscription.stop();

    expect(handled).toEqual(['valid']);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({
      kind: 'permanent',
      attempts: 0,
      error: { name: 'MalformedMessageError' },
      message: { offset: '0', key: 'k', envelope: undefined },
    });
    expect(body(deadLetters[0]!.message)).toBe('no headers');
    const [record] = await space.records(deadLetterTopic(topic));
    expect(value(record!)).toBe('no headers');
    expect(header(record?.headers, 'x-extra')).toBe('kept');
    expect(header(record?.headers, DEAD_LETTER_HEADERS.attempts)).toBe('0');
    expect(header(record?.headers, DEAD_LETTER_HEADERS.errorMessage)).toContain('message-id');
  });

  it('a dead letter that cannot be published yet is kept trying (its partition waits, the others go on)', async () => {
    const topic = space.topicName();
    await bus.ensureTopics([{ name: topic, partitions: 2 }]); // no dead-letter topic yet
    const groupId = space.group();
    const poisonKey = keyOnPartition(0, 2, 'poison');
    const otherKey = keyOnPartition(1, 2, 'other');
    const handled: string[] = [];
    const deadLetters: DeadLetter[] = [];
    let poisonRuns = 0;
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handler: async (m) => {
        if (body(m) === 'poison') {
          poisonRuns += 1;
          throw new PermanentMessageError('invalid');
        }
        handled.push(body(m));
      },
      onDeadLetter: async (deadLetter) => {
        deadLetters.push(deadLetter);
      },
    });
    await bus.publish([message(topic, poisonKey, 'poison'), message(topic, poisonKey, 'behind')]);
    await eventually(async () => (poisonRuns > 0 ? true : undefined));
    await bus.publish([message(topic, otherKey, 'other')]);
    await eventually(async () => (handled.includes('other') ? true : undefined));
    await eventually(async () =>
      (await space.committed(groupId, topic)).join() === '-1,1' ? true : undefined,
    );
    expect(handled).toEqual(['other']); // 'behind' waits for the dead letter
    await bus.ensureTopics([{ name: space.track(deadLetterTopic(topic)), partitions: 2 }]);
    await eventually(async () => (handled.includes('behind') ? true : undefined), {
      timeoutMs: 20_000,
    });
    await subscription.stop();

    expect(poisonRuns).toBe(1); // the handler is not run again, only the publish
    expect(deadLetters).toHaveLength(1);
    expect((await space.records(deadLetterTopic(topic))).map(value)).toEqual(['poison']);
  });

  it('onDeadLetter is retried while it throws; the offset is committed only after it succeeded', async () => {
    const topic = await topicWithDeadLetters(1);
    const groupId = space.group();
    const calls: DeadLetter[] = [];
    const subscription = await bus.subscribe({
      groupId,
      topics: [topic],
      handler: async () => {
        throw new PermanentMessageError('invalid');
      },
      onDeadLetter: async (deadLetter) => {
        calls.push(deadLetter);
        if (calls.length < 3) throw new Error('the saga could not be told yet');
      },
    });
    await bus.publish([message(topic, 'k', 'poison')]);
    await eventually(async () => (calls.length >= 1 ? true : undefined));
    expect(await space.committed(groupId, topic)).toEqual(['-1']);
    await eventually(async () =>
      (await space.committed(groupId, topic)).join() === '1' ? true : undefined,
    );
    await subscription.stop();

    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => c.message.envelope?.messageId)).size).toBe(1);
    expect(await space.records(deadLetterTopic(topic))).toHaveLength(1); // published once
  });
});

describe('a long handler', () => {
  it('keeps its membership past the session timeout: no rebalance, no second delivery', async () => {
    const topic = space.topicName();
    await bus.ensureTopics([{ name: topic, partitions: 1 }]);
    const groupId = space.group();
    const deliveries: string[] = [];
    const handler = (member: string) => async (m: IncomingMessage) => {
      deliveries.push(`${member}:${body(m)}`);
      if (body(m) === 'long') await sleep(9_000); // the work itself: longer than the 6 s session
    };
    const a = await bus.subscribe({ groupId, topics: [topic], handler: handler('a') });
    const b = await bus.subscribe({ groupId, topics: [topic], handler: handler('b') });
    const stableMembers = async (): Promise<string[] | undefined> => {
      const {
        groups: [group],
      } = await space.admin.describeGroups([groupId]);
      return group?.state === 'Stable' && group.members.length === 2
        ? group.members.map((m) => m.memberId).sort()
        : undefined;
    };
    const before = await eventually(stableMembers);
    await bus.publish([message(topic, 'k', 'long')]);
    await eventually(async () => (deliveries.length > 0 ? true : undefined));
    await eventually(
      async () => ((await space.committed(groupId, topic)).join() === '1' ? true : undefined),
      {
        timeoutMs: 20_000,
      },
    );
    expect(await stableMembers()).toEqual(before);
    await a.stop();
    await b.stop();
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatch(/^[ab]:long$/);
  });
});
