/**
 * The panel-query test of issue 10: after load (make test runs it right after the k6 smoke
 * scenario), every panel query of every generated dashboard, variables at "All" as Grafana
 * expands them, runs against the local Prometheus (BULKHEAD_PROMETHEUS_URL) and must return at
 * least one series with a number in it (not NaN only). One test per query, named by dashboard, panel and refId.
 */
import { eventually } from '@bulkhead/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  dashboardVariables,
  expandQuery,
  panelQueries,
  prometheusUrl,
  queryRange,
  queryWindow,
  readDashboards,
  scrapedSince,
  type QueryWindow,
} from '../src/index.js';

const base = prometheusUrl();
// The load ended before this file started: wait until every target has been scraped since.
const loadEnded = new Date();
// Long enough to reach back over the load that came before (k6 smoke: ~25 s, e2e before it).
const RANGE_SECONDS = 600;
let window: QueryWindow;

beforeAll(async () => {
  await eventually(async () => ((await scrapedSince(base, loadEnded)) ? true : undefined), {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  window = queryWindow(Math.ceil(Date.now() / 1000), RANGE_SECONDS);
}, 90_000);

for (const [name, dashboard] of readDashboards()) {
  describe(`${name}: ${dashboard.title}`, () => {
    const variables = dashboardVariables(dashboard);
    for (const query of panelQueries(dashboard)) {
      it(`${query.panel} [${query.refId}] ${query.expr}`, async () => {
        const expanded = expandQuery(query.expr, variables, window);
        const series = await queryRange(base, expanded, window).catch((error: unknown) => {
          throw new Error(`${query.panel} [${query.refId}]: ${expanded} failed: ${String(error)}`);
        });
        expect(
          series.length,
          `${query.panel} [${query.refId}]: no series for ${expanded}`,
        ).toBeGreaterThan(0);
        // A series of NaN only (a quantile of a histogram nothing was observed in) draws nothing.
        const drawn = series.some((one) => one.values.some(([, value]) => Number.isFinite(value)));
        expect(drawn, `${query.panel} [${query.refId}]: only NaN from ${expanded}`).toBe(true);
      });
    }
  });
}
