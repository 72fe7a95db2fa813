/** Test job: map throws on the record whose docId is params.failDocId. */
import type { Dims } from '../../src/dims.js';
import type { MapContext } from '../../src/job-api.js';

export function map(key: string, _dims: Dims, _value: string, ctx: MapContext): void {
  if (key === ctx.params.failDocId) throw new RangeError('this record is not welcome');
  ctx.write(key, 1);
}

export function reduce(): void {}
