// What the platform did between two moments, from its own counters: every process's /metrics
// (the targets Prometheus scrapes, packages/manifest's scrape-targets) and PostgreSQL's statistics
// views. make bench (load-tests/bench.sh) samples it around each step.
//   node load-tests/platform-stats.mjs sample   one JSON line: { at, counters: { name: value } }
//   node load-tests/platform-stats.mjs diff A B  per counter, B − A (gauges: B's value)
//   node load-tests/platform-stats.mjs watch RUN_DIR SECONDS
//       every SECONDS until killed, one JSON line: { at, counters, memoryBytes } (memoryBytes: each
//       registered process's memory (Pss), load-tests/process-cpu.mjs); one process for the
//       whole watch, so that sampling costs the box little
// PostgreSQL is reached at BULKHEAD_PG_URL (infra/local/env.sh), with psql.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { sample as processSample } from './process-cpu.mjs';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Summed over every process: counters (deltas matter) and gauges (the value at the time). */
const COUNTERS = {
  // Kafka messages the relays published, and the records consumers handled.
  kafkaPublished: 'outbox_published_total',
  kafkaConsumed: 'messages_consumed_total',
  // Relay rounds that published (one transaction each) and consumer runs (one transaction per
  // run of a partition's messages, or per message on its own): how far batching goes.
  relayRounds: 'outbox_relay_round_duration_seconds_count',
  consumerRuns: 'consumer_runs_total',
  // Unary gRPC calls the cell services served (the gateway's CreateOrder/GetOrder/... calls).
  grpcServed: 'grpc_server_handling_seconds_count',
  // HTTP requests the gateway and the control plane answered.
  httpServed: 'http_server_request_duration_seconds_count',
  sagasStarted: 'saga_started_total',
  sagasEnded: 'saga_ended_total',
};
const GAUGES = { sagasOpen: 'saga_open', outboxUnsent: 'outbox_unsent_rows' };

/** The sum of every sample of `name` (any labels) in a Prometheus text exposition. */
function sumOf(text, name) {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue; // another metric with this prefix
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

let scrapeTargets;
function targets() {
  scrapeTargets ??= readTargets();
  return scrapeTargets;
}
function readTargets() {
  const plan = `${REPO_ROOT}packages/manifest/dist/local-plan.js`;
  const groups = JSON.parse(
    execFileSync(process.execPath, [plan, 'scrape-targets'], { encoding: 'utf8' }),
  );
  return groups.flatMap((g) => g.targets);
}

function psql(sql) {
  const url = process.env.BULKHEAD_PG_URL;
  if (!url) throw new Error('BULKHEAD_PG_URL is not set (source infra/local/env.sh)');
  return execFileSync('psql', [`${url}/postgres`, '-Atqc', sql], { encoding: 'utf8' }).trim();
}

async function sample() {
  const counters = Object.fromEntries(
    [...Object.keys(COUNTERS), ...Object.keys(GAUGES)].map((k) => [k, 0]),
  );
  const texts = await Promise.all(
    targets().map(async (target) => {
      const response = await fetch(`http://${target}/metrics`, {
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw new Error(`GET http://${target}/metrics: ${response.status}`);
      return response.text();
    }),
  );
  for (const text of texts) {
    for (const [key, name] of Object.entries({ ...COUNTERS, ...GAUGES })) {
      counters[key] += sumOf(text, name);
    }
  }
  // Every database of the server: the services' own and the control plane's.
  const [commits, rollbacks] = psql(
    'SELECT sum(xact_commit), sum(xact_rollback) FROM pg_stat_database',
  ).split('|');
  const [walSyncs, walWrites, walBytes] = psql(
    'SELECT wal_sync, wal_write, wal_bytes FROM pg_stat_wal',
  ).split('|');
  Object.assign(counters, {
    pgCommits: Number(commits),
    pgRollbacks: Number(rollbacks),
    pgWalSyncs: Number(walSyncs),
    pgWalWrites: Number(walWrites),
    pgWalBytes: Number(walBytes),
  });
  return { at: Date.now(), counters };
}

const [command, a, b] = process.argv.slice(2);
if (command === 'sample') {
  console.log(JSON.stringify(await sample()));
} else if (command === 'watch' && a && Number(b) > 0) {
  for (;;) {
    const { memoryBytes } = processSample(a);
    const stats = await sample().catch((error) => ({ at: Date.now(), error: String(error) }));
    console.log(JSON.stringify({ ...stats, memoryBytes }));
    await sleep(Number(b) * 1000);
  }
} else if (command === 'diff' && a && b) {
  const before = JSON.parse(readFileSync(a, 'utf8'));
  const after = JSON.parse(readFileSync(b, 'utf8'));
  const gauges = new Set(Object.keys(GAUGES));
  const delta = Object.fromEntries(
    Object.entries(after.counters).map(([k, v]) => [
      k,
      gauges.has(k) ? { before: before.counters[k], after: v } : v - (before.counters[k] ?? 0),
    ]),
  );
  console.log(JSON.stringify({ seconds: (after.at - before.at) / 1000, delta }));
} else {
  console.error(
    'usage: node load-tests/platform-stats.mjs sample | diff A B | watch RUN_DIR SECONDS',
  );
  process.exit(2);
}
