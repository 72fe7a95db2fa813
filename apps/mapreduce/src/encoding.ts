/**
 * Keys and values between the phases, and the output lines.
 * Intermediate lines are "<key JSON>\t<value JSON>\n": JSON escapes tabs and
 * newlines, so the first tab always ends the key. The key's JSON text is also
 * its identity (grouping), its partition hash input and its sort order, so
 * 1 and "1" are different keys, as they are to the job.
 */
import { createReadStream } from 'node:fs';
import readline from 'node:readline';

/** The JSON text of a key; throws TypeError for undefined, functions and symbols. */
export function encodeKey(key: unknown): string {
  const encoded = JSON.stringify(key) as string | undefined;
  if (encoded === undefined) throw new TypeError(`ctx.write: the key must be JSON-serialisable, got ${typeof key}`);
  return encoded;
}

/** The JSON text of a value; undefined (and other non-JSON values) become null. */
export function encodeValue(value: unknown): string {
  // JSON.stringify is typed as returning string, but gives undefined for undefined, functions and symbols.
  const encoded: string | undefined = JSON.stringify(value);
  return encoded ?? 'null';
}

/** An intermediate line split back into key JSON and value JSON. */
export function splitIntermediateLine(line: string): { encodedKey: string; encodedValue: string } {
  const tab = line.indexOf('\t');
  if (tab < 0) throw new SyntaxError(`not an intermediate "<key>\\t<value>" line: ${line.slice(0, 100)}`);
  return { encodedKey: line.slice(0, tab), encodedValue: line.slice(tab + 1) };
}

/** Output fields: strings as they are, anything else as JSON (SPEC 10). */
function formatField(value: unknown): string {
  return typeof value === 'string' ? value : encodeValue(value);
}

export interface OutputFormat {
  fieldSeparator: string;
  recordSeparator: string;
}

export const DEFAULT_OUTPUT_FORMAT: Readonly<OutputFormat> = { fieldSeparator: '\t', recordSeparator: '\n' };

export function formatOutputLine(key: unknown, value: unknown, format: OutputFormat): string {
  return `${formatField(key)}${format.fieldSeparator}${formatField(value)}${format.recordSeparator}`;
}

/** Code-unit order, the same in every process: the order of keys in the output. */
export function compareEncoded(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A CSV field's text: strings as they are, numbers and booleans as text, null and undefined empty, anything else as JSON. */
function csvText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return encodeValue(value);
}

/**
 * One CSV line (RFC 4180, with the run's separators): a field is quoted when
 * it holds the field separator, a quote, CR, LF or any character of the
 * record separator, and its quotes are doubled. A line of one empty field is
 * `""`, so that it is not an empty line.
 */
export function csvLine(values: readonly unknown[], format: OutputFormat): string {
  const special = new Set(['"', '\r', '\n', ...format.recordSeparator]);
  const fields = values.map((value) => {
    const text = csvText(value);
    const quote =
      (values.length === 1 && text === '') ||
      (format.fieldSeparator !== '' && text.includes(format.fieldSeparator)) ||
      [...special].some((c) => text.includes(c));
    return quote ? `"${text.replaceAll('"', '""')}"` : text;
  });
  return `${fields.join(format.fieldSeparator)}${format.recordSeparator}`;
}

/**
 * The records of a run's output file in the default format (what the
 * built-in jobs' publishers read back): the key and the value parsed, and
 * the line for error messages.
 */
export async function* readOutputRecords(file: string): AsyncGenerator<{ key: unknown; value: unknown; line: string }> {
  const lines = readline.createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line === '') continue;
    const tab = line.indexOf(DEFAULT_OUTPUT_FORMAT.fieldSeparator);
    yield { key: JSON.parse(line.slice(0, tab)) as unknown, value: JSON.parse(line.slice(tab + 1)) as unknown, line };
  }
}
