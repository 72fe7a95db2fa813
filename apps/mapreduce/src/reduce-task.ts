/**
 * One reduce task: read partition `r` of every map task (in map task order,
 * so values reach `reduce` in the same order in every mode), group the values
 * by key, and call `reduce` once per key in key order. Output is therefore
 * sorted by key (JSON text, code-unit order) within a partition.
 *
 * A partition's keys and values are held in memory while it is reduced; use
 * more reducers (or a combine) when one partition would not fit.
 */
import { createReadStream } from 'node:fs';
import readline from 'node:readline';
import { compareEncoded, csvLine, formatOutputLine, splitIntermediateLine } from './encoding.js';
import { ReduceError, TaskFailedError } from './errors.js';
import { isPromiseLike, loadJob, type ReduceContext } from './job-api.js';
import { AtomicTextWriter, partitionFile, reduceOutputFile } from './run-dir.js';
import { emptyCounters, outputFormatOf, type ReduceTaskSpec, type TaskCounters } from './tasks.js';

async function readPartition(spec: ReduceTaskSpec, groups: Map<string, unknown[]>): Promise<void> {
  for (let mapIndex = 0; mapIndex < spec.mapTasks; mapIndex += 1) {
    const file = partitionFile(spec.runDir, mapIndex, spec.partition);
    const input = createReadStream(file, { encoding: 'utf8' });
    // A missing partition means its map task never completed: the run cannot be reduced.
    const opened = new Promise<void>((resolve, reject) => {
      input.once('open', () => resolve());
      input.once('error', (error) => reject(new TaskFailedError(`cannot read map output ${file}: ${error.message}`)));
    });
    await opened;
    let lineNumber = 0;
    for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
      lineNumber += 1;
      if (line === '') continue;
      let parsed: { encodedKey: string; value: unknown };
      try {
        const { encodedKey, encodedValue } = splitIntermediateLine(line);
        parsed = { encodedKey, value: JSON.parse(encodedValue) };
      } catch (error) {
        throw new TaskFailedError(`${file}:${lineNumber}: damaged map output (${(error as Error).message})`);
      }
      const values = groups.get(parsed.encodedKey);
      if (values === undefined) groups.set(parsed.encodedKey, [parsed.value]);
      else values.push(parsed.value);
    }
  }
}

export async function runReduceTask(spec: ReduceTaskSpec): Promise<TaskCounters> {
  const job = await loadJob(spec.jobModule);
  const reduce = job.reduce?.bind(job);
  if (reduce === undefined) throw new TaskFailedError(`${spec.jobModule} exports no reduce: nothing to reduce`);
  const counters = emptyCounters();
  const groups = new Map<string, unknown[]>();
  await readPartition(spec, groups);
  const format = await outputFormatOf(job, spec.params);
  const writer = new AtomicTextWriter(reduceOutputFile(spec.runDir, spec.partition));
  // Output lines of the current reduce call, in the order they were written.
  const lines: string[] = [];
  const ctx: ReduceContext = {
    params: spec.params,
    write: (key: unknown, value: unknown) => {
      lines.push(formatOutputLine(key, value, format));
    },
    writecsv: (values: readonly unknown[]) => {
      if (!Array.isArray(values)) throw new TypeError('ctx.writecsv: give it a list of fields');
      lines.push(csvLine(values, format));
    },
    writeline: (text: string) => {
      lines.push(`${typeof text === 'string' ? text : String(text)}${format.recordSeparator}`);
    },
  };
  try {
    const keys = [...groups.keys()].sort(compareEncoded);
    for (const encodedKey of keys) {
      const values = groups.get(encodedKey) ?? [];
      // Free each group as it is done: the output may be as large as the input.
      groups.delete(encodedKey);
      try {
        const result = reduce(JSON.parse(encodedKey), values, ctx);
        if (isPromiseLike(result)) await result;
      } catch (error) {
        throw new ReduceError('reduce', encodedKey, error);
      }
      counters.records += 1;
      for (const line of lines) {
        counters.pairs += 1;
        if (writer.append(line)) await writer.flush();
      }
      lines.length = 0;
    }
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return counters;
}
