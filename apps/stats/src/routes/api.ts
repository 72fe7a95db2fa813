import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { z } from 'zod';
import { dimensionParam, dimensionsQuery, firstIssue, summaryQuery, timeseriesQuery } from '../query.js';
import type { StatsService } from '../stats-service.js';

export class BadRequest extends Error {
  override readonly name = 'BadRequest';
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new BadRequest(firstIssue(result.error));
  return result.data;
}

/** GET /api/stats/...: summary, dimensions, timeseries and the SSE stream (SPEC 6). */
export function statsApi(service: StatsService, options: { retentionMs: number; streamIntervalMs?: number }): Hono {
  const api = new Hono();
  const query = (c: Context) => c.req.query();

  api.get('/summary', async (c) => {
    const { window } = parse(summaryQuery(options.retentionMs), query(c));
    return c.json(await service.summary(window));
  });

  api.get('/dimensions/:dimension', async (c) => {
    const dimension = parse(dimensionParam, c.req.param('dimension'));
    const { window, top } = parse(dimensionsQuery(options.retentionMs), query(c));
    return c.json({ dimension, window: window.text, values: await service.dimensionValues(dimension, window.ms, top) });
  });

  api.get('/timeseries', async (c) => {
    const q = parse(timeseriesQuery(options.retentionMs), query(c));
    const points = await service.timeseries(q.dimension, q.value, q.window.ms, q.step.ms);
    return c.json({ dimension: q.dimension, value: q.value, window: q.window.text, step: q.step.text, points });
  });

  // One summary of the last minute per second, until the client goes away.
  api.get('/stream', (c) =>
    streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      let id = 0;
      while (open) {
        const summary = await service.summary({ text: '1m', ms: 60_000 }).catch(() => undefined);
        if (summary) await stream.writeSSE({ data: JSON.stringify(summary), id: String(id++) });
        await stream.sleep(options.streamIntervalMs ?? 1_000);
      }
    }),
  );
  return api;
}
