/**
 * The HTTP request-duration histogram of an app's public port:
 * `<prefix>_http_request_duration_seconds{route, status_class}`, route being
 * the Hono route pattern that answered (`/*` when a middleware answered before
 * routing, or nothing matched: the label set stays bounded), status_class
 * 2xx…5xx. The time is until the response is handed to the server (for a
 * stream: until it starts).
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Histogram, type Registry } from 'prom-client';

export type RequestDurationHistogram = Histogram<'route' | 'status_class'>;

export function requestDurationHistogram(registry: Registry, prefix: string): RequestDurationHistogram {
  return new Histogram({
    name: `${prefix}_http_request_duration_seconds`,
    help: 'HTTP requests answered, by route pattern and status class, and the time to answer them',
    labelNames: ['route', 'status_class'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
}

/** Register first (`app.use(requestDuration(h))`), so that it times every request. */
export function requestDuration(histogram: RequestDurationHistogram): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    histogram.observe({ route: routePath(c) || '/*', status_class: statusClass(c.res.status) }, (performance.now() - started) / 1000);
  };
}

function statusClass(status: number): string {
  return `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx`;
}
