// The table and bench.json of make bench (load-tests/bench.sh) from its directory: steps.tsv lines
// "name rate seconds summary.json startedMs", and per step NAME.cpu.json (process-cpu.mjs diff),
// NAME.stats.json (platform-stats.mjs diff), NAME.watch.jsonl (platform-stats.mjs watch: a
// sample every 5 s while k6 ran); rest.json (memory at rest) and limits/limits.json (the machine's limits,
// load-tests/limits.sh), when there.
//   node load-tests/bench.mjs DIR
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node load-tests/bench.mjs DIR');
  process.exit(2);
}
const read = (file) => JSON.parse(readFileSync(file, 'utf8'));
const lines = (file) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const MIB = 1024 * 1024;
const POST = 'http_req_duration{name:POST /v1/orders}';
/** k6 starts arriving after setup() (tenants, keys, products): open sagas are compared from then. */
const SETUP_MS = 10_000;

const limits = existsSync(join(dir, 'limits/limits.json'))
  ? read(join(dir, 'limits/limits.json'))
  : undefined;
const rest = existsSync(join(dir, 'rest.json')) ? read(join(dir, 'rest.json')) : undefined;

function step(line) {
  const [name, rate, seconds, summaryFile, startedMs] = line.split('\t');
  const wall = Number(seconds);
  const { metrics } = read(summaryFile);
  const count = (m) => metrics[m]?.count ?? 0;
  const { spent, wallSeconds: cpuWall } = read(join(dir, `${name}.cpu.json`));
  const { delta } = read(join(dir, `${name}.stats.json`));
  const completed = count('orders_confirmed') + count('orders_rejected');
  const perOrder = (x) => (completed > 0 ? x / completed : undefined);
  // Open sagas while orders arrived: the first sample after setup against the last before the end.
  const from = Number(startedMs) + SETUP_MS;
  const until = Number(startedMs) + SETUP_MS + wall * 1000;
  const watched = lines(join(dir, `${name}.watch.jsonl`));
  const during = watched.filter((s) => s.at >= from && s.at <= until);
  const open = during.filter((s) => s.counters).map((s) => s.counters.sagasOpen);
  const peakMemory = {};
  for (const s of watched) {
    for (const [p, b] of Object.entries(s.memoryBytes ?? {}))
      peakMemory[p] = Math.max(peakMemory[p] ?? 0, b);
  }
  return {
    name,
    offeredPerSecond: Number(rate),
    seconds: wall,
    offered: count('orders_offered'),
    accepted: count('orders_accepted'),
    shed: count('orders_shed'),
    failed: count('orders_failed'),
    unfinished: count('orders_unfinished'),
    completed,
    // Over the whole k6 run (setup and the drain of the last journeys included): a lower bound.
    k6Seconds: cpuWall,
    completedPerSecond: completed / cpuWall,
    postP50Ms: metrics[POST]?.med,
    postP99Ms: metrics[POST]?.['p(99)'],
    acceptedToConfirmedP50Ms: metrics.accepted_to_confirmed?.med,
    acceptedToConfirmedP99Ms: metrics.accepted_to_confirmed?.['p(99)'],
    acceptedToTerminalP99Ms: metrics.accepted_to_terminal?.['p(99)'],
    openSagas: {
      first: open[0],
      last: open.at(-1),
      max: open.length ? Math.max(...open) : undefined,
    },
    cpuMsPerOrder: perOrder(sum(Object.values(spent)) * 1000),
    cpuMsPerOrderByProcess: Object.fromEntries(
      Object.entries(spent)
        .sort(([, a], [, b]) => b - a)
        .map(([p, s]) => [p, perOrder(s * 1000)]),
    ),
    perOrder: {
      pgCommits: perOrder(delta.pgCommits),
      pgWalSyncs: perOrder(delta.pgWalSyncs),
      kafkaPublished: perOrder(delta.kafkaPublished),
      relayRounds: perOrder(delta.relayRounds),
      consumerRuns: perOrder(delta.consumerRuns),
      grpcServed: perOrder(delta.grpcServed),
      httpServed: perOrder(delta.httpServed),
    },
    // Messages per relay round and per consumer run: 1 means no batching at all.
    perBatch: {
      relayRound: delta.relayRounds ? delta.kafkaPublished / delta.relayRounds : undefined,
      consumerRun: delta.consumerRuns ? delta.kafkaConsumed / delta.consumerRuns : undefined,
    },
    perSecond: {
      pgCommits: delta.pgCommits / wall,
      kafkaPublished: delta.kafkaPublished / wall,
      grpcServed: delta.grpcServed / wall,
      httpServed: delta.httpServed / wall,
    },
    peakMemoryMiB: sum(Object.values(peakMemory)) / MIB,
    peakMemoryMiBByProcess: Object.fromEntries(
      Object.entries(peakMemory).map(([p, b]) => [p, b / MIB]),
    ),
  };
}

const steps = readFileSync(join(dir, 'steps.tsv'), 'utf8')
  .trim()
  .split('\n')
  .filter(Boolean)
  .map(step);

/** Each platform rate as a share of the machine's limit measured in the same run. */
function ratios(s) {
  if (!limits) return undefined;
  const of = (x, limit) => (limit ? x / limit : undefined);
  const gatewayCpuMs = s.cpuMsPerOrderByProcess.gateway;
  const perRequest = (ms, requests) => (ms !== undefined && requests ? ms / requests : undefined);
  return {
    // Orders/s × commits per order against what the same server commits with pgbench.
    pgCommitsPerSecondOfLimit: of(s.perSecond.pgCommits, limits.postgres?.bestCommitsPerSecond),
    gatewayRequestsPerSecondOfHttpHello: of(s.perSecond.httpServed, limits.http?.perSecond),
    grpcCallsPerSecondOfGrpcEcho: of(s.perSecond.grpcServed, limits.grpc?.perSecond),
    kafkaMessagesPerSecondOfKafkajsProduce: of(
      s.perSecond.kafkaPublished,
      limits.kafka?.kafkajs?.producedPerSecond,
    ),
    // What one HTTP request costs the gateway against what it costs a bare node:http server.
    gatewayCpuPerRequestOfHttpHello: of(
      perRequest(gatewayCpuMs, s.perOrder.httpServed),
      limits.http?.serverCpuSecondsPer1000,
    ),
  };
}
for (const s of steps) s.ratios = ratios(s);

const report = {
  limits,
  rest: rest && {
    memoryMiB: sum(Object.values(rest.memoryBytes ?? {})) / MIB,
    memoryMiBByProcess: Object.fromEntries(
      Object.entries(rest.memoryBytes ?? {}).map(([p, b]) => [p, b / MIB]),
    ),
  },
  steps,
};
writeFileSync(join(dir, 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);

const f = (x, digits = 0) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));
const pct = (x) => (x === undefined ? '-' : `${(x * 100).toFixed(0)}%`);
const rows = [
  ['orders/s offered', (s) => f(s.offeredPerSecond)],
  ['orders completed (k6 run s)', (s) => `${s.completed} (${f(s.k6Seconds)})`],
  ['orders/s completed over the k6 run', (s) => f(s.completedPerSecond, 1)],
  ['shed / failed / unfinished', (s) => `${s.shed}/${s.failed}/${s.unfinished}`],
  ['POST p50 / p99 ms', (s) => `${f(s.postP50Ms, 1)} / ${f(s.postP99Ms, 1)}`],
  [
    'accepted→confirmed p50 / p99 ms',
    (s) => `${f(s.acceptedToConfirmedP50Ms)} / ${f(s.acceptedToConfirmedP99Ms)}`,
  ],
  [
    'open sagas first → last (max)',
    (s) => `${f(s.openSagas.first)} → ${f(s.openSagas.last)} (${f(s.openSagas.max)})`,
  ],
  ['CPU ms per order', (s) => f(s.cpuMsPerOrder, 1)],
  [
    'PG commits / WAL syncs per order',
    (s) => `${f(s.perOrder.pgCommits, 1)} / ${f(s.perOrder.pgWalSyncs, 1)}`,
  ],
  [
    'Kafka msgs / gRPC calls / HTTP reqs per order',
    (s) =>
      `${f(s.perOrder.kafkaPublished, 1)} / ${f(s.perOrder.grpcServed, 1)} / ${f(s.perOrder.httpServed, 1)}`,
  ],
  [
    'relay rounds / consumer runs per order',
    (s) => `${f(s.perOrder.relayRounds, 1)} / ${f(s.perOrder.consumerRuns, 1)}`,
  ],
  [
    'msgs per relay round / per consumer run',
    (s) => `${f(s.perBatch.relayRound, 2)} / ${f(s.perBatch.consumerRun, 2)}`,
  ],
  ['PG commits/s ÷ PG commit limit', (s) => pct(s.ratios?.pgCommitsPerSecondOfLimit)],
  [
    'gateway HTTP reqs/s ÷ bare HTTP hello',
    (s) => pct(s.ratios?.gatewayRequestsPerSecondOfHttpHello),
  ],
  ['gRPC calls/s ÷ bare gRPC echo', (s) => pct(s.ratios?.grpcCallsPerSecondOfGrpcEcho)],
  [
    'Kafka msgs/s ÷ raw kafkajs produce',
    (s) => pct(s.ratios?.kafkaMessagesPerSecondOfKafkajsProduce),
  ],
  [
    'gateway CPU per HTTP req ÷ bare HTTP hello',
    (s) => f(s.ratios?.gatewayCpuPerRequestOfHttpHello, 1),
  ],
  ['peak memory MiB (all processes)', (s) => f(s.peakMemoryMiB)],
];
const processes = [...new Set(steps.flatMap((s) => Object.keys(s.cpuMsPerOrderByProcess)))];
for (const p of processes)
  rows.push([`  CPU ms/order ${p}`, (s) => f(s.cpuMsPerOrderByProcess[p], 1)]);
const width = Math.max(...rows.map(([label]) => label.length));
const cells = rows.map(([label, cell]) => [label, steps.map((s) => cell(s))]);
const column =
  Math.max(
    ...steps.map((s) => s.name.length),
    ...cells.flatMap(([, c]) => c.map((x) => x.length)),
  ) + 2;
console.log(`${''.padEnd(width)}${steps.map((s) => s.name.padStart(column)).join('')}`);
for (const [label, values] of cells) {
  console.log(`${label.padEnd(width)}${values.map((v) => v.padStart(column)).join('')}`);
}
if (report.rest) console.log(`memory at rest: ${f(report.rest.memoryMiB)} MiB (all processes)`);
