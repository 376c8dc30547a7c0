/**
 * The panel queries of a generated dashboard, read back from its JSON model (the file the chart
 * provisions — never a second copy), and their template variables expanded the way Grafana does
 * before it sends them to Prometheus.
 */
import { z } from 'zod';

const variableSchema = z.object({
  name: z.string().min(1),
  type: z.string(),
  includeAll: z.boolean().optional(),
  allValue: z.string().optional(),
  current: z.object({ value: z.union([z.string(), z.array(z.string())]) }).optional(),
});

const panelSchema = z.object({
  title: z.string(),
  type: z.string(),
  gridPos: z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }),
  fieldConfig: z
    .object({ defaults: z.object({ unit: z.string().optional() }).optional() })
    .optional(),
  targets: z
    .array(
      z.object({
        refId: z.string(),
        expr: z.string().min(1),
        legendFormat: z.string().optional(),
        hide: z.boolean().optional(),
      }),
    )
    .min(1),
});

const dashboardSchema = z.object({
  uid: z.string(),
  title: z.string(),
  templating: z.object({ list: z.array(variableSchema).optional() }).optional(),
  panels: z.array(panelSchema).min(1),
});

export type DashboardModel = z.infer<typeof dashboardSchema>;
export type TemplateVariable = z.infer<typeof variableSchema>;
export type PanelModel = z.infer<typeof panelSchema>;

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  /** The expression as written in the dashboard, variables unexpanded. */
  expr: string;
  legend: string;
}

/** Validates a dashboard JSON model (as read from its file). */
export function parseDashboard(json: unknown): DashboardModel {
  return dashboardSchema.parse(json);
}

/** Every visible query of every panel. */
export function panelQueries(dashboard: DashboardModel): PanelQuery[] {
  return dashboard.panels.flatMap((panel) =>
    panel.targets
      .filter((target) => !target.hide)
      .map((target) => ({
        dashboard: dashboard.title,
        panel: panel.title,
        refId: target.refId,
        expr: target.expr,
        legend: target.legendFormat ?? '',
      })),
  );
}

/** The time range a query runs over, with the intervals Grafana derives from it (seconds). */
export interface QueryWindow {
  start: number;
  end: number;
  step: number;
  rangeSeconds: number;
  /** Grafana's `$__rate_interval`: max($__interval + scrape interval, 4 × scrape interval). */
  rateInterval: number;
}

/**
 * The window Grafana would query for `[end - rangeSeconds, end]` at about `maxPoints` points, with
 * the datasource's scrape interval (5 s here: `scrape_interval` of the local Prometheus) as the
 * minimum step.
 */
export function queryWindow(
  end: number,
  rangeSeconds: number,
  {
    scrapeIntervalSeconds = 5,
    maxPoints = 240,
  }: { scrapeIntervalSeconds?: number; maxPoints?: number } = {},
): QueryWindow {
  if (!(rangeSeconds > 0)) throw new Error(`range must be positive, not ${rangeSeconds}`);
  const step = Math.max(scrapeIntervalSeconds, Math.ceil(rangeSeconds / maxPoints));
  return {
    start: end - rangeSeconds,
    end,
    step,
    rangeSeconds,
    rateInterval: Math.max(step + scrapeIntervalSeconds, 4 * scrapeIntervalSeconds),
  };
}

// $name, ${name}, ${name:format}, [[name]], [[name:format]] — Grafana's variable syntaxes.
const VARIABLE = /\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)/g;

function variableValue(variable: TemplateVariable): string {
  if (variable.includeAll) {
    if (variable.allValue === undefined) {
      throw new Error(`variable $${variable.name} has "All" without an allValue`);
    }
    return variable.allValue;
  }
  const value = variable.current?.value;
  if (typeof value === 'string') return value;
  if (value && value.length === 1 && value[0] !== undefined) return value[0];
  throw new Error(`variable $${variable.name} has no single current value`);
}

/**
 * `expr` as Grafana sends it with every variable at "All" (its allValue, `.*`) and the built-in
 * interval variables from `window`. Throws on a variable the dashboard does not define.
 */
export function expandQuery(
  expr: string,
  variables: readonly TemplateVariable[],
  window: QueryWindow,
): string {
  const builtins: Record<string, string> = {
    __rate_interval: `${window.rateInterval}s`,
    __interval: `${window.step}s`,
    __interval_ms: String(window.step * 1000),
    __range: `${window.rangeSeconds}s`,
    __range_s: String(window.rangeSeconds),
    __range_ms: String(window.rangeSeconds * 1000),
  };
  const byName = new Map(variables.map((variable) => [variable.name, variable]));
  return expr.replace(
    VARIABLE,
    (match, braced?: string, _f1?: string, bracketed?: string, _f2?: string, bare?: string) => {
      const name = braced ?? bracketed ?? bare ?? '';
      const builtin = builtins[name];
      if (builtin !== undefined) return builtin;
      const variable = byName.get(name);
      if (!variable) throw new Error(`${match}: no such variable in the dashboard`);
      return variableValue(variable);
    },
  );
}

/** The template variables of a dashboard. */
export function dashboardVariables(dashboard: DashboardModel): TemplateVariable[] {
  return dashboard.templating?.list ?? [];
}
