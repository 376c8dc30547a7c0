// Raw Kafka through kafkajs (the platform's version) for load-tests/limits.sh, against BROKERS:
//   node load-tests/limits/kafkajs.mjs create BROKERS PARTITIONS TOPIC...   scratch topics
//   node load-tests/limits/kafkajs.mjs bench BROKERS TOPIC GROUP COUNT SIZE BATCH
//   node load-tests/limits/kafkajs.mjs idle BROKERS TOPIC GROUP SECONDS
//   node load-tests/limits/kafkajs.mjs delete BROKERS GROUP,... TOPIC...    groups, then topics
// bench produces COUNT messages shaped like the platform's (a SIZE-byte value, the envelope's 8
// headers, a uuid key) in sends of BATCH, one send in flight, with the platform's producer
// settings (idempotent, acks from all in-sync replicas: event-bus-kafka's producer.ts), then
// consumes them from the beginning in consumer group GROUP (eachBatch, the platform's session,
// heartbeat and fetch wait), and prints one JSON line: per direction the seconds, messages per
// second and this process's CPU seconds (process.cpuUsage). idle: CPU and context switches of a
// connected, idle producer and consumer. The command line, messages and timing are shared with
// platformatic-kafka.mjs (kafka-client-bench.mjs). Every wait is bounded
// (LIMITS_KAFKAJS_TIMEOUT_MS, 60 s).
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { CONSUMER, installedVersion, runCli } from './kafka-client-bench.mjs';

function kafka(brokers) {
  return new Kafka({
    clientId: 'bulkhead-limits',
    brokers: brokers.split(','),
    logLevel: logLevel.ERROR,
  });
}

async function withAdmin(brokers, use) {
  const admin = kafka(brokers).admin();
  await admin.connect();
  try {
    await use(admin);
  } finally {
    await admin.disconnect();
  }
}

async function create(brokers, partitions, topics) {
  await withAdmin(brokers, async (admin) => {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    });
    if (!created) throw new Error(`create: a topic of ${topics.join(', ')} already exists`);
  });
}

async function remove(brokers, groups, topics) {
  await withAdmin(brokers, async (admin) => {
    const existing = new Set((await admin.listGroups()).groups.map((g) => g.groupId));
    const ours = groups.filter((g) => existing.has(g));
    if (ours.length > 0) await admin.deleteGroups(ours);
    const present = new Set(await admin.listTopics());
    const scratch = topics.filter((t) => present.has(t));
    if (scratch.length > 0) await admin.deleteTopics({ topics: scratch, timeout: 10_000 });
  });
}

async function producer(brokers) {
  const created = kafka(brokers).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await created.connect();
  return {
    // One topic per send here; the messages' own `topic` field is ignored by kafkajs.
    send: (messages) => created.send({ topic: messages[0].topic, messages, acks: -1 }),
    close: () => created.disconnect(),
  };
}

async function consumer(brokers, topic, group, onRecord) {
  const created = kafka(brokers).consumer({
    groupId: group,
    sessionTimeout: CONSUMER.sessionTimeoutMs,
    heartbeatInterval: CONSUMER.heartbeatIntervalMs,
    maxWaitTimeInMs: CONSUMER.maxWaitMs,
  });
  await created.connect();
  try {
    await created.subscribe({ topics: [topic], fromBeginning: true });
    await created.run({
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch }) => {
        for (const { key, headers } of batch.messages) {
          onRecord(key?.toString('utf8') ?? '', (name) => headers?.[name]?.toString('utf8'));
        }
      },
    });
  } catch (error) {
    await created.disconnect();
    throw error;
  }
  return { close: () => created.disconnect() };
}

runCli('load-tests/limits/kafkajs.mjs', {
  name: 'kafkajs',
  version: installedVersion('kafkajs'),
  create,
  remove,
  producer,
  consumer,
});
