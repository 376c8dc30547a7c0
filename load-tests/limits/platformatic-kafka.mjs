// Raw Kafka through @platformatic/kafka (pure JavaScript), the counterpart of kafkajs.mjs with the
// same subcommands, arguments and JSON (issue 11: a second client measured against kafkajs):
//   node load-tests/limits/platformatic-kafka.mjs create BROKERS PARTITIONS TOPIC...
//   node load-tests/limits/platformatic-kafka.mjs bench BROKERS TOPIC GROUP COUNT SIZE BATCH
//   node load-tests/limits/platformatic-kafka.mjs idle BROKERS TOPIC GROUP SECONDS
//   node load-tests/limits/platformatic-kafka.mjs delete BROKERS GROUP,... TOPIC...
// The same settings as kafkajs.mjs where the two have them: an idempotent producer (which this
// client runs with acks from all in-sync replicas and one request in flight), the Java/kafkajs
// murmur2 partitioner, keys and headers as strings; a consumer with the platform's session,
// heartbeat and fetch wait, reading from the committed offsets, else the earliest, committing
// after each fetch (autocommit), headers decoded to strings by the client.
import {
  Admin,
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer,
  compatibilityPartitioner,
  stringDeserializer,
  stringSerializer,
} from '@platformatic/kafka';
import { CONSUMER, installedVersion, runCli } from './kafka-client-bench.mjs';

const CLIENT_ID = 'bulkhead-limits';
const KAFKAJS_FETCH = { maxBytes: 10_485_760, maxBytesPerPartition: 1_048_576 };

function bootstrapBrokers(brokers) {
  return brokers.split(',');
}

async function withAdmin(brokers, use) {
  const admin = new Admin({ clientId: CLIENT_ID, bootstrapBrokers: bootstrapBrokers(brokers) });
  try {
    await use(admin);
  } finally {
    await admin.close();
  }
}

async function create(brokers, partitions, topics) {
  await withAdmin(brokers, async (admin) => {
    const present = new Set(await admin.listTopics());
    const clash = topics.filter((t) => present.has(t));
    if (clash.length > 0) throw new Error(`create: ${clash.join(', ')} already exists`);
    await admin.createTopics({ topics, partitions, replicas: 1 });
  });
}

async function remove(brokers, groups, topics) {
  await withAdmin(brokers, async (admin) => {
    const existing = await admin.listGroups();
    const ours = groups.filter((g) => existing.has(g));
    if (ours.length > 0) await admin.deleteGroups({ groups: ours });
    const present = new Set(await admin.listTopics());
    const scratch = topics.filter((t) => present.has(t));
    if (scratch.length > 0) await admin.deleteTopics({ topics: scratch });
  });
}

async function producer(brokers) {
  const created = new Producer({
    clientId: CLIENT_ID,
    bootstrapBrokers: bootstrapBrokers(brokers),
    idempotent: true,
    partitioner: compatibilityPartitioner,
    serializers: {
      key: stringSerializer,
      headerKey: stringSerializer,
      headerValue: stringSerializer,
    },
  });
  // The producer id, as kafkajs's connect() obtains it for an idempotent producer.
  await created.initIdempotentProducer({});
  return {
    send: (messages) => created.send({ messages }),
    close: () => created.close(),
  };
}

async function consumer(brokers, topic, group, onRecord) {
  const created = new Consumer({
    clientId: CLIENT_ID,
    bootstrapBrokers: bootstrapBrokers(brokers),
    groupId: group,
    sessionTimeout: CONSUMER.sessionTimeoutMs,
    heartbeatInterval: CONSUMER.heartbeatIntervalMs,
    maxWaitTime: CONSUMER.maxWaitMs,
    // kafkajs's fetch sizes (10 MB a fetch, 1 MB a partition) instead of this client's 50 MB a
    // fetch, with which a trial run waited seconds for its first record and took 4× the CPU.
    maxBytes: KAFKAJS_FETCH.maxBytes,
    maxBytesPerPartition: KAFKAJS_FETCH.maxBytesPerPartition,
    autocommit: true,
    deserializers: {
      key: stringDeserializer,
      headerKey: stringDeserializer,
      headerValue: stringDeserializer,
    },
  });
  let stream;
  try {
    stream = await created.consume({
      topics: [topic],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
    });
  } catch (error) {
    await created.close(true);
    throw error;
  }
  stream.on('data', ({ key, headers }) => onRecord(key ?? '', (name) => headers.get(name)));
  stream.on('error', (error) => console.error(`platformatic consumer: ${error.message}`));
  return {
    close: async () => {
      await stream.close();
      await created.close();
    },
  };
}

runCli('load-tests/limits/platformatic-kafka.mjs', {
  name: 'platformatic-kafka',
  version: installedVersion('@platformatic/kafka'),
  create,
  remove,
  producer,
  consumer,
});
