import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, infra, testLogger, uniqueName } from '@bulkhead/testkit';
import {
  deadLetterTopic,
  PermanentMessageError,
  type DeadLetter,
  type EventBus,
  type IncomingMessage,
} from '@bulkhead/event-bus';
import {
  createKafkaEventBus,
  createKafkaRedrive,
  DEAD_LETTER_HEADERS,
  ENVELOPE_HEADERS,
  redriveGroup,
  type KafkaRedrive,
} from '../src/index.js';
import { KafkaTestSpace, body, header, keyOnPartition, message, value } from './support.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../dist/redrive-cli.js', import.meta.url));
const space = new KafkaTestSpace();
let bus: EventBus;
let redriver: KafkaRedrive;

beforeAll(async () => {
  await space.start();
  const options = {
    clientId: uniqueName('redrive-test'),
    brokers: infra.kafkaBrokers,
    logger: testLogger('redrive'),
  };
  bus = createKafkaEventBus(options);
  redriver = createKafkaRedrive(options);
});

afterAll(async () => {
  await bus.close();
  await redriver.close();
  await space.cleanUp();
});

/** Runs the CLI as `make redrive` does; resolves with its exit code and output. */
async function redriveCli(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], {
      env: { ...process.env, BULKHEAD_KAFKA_BROKERS: infra.kafkaBrokers.join(',') },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

describe('redrive', () => {
  it('re-publishes every dead letter not redriven before, then one by id whatever was redriven before', async () => {
    const topic = space.topicName();
    const deadLetters = space.track(deadLetterTopic(topic));
    await bus.ensureTopics([
      { name: topic, partitions: 2 },
      { name: deadLetters, partitions: 2 },
    ]);
    space.trackGroup(redriveGroup(topic));
    let fixed = false;
    const handled: IncomingMessage[] = [];
    const given: DeadLetter[] = [];
    const subscription = await bus.subscribe({
      groupId: space.group(),
      topics: [topic],
      handler: async (m) => {
        if (!fixed && body(m).startsWith('bad'))
          throw new PermanentMessageError('a bug, fixed later');
        handled.push(m);
      },
      onDeadLetter: async (deadLetter) => {
        given.push(deadLetter);
      },
    });
    const bad = [
      message(topic, keyOnPartition(0, 2, 'order'), 'bad-1'),
      message(topic, keyOnPartition(1, 2, 'order'), 'bad-2'),
    ];
    await bus.publish([...bad, message(topic, 'k', 'good')]);
    await eventually(async () => (given.length >= 2 && handled.length >= 1 ? true : undefined));

    fixed = true;
    const first = await redriver.redrive({ topic });
    expect(first.map((r) => r.messageId).sort()).toEqual(
      bad.map((m) => m.envelope.messageId).sort(),
    );
    expect(first[0]).toMatchObject({
      kind: 'permanent',
      error: 'PermanentMessageError: a bug, fixed later',
    });
    await eventually(async () => (handled.length >= 3 ? true : undefined));
    const redelivered = handled.filter((m) => body(m).startsWith('bad'));
    expect(
      redelivered.map((m) => m.envelope).sort((a, b) => a.messageId.localeCompare(b.messageId)),
    ).toEqual(bad.map((m) => m.envelope).sort((a, b) => a.messageId.localeCompare(b.messageId)));
    // Back on the topic: the same key, the original headers, none of the dead-letter ones.
    const onTopic = (await space.records(topic)).filter((r) => value(r) === 'bad-1');
    expect(onTopic).toHaveLength(2); // the original and the redriven one
    const again = onTopic[1]!;
    expect(again.key?.toString()).toBe(bad[0]!.key);
    expect(header(again.headers, ENVELOPE_HEADERS.messageId)).toBe(bad[0]!.envelope.messageId);
    for (const name of Object.values(DEAD_LETTER_HEADERS)) {
      expect(header(again.headers, name), name).toBeUndefined();
    }
    expect(header(again.headers, ENVELOPE_HEADERS.type)).toBe(bad[0]!.envelope.type);

    // Progress is kept: a second redrive has nothing to do.
    expect(await redriver.redrive({ topic })).toEqual([]);
    expect(await space.committed(redriveGroup(topic), deadLetters)).toEqual(['1', '1']);

    // By id, through the CLI: that one message again, although it was redriven already.
    const byId = await redriveCli(topic, bad[0]!.envelope.messageId);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toContain(`message-id ${bad[0]!.envelope.messageId}`);
    expect(byId.stdout).toContain('1 dead letter(s) re-published');
    await eventually(async () =>
      handled.filter((m) => m.envelope.messageId === bad[0]!.envelope.messageId).length >= 2
        ? true
        : undefined,
    );
    expect(handled.filter((m) => m.envelope.messageId === bad[1]!.envelope.messageId)).toHaveLength(
      1,
    );
    expect(await space.committed(redriveGroup(topic), deadLetters)).toEqual(['1', '1']); // untouched
    await subscription.stop();

    const unknown = await redriveCli(topic, 'no-such-message');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no dead letter of message no-such-message');
    const nothing = await redriveCli(topic);
    expect(nothing).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('nothing to redrive'),
    });
  });

  it('refuses a topic without dead-letter topic, and bad usage', async () => {
    const topic = await space.createTopic({ partitions: 1 });
    await expect(redriver.redrive({ topic })).rejects.toThrow(
      `there is no topic ${topic}.dead-letters`,
    );
    await expect(redriver.redrive({ topic: 'not a topic' })).rejects.toThrow('not a topic name');
    expect((await redriveCli()).code).toBe(2);
  });
});
