/** Every panel query of a dashboard, expanded and run against Prometheus. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARDS_DIR } from './paths.js';
import { queryRange, type Series } from './prometheus.js';
import {
  dashboardVariables,
  expandQuery,
  panelQueries,
  parseDashboard,
  type DashboardModel,
  type PanelQuery,
  type QueryWindow,
} from './queries.js';
import { legendName, type PanelResult } from './render.js';

export interface QueryOutcome extends PanelQuery {
  /** The expression as sent (undefined when expansion itself failed). */
  expanded: string | undefined;
  series: Series[];
  error: string | undefined;
}

/** The generated dashboards as committed (name → model), read from the chart's files. */
export function readDashboards(dir = DASHBOARDS_DIR): Map<string, DashboardModel> {
  const files = readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort();
  return new Map(
    files.map((file) => [
      file.slice(0, -'.json'.length),
      parseDashboard(JSON.parse(readFileSync(join(dir, file), 'utf8'))),
    ]),
  );
}

/** Runs each query; a failure (expansion or Prometheus) is recorded, not thrown. */
export async function runQueries(
  base: string,
  dashboard: DashboardModel,
  window: QueryWindow,
): Promise<QueryOutcome[]> {
  const variables = dashboardVariables(dashboard);
  const outcomes: QueryOutcome[] = [];
  for (const query of panelQueries(dashboard)) {
    let expanded: string | undefined;
    try {
      expanded = expandQuery(query.expr, variables, window);
      outcomes.push({
        ...query,
        expanded,
        series: await queryRange(base, expanded, window),
        error: undefined,
      });
    } catch (error) {
      outcomes.push({
        ...query,
        expanded,
        series: [],
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return outcomes;
}

/** The outcomes grouped per panel, legends applied: what the renderer draws. */
export function panelResults(
  dashboard: DashboardModel,
  outcomes: readonly QueryOutcome[],
): PanelResult[] {
  return dashboard.panels.map((panel) => {
    const mine = outcomes.filter((outcome) => outcome.panel === panel.title);
    return {
      series: mine.flatMap((outcome) =>
        outcome.series.map((series) => ({
          name: legendName(outcome.legend, series.metric),
          values: series.values,
        })),
      ),
      errors: mine.flatMap((outcome) =>
        outcome.error ? [`${outcome.refId}: ${outcome.error}`] : [],
      ),
    };
  });
}
