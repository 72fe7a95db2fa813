/**
 * One map task: read its files in order, call `map` per record, route each
 * written pair to its reducer's partition file (through `combine` when the
 * job has one), or to output lines for a map-only job. The same code runs in
 * a local mapper process and in a BullMQ worker.
 */
import path from 'node:path';
import { parseRecordLine, readRecordLines, type ReadCounters } from '@telemetry/shared/storage/reader';
import { Combiner } from './combiner.js';
import { encodeKey, encodeValue, formatOutputLine, type OutputFormat } from './encoding.js';
import { InputReadError, MapError, ReduceError } from './errors.js';
import { isPromiseLike, loadJob, type MapContext } from './job-api.js';
import { partitionOf } from './plan.js';
import { makeDims } from './dims.js';
import { AtomicTextWriter, mapOutputFile, partitionFile, reportFile } from './run-dir.js';
import { emptyCounters, outputFormatOf, throttle, type BadRecord, type MapTaskSpec, type ProgressListener, type TaskCounters } from './tasks.js';

/** Values a mapper's combine buffer may hold before it is written out regardless. */
const MAX_BUFFERED_VALUES = 200_000;

export async function runMapTask(spec: MapTaskSpec, onProgress?: ProgressListener): Promise<TaskCounters> {
  const job = await loadJob(spec.jobModule);
  const counters = emptyCounters();
  const mapOnly = spec.reducers === 0;
  const writers = mapOnly
    ? [new AtomicTextWriter(mapOutputFile(spec.runDir, spec.index))]
    : Array.from({ length: spec.reducers }, (_, r) => new AtomicTextWriter(partitionFile(spec.runDir, spec.index, r)));
  // A map-only job's output lines use the separators its setupReduce sets, as a reducer's would.
  const format: OutputFormat | undefined = mapOnly ? await outputFormatOf(job, spec.params) : undefined;

  const toPartition = async (encodedKey: string, value: unknown): Promise<void> => {
    const writer = writers[partitionOf(encodedKey, spec.reducers)];
    counters.pairs += 1;
    if (writer?.append(`${encodedKey}\t${encodeValue(value)}\n`)) await writer.flush();
  };
  const combiner =
    job.combine !== undefined && !mapOnly
      ? new Combiner(job.combine.bind(job), spec.params, spec.combineThreshold, MAX_BUFFERED_VALUES, toPartition)
      : undefined;

  // Pairs written by the current map call, flattened (key, value, key, value...).
  const written: unknown[] = [];
  const ctx: MapContext & { file: string } = {
    params: spec.params,
    file: '',
    write: (key: unknown, value: unknown) => {
      written.push(key, value);
    },
  };
  const drain = async (): Promise<void> => {
    for (let i = 0; i < written.length; i += 2) {
      const key = written[i];
      const value = written[i + 1];
      const encodedKey = encodeKey(key);
      if (format !== undefined) {
        counters.pairs += 1;
        const writer = writers[0];
        if (writer?.append(formatOutputLine(key, value, format))) await writer.flush();
      } else if (combiner !== undefined) {
        await combiner.add(encodedKey, key, value);
      } else {
        await toPartition(encodedKey, value);
      }
    }
    written.length = 0;
  };

  const badRecords: BadRecord[] = [];
  const unreadableFiles: string[] = [];
  const report = throttle(() => onProgress?.({ ...counters, combines: combiner?.combines ?? 0 }));
  try {
    files: for (const file of spec.files) {
      const absolute = path.join(spec.dataDir, ...file.path.split('/'));
      const dims = makeDims(spec.fieldNames, file.dims);
      ctx.file = file.path;
      const read: ReadCounters = { tornLines: 0, bytesRead: 0 };
      const bytesBefore = counters.bytes;
      let line = 0;
      const lines = readRecordLines(absolute, read);
      for (;;) {
        let next: IteratorResult<string>;
        try {
          next = await lines.next();
        } catch (error) {
          // Nothing of it was mapped yet: the file can be left out whole and read by a later run.
          if (spec.skipUnreadableFiles && line === 0) {
            unreadableFiles.push(file.path);
            counters.unreadableFiles += 1;
            counters.bytes = bytesBefore;
            continue files;
          }
          throw new InputReadError(absolute, line, error);
        }
        if (next.done) break;
        line += 1;
        counters.bytes = bytesBefore + (read.bytesRead ?? 0);
        const record = parseRecordLine(next.value);
        if (record === undefined) {
          if (next.value !== '') counters.invalidLines += 1;
          continue;
        }
        counters.records += 1;
        try {
          const result = job.map(record.docId, dims, record.json, ctx);
          if (isPromiseLike(result)) await result;
          await drain();
        } catch (error) {
          // Whatever this call wrote is dropped: a bad record adds nothing.
          written.length = 0;
          if (error instanceof ReduceError) throw error;
          const failure = new MapError(absolute, line, record.docId, error);
          if (badRecords.length >= spec.maxBadRecords) throw failure;
          badRecords.push({ file: file.path, line, docId: record.docId, message: failure.message });
          counters.badRecords += 1;
        }
        report();
      }
      counters.files += 1;
      counters.tornLines += read.tornLines;
      counters.bytes = bytesBefore + (read.bytesRead ?? 0);
      report(true);
    }
    await combiner?.flush();
    const problems = new AtomicTextWriter(reportFile(spec.runDir, spec.index));
    problems.append(JSON.stringify({ badRecords, unreadableFiles }));
    writers.push(problems);
    for (const writer of writers) await writer.commit();
  } catch (error) {
    await Promise.all(writers.map((writer) => writer.abort()));
    throw error;
  }
  counters.combines = combiner?.combines ?? 0;
  report(true);
  return counters;
}
