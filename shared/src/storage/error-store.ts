/**
 * The error store (SPEC 5): submissions that cannot be converted, filed as
 * `ERRORS_DIR/<type>/<YYYYMMDD of receive time, UTC>.<writerId>.log` through a
 * PartitionedWriter, so they are batched, fsynced, rotated and compressed
 * exactly like storage.
 *
 * One line each: `<docId>\t<JSON {type, message, path, receivedAt, body}>`.
 * - `path` is the URL path as sent after `/submit/telemetry/` (telemetry
 *   form) or after `/submit/` (generic form, whose records also carry
 *   `namespace`, `docType` and `docVersion`).
 * - `receivedAt` is an ISO 8601 UTC string (e.g. "2013-09-10T06:38:12.000Z"):
 *   these files are read by people investigating bad input, and ISO is
 *   unambiguous to people and parsers alike.
 * - `body` is the raw body as text when it is valid UTF-8 (strict: no
 *   replacement characters, a BOM kept as is); otherwise base64 and the object
 *   gets `bodyEncoding: "base64"`. Text bodies carry no `bodyEncoding`.
 * - the docId is made safe for the line format: control characters (tab and
 *   newline included) become '_', and an empty one becomes '_'.
 */
import { isPingErrorType, type PingErrorType } from '../errors.js';
import type { GenericForm } from '../generic-form.js';
import { PartitionedWriter } from './writer.js';
import type { PartitionedWriterOptions, RecoveryReport, WriterCounters } from './types.js';

export interface ErrorEntry {
  docId: string;
  type: PingErrorType;
  message: string;
  path: string;
  /** Generic-form submissions only. */
  generic?: GenericForm | undefined;
  receivedAtMs: number;
  body: Uint8Array;
}

/** The JSON half of an error line. */
export interface ErrorRecordJson {
  type: PingErrorType;
  message: string;
  path: string;
  namespace?: string;
  docType?: string;
  docVersion?: string;
  receivedAt: string;
  body: string;
  bodyEncoding?: 'base64';
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function sanitizeDocIdForLine(docId: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  const safe = docId.replace(/[\u0000-\u001f\u007f]/g, '_');
  return safe === '' ? '_' : safe;
}

/** `YYYYMMDD` of a millisecond timestamp, in UTC. */
export function utcDateStem(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`receive time ${ms} is not a finite number`);
  return new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');
}

export function formatErrorLine(entry: ErrorEntry): string {
  const json: ErrorRecordJson = {
    type: entry.type,
    message: entry.message,
    path: entry.path,
    ...(entry.generic ? { namespace: entry.generic.namespace, docType: entry.generic.docType, docVersion: entry.generic.docVersion } : {}),
    receivedAt: new Date(entry.receivedAtMs).toISOString(),
    body: '',
  };
  try {
    json.body = strictUtf8.decode(entry.body);
  } catch {
    json.body = Buffer.from(entry.body.buffer, entry.body.byteOffset, entry.body.byteLength).toString('base64');
    json.bodyEncoding = 'base64';
  }
  // JSON.stringify escapes newlines, so the line stays one line.
  return `${sanitizeDocIdForLine(entry.docId)}\t${JSON.stringify(json)}`;
}

/** Decode a line written by `formatErrorLine` back to its parts (body as raw bytes). */
export function parseErrorLine(line: string): { docId: string; record: ErrorRecordJson; body: Buffer } | undefined {
  const tab = line.indexOf('\t');
  if (tab <= 0) return undefined;
  let record: ErrorRecordJson;
  try {
    record = JSON.parse(line.slice(tab + 1)) as ErrorRecordJson;
  } catch {
    return undefined;
  }
  if (typeof record.body !== 'string' || typeof record.type !== 'string') return undefined;
  const body = record.bodyEncoding === 'base64' ? Buffer.from(record.body, 'base64') : Buffer.from(record.body, 'utf8');
  return { docId: line.slice(0, tab), record, body };
}

export class ErrorStoreWriter {
  readonly writer: PartitionedWriter;

  /** `rootDir` is ERRORS_DIR. */
  constructor(options: PartitionedWriterOptions) {
    this.writer = new PartitionedWriter(options);
  }

  get counters(): Readonly<WriterCounters> {
    return this.writer.counters;
  }

  get openFiles(): number {
    return this.writer.openFiles;
  }

  get pendingCompressions(): number {
    return this.writer.pendingCompressions;
  }

  /** Resolves once every entry is written and fsynced. */
  async appendBatch(entries: readonly ErrorEntry[]): Promise<void> {
    // Map first so a bad entry rejects before any line is written.
    const records = entries.map((entry) => {
      if (!isPingErrorType(entry.type)) throw new Error(`unknown error type ${JSON.stringify(entry.type)}`);
      return { dir: entry.type, fileStem: utcDateStem(entry.receivedAtMs), line: formatErrorLine(entry) };
    });
    return await this.writer.appendBatch(records);
  }

  recover(): Promise<RecoveryReport> {
    return this.writer.recover();
  }

  rotateExpired(): Promise<number> {
    return this.writer.rotateExpired();
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}
