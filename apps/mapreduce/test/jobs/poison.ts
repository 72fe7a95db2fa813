/** Test job: throws on any record marked poison, so reading a file that holds one fails the run. */
import type { Dims } from '../../src/dims.js';
import type { MapContext, WriteContext } from '../../src/job-api.js';

export function map(key: string, dims: Dims, value: string, ctx: MapContext): void {
  if (value.includes('"poison":true')) throw new Error(`poison record ${key} in ${ctx.file} was read`);
  ctx.write(dims.appUpdateChannel, 1);
}

export function reduce(key: unknown, values: unknown[], ctx: WriteContext): void {
  ctx.write(key, values.length);
}
