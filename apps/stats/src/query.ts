/**
 * Query parameters of the stats API, validated with zod; a bad one is a 400
 * with {"error": "..."}. `window` and `step` are `<n>s|m|h|d`.
 */
import { z } from 'zod';
import { STATS_DIMENSIONS } from '@telemetry/shared/stats/dimensions';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

function parseSpan(text: string): number | undefined {
  const match = /^(\d{1,6})([smhd])$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

function span(name: string, fallback: string, { minMs, maxMs }: { minMs: number; maxMs: number }) {
  return z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseSpan(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `${name} must look like 30s, 15m, 6h or 2d, got "${text}"` });
        return z.NEVER;
      }
      if (ms < minMs || ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `${name} must be between ${minMs / 1000}s and ${maxMs / 1000}s, got "${text}"` });
        return z.NEVER;
      }
      return { text, ms };
    });
}

export function summaryQuery(retentionMs: number) {
  return z.object({ window: span('window', '15m', { minMs: 1_000, maxMs: retentionMs }) });
}

export function dimensionsQuery(retentionMs: number) {
  return z.object({
    window: span('window', '1h', { minMs: 1_000, maxMs: retentionMs }),
    top: z.coerce.number({ message: 'top must be a number' }).int('top must be an integer').min(1, 'top must be at least 1').max(1_000, 'top must be at most 1000').default(20),
  });
}

export const dimensionParam = z.enum(STATS_DIMENSIONS, { message: `dimension must be one of ${STATS_DIMENSIONS.join(', ')}` });

export function timeseriesQuery(retentionMs: number) {
  return z
    .object({
      dimension: dimensionParam,
      value: z.string({ message: 'value is required' }).min(1, 'value is required').max(200, 'value is too long'),
      window: span('window', '6h', { minMs: 60_000, maxMs: retentionMs }),
      step: span('step', '1m', { minMs: 60_000, maxMs: retentionMs }),
    })
    .refine((q) => q.step.ms % 60_000 === 0, { message: 'step must be a whole number of minutes' })
    .refine((q) => q.window.ms % q.step.ms === 0, { message: 'window must be a whole number of steps' })
    .refine((q) => q.window.ms / q.step.ms <= 10_000, { message: 'window / step must be at most 10000 points' });
}

/** The first zod issue as one message. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid parameters';
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return issue.message.startsWith(String(issue.path[0] ?? '\u0000')) ? issue.message : `${where}${issue.message}`;
}
