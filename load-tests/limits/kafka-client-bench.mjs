// The client-independent half of load-tests/limits/kafkajs.mjs and platformatic-kafka.mjs: the
// command line, the messages, the timing and the CPU accounting. Each script passes a client:
//   name, version
//   create(brokers, partitions, topics)    scratch topics (fails if one exists)
//   remove(brokers, groups, topics)        those groups, then those topics, that exist
//   producer(brokers) → { send(messages), close() }
//       idempotent, acks from all in-sync replicas, one send in flight (event-bus-kafka's
//       producer.ts); a message is { topic, key: string, value: Buffer, headers: {name: string} }
//   consumer(brokers, topic, group, onRecord) → { close() }
//       joins GROUP with CONSUMER's settings, reads TOPIC from the committed offsets, else from
//       the beginning, committing as it goes; onRecord(key: string, header: name → string|undefined)
//       for every record, in order per partition
// Subcommands (every wait bounded: LIMITS_KAFKAJS_TIMEOUT_MS, 60 s, per phase):
//   create BROKERS PARTITIONS TOPIC...
//   delete BROKERS GROUP,... TOPIC...
//   bench BROKERS TOPIC GROUP COUNT SIZE BATCH   COUNT messages of a SIZE-byte value and the
//       envelope's 8 headers, keyed by a uuid, in sends of BATCH, one in flight; then consumed
//       from the beginning in GROUP. One JSON line: per direction the seconds, messages per
//       second and this process's CPU seconds (process.cpuUsage): producing from the first send
//       to the last acknowledged; consuming from joining to leaving the group (cpuSeconds) and
//       from the first record to the last (steadyCpuSeconds).
//   idle BROKERS TOPIC GROUP SECONDS   a producer that has sent one message and a consumer that
//       has read it, both left connected and idle for SECONDS. One JSON line: CPU seconds and
//       context switches per second, of the main thread (/proc/self/status) and of the process
//       (getrusage).
import { Buffer } from 'node:buffer';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';

const TIMEOUT_MS = Number(process.env.LIMITS_KAFKAJS_TIMEOUT_MS || 60_000);

/** The platform's consumer settings (event-bus-kafka's consumer.ts). */
export const CONSUMER = { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxWaitMs: 500 };

/** The envelope's headers as event-bus-kafka's headers.ts names them (tracestate left out). */
const REQUIRED_HEADERS = [
  'message-id',
  'message-type',
  'tenant-id',
  'cell-id',
  'correlation-id',
  'occurred-at',
];
const HEADERS = [...REQUIRED_HEADERS, 'causation-id', 'traceparent'];

/**
 * Distinct messages built before the clock starts and sent in turn, so that what is timed is the
 * client (the same objects go to both clients; neither changes them).
 */
const POOL = 1024;

function envelopeMessages(topic, size, count) {
  const value = Buffer.alloc(size, 'x');
  const messages = [];
  for (let i = 0; i < count; i++) {
    const hex = (bytes) => randomBytes(bytes).toString('hex');
    const headers = {
      'message-id': randomUUID(),
      'message-type': 'bulkhead.orders.v1.OrderPlaced',
      'tenant-id': `tenant-${String(i % 50).padStart(4, '0')}`,
      'cell-id': i % 2 === 0 ? 'cell-a' : 'cell-b',
      'correlation-id': randomUUID(),
      'occurred-at': new Date(Date.UTC(2026, 11, 2) + i).toISOString(),
      'causation-id': randomUUID(),
      traceparent: `00-${hex(16)}-${hex(8)}-01`,
    };
    messages.push({ topic, key: randomUUID(), value, headers });
  }
  return messages;
}

/** The version of PKG as installed for load-tests (pnpm links it into load-tests/node_modules). */
export function installedVersion(pkg) {
  const file = new URL(`../node_modules/${pkg}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(file, 'utf8')).version;
}

function cpuSeconds(since) {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1e6;
}

/** Runs phase(), failing it with a clear message if it has not settled within TIMEOUT_MS. */
async function bounded(what, phase) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: not done in ${TIMEOUT_MS} ms`)),
      TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([phase(), expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function produce(client, brokers, topic, count, size, batch) {
  const pool = envelopeMessages(topic, size, Math.min(POOL, count));
  const producer = await bounded('connecting the producer', () => client.producer(brokers));
  try {
    return await bounded(`producing ${count} messages`, async () => {
      const cpu = process.cpuUsage();
      const started = performance.now();
      for (let sent = 0; sent < count; sent += batch) {
        const messages = [];
        for (let i = sent; i < Math.min(sent + batch, count); i++) messages.push(pool[i % POOL]);
        await producer.send(messages);
      }
      // First send to the last acknowledged (connect and close left out).
      const seconds = (performance.now() - started) / 1000;
      return { seconds, perSecond: count / seconds, cpuSeconds: cpuSeconds(cpu) };
    });
  } finally {
    await bounded('closing the producer', () => producer.close());
  }
}

/** A consumer of GROUP, and a promise of the moment it has read `count` records. */
async function consuming(client, brokers, topic, group, count) {
  let received = 0;
  let malformed = 0;
  let firstAt = 0;
  let lastAt = 0;
  let cpuAtFirst;
  let steadyCpuSeconds = 0;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  const onRecord = (key, header) => {
    if (firstAt === 0) {
      firstAt = performance.now();
      cpuAtFirst = process.cpuUsage();
    }
    // What envelopeFromHeaders reads of every record: each header as text.
    let ok = key.length > 0;
    for (const name of HEADERS) {
      const text = header(name);
      if (text === undefined && REQUIRED_HEADERS.includes(name)) ok = false;
    }
    if (!ok) malformed++;
    if (++received === count) {
      lastAt = performance.now();
      steadyCpuSeconds = cpuSeconds(cpuAtFirst);
      done();
    }
  };
  const consumer = await client.consumer(brokers, topic, group, onRecord);
  const counts = () => ({ received, malformed, firstAt, lastAt, steadyCpuSeconds });
  return { consumer, all, counts };
}

async function consume(client, brokers, topic, group, count) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const { consumer, all, counts } = await bounded('joining the group', () =>
    consuming(client, brokers, topic, group, count),
  );
  try {
    await bounded(`consuming ${count} messages`, async () => {
      await all;
    });
  } finally {
    await bounded('closing the consumer', () => consumer.close());
  }
  const { received, malformed, firstAt, lastAt, steadyCpuSeconds } = counts();
  const seconds = (lastAt - firstAt) / 1000; // first record to last: leaving the group left out
  return {
    seconds,
    joinSeconds: (firstAt - started) / 1000,
    perSecond: received / seconds,
    cpuSeconds: cpuSeconds(cpu), // joining, reading and leaving the group
    steadyCpuSeconds, // the first record to the last: the cost per message without join and leave
    received,
    malformed,
  };
}

/** This thread's (the event loop's) context switches, from /proc/self/status. */
function mainThreadSwitches() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const read = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(status)?.[1]);
  return {
    voluntary: read('voluntary_ctxt_switches'),
    involuntary: read('nonvoluntary_ctxt_switches'),
  };
}

async function idle(client, brokers, topic, group, seconds) {
  const producer = await bounded('connecting the producer', () => client.producer(brokers));
  const [message] = envelopeMessages(topic, 120, 1);
  await bounded('sending one message', () => producer.send([message]));
  const { consumer, all } = await bounded('joining the group', () =>
    consuming(client, brokers, topic, group, 1),
  );
  let sample;
  try {
    await bounded('reading the one message', async () => {
      await all;
    });
    const cpu = process.cpuUsage();
    const thread = mainThreadSwitches();
    const rusage = process.resourceUsage();
    const started = performance.now();
    await sleep(seconds * 1000); // the window measured: nothing of ours runs in it
    const elapsed = (performance.now() - started) / 1000;
    const threadAfter = mainThreadSwitches();
    const rusageAfter = process.resourceUsage();
    const used = cpuSeconds(cpu);
    sample = {
      seconds: elapsed,
      cpuSeconds: used,
      cpuPercentOfCore: (100 * used) / elapsed,
      mainThreadVoluntarySwitchesPerSecond: (threadAfter.voluntary - thread.voluntary) / elapsed,
      mainThreadInvoluntarySwitchesPerSecond:
        (threadAfter.involuntary - thread.involuntary) / elapsed,
      processVoluntarySwitchesPerSecond:
        (rusageAfter.voluntaryContextSwitches - rusage.voluntaryContextSwitches) / elapsed,
    };
  } finally {
    await bounded('closing the consumer', () => consumer.close());
    await bounded('closing the producer', () => producer.close());
  }
  return sample;
}

async function bench(client, brokers, topic, group, count, size, batch) {
  const produced = await produce(client, brokers, topic, count, size, batch);
  const consumed = await consume(client, brokers, topic, group, count);
  const shape = { headers: HEADERS.length, key: 'uuid' };
  return {
    client: client.name,
    version: client.version,
    count,
    size,
    batch,
    shape,
    produced,
    consumed,
  };
}

/** The command line of a client's script (see the top of this file). */
export function runCli(script, client) {
  const [mode, brokers, ...args] = process.argv.slice(2);
  const positive = (s) => /^[1-9][0-9]*$/.test(s ?? '');
  const print = (result) => console.log(JSON.stringify(result));
  let run;
  if (mode === 'create' && brokers && positive(args[0]) && args.length > 1) {
    run = client.create(brokers, Number(args[0]), args.slice(1));
  } else if (mode === 'delete' && brokers && args.length > 1) {
    run = client.remove(brokers, args[0].split(',').filter(Boolean), args.slice(1));
  } else if (mode === 'bench' && brokers && args.length === 5 && args.slice(2).every(positive)) {
    const [topic, group, count, size, batch] = args;
    run = bench(client, brokers, topic, group, Number(count), Number(size), Number(batch)).then(
      print,
    );
  } else if (mode === 'idle' && brokers && args.length === 3 && positive(args[2])) {
    const [topic, group, seconds] = args;
    run = idle(client, brokers, topic, group, Number(seconds)).then((sample) =>
      print({ client: client.name, version: client.version, idle: sample }),
    );
  } else {
    console.error(
      `usage: node ${script} create BROKERS PARTITIONS TOPIC... | delete BROKERS GROUP,... TOPIC... | bench BROKERS TOPIC GROUP COUNT SIZE BATCH | idle BROKERS TOPIC GROUP SECONDS`,
    );
    process.exit(2);
  }
  run.catch((error) => {
    console.error(`${client.name} ${mode}: ${error.message}`);
    process.exit(1);
  });
}
