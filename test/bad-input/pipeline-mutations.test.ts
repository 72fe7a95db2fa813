/**
 * Mutations of the real Firefox ping (wrong types in any field, missing
 * fields, huge arrays, deep nesting, numbers out of range, truncated gzip)
 * sent through the real gateway and worker: every one ends stored or filed
 * with a type, the worker never crashes, and no file appears outside
 * STORAGE_DIR and ERRORS_DIR.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { isPingErrorType } from '@telemetry/shared/errors';
import { parsePackedBuffer } from '@telemetry/shared/packed/packed-reader';
import { parseErrorLine } from '@telemetry/shared/storage/error-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../support/fixtures.js';
import { listFiles, readAllLines, startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitFor } from '../support/services.js';

const RUNS = Number(process.env.FUZZ_PIPELINE_RUNS ?? 40);
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a value inside `value` (objects and arrays), capped for speed. */
function paths(value: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (out.length > 5_000) return out;
  const children: [string | number, Json][] = Array.isArray(value)
    ? value.map((v, i): [number, Json] => [i, v])
    : value !== null && typeof value === 'object'
      ? Object.entries(value)
      : [];
  for (const [key, child] of children) {
    out.push([...prefix, key]);
    paths(child, [...prefix, key], out);
  }
  return out;
}

function mutate(root: Json, at: (string | number)[], replacement: Json | undefined): Json {
  const copy = structuredClone(root);
  let parent: Json = copy;
  for (const key of at.slice(0, -1)) parent = (parent as Record<string | number, Json>)[key] as Json;
  const last = at[at.length - 1];
  if (last === undefined || parent === null || typeof parent !== 'object') return replacement ?? null;
  if (replacement === undefined) delete (parent as Record<string | number, Json>)[last];
  else (parent as Record<string | number, Json>)[last] = replacement;
  return copy;
}

const hostileValue: fc.Arbitrary<Json | undefined> = fc.oneof(
  fc.constant(undefined), // delete the field
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(1e308, -1e308, 2 ** 60, -1, 0.5, '', '../../x', 'é\u0000', [], {}),
  fc.integer({ min: 1, max: 3 }).map((k) => Array.from({ length: k * 20_000 }, (_, i) => i) as Json), // huge array
  fc.integer({ min: 50, max: 400 }).map((depth) => {
    let nested: Json = 1;
    for (let i = 0; i < depth; i += 1) nested = [nested];
    return nested;
  }),
);

describe('mutated real pings through the pipeline', () => {
  let p: TestPipeline;
  let original: Json;
  beforeAll(async () => {
    p = await startTestPipeline('mutations');
    const { records } = parsePackedBuffer(await readFile(fixturePath('pings', 'telemetry1.packed')));
    original = JSON.parse(gunzipSync(records[0]?.body ?? Buffer.alloc(0)).toString('utf8')) as Json;
  });
  afterAll(async () => {
    await p.stop();
  });

  it('stores or files every mutation with a type, and the worker keeps running', async () => {
    const allPaths = paths(original);
    const sent: string[] = [];
    const stamp = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: allPaths.length - 1 }), hostileValue, fc.constantFrom('plain', 'gzip', 'truncated-gzip'), async (index, value, encoding) => {
        const docId = `mut-${stamp}-${sent.length}`;
        const text = JSON.stringify(mutate(original, allPaths[index] ?? [], value));
        const gzipped = gzipSync(text);
        const body = encoding === 'plain' ? Buffer.from(text) : encoding === 'gzip' ? gzipped : gzipped.subarray(0, Math.floor(gzipped.length / 2));
        const response = await p.submit(`${docId}/idle-daily/Firefox/23.0.1/release/20130814063812`, body, encoding === 'plain' ? {} : { 'content-encoding': 'gzip' });
        expect([200, 413]).toContain(response.status);
        if (response.status === 200) sent.push(docId);
      }),
      { numRuns: RUNS },
    );

    const outcome = async () => {
      const stored = new Set((await readAllLines(p.storageDir)).map((l) => l.line.split('\t')[0]));
      const filed = new Map((await readAllLines(p.errorsDir)).map((l) => {
        const parsed = parseErrorLine(l.line);
        return [parsed?.docId, parsed?.record.type] as const;
      }));
      return { stored, filed };
    };
    await waitFor('every mutation stored or filed', async () => {
      const { stored, filed } = await outcome();
      return sent.every((id) => stored.has(id) || filed.has(id));
    }, 60_000);
    const { stored, filed } = await outcome();
    for (const id of sent) {
      if (!stored.has(id)) expect(isPingErrorType(String(filed.get(id))), `${id}: ${String(filed.get(id))}`).toBe(true);
    }
    expect(p.workers[0]?.consumer.isConnected()).toBe(true);
    expect(await p.env.queueDepth(p.env.topology.deadLetterQueue)).toBe(0);
    const top = new Set((await listFiles(p.env.dir)).map((f) => f.split(path.sep)[0]));
    expect([...top].every((name) => ['storage', 'errors', 'revisions'].includes(name ?? ''))).toBe(true);
  });
});
