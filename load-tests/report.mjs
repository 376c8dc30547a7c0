// Turns one k6 run's raw points (points.csv.gz, k6's CSV output) into what `make load` and
// `make bench-overload` leave behind (load-tests/run.sh calls it):
//   node load-tests/report.mjs plot DIR    DIR/plot.html: per second, orders offered vs accepted
//                                          vs completed (and shed), and latency (p50/p99)
//   node load-tests/report.mjs bench DIR   the plot, plus DIR/bench.json and a table on stdout:
//                                          the overload benchmark's figures per level
// The plot is one self-contained HTML file (inline SVG, no library). The pass/fail summary is
// k6's own (summary.json, --summary-export); this only reads the points it cannot give.
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

const [mode, dir] = process.argv.slice(2);
if (!['plot', 'bench'].includes(mode) || !dir) {
  console.error('usage: node load-tests/report.mjs plot|bench DIR');
  process.exit(2);
}

// --- the points ---------------------------------------------------------------------------

// One CSV line into fields (k6 quotes a field that holds a comma or a quote).
function fields(line) {
  const out = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error(`unterminated quote in: ${line}`);
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 2; // past the quote and the comma
          break;
        }
      }
      out.push(value);
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

const WANTED = new Set([
  'orders_offered',
  'orders_accepted',
  'orders_shed',
  'orders_failed',
  'orders_confirmed',
  'orders_rejected',
  'orders_unfinished',
  'accepted_to_terminal',
  'http_req_duration',
  'grpc_req_duration',
  'dropped_iterations',
]);

/** The points this report uses: { metric, t (ms), value, name, scenario, status }. */
async function readPoints(file) {
  const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()) });
  const points = [];
  let column;
  for await (const line of lines) {
    if (!line) continue;
    const f = fields(line);
    if (!column) {
      column = Object.fromEntries(f.map((name, i) => [name, i]));
      continue;
    }
    const metric = f[column.metric_name];
    if (!WANTED.has(metric)) continue;
    const name = f[column.name];
    if (name === 'setup') continue;
    points.push({
      metric,
      t: Number(f[column.timestamp]),
      value: Number(f[column.metric_value]),
      name,
      scenario: f[column.scenario],
      status: f[column.status],
    });
  }
  return points;
}

// Linear between the closest ranks, as k6 computes p(N).
function percentile(values, p) {
  if (values.length === 0) return null;
  const s = Float64Array.from(values).sort();
  const i = (p / 100) * (s.length - 1);
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return s[lo] + (s[hi] - s[lo]) * (i - lo);
}

const POST = 'POST /v1/orders';
const isOrderCreate = (p) =>
  (p.metric === 'http_req_duration' && p.name === POST) ||
  (p.metric === 'grpc_req_duration' && p.name === 'gRPC CreateOrder');
const isShedStatus = (status) => status === '429' || status === '503';

// --- per second ---------------------------------------------------------------------------

function perSecond(points) {
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const p of points) {
    t0 = Math.min(t0, p.t);
    t1 = Math.max(t1, p.t);
  }
  const n = Math.floor((t1 - t0) / 1000) + 1;
  const zeros = () => new Array(n).fill(0);
  const lists = () => Array.from({ length: n }, () => []);
  const s = {
    offered: zeros(),
    accepted: zeros(),
    shed: zeros(),
    failed: zeros(),
    completed: zeros(),
    post: lists(),
    terminal: lists(),
  };
  const counters = {
    orders_offered: 'offered',
    orders_accepted: 'accepted',
    orders_shed: 'shed',
    orders_failed: 'failed',
    orders_confirmed: 'completed',
    orders_rejected: 'completed',
  };
  for (const p of points) {
    const i = Math.floor((p.t - t0) / 1000);
    if (counters[p.metric]) s[counters[p.metric]][i] += p.value;
    else if (isOrderCreate(p) && !isShedStatus(p.status)) s.post[i].push(p.value);
    else if (p.metric === 'accepted_to_terminal') s.terminal[i].push(p.value);
  }
  const q = (lists, pct) => lists.map((l) => percentile(l, pct));
  return {
    t0,
    seconds: n,
    counts: s,
    latency: {
      postP50: q(s.post, 50),
      postP99: q(s.post, 99),
      terminalP50: q(s.terminal, 50),
      terminalP99: q(s.terminal, 99),
    },
  };
}

// --- the plot -----------------------------------------------------------------------------

const esc = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

function niceMax(v) {
  if (!(v > 0)) return 1;
  const m = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((k) => k * m).find((x) => x >= v);
}

/** An inline SVG line chart; `marks` are vertical lines [{ x (s), label }]. */
function chart(title, unit, seconds, series, marks = []) {
  const W = 960;
  const H = 280;
  const L = 60;
  const R = 16;
  const T = 44;
  const B = 36;
  const yMax = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v != null))));
  const x = (i) => L + ((W - L - R) * i) / Math.max(1, seconds - 1);
  const y = (v) => T + (H - T - B) * (1 - v / yMax);
  const parts = [`<text x="${L}" y="14" font-weight="bold">${esc(title)}</text>`];
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    parts.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`,
    );
  }
  const xStep = niceMax(seconds / 10);
  for (let i = 0; i < seconds; i += xStep) {
    parts.push(`<text x="${x(i)}" y="${H - B + 16}" text-anchor="middle">${i}</text>`);
  }
  parts.push(
    `<text x="${(L + W - R) / 2}" y="${H - 4}" text-anchor="middle">seconds since the first point · ${esc(unit)}</text>`,
  );
  for (const m of marks) {
    parts.push(
      `<line x1="${x(m.x)}" x2="${x(m.x)}" y1="${T}" y2="${H - B}" stroke="#999" stroke-dasharray="4 3"/>`,
      `<text x="${x(m.x) + 3}" y="${T + 10}" fill="#666">${esc(m.label)}</text>`,
    );
  }
  series.forEach((s, k) => {
    let d = '';
    s.values.forEach((v, i) => {
      if (v == null) return;
      d += `${d && s.values[i - 1] != null ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dash ? ' stroke-dasharray="5 3"' : ''}/>`,
      `<text x="${L + k * 170}" y="30" fill="${s.color}">${s.dash ? '┄' : '━'} ${esc(s.label)}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">${parts.join('')}</svg>`;
}

function plotHtml(title, ps, marks, extra = '') {
  const c = ps.counts;
  const rates = chart(
    'Orders per second',
    'orders/s',
    ps.seconds,
    [
      { label: 'offered', color: '#555', values: c.offered },
      { label: 'accepted (202)', color: '#1f77b4', values: c.accepted },
      { label: 'completed (terminal)', color: '#2ca02c', values: c.completed },
      { label: 'shed (429/503)', color: '#ff7f0e', values: c.shed },
      { label: 'failed', color: '#d62728', values: c.failed },
    ],
    marks,
  );
  const l = ps.latency;
  const latency = chart(
    'Latency per second (p50, p99)',
    'ms',
    ps.seconds,
    [
      { label: 'create order p50', color: '#1f77b4', values: l.postP50, dash: true },
      { label: 'create order p99', color: '#1f77b4', values: l.postP99 },
      { label: 'accepted→terminal p50', color: '#9467bd', values: l.terminalP50, dash: true },
      { label: 'accepted→terminal p99', color: '#9467bd', values: l.terminalP99 },
    ],
    marks,
  );
  return `<!doctype html><meta charset="utf-8"><title>${esc(title)}</title>
<body style="font-family:sans-serif;margin:16px">
<h3>${esc(title)}</h3>
<p>Started ${esc(new Date(ps.t0).toISOString())}. Create order: POST /v1/orders (or gRPC CreateOrder), shed answers excluded.
Accepted→terminal: createdAt to updatedAt of each order that ended, at the second it was seen ending.</p>
${rates}<br>${latency}${extra}
</body>
`;
}

// --- the overload benchmark ---------------------------------------------------------------

function bench(points, params) {
  const inScenario = (name) => points.filter((p) => p.scenario === name);
  const sum = (ps, metric) =>
    ps.filter((p) => p.metric === metric).reduce((a, p) => a + p.value, 0);
  const values = (ps, pred) => ps.filter(pred).map((p) => p.value);
  const baseline = values(inScenario('baseline'), (p) => p.metric === 'accepted_to_terminal');
  const baselineP99 = percentile(baseline, 99);
  const normalMs = params.normalMs || (baselineP99 == null ? null : 2 * baselineP99);
  const levels = params.levels.map((factor) => {
    const level = inScenario(`level_${factor}x`);
    const probe = inScenario(`probe_${factor}x`);
    const sent = sum(level, 'orders_offered');
    const shed = sum(level, 'orders_shed');
    const confirmed = sum(level, 'orders_confirmed');
    const unfinished = sum(level, 'orders_unfinished');
    const post = level.filter((p) => p.metric === 'http_req_duration' && p.name === POST);
    // The load stops when the probes start (their first order is sent at the scenario's start).
    const stop = probe
      .filter((p) => p.metric === 'orders_offered')
      .reduce((a, p) => (a == null || p.t < a ? p.t : a), null);
    const lastTerminal = level
      .filter((p) => p.metric === 'orders_confirmed' || p.metric === 'orders_rejected')
      .reduce((a, p) => Math.max(a, p.t), stop ?? -Infinity);
    const recovered =
      stop == null || unfinished > 0 || normalMs == null
        ? undefined
        : probe.find(
            (p) =>
              p.metric === 'accepted_to_terminal' &&
              p.t >= Math.max(stop, lastTerminal) &&
              p.value <= normalMs,
          );
    // Goodput: orders seen CONFIRMED while the level's load lasted (whichever level accepted
    // them), per second. Counting the level's own orders instead would credit it with what it
    // completes after the load stopped (a backlog drained during the recovery window).
    const offeredAt = level.filter((p) => p.metric === 'orders_offered').map((p) => p.t);
    const from = offeredAt.length ? Math.min(...offeredAt) : null;
    const to = stop ?? (offeredAt.length ? Math.max(...offeredAt) : null);
    const confirmedDuring =
      from == null || to == null || to <= from
        ? null
        : sum(
            points.filter((p) => p.t >= from && p.t <= to),
            'orders_confirmed',
          ) /
          ((to - from) / 1000);
    const round = (v, digits = 1) => (v == null ? null : +v.toFixed(digits));
    return {
      level: `${factor}x`,
      offeredPerSecond: params.capacity * factor,
      sent,
      droppedByLoadGenerator: sum(level, 'dropped_iterations'),
      accepted: sum(level, 'orders_accepted'),
      shed,
      failed: sum(level, 'orders_failed'),
      confirmed,
      rejected: sum(level, 'orders_rejected'),
      unfinished,
      goodputPerSecond: round(confirmedDuring, 2),
      levelOrdersConfirmedPerLevelSecond: round(confirmed / params.levelSeconds, 2),
      shareShed: sent ? round(shed / sent, 4) : null,
      p99ShedMs: round(
        percentile(
          values(post, (p) => isShedStatus(p.status)),
          99,
        ),
      ),
      p99AcceptedPostMs: round(
        percentile(
          values(post, (p) => p.status === '202'),
          99,
        ),
      ),
      p99AcceptedToTerminalMs: round(
        percentile(
          values(level, (p) => p.metric === 'accepted_to_terminal'),
          99,
        ),
      ),
      allAcceptedTerminalAfterS:
        stop == null || unfinished > 0 ? null : round(Math.max(0, lastTerminal - stop) / 1000),
      recoverySeconds: recovered ? round((recovered.t - stop) / 1000) : null,
    };
  });
  return { ...params, baselineP99Ms: baselineP99, normalMs, levels };
}

function table(result) {
  const cols = [
    ['level', (l) => l.level],
    ['offered/s', (l) => l.offeredPerSecond],
    ['sent', (l) => l.sent],
    ['dropped', (l) => l.droppedByLoadGenerator],
    ['goodput/s', (l) => l.goodputPerSecond],
    ['shed', (l) => (l.shareShed == null ? '-' : `${(l.shareShed * 100).toFixed(1)}%`)],
    ['p99 shed ms', (l) => l.p99ShedMs ?? '-'],
    ['p99 accepted POST ms', (l) => l.p99AcceptedPostMs ?? '-'],
    ['p99 accepted→terminal ms', (l) => l.p99AcceptedToTerminalMs ?? '-'],
    ['recovery s', (l) => l.recoverySeconds ?? `>${result.recoveryWindowSeconds}`],
  ];
  const rows = [
    cols.map(([h]) => h),
    ...result.levels.map((l) => cols.map(([, f]) => String(f(l)))),
  ];
  const width = cols.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((v, i) => v.padStart(width[i])).join('  ')).join('\n');
}

// Go durations as k6 inspect prints them (1m25s, 20s, 1h0m0s) in seconds.
function goSeconds(text) {
  let total = 0;
  for (const [, n, unit] of String(text).matchAll(/([\d.]+)(h|ms|m|s)/g)) {
    total += Number(n) * { h: 3600, m: 60, s: 1, ms: 0.001 }[unit];
  }
  return total;
}

/** The benchmark's parameters from its options (k6 inspect of k6/overload.js). */
function benchParams(options) {
  const entries = Object.entries(options.scenarios);
  const level = (f) => options.scenarios[`level_${f}x`];
  const levels = entries
    .map(([name]) => /^level_(\d+(?:\.\d+)?)x$/.exec(name))
    .filter(Boolean)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  return {
    capacity: level(levels[0]).rate / levels[0],
    levels,
    levelSeconds: goSeconds(level(levels[0]).duration),
    recoveryWindowSeconds: goSeconds(options.scenarios[`probe_${levels[0]}x`].duration),
    normalMs: Number(process.env.NORMAL_MS || 0) || null,
    schedule: entries
      .map(([scenario, s]) => ({ scenario, start: goSeconds(s.startTime) }))
      .sort((a, b) => a.start - b.start),
  };
}

// --- main ---------------------------------------------------------------------------------

const points = await readPoints(`${dir}/points.csv.gz`);
if (points.length === 0) {
  console.error(`no points in ${dir}/points.csv.gz`);
  process.exit(1);
}
const ps = perSecond(points);
if (mode === 'plot') {
  writeFileSync(`${dir}/plot.html`, plotHtml(`k6 ${dir.split('/').pop()}`, ps, []));
} else {
  const params = benchParams(JSON.parse(readFileSync(`${dir}/options.json`, 'utf8')));
  const result = bench(points, params);
  writeFileSync(`${dir}/bench.json`, `${JSON.stringify(result, null, 2)}\n`);
  const marks = params.schedule.map((s) => ({ x: s.start, label: s.scenario }));
  const extra = `<pre>${esc(table(result))}</pre>`;
  writeFileSync(
    `${dir}/plot.html`,
    plotHtml(`overload benchmark ${dir.split('/').pop()}`, ps, marks, extra),
  );
  console.log(table(result));
}
