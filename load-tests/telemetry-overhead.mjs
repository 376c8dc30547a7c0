// The table and overhead.json of make bench-telemetry (load-tests/telemetry-overhead.sh) from its
// runs: DIR/runs.tsv lines "mode round summary.json cpu.json seconds" (k6's summary export, and the CPU
// seconds per process of load-tests/process-cpu.mjs diff, the closed loop's length). Per mode, the runs' figures and their
// mean; then on ÷ off.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node load-tests/telemetry-overhead.mjs DIR');
  process.exit(2);
}

const POST = 'http_req_duration{name:POST /v1/orders}';
const count = (metrics, name) => metrics[name]?.count ?? 0;

function figures(summaryFile, cpuFile, wall) {
  const { metrics } = JSON.parse(readFileSync(summaryFile, 'utf8'));
  const { spent } = JSON.parse(readFileSync(cpuFile, 'utf8'));
  // Completed = accepted and ended (confirmed or rejected). Journeys in flight when the loop
  // stops finish within k6's graceful stop and count too: at most VUS more, in every run alike.
  const completed = count(metrics, 'orders_confirmed') + count(metrics, 'orders_rejected');
  const cpuSeconds = Object.values(spent).reduce((a, b) => a + b, 0);
  const byProcess = Object.fromEntries(
    Object.entries(spent)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, s]) => [name, (s * 1000) / completed]),
  );
  return {
    completed,
    ordersPerSecond: completed / wall,
    offered: count(metrics, 'orders_offered'),
    shed: count(metrics, 'orders_shed'),
    failed: count(metrics, 'orders_failed'),
    unfinished: count(metrics, 'orders_unfinished'),
    postP50Ms: metrics[POST]?.med,
    postP99Ms: metrics[POST]?.['p(99)'],
    terminalP99Ms: metrics.accepted_to_terminal?.['p(99)'],
    cpuMsPerOrder: (cpuSeconds * 1000) / completed,
    cpuMsPerOrderByProcess: byProcess,
  };
}

const runs = readFileSync(join(dir, 'runs.tsv'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const [mode, round, summary, cpu, seconds] = line.split('\t');
    return { mode, round: Number(round), ...figures(summary, cpu, Number(seconds)) };
  });

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const modeNames = ['off', 'on', 'sampled'].filter((m) => runs.some((r) => r.mode === m));
const processNames = [
  ...new Set(runs.flatMap((r) => Object.keys(r.cpuMsPerOrderByProcess))),
].sort();
const modes = {};
for (const mode of modeNames) {
  const of = runs.filter((r) => r.mode === mode);
  modes[mode] = {
    runs: of.length,
    ordersPerSecond: mean(of.map((r) => r.ordersPerSecond)),
    postP50Ms: mean(of.map((r) => r.postP50Ms)),
    postP99Ms: mean(of.map((r) => r.postP99Ms)),
    terminalP99Ms: mean(of.map((r) => r.terminalP99Ms)),
    cpuMsPerOrder: mean(of.map((r) => r.cpuMsPerOrder)),
    cpuMsPerOrderByProcess: Object.fromEntries(
      processNames.map((n) => [n, mean(of.map((r) => r.cpuMsPerOrderByProcess[n] ?? 0))]),
    ),
  };
}
// Each mode against export off, the baseline.
const overOff = {};
for (const mode of modeNames.filter((m) => m !== 'off' && modes.off)) {
  overOff[mode] = Object.fromEntries(
    ['ordersPerSecond', 'postP99Ms', 'cpuMsPerOrder'].map((k) => [
      k,
      modes[mode][k] / modes.off[k],
    ]),
  );
}
writeFileSync(join(dir, 'overhead.json'), `${JSON.stringify({ runs, modes, overOff }, null, 2)}\n`);

const f = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '—');
const row = (name, r) =>
  `${name.padEnd(12)} ${f(r.ordersPerSecond).padStart(8)}  ${f(r.postP50Ms).padStart(8)}  ${f(r.postP99Ms).padStart(8)}  ${f(r.terminalP99Ms, 0).padStart(12)}  ${f(r.cpuMsPerOrder).padStart(12)}`;
console.log('run          orders/s  POST p50  POST p99  terminal p99  CPU ms/order  shed');
for (const r of runs) console.log(`${row(`${r.mode} #${r.round}`, r)}  ${r.shed}`);
for (const mode of modeNames) console.log(row(`${mode} mean`, modes[mode]));
for (const [mode, q] of Object.entries(overOff)) {
  console.log(
    `${mode} ÷ off: orders/s ${f(q.ordersPerSecond, 3)}, POST p99 ${f(q.postP99Ms, 3)}, CPU per order ${f(q.cpuMsPerOrder, 3)}`,
  );
}
console.log(`\nCPU ms per order by process (${modeNames.join(' / ')}):`);
for (const n of processNames) {
  const cells = modeNames.map((m) => f(modes[m].cpuMsPerOrderByProcess[n], 2).padStart(7));
  console.log(`  ${n.padEnd(20)} ${cells.join(' ')}`);
}
