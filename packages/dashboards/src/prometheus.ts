/** The two Prometheus HTTP API calls the dashboards need: a range query, and the scrape targets. */
import { z } from 'zod';
import type { QueryWindow } from './queries.js';

const DEFAULT_URL = 'http://127.0.0.1:9090';

/** `BULKHEAD_PROMETHEUS_URL`, default the local Prometheus. */
export function prometheusUrl(env: NodeJS.ProcessEnv = process.env): string {
  return z
    .url({ protocol: /^https?$/ })
    .parse(env.BULKHEAD_PROMETHEUS_URL ?? DEFAULT_URL)
    .replace(/\/+$/, '');
}

export interface Series {
  metric: Record<string, string>;
  /** [unix seconds, value]; NaN and ±Inf as Prometheus sends them. */
  values: [number, number][];
}

const failure = z.object({ status: z.literal('error'), errorType: z.string(), error: z.string() });

const matrix = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('matrix'),
    result: z.array(
      z.object({
        metric: z.record(z.string(), z.string()),
        values: z.array(z.tuple([z.number(), z.string()])),
      }),
    ),
  }),
});

const targets = z.object({
  status: z.literal('success'),
  data: z.object({
    activeTargets: z.array(
      z.object({
        scrapePool: z.string(),
        scrapeUrl: z.string(),
        lastScrape: z.string(),
        health: z.string(),
      }),
    ),
  }),
});

async function get<T>(url: string, schema: z.ZodType<T>): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const body: unknown = await response.json().catch(() => undefined);
  const error = failure.safeParse(body);
  if (error.success) throw new Error(`${error.data.errorType}: ${error.data.error}`);
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}`);
  return schema.parse(body);
}

/** `/api/v1/query_range` over `window`; throws with Prometheus' error when the query fails. */
export async function queryRange(
  base: string,
  expr: string,
  window: QueryWindow,
): Promise<Series[]> {
  const params = new URLSearchParams({
    query: expr,
    start: String(window.start),
    end: String(window.end),
    step: `${window.step}s`,
  });
  const body = await get(`${base}/api/v1/query_range?${params.toString()}`, matrix);
  return body.data.result.map((series) => ({
    metric: series.metric,
    values: series.values.map(([t, v]): [number, number] => [t, Number(v)]),
  }));
}

/**
 * Whether every active scrape target has been scraped after `since` (and there is at least one):
 * what a reader of the series written up to `since` waits for.
 */
export async function scrapedSince(base: string, since: Date): Promise<boolean> {
  const body = await get(`${base}/api/v1/targets?state=active`, targets);
  const active = body.data.activeTargets;
  return (
    active.length > 0 && active.every((target) => Date.parse(target.lastScrape) > since.getTime())
  );
}
