/**
 * What operators watch of the stats API's limits: queries refused by each
 * limit (over the counter budget, past the query gate, past the stream cap)
 * and the live streams open.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

const REFUSAL_REASONS = ['budget', 'queries', 'streams'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export function queryMetrics(registry: Registry, streamsOpen: () => number): { refused(reason: RefusalReason): void } {
  const refused = new Counter({
    name: 'telemetry_stats_queries_refused_total',
    help: 'Stats API requests refused by a limit: budget (400, STATS_QUERY_MAX_COUNTERS), queries (503, STATS_QUERY_CONCURRENCY + STATS_QUERY_QUEUE), streams (503, STATS_MAX_STREAMS)',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of REFUSAL_REASONS) refused.inc({ reason }, 0);
  new Gauge({
    name: 'telemetry_stats_streams',
    help: 'Live streams (/api/stats/stream) open',
    registers: [registry],
    collect() {
      this.set(streamsOpen());
    },
  });
  return { refused: (reason) => refused.inc({ reason }) };
}
