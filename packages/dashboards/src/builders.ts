/**
 * The few shapes every Bulkhead dashboard is made of, on top of grafana-foundation-sdk: a
 * Prometheus datasource by uid, "All"-able query variables, time-series and stat panels with a
 * unit and a legend, packed left to right on Grafana's 24-column grid.
 */
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import {
  LegendDisplayMode,
  LegendPlacement,
  VizLegendOptionsBuilder,
  type DataSourceRef,
} from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** The datasource every panel and variable queries; the chart's Grafana provisioning declares it. */
export const PROMETHEUS_DATASOURCE: DataSourceRef = { type: 'prometheus', uid: 'prometheus' };

/** Grafana's "All" for a multi-value variable: a regex matching every value, and no label at all. */
export const ALL_VALUE = '.*';

export interface Query {
  expr: string;
  /** Grafana legend format, e.g. `{{service}} {{cell}}`. */
  legend: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  /** A Grafana unit id (`s`, `reqps`, `percentunit`, `bytes`, `short`, …). */
  unit: string;
  queries: Query[];
  /** `stat` shows each series' last value; default `timeseries`. */
  kind?: 'timeseries' | 'stat';
  /** Columns of the 24-column grid; default 12. */
  width?: number;
  /** Grid rows (30 px each); default 8. */
  height?: number;
}

export interface VariableSpec {
  name: string;
  label: string;
  /** `label_values(<metric>, <label>)`: the values Grafana offers. */
  metric: string;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables: VariableSpec[];
  panels: PanelSpec[];
}

function variable(spec: VariableSpec): QueryVariableBuilder {
  const query = `label_values(${spec.metric}, ${spec.name})`;
  return new QueryVariableBuilder(spec.name)
    .label(spec.label)
    .datasource(PROMETHEUS_DATASOURCE)
    .query({ query, refId: `${spec.name}-values` })
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue(ALL_VALUE)
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

function targets(queries: Query[]): Builder<Dataquery>[] {
  return queries.map((query, index) =>
    new DataqueryBuilder()
      .datasource(PROMETHEUS_DATASOURCE)
      .refId(String.fromCharCode(65 + index))
      .expr(query.expr)
      .legendFormat(query.legend)
      .range(),
  );
}

function panel(spec: PanelSpec, gridPos: { x: number; y: number; w: number; h: number }) {
  if (spec.kind === 'stat') {
    return new StatPanelBuilder()
      .title(spec.title)
      .description(spec.description)
      .datasource(PROMETHEUS_DATASOURCE)
      .unit(spec.unit)
      .gridPos(gridPos)
      .targets(targets(spec.queries));
  }
  return new TimeseriesPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(PROMETHEUS_DATASOURCE)
    .unit(spec.unit)
    .gridPos(gridPos)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Bottom)
        .calcs(['lastNotNull', 'max']),
    )
    .targets(targets(spec.queries));
}

/** The dashboard JSON Grafana loads (the model under `charts/bulkhead/files/dashboards/`). */
export function buildDashboard(spec: DashboardSpec): Dashboard {
  const builder = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['bulkhead', 'generated'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: 'now-30m', to: 'now' })
    .refresh('30s')
    .timezone('utc');
  for (const spec_ of spec.variables) builder.withVariable(variable(spec_));
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const panelSpec of spec.panels) {
    const w = panelSpec.width ?? 12;
    const h = panelSpec.height ?? 8;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    builder.withPanel(panel(panelSpec, { x, y, w, h }));
    x += w;
    rowHeight = Math.max(rowHeight, h);
  }
  return builder.build();
}

/** `sum by (<by>) (rate(<metric>{<selector>}[$__rate_interval]))`. */
export function rate(metric: string, selector: string, by: string): string {
  return `sum by (${by}) (rate(${metric}{${selector}}[$__rate_interval]))`;
}

/** A histogram quantile over `<metric>_bucket`, grouped by `<by>`. */
export function quantile(q: number, metric: string, selector: string, by: string): string {
  return `histogram_quantile(${q}, ${rate(`${metric}_bucket`, selector, `${by}, le`)})`;
}

/**
 * The share of `<metric>_count` matching `<errors>` among all of it, grouped by `<by>`: 0 (not
 * "no data") while nothing failed, since a failure series exists only once something failed.
 */
export function errorRatio(metric: string, selector: string, errors: string, by: string): string {
  const all = rate(`${metric}_count`, selector, by);
  const failed = rate(`${metric}_count`, [selector, errors].filter(Boolean).join(', '), by);
  return `(${failed} or ${all} * 0) / ${all}`;
}

/** p50 and p99 of a latency histogram as two queries with the legend suffixed by the quantile. */
export function latencyQueries(
  metric: string,
  selector: string,
  by: string,
  legend: string,
): Query[] {
  return [0.5, 0.99].map((q) => ({
    expr: quantile(q, metric, selector, by),
    legend: `p${Math.round(q * 100)} ${legend}`,
  }));
}
