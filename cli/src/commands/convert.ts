import readline from 'node:readline';
import type { Command } from 'commander';
import { conversionEnvShape } from '@telemetry/shared/config/domain';
import { parseEnv } from '@telemetry/shared/config/env';
import { convertPingText, type ConversionContext } from '@telemetry/shared/conversion/submission';
import { parseDateStamp } from '@telemetry/shared/dates';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import { isValidDocId } from '@telemetry/shared/doc-id';
import { classifyError, PingError } from '@telemetry/shared/errors';
import { RevisionCache } from '@telemetry/shared/revisions/revision-cache';
import { z } from 'zod';
import { UsageError } from '../usage-error.js';
import { retryTransient, writeOrWait } from './io.js';

interface ConvertOptions {
  date?: string;
  schema?: string;
  hgServer?: string;
  revisionCache?: string;
  withPath?: boolean;
}

/** Error type written on stderr for records whose revision server could not answer (retry them). */
const TRANSIENT_ERROR_LABEL = 'revision_unavailable';

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description(
      'Convert "<docId>\\t<json>" lines from stdin; converted records go to stdout in input order, ' +
        'refused ones to stderr as "<docId>\\t<error type>\\t<message>"',
    )
    .option('--date <YYYYMMDD>', 'submission date used for the submission_date dimension (default: today, UTC)')
    .option('--schema <file>', 'dimension schema file (default: SCHEMA_FILE or the shipped production schema)')
    .option('--hg-server <url>', 'Mercurial server for Histograms.json (default: HG_SERVER or https://hg.mozilla.org)')
    .option('--revision-cache <dir>', 'disk cache of Histograms.json revisions (default: REVISION_CACHE_DIR)')
    .option('--with-path', 'print "<docId>\\t<storage path>\\t<json>" instead (the path without the writer id)')
    .action(async (options: ConvertOptions) => {
      await runConvert(options, process.stdin, process.stdout, process.stderr);
    });
}

async function buildContext(options: ConvertOptions): Promise<{ context: ConversionContext; receivedAtMs: number }> {
  const env = parseEnv(z.object(conversionEnvShape), process.env);
  let receivedAtMs = Date.now();
  if (options.date !== undefined) {
    const parsed = parseDateStamp(options.date);
    if (parsed === undefined) throw new UsageError(`--date must be a date as YYYYMMDD, got "${options.date}"`);
    receivedAtMs = parsed;
  }
  if (options.hgServer !== undefined && !URL.canParse(options.hgServer)) {
    throw new UsageError(`--hg-server must be a URL, got "${options.hgServer}"`);
  }
  let schema;
  try {
    schema = await loadDimensionSchema(options.schema ?? env.SCHEMA_FILE);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const revisions = new RevisionCache({
    hgServer: options.hgServer ?? env.HG_SERVER,
    cacheDir: options.revisionCache ?? env.REVISION_CACHE_DIR,
  });
  return { context: { revisions, schema, maxUncompressedBytes: env.MAX_UNCOMPRESSED }, receivedAtMs };
}

async function runConvert(
  options: ConvertOptions,
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  errors: NodeJS.WritableStream,
): Promise<void> {
  const { context, receivedAtMs } = await buildContext(options);
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  // One record at a time keeps output in input order; conversion is CPU-bound
  // once a revision is cached, so concurrency would not buy throughput here.
  for await (const line of lines) {
    lineNumber += 1;
    if (line === '') continue;
    const tab = line.indexOf('\t');
    const docId = tab < 0 ? line.slice(0, 100) : line.slice(0, tab);
    const refuse = (type: string, message: string) =>
      writeOrWait(errors, `${docId}\t${type}\t${message.replace(/[\t\n]/g, ' ')}\n`);
    if (tab < 0 || !isValidDocId(docId)) {
      await refuse('invalid_path', `line ${lineNumber}: expected "<docId>\\t<json>" with a docId of 1-100 [A-Za-z0-9-]`);
      continue;
    }
    const text = line.slice(tab + 1);
    try {
      if (text.trim() === '') throw new PingError('empty_data', 'Empty payload');
      const record = await retryTransient(() => convertPingText(docId, text, receivedAtMs, context));
      const pathColumn = options.withPath ? `${record.dir}/${record.fileStem}\t` : '';
      await writeOrWait(output, `${docId}\t${pathColumn}${record.json}\n`);
    } catch (error) {
      const disposition = classifyError(error);
      switch (disposition.kind) {
        case 'file':
          await refuse(disposition.type, disposition.message);
          break;
        case 'retry':
          await refuse(TRANSIENT_ERROR_LABEL, disposition.message);
          break;
        case 'crash':
          throw disposition.error;
      }
    }
  }
}
