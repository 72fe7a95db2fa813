/**
 * Test job for retries and worker kills. `marker`: the first map call of the
 * whole run (across processes) creates it and, with `failOnce`, throws; with
 * `delayMs` every record waits that long, so a task is still running when the
 * test kills its worker. The marker holds the pid of the process that made it.
 */
import { openSync, writeSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dims } from '../../src/dims.js';
import type { MapContext, WriteContext } from '../../src/job-api.js';

function claimMarker(file: string): boolean {
  try {
    const fd = openSync(file, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch {
    return false;
  }
}

export async function map(key: string, dims: Dims, _value: string, ctx: MapContext): Promise<void> {
  const marker = ctx.params.marker;
  if (marker !== undefined && claimMarker(marker) && ctx.params.failOnce === 'true') throw new Error('injected failure (first attempt)');
  const delayMs = Number(ctx.params.delayMs ?? 0);
  if (delayMs > 0) await sleep(delayMs);
  ctx.write([dims.appUpdateChannel, dims.appVersion], key.length);
}

export function reduce(key: unknown, values: unknown[], ctx: WriteContext): void {
  ctx.write(key, { records: values.length, sum: (values as number[]).reduce((a, b) => a + b, 0) });
}
