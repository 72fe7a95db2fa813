import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { z } from 'zod';
import { BadRequest } from '../errors.js';
import type { LiveSummary } from '../live-summary.js';
import type { QueryGate } from '../query-gate.js';
import { dimensionParam, dimensionsQuery, firstIssue, summaryQuery, timeseriesQuery } from '../query.js';
import type { StatsService } from '../stats-service.js';

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new BadRequest(firstIssue(result.error));
  return result.data;
}

export interface StatsApiOptions {
  readonly retentionMs: number;
  /** Every query runs through it (bounded concurrency, identical queries shared). */
  readonly gate: QueryGate;
  /** The one summary per tick every stream shares. */
  readonly live: LiveSummary;
}

/** GET /api/stats/...: summary, dimensions, timeseries and the SSE stream (SPEC 6). */
export function statsApi(service: StatsService, options: StatsApiOptions): Hono {
  const api = new Hono();
  const query = (c: Context) => c.req.query();
  const { gate } = options;

  api.get('/summary', async (c) => {
    const { window } = parse(summaryQuery(options.retentionMs), query(c));
    return c.json(await gate.run(`summary ${window.ms}`, () => service.summary(window)));
  });

  api.get('/dimensions/:dimension', async (c) => {
    const dimension = parse(dimensionParam, c.req.param('dimension'));
    const { window, top } = parse(dimensionsQuery(options.retentionMs), query(c));
    const answer = await gate.run(`dimensions ${dimension} ${window.ms} ${top}`, () => service.dimensionValues(dimension, window, top));
    // Where the counts start (the window's first minute, or its hour past the detail retention).
    c.header('X-Window-Start', new Date(answer.from).toISOString());
    return c.json({ dimension, window: window.text, values: answer.values });
  });

  api.get('/timeseries', async (c) => {
    const q = parse(timeseriesQuery(options.retentionMs), query(c));
    const points = await gate.run(`timeseries ${q.dimension} ${JSON.stringify(q.value)} ${q.window.ms} ${q.step.ms}`, () =>
      service.timeseries(q.dimension, q.value, q.window, q.step),
    );
    return c.json({ dimension: q.dimension, value: q.value, window: q.window.text, step: q.step.text, points });
  });

  // The shared summary of the last minute, each tick, until the client goes away.
  api.get('/stream', (c) => {
    let pending: string | undefined;
    let wake: (() => void) | undefined;
    // Subscribing first: past the cap this throws Overloaded and the client gets a 503, not a stream.
    const unsubscribe = options.live.subscribe((data) => {
      // A client slower than the ticks gets the latest summary, never a backlog.
      pending = data;
      wake?.();
    });
    return streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => {
        open = false;
        wake?.();
      });
      let id = 0;
      try {
        while (open) {
          if (pending === undefined) await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          const data = pending;
          pending = undefined;
          if (open && data !== undefined) await stream.writeSSE({ data, id: String(id++) });
        }
      } finally {
        unsubscribe();
      }
    });
  });
  return api;
}
