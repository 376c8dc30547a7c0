import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infra, testLogger, uniqueName } from '@bulkhead/testkit';
import { PublishError, type EventBus } from '@bulkhead/event-bus';
import { createKafkaEventBus } from '../src/index.js';
import { startStallProxy, type StallProxy } from './stall-proxy.js';
import { KafkaTestSpace, message, value } from './support.js';

const space = new KafkaTestSpace();
let bus: EventBus;

beforeAll(async () => {
  await space.start();
  bus = createKafkaEventBus({
    clientId: uniqueName('producer-test'),
    brokers: infra.kafkaBrokers,
    logger: testLogger('producer'),
  });
});

afterAll(async () => {
  await bus.close();
  await space.cleanUp();
});

/** The rejection of a publish, which must be a PublishError. */
async function publishError(publishing: Promise<void>): Promise<PublishError> {
  const error: unknown = await publishing.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PublishError);
  return error as PublishError;
}

describe('publishing', () => {
  it('an unreachable broker: the publish times out unavailable, a concurrent one is not sent', async () => {
    const unreachable = createKafkaEventBus({
      clientId: uniqueName('producer-test'),
      brokers: ['127.0.0.1:1'], // nothing listens on port 1
      logger: testLogger('producer'),
      publishTimeoutMs: 1_000,
    });
    const started = Date.now();
    const first = publishError(unreachable.publish([message('any', 'k', 'first')]));
    const second = publishError(unreachable.publish([message('any', 'k', 'second')]));
    expect(await first).toMatchObject({
      kind: 'unavailable',
      message: expect.stringContaining('timed out'),
    });
    expect(await second).toMatchObject({
      kind: 'unavailable',
      message: expect.stringContaining('not sent'),
    });
    expect(Date.now() - started).toBeLessThan(3_000); // each within its own 1 s bound
    await unreachable.close();
  });

  it('a stalled network: one send at a time, nothing overtakes it, a publish that waited in vain never lands', async () => {
    const topic = await space.createTopic({ partitions: 1 });
    const proxy: StallProxy = await startStallProxy(infra.kafkaBrokers[0]!);
    const stalled = createKafkaEventBus(
      {
        clientId: uniqueName('producer-test'),
        brokers: infra.kafkaBrokers,
        logger: testLogger('producer'),
        publishTimeoutMs: 1_000,
      },
      { socketFactory: proxy.socketFactory },
    );
    try {
      await stalled.publish([message(topic, 'k', 'before')]); // connected, producer id assigned
      proxy.hold();
      const timedOut = publishError(stalled.publish([message(topic, 'k', 'timed-out')]));
      const waited = publishError(stalled.publish([message(topic, 'k', 'waited')]));
      expect(await timedOut).toMatchObject({
        kind: 'unavailable',
        message: expect.stringContaining('timed out'),
      });
      expect(await waited).toMatchObject({
        kind: 'unavailable',
        message: expect.stringContaining('not sent'),
      });
      proxy.release(); // the timed-out send (still retried by kafkajs) now gets through
      // Until it has settled a publish is refused unsent, so retrying cannot duplicate 'after'.
      let refused = 0;
      for (;;) {
        try {
          await stalled.publish([message(topic, 'k', 'after')]);
          break;
        } catch (error) {
          expect(error).toMatchObject({
            kind: 'unavailable',
            message: expect.stringContaining('not sent'),
          });
          if (++refused > 20) throw error;
        }
      }
    } finally {
      await stalled.close();
      await proxy.close();
    }
    // The abandoned send landed once (its retries reused its own sequence numbers), before
    // 'after'; 'waited' was never sent.
    expect((await space.records(topic)).map(value)).toEqual(['before', 'timed-out', 'after']);
  });

  it('an unknown topic (auto-create is off) is rejected, and the next publish works', async () => {
    const topic = await space.createTopic({ partitions: 1 });
    const error = await publishError(bus.publish([message(uniqueName('no_such_topic'), 'k', 'x')]));
    expect(error.kind).toBe('rejected');
    expect(error.cause).toMatchObject({
      name: 'KafkaJSNumberOfRetriesExceeded',
      cause: { name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION' },
    });
    await bus.publish([message(topic, 'k', 'fine')]);
    expect((await space.records(topic)).map(value)).toEqual(['fine']);
  });

  it('a message larger than the topic allows is rejected, and the next publish works', async () => {
    const topic = await space.createTopic({
      partitions: 1,
      config: { 'max.message.bytes': '2048' },
    });
    const large = message(topic, 'k', 'x'.repeat(4_096));
    const error = await publishError(bus.publish([large]));
    expect(error.kind).toBe('rejected');
    expect(error.cause).toMatchObject({ name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' });
    // Small messages whose batch is over the limit: refused the same way.
    const many = Array.from({ length: 40 }, (_, i) => message(topic, 'k', `${i}`.padEnd(100, '.')));
    expect((await publishError(bus.publish(many))).kind).toBe('rejected');
    await bus.publish([message(topic, 'k', 'small')]);
    expect((await space.records(topic)).map(value)).toEqual(['small']);
  });
});
