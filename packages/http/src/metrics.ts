import type { RequestHandler, Response } from 'express';
import { LATENCY_BUCKETS, type Metrics } from '@bulkhead/metrics';

/** The route label of a request no route answered (a 404, or refused before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

/** Set by resource() on every request its route matched: the pattern, e.g. `/v1/orders/:id`. */
const ROUTE_KEY = 'routePattern';

/** Remembers the route pattern of the request (resource() puts it first on every route). */
export function markRoute(pattern: string): RequestHandler {
  return (req, res, next) => {
    (res.locals as Record<string, unknown>)[ROUTE_KEY] = req.baseUrl + pattern;
    next();
  };
}

/** The route pattern that matched the request, or `unmatched`. */
export function routeOf(res: Response): string {
  const route = (res.locals as Record<string, unknown>)[ROUTE_KEY];
  return typeof route === 'string' ? route : UNMATCHED_ROUTE;
}

/**
 * RED of an HTTP edge: `http_server_request_duration_seconds{method, route, code}`, the route
 * being the pattern that matched (never the raw URL: that would be one series per order id),
 * observed when the response is done (or the connection closed). Mount it first.
 */
export function requestMetrics(metrics: Metrics): RequestHandler {
  const duration = metrics.histogram({
    name: 'http_server_request_duration_seconds',
    help: 'HTTP requests served, by method, route pattern and status code',
    labelNames: ['method', 'route', 'code'],
    buckets: LATENCY_BUCKETS,
  });
  // One child per (method, route, code), made once: a request costs a map lookup.
  const children = new Map<string, { observe(value: number): void }>();
  return (req, res, next) => {
    const started = performance.now();
    res.once('close', () => {
      const route = routeOf(res);
      const code = String(res.statusCode);
      const key = `${req.method} ${route} ${code}`;
      let child = children.get(key);
      if (!child) {
        child = duration.labels(req.method, route, code);
        children.set(key, child);
      }
      child.observe((performance.now() - started) / 1_000);
    });
    next();
  };
}
