/**
 * Test job: records per (channel, date). combine sums; reduce reports the sum
 * and how many values it was given, which shows whether combine ran.
 */
import type { Dims } from '../../src/dims.js';
import type { MapContext, SetupReduceContext, WriteContext } from '../../src/job-api.js';

export function map(_key: string, dims: Dims, _value: string, ctx: MapContext): void {
  ctx.write([dims.appUpdateChannel, dims.submission_date], 1);
}

export function combine(key: unknown, values: unknown[], ctx: WriteContext): void {
  ctx.write(key, (values as number[]).reduce((a, b) => a + b, 0));
}

export function setupReduce(ctx: SetupReduceContext): void {
  if (ctx.params.fieldSeparator !== undefined) ctx.fieldSeparator = ctx.params.fieldSeparator;
  if (ctx.params.recordSeparator !== undefined) ctx.recordSeparator = ctx.params.recordSeparator;
}

export function reduce(key: unknown, values: unknown[], ctx: WriteContext): void {
  ctx.write(key, { records: (values as number[]).reduce((a, b) => a + b, 0), inputs: values.length });
}
