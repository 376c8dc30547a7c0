// The table of load-tests/kafka-clients.sh from the JSON lines it left in OUT_DIR
// (bench.<client>.b<batch>.r<round>.json, idle.<client>.r<round>.json):
//   node load-tests/limits/kafka-clients-report.mjs OUT_DIR
// Per batch size and direction, each client's mean over its rounds (the spread as min–max) of
// messages per second and CPU microseconds per message (consuming: from the first record to the
// last, the group's join and leave left out), and platformatic ÷ kafkajs of the means;
// then the idle cost. Writes OUT_DIR/kafka-clients.json too.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir || process.argv.length !== 3) {
  console.error('usage: node load-tests/limits/kafka-clients-report.mjs OUT_DIR');
  process.exit(2);
}
const BASE = 'kafkajs';
const OTHER = 'platformatic-kafka';

const runs = readdirSync(dir)
  .filter((file) => /^(bench|idle)\..+\.json$/.test(file))
  .map((file) => ({ file, ...JSON.parse(readFileSync(join(dir, file), 'utf8')) }));
if (runs.length === 0) throw new Error(`kafka-clients report: no runs in ${dir}`);

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const summary = (xs) => ({
  mean: mean(xs),
  min: Math.min(...xs),
  max: Math.max(...xs),
  n: xs.length,
});
const f = (x, digits = 0) =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const cell = (s, digits = 0) => `${f(s.mean, digits)} (${f(s.min, digits)}–${f(s.max, digits)})`;

const report = { bench: [], idle: {} };
const batches = [...new Set(runs.filter((r) => r.produced).map((r) => r.batch))].sort(
  (a, b) => a - b,
);
const lines = [
  '| batch, direction | client | messages/s | CPU µs/message | seconds |',
  '|---|---|---|---|---|',
];
const ratios = ['| batch, direction | messages/s ratio | CPU/message ratio |', '|---|---|---|'];
for (const batch of batches) {
  for (const direction of ['produced', 'consumed']) {
    const of = (client) => {
      const mine = runs.filter((r) => r.client === client && r.batch === batch && r[direction]);
      if (mine.length === 0)
        throw new Error(`kafka-clients report: no ${client} run at batch ${batch}`);
      for (const r of mine) {
        if (
          direction === 'consumed' &&
          (r.consumed.received !== r.count || r.consumed.malformed !== 0)
        ) {
          throw new Error(
            `kafka-clients report: ${r.file} received ${r.consumed.received} of ${r.count} (${r.consumed.malformed} malformed)`,
          );
        }
      }
      return {
        count: mine[0].count,
        perSecond: summary(mine.map((r) => r[direction].perSecond)),
        // Consuming: first record to last (join and leave are a fixed cost, not per message).
        cpuMicrosPerMessage: summary(
          mine.map(
            (r) => (1e6 * (r[direction].steadyCpuSeconds ?? r[direction].cpuSeconds)) / r.count,
          ),
        ),
        seconds: summary(mine.map((r) => r[direction].seconds)),
      };
    };
    const base = of(BASE);
    const other = of(OTHER);
    const ratio = {
      perSecond: other.perSecond.mean / base.perSecond.mean,
      cpuPerMessage: other.cpuMicrosPerMessage.mean / base.cpuMicrosPerMessage.mean,
    };
    report.bench.push({ batch, direction, [BASE]: base, [OTHER]: other, ratio });
    for (const [client, s] of [
      [BASE, base],
      [OTHER, other],
    ]) {
      lines.push(
        `| ${batch}, ${direction} | ${client} | ${cell(s.perSecond)} | ${cell(s.cpuMicrosPerMessage, 1)} | ${cell(s.seconds, 1)} |`,
      );
    }
    ratios.push(
      `| ${batch}, ${direction} | ${f(ratio.perSecond, 2)} | ${f(ratio.cpuPerMessage, 2)} |`,
    );
  }
}
const idleLines = [
  '| client | CPU s per 30 s | % of a core | main-thread voluntary switches/s | process voluntary switches/s |',
  '|---|---|---|---|---|',
];
for (const client of [BASE, OTHER]) {
  const mine = runs.filter((r) => r.client === client && r.idle).map((r) => r.idle);
  if (mine.length === 0) continue;
  const s = {
    seconds: summary(mine.map((i) => i.seconds)),
    cpuSecondsPer30s: summary(mine.map((i) => (30 * i.cpuSeconds) / i.seconds)),
    cpuPercentOfCore: summary(mine.map((i) => i.cpuPercentOfCore)),
    mainThreadVoluntarySwitchesPerSecond: summary(
      mine.map((i) => i.mainThreadVoluntarySwitchesPerSecond),
    ),
    processVoluntarySwitchesPerSecond: summary(
      mine.map((i) => i.processVoluntarySwitchesPerSecond),
    ),
  };
  report.idle[client] = s;
  idleLines.push(
    `| ${client} | ${cell(s.cpuSecondsPer30s, 3)} | ${cell(s.cpuPercentOfCore, 2)} | ${cell(s.mainThreadVoluntarySwitchesPerSecond, 1)} | ${cell(s.processVoluntarySwitchesPerSecond, 1)} |`,
  );
}
writeFileSync(join(dir, 'kafka-clients.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(
  [
    ...lines,
    '',
    `${OTHER} ÷ ${BASE} (means):`,
    '',
    ...ratios,
    '',
    'Idle (a connected producer and consumer):',
    '',
    ...idleLines,
  ].join('\n'),
);
