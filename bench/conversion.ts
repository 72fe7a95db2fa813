/**
 * Full conversion of the real Firefox 23 ping (gunzip -> strict UTF-8 ->
 * parse -> convert 328 histograms -> place -> serialise) against the naive
 * gunzip -> JSON.parse -> JSON.stringify of the same bytes, on one core, in
 * the same process and run, alternating rounds so drift hits both alike.
 * Target (issue 2): conversion >= 0.85x the naive rate.
 *
 * convertSubmission takes the fast path (histograms scanned from the text,
 * conversion/fast-path.ts). For reference, the general path (JSON.parse of
 * everything, convertPing, JSON.stringify) is measured in the same rounds,
 * and both are checked to give the same stored line before anything is timed.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { decodeBody } from '@telemetry/shared/conversion/decode-body';
import { convertTextGeneral } from '@telemetry/shared/conversion/fast-path';
import { convertSubmission, type ConversionContext } from '@telemetry/shared/conversion/submission';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import { dimensionValues, storageLocation } from '@telemetry/shared/dimensions/storage-path';
import { parsePackedBuffer } from '@telemetry/shared/packed/packed-reader';
import { RevisionCache } from '@telemetry/shared/revisions/revision-cache';
import { fixturePath } from '../test/support/fixtures.js';
import { measureRate, median, type BenchResult } from './harness.js';
import { seedRevisionCache } from './load.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = 2_000;
const TARGET_RATIO = 0.85;

export async function benchConversion(): Promise<BenchResult> {
  const { records } = parsePackedBuffer(await readFile(fixturePath('pings', 'telemetry1.packed')));
  const record = records[0];
  if (!record) throw new Error('telemetry1.packed has no record');
  const body = record.body;

  // A disk cache seeded from the fixtures: the benchmark needs no HTTP server.
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'bench-revisions-'));
  await seedRevisionCache(cacheDir, 'a55c55edf302');
  const context: ConversionContext = {
    revisions: new RevisionCache({ hgServer: 'http://127.0.0.1:9', cacheDir }),
    schema: await loadDimensionSchema(DEFAULT_SCHEMA_FILE),
    maxUncompressedBytes: 10 * 2 ** 20,
  };
  const submission = { docId: 'bench', body, contentEncoding: 'gzip', receivedAtMs: Date.UTC(2013, 8, 10) };
  let sink = 0;
  const naive = () => {
    sink += JSON.stringify(JSON.parse(gunzipSync(body).toString('utf8'))).length;
  };
  const full = async () => {
    sink += (await convertSubmission(submission, context)).json.length;
  };
  // What convertSubmission did before the fast path: the same steps, everything parsed.
  const general = async () => {
    const text = decodeBody(body, { contentEncoding: 'gzip', maxUncompressedBytes: context.maxUncompressedBytes });
    const { result, json } = await convertTextGeneral(text, context.revisions);
    sink += json.length + storageLocation(dimensionValues(context.schema, result.info, submission.receivedAtMs)).dir.length;
  };
  const fastJson = (await convertSubmission(submission, context)).json;
  const generalJson = (await convertTextGeneral(gunzipSync(body).toString('utf8'), context.revisions)).json;
  if (fastJson !== generalJson) throw new Error('the fast path and the general path disagree on the bench ping');
  // Warm up every path (JIT, revision compiled into the memory cache).
  await measureRate(naive, 500);
  await measureRate(full, 500);
  await measureRate(general, 500);

  const naiveRates: number[] = [];
  const fullRates: number[] = [];
  const generalRates: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    naiveRates.push(await measureRate(naive, ROUND_MS));
    fullRates.push(await measureRate(full, ROUND_MS));
    generalRates.push(await measureRate(general, ROUND_MS));
  }
  await rm(cacheDir, { recursive: true, force: true });
  if (sink === 0) throw new Error('nothing was measured');

  const naiveRate = median(naiveRates);
  const fullRate = median(fullRates);
  const generalRate = median(generalRates);
  const ratio = fullRate / naiveRate;
  const gunzippedKiB = (gunzipSync(body).length / 1024).toFixed(1);
  const markdown = [
    `Input: fixtures/pings/telemetry1.packed, ${body.length} bytes gzip, ${gunzippedKiB} KiB JSON, 328 histograms. One core, ${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s, medians.`,
    '',
    '| path | pings/s | MiB/s of JSON |',
    '| --- | ---: | ---: |',
    `| naive: gunzip → JSON.parse → JSON.stringify | ${naiveRate.toFixed(0)} | ${((naiveRate * gunzipSync(body).length) / 2 ** 20).toFixed(1)} |`,
    `| full conversion: gunzip → UTF-8 check → parse → convert → place → stringify | ${fullRate.toFixed(0)} | ${((fullRate * gunzipSync(body).length) / 2 ** 20).toFixed(1)} |`,
    `| (reference) the same by the general path, without the histogram scanner | ${generalRate.toFixed(0)} | ${((generalRate * gunzipSync(body).length) / 2 ** 20).toFixed(1)} |`,
    '',
    `Ratio full / naive: **${ratio.toFixed(3)}** (target ≥ ${TARGET_RATIO}); general path / naive: ${(generalRate / naiveRate).toFixed(3)}.`,
  ].join('\n');
  return { name: 'Conversion of the real ping vs naive parse+serialise', markdown, targetMet: ratio >= TARGET_RATIO };
}
