/**
 * CLI (make dashboards-png): every generated dashboard's panel queries run against Prometheus
 * (BULKHEAD_PROMETHEUS_URL, default http://127.0.0.1:9090) over the last RANGE (BULKHEAD_DASHBOARD_RANGE,
 * default 15m), variables at "All", each dashboard drawn as docs/dashboards/<name>.png.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PNG_DIR } from './paths.js';
import { prometheusUrl } from './prometheus.js';
import { queryWindow } from './queries.js';
import { renderDashboardPng, renderDashboardSvg } from './render.js';
import { panelResults, readDashboards, runQueries } from './run.js';

const range = z
  .string()
  .regex(/^\d+[smh]$/, 'BULKHEAD_DASHBOARD_RANGE: a duration like 15m, 900s or 1h')
  .transform(
    (text) =>
      Number(text.slice(0, -1)) * { s: 1, m: 60, h: 3600 }[text.slice(-1) as 's' | 'm' | 'h'],
  )
  .parse(process.env.BULKHEAD_DASHBOARD_RANGE ?? '15m');
const base = prometheusUrl();
const end = Math.floor(Date.now() / 1000);
const window = queryWindow(end, range);
const stamp = `${new Date(window.start * 1000).toISOString().slice(0, 19)}Z → ${new Date(end * 1000).toISOString().slice(11, 19)}Z`;
mkdirSync(PNG_DIR, { recursive: true });
for (const [name, dashboard] of readDashboards()) {
  const outcomes = await runQueries(base, dashboard, window);
  const subtitle = `${stamp} UTC · every variable "All" · ${base} · step ${window.step}s, $__rate_interval ${window.rateInterval}s`;
  const svg = await renderDashboardSvg(dashboard, panelResults(dashboard, outcomes), subtitle);
  const file = join(PNG_DIR, `${name}.png`);
  writeFileSync(file, renderDashboardPng(svg));
  const empty = outcomes.filter((outcome) => outcome.error || outcome.series.length === 0).length;
  process.stdout.write(`[bulkhead] ${file}: ${outcomes.length} queries, ${empty} without series\n`);
}
