// limits.json and the table of load-tests/limits.sh, from the raw outputs it left in OUT_DIR
// (pgbench logs, k6 summaries, /proc CPU diffs, the Kafka tools' output, kafkajs.mjs's line).
//   node load-tests/limits/report.mjs OUT_DIR
// Fails, naming the file, when a figure is missing: every number in limits.json comes from a run.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { URL } from 'node:url';

const dir = process.argv[2];
if (!dir || process.argv.length !== 3) {
  console.error('usage: node load-tests/limits/report.mjs OUT_DIR');
  process.exit(2);
}
const read = (file) => readFileSync(join(dir, file), 'utf8');
const readJson = (file) => JSON.parse(read(file));

function number(value, what) {
  const n = Number(value);
  if (value === undefined || value === null || value === '' || !Number.isFinite(n)) {
    throw new Error(`limits report: no ${what}`);
  }
  return n;
}

function match(file, pattern, what) {
  const found = read(file).match(pattern);
  if (!found) throw new Error(`limits report: no ${what} in ${join(dir, file)}`);
  return found;
}

const params = readJson('params.json');
const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

function postgres() {
  const settings = Object.fromEntries(
    read('pg-settings.tsv')
      .trim()
      .split('\n')
      .map((line) => line.split('\t')),
  );
  const runs = read('pgbench-clients.txt')
    .trim()
    .split('\n')
    .map((clients) => {
      const file = `pgbench-${clients}.log`;
      const tps = match(file, /tps = ([\d.]+) \(without initial connection time\)/, 'tps')[1];
      const processed = match(
        file,
        /number of transactions actually processed: (\d+)/,
        'transaction count',
      )[1];
      const latency = match(file, /latency average = ([\d.]+) ms/, 'average latency')[1];
      const failed = match(
        file,
        /number of failed transactions: (\d+)/,
        'failed transaction count',
      )[1];
      const [before, after] = read(`pgbench-${clients}.wal-sync`).trim().split('\n');
      const walSyncs =
        number(after, `pg_stat_wal after pgbench-${clients}`) -
        number(before, `pg_stat_wal before pgbench-${clients}`);
      return {
        clients: number(clients, 'client count'),
        commitsPerSecond: number(tps, `tps in ${file}`),
        transactions: number(processed, `transactions in ${file}`),
        failed: number(failed, `failures in ${file}`),
        latencyAvgMs: number(latency, `latency in ${file}`),
        walSyncs,
        commitsPerWalSync: walSyncs > 0 ? Number(processed) / walSyncs : null,
      };
    });
  const best = runs.reduce((a, b) => (b.commitsPerSecond > a.commitsPerSecond ? b : a));
  return {
    serverVersion: settings.server_version,
    settings: {
      synchronous_commit: settings.synchronous_commit,
      fsync: settings.fsync,
      wal_sync_method: settings.wal_sync_method,
      commit_delay: number(settings.commit_delay, 'commit_delay'),
    },
    secondsPerRun: params.pgSeconds,
    runs,
    bestCommitsPerSecond: best.commitsPerSecond,
    bestClients: best.clients,
  };
}

/** A bare server under k6: rate and latency from the summary, its CPU from the /proc diff. */
function bare(name, countMetric, durationMetric) {
  const summary = readJson(`k6-${name}.json`).metrics;
  const count = number(summary[countMetric]?.count, `${countMetric} count in k6-${name}.json`);
  const duration = summary[durationMetric] ?? {};
  const cpu = readJson(`${name}-cpu.json`);
  const cpuSeconds = number(cpu.spent[name], `${name} server CPU in ${name}-cpu.json`);
  const checks = summary.checks ?? {};
  const [user, system] = read(`k6-${name}.cpu`).trim().split(/\s+/);
  const k6CpuSeconds =
    number(user, `k6 user CPU in k6-${name}.cpu`) +
    number(system, `k6 system CPU in k6-${name}.cpu`);
  return {
    vus: params.vus,
    seconds: params.seconds,
    count,
    perSecond: number(summary[countMetric].rate, `${countMetric} rate in k6-${name}.json`),
    p50Ms: number(duration.med, `${durationMetric} p50 in k6-${name}.json`),
    p99Ms: number(duration['p(99)'], `${durationMetric} p99 in k6-${name}.json`),
    failed: number(checks.fails, `checks in k6-${name}.json`),
    serverCpuSeconds: cpuSeconds,
    serverCpuSecondsPer1000: (cpuSeconds / count) * 1000,
    k6CpuSeconds,
    k6CpuSecondsPer1000: (k6CpuSeconds / count) * 1000,
  };
}

function kafkaTools() {
  const produced = match(
    'kafka-producer-perf.log',
    /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/,
    'ProducerPerformance summary',
  );
  const lines = read('kafka-consumer-perf.log').split('\n');
  const header = lines.findIndex((line) => line.includes('fetch.nMsg.sec'));
  if (header < 0 || !lines[header + 1])
    throw new Error('limits report: no ConsumerPerformance line in kafka-consumer-perf.log');
  const names = lines[header].split(/,\s*/).map((s) => s.trim());
  const values = lines[header + 1].split(/,\s*/).map((s) => s.trim());
  const field = (name) => number(values[names.indexOf(name)], `${name} in kafka-consumer-perf.log`);
  return {
    records: number(produced[1], 'records sent'),
    recordSize: params.recordSize,
    producedPerSecond: number(produced[2], 'records/sec'),
    produceLatencyAvgMs: number(produced[4], 'avg latency'),
    produceLatencyP99Ms: number(produced[8], 'p99 latency'),
    consumed: field('data.consumed.in.nMsg'),
    consumedPerSecond: field('fetch.nMsg.sec'),
    consumeJoinMs: field('rebalance.time.ms'),
  };
}

function kafkajs() {
  const run = readJson('kafkajs.json');
  const per1000 = (side) => (run[side].cpuSeconds / run.count) * 1000;
  return {
    version: packageJson.dependencies.kafkajs,
    messages: run.count,
    recordSize: run.size,
    batch: run.batch,
    producedPerSecond: number(run.produced.perSecond, 'kafkajs produced/s'),
    produceCpuSecondsPer1000: number(per1000('produced'), 'kafkajs produce CPU'),
    consumed: number(run.consumed.received, 'kafkajs consumed'),
    consumedPerSecond: number(run.consumed.perSecond, 'kafkajs consumed/s'),
    consumeJoinMs: run.consumed.joinSeconds * 1000,
    consumeCpuSecondsPer1000: number(per1000('consumed'), 'kafkajs consume CPU'),
  };
}

const parts = new Set(params.parts.split(' '));
const limits = { at: new Date().toISOString(), cpus: params.cpus };
if (parts.has('postgres')) limits.postgres = postgres();
if (parts.has('http')) limits.http = bare('http', 'http_reqs', 'http_req_duration');
if (parts.has('grpc')) {
  limits.grpc = {
    grpcJsVersion: packageJson.dependencies['@grpc/grpc-js'],
    ...bare('grpc', 'iterations', 'grpc_req_duration'),
  };
}
if (parts.has('kafka'))
  limits.kafka = { version: params.kafkaVersion, tools: kafkaTools(), kafkajs: kafkajs() };
writeFileSync(join(dir, 'limits.json'), `${JSON.stringify(limits, null, 2)}\n`);

const f0 = (n) => Math.round(n).toLocaleString('en-US');
const f2 = (n) => n.toFixed(2);
const f3 = (n) => n.toPrecision(3);
const { postgres: pg, http, grpc, kafka } = limits;
const rows = [];
if (pg) {
  rows.push(
    ...pg.runs.map((r) => [
      `postgres commits/s, ${r.clients} client${r.clients > 1 ? 's' : ''}`,
      f0(r.commitsPerSecond),
      `avg ${f2(r.latencyAvgMs)} ms, ${r.commitsPerWalSync === null ? '-' : f2(r.commitsPerWalSync)} commits per WAL sync`,
    ]),
    [
      'postgres settings',
      '',
      `synchronous_commit=${pg.settings.synchronous_commit} fsync=${pg.settings.fsync} wal_sync_method=${pg.settings.wal_sync_method} commit_delay=${pg.settings.commit_delay}`,
    ],
  );
}
if (http)
  rows.push([
    `http hello req/s, ${http.vus} VUs`,
    f0(http.perSecond),
    `p50 ${f2(http.p50Ms)} ms, p99 ${f2(http.p99Ms)} ms, server ${f3(http.serverCpuSecondsPer1000)} k6 ${f3(http.k6CpuSecondsPer1000)} CPU s/1000`,
  ]);
if (grpc)
  rows.push([
    `grpc echo calls/s, ${grpc.vus} VUs`,
    f0(grpc.perSecond),
    `p50 ${f2(grpc.p50Ms)} ms, p99 ${f2(grpc.p99Ms)} ms, server ${f3(grpc.serverCpuSecondsPer1000)} k6 ${f3(grpc.k6CpuSecondsPer1000)} CPU s/1000`,
  ]);
if (kafka) {
  rows.push(
    [
      `kafka tools produced/s, ${kafka.tools.recordSize} B acks=all`,
      f0(kafka.tools.producedPerSecond),
      `avg ${f2(kafka.tools.produceLatencyAvgMs)} ms, p99 ${kafka.tools.produceLatencyP99Ms} ms`,
    ],
    [
      'kafka tools consumed/s',
      f0(kafka.tools.consumedPerSecond),
      `${f0(kafka.tools.consumed)} records, join ${f0(kafka.tools.consumeJoinMs)} ms`,
    ],
    [
      `kafkajs produced/s, sends of ${kafka.kafkajs.batch}`,
      f0(kafka.kafkajs.producedPerSecond),
      `${f3(kafka.kafkajs.produceCpuSecondsPer1000)} CPU s/1000`,
    ],
    [
      'kafkajs consumed/s, group',
      f0(kafka.kafkajs.consumedPerSecond),
      `${f3(kafka.kafkajs.consumeCpuSecondsPer1000)} CPU s/1000, join ${f0(kafka.kafkajs.consumeJoinMs)} ms`,
    ],
  );
}
const width = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length)));
console.log(`machine limits (${limits.cpus} CPUs, ${limits.at})`);
for (const [what, value, note] of rows)
  console.log(`  ${what.padEnd(width[0])}  ${value.padStart(width[1])}  ${note}`);
