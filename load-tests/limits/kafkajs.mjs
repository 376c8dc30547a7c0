// Raw Kafka through kafkajs (the platform's version) for load-tests/limits.sh, against BROKERS:
//   node load-tests/limits/kafkajs.mjs create BROKERS PARTITIONS TOPIC...   scratch topics
//   node load-tests/limits/kafkajs.mjs bench BROKERS TOPIC GROUP COUNT SIZE BATCH
//   node load-tests/limits/kafkajs.mjs delete BROKERS GROUP,... TOPIC...    groups, then topics
// bench produces COUNT messages of SIZE bytes in sends of BATCH, one send in flight, with the
// platform's producer settings (idempotent, acks from all in-sync replicas: event-bus-kafka's
// producer.ts), then consumes them from the beginning in consumer group GROUP (eachBatch), and
// prints one JSON line: per direction the seconds, messages per second and this process's CPU
// seconds (process.cpuUsage). Every wait is bounded (LIMITS_KAFKAJS_TIMEOUT_MS, 60 s).
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { Kafka, Partitioners, logLevel } from 'kafkajs';

const TIMEOUT_MS = Number(process.env.LIMITS_KAFKAJS_TIMEOUT_MS || 60_000);

function kafka(brokers) {
  return new Kafka({
    clientId: 'bulkhead-limits',
    brokers: brokers.split(','),
    logLevel: logLevel.ERROR,
  });
}

function cpuSeconds(since) {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1e6;
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

async function produce(client, topic, count, size, batch) {
  const producer = client.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const value = Buffer.alloc(size, 'x');
  const cpu = process.cpuUsage();
  const started = performance.now();
  try {
    for (let sent = 0; sent < count; sent += batch) {
      const messages = [];
      for (let i = sent; i < Math.min(sent + batch, count); i++)
        messages.push({ key: `key-${i % 1000}`, value });
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
  const seconds = (performance.now() - started) / 1000;
  return { seconds, perSecond: count / seconds, cpuSeconds: cpuSeconds(cpu) };
}

async function consume(client, topic, group, count) {
  const consumer = client.consumer({ groupId: group });
  await consumer.connect();
  const cpu = process.cpuUsage();
  const started = performance.now();
  let firstAt = 0;
  let received = 0;
  let timer;
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`consume: ${received} of ${count} messages in ${TIMEOUT_MS} ms`)),
        TIMEOUT_MS,
      );
      consumer
        .run({
          partitionsConsumedConcurrently: 3,
          eachBatch: async ({ batch }) => {
            if (firstAt === 0) firstAt = performance.now();
            received += batch.messages.length;
            if (received >= count) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  const done = performance.now();
  const seconds = (done - firstAt) / 1000;
  return {
    seconds,
    joinSeconds: (firstAt - started) / 1000,
    perSecond: received / seconds,
    cpuSeconds: cpuSeconds(cpu),
    received,
  };
}

async function bench(brokers, topic, group, count, size, batch) {
  const client = kafka(brokers);
  const produced = await produce(client, topic, count, size, batch);
  const consumed = await consume(client, topic, group, count);
  console.log(JSON.stringify({ count, size, batch, produced, consumed }));
}

const [mode, brokers, ...args] = process.argv.slice(2);
const positive = (s) => /^[1-9][0-9]*$/.test(s ?? '');
let run;
if (mode === 'create' && brokers && positive(args[0]) && args.length > 1) {
  run = create(brokers, Number(args[0]), args.slice(1));
} else if (mode === 'delete' && brokers && args.length > 1) {
  run = remove(brokers, args[0].split(',').filter(Boolean), args.slice(1));
} else if (mode === 'bench' && brokers && args.length === 5 && args.slice(2).every(positive)) {
  const [topic, group, count, size, batch] = args;
  run = bench(brokers, topic, group, Number(count), Number(size), Number(batch));
} else {
  console.error(
    'usage: node load-tests/limits/kafkajs.mjs create BROKERS PARTITIONS TOPIC... | delete BROKERS GROUP,... TOPIC... | bench BROKERS TOPIC GROUP COUNT SIZE BATCH',
  );
  process.exit(2);
}
run.catch((error) => {
  console.error(`kafkajs ${mode}: ${error.message}`);
  process.exit(1);
});
