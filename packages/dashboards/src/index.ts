import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard, type DashboardSpec } from './builders.js';
import { cellsRouting } from './dashboards/cells-routing.js';
import { kafkaConsumers } from './dashboards/kafka-consumers.js';
import { orderJourney } from './dashboards/order-journey.js';
import { overview } from './dashboards/overview.js';
import { resilience } from './dashboards/resilience.js';
import { runtime } from './dashboards/runtime.js';

export {
  ALL_VALUE,
  PROMETHEUS_DATASOURCE,
  buildDashboard,
  type DashboardSpec,
  type PanelSpec,
  type Query,
} from './builders.js';
export {
  expandQuery,
  dashboardVariables,
  panelQueries,
  parseDashboard,
  queryWindow,
  type DashboardModel,
  type PanelQuery,
  type QueryWindow,
} from './queries.js';
export { prometheusUrl, queryRange, scrapedSince, type Series } from './prometheus.js';
export { renderDashboardPng, renderDashboardSvg, type PanelResult } from './render.js';

/** Every dashboard, by the name of its file (`charts/bulkhead/files/dashboards/<name>.json`). */
export const DASHBOARDS: Readonly<Record<string, DashboardSpec>> = {
  overview,
  'order-journey': orderJourney,
  'kafka-consumers': kafkaConsumers,
  'cells-routing': cellsRouting,
  resilience,
  runtime,
};

/** The committed text of a dashboard: its JSON model, two-space indented, newline-terminated. */
export function dashboardText(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

/** name → generated text, for every dashboard. */
export function generatedDashboards(): Map<string, string> {
  return new Map(
    Object.entries(DASHBOARDS).map(([name, spec]) => [name, dashboardText(buildDashboard(spec))]),
  );
}
export { panelResults, readDashboards, runQueries, type QueryOutcome } from './run.js';
export { DASHBOARDS_DIR, PNG_DIR } from './paths.js';
