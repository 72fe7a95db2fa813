/**
 * What the real Firefox submitted (the recorder's exchanges) against what the
 * pipeline kept (storage and error store), by document. A document is a
 * docId with a decoded body, as the pipeline deduplicates: a retry of the
 * same ping, however recompressed, is one document; two bodies under one
 * docId are two.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { Exchange } from './recorder.js';

export interface SentDocument {
  readonly form: 'telemetry' | 'generic';
  readonly namespace: string;
  readonly docType: string;
  readonly docVersion: string;
  readonly docId: string;
  /** docId + digest of the decoded body. */
  readonly key: string;
  /** The body as the pipeline decodes it (gunzipped when gzip). */
  readonly decoded: Buffer;
  /** Every answer the gateway gave to a request carrying it, in order. */
  readonly statuses: number[];
  /** User-Agent / X-Telemetry-Agent / X-PingSender-Version of its first request. */
  readonly agent: string;
}

export interface KeptRecord {
  readonly docId: string;
  /** The file, relative to STORAGE_DIR or ERRORS_DIR. */
  readonly file: string;
  readonly json: string;
}

function decodeBody(exchange: Exchange): Buffer {
  const gzip = exchange.headers['content-encoding']?.toLowerCase() === 'gzip' || (exchange.body[0] === 0x1f && exchange.body[1] === 0x8b);
  if (!gzip) return exchange.body;
  try {
    return gunzipSync(exchange.body);
  } catch {
    return exchange.body;
  }
}

/** The documents among the exchanges (every `/submit/…` request), and the other requests. */
export function sentDocuments(exchanges: readonly Exchange[]): { documents: SentDocument[]; other: Exchange[] } {
  const byKey = new Map<string, SentDocument>();
  const other: Exchange[] = [];
  for (const exchange of exchanges) {
    const pathname = exchange.url.split('?', 1)[0] ?? '';
    if (!pathname.startsWith('/submit/')) {
      other.push(exchange);
      continue;
    }
    const parts = pathname.slice('/submit/'.length).split('/');
    const telemetry = parts[0] === 'telemetry';
    const docId = (telemetry ? parts[1] : parts[3]) ?? '';
    const decoded = decodeBody(exchange);
    const key = `${docId}\t${createHash('sha256').update(decoded).digest('hex')}`;
    const known = byKey.get(key);
    if (known) {
      known.statuses.push(exchange.status);
      continue;
    }
    const agent = [exchange.headers['x-telemetry-agent'], exchange.headers['x-pingsender-version'] && `pingsender/${exchange.headers['x-pingsender-version']}`, exchange.headers['user-agent']].find(
      (value) => value !== undefined && value !== '',
    );
    byKey.set(key, {
      form: telemetry ? 'telemetry' : 'generic',
      namespace: parts[0] ?? '',
      docType: (telemetry ? parts[2] : parts[1]) ?? '(none)',
      docVersion: telemetry ? (new URLSearchParams(exchange.url.split('?')[1] ?? '').get('v') ?? '') : (parts[2] ?? ''),
      docId,
      key,
      decoded,
      statuses: [exchange.status],
      agent: agent ?? '',
    });
  }
  return { documents: [...byKey.values()], other };
}

/** `<docId>\t<json>` lines of storage or the error store. */
export function keptRecords(lines: readonly { file: string; line: string }[]): KeptRecord[] {
  return lines.map(({ file, line }) => {
    const tab = line.indexOf('\t');
    return { docId: tab < 0 ? line : line.slice(0, tab), file, json: tab < 0 ? '' : line.slice(tab + 1) };
  });
}

export interface Reconciliation {
  /** Documents answered 200 at least once. */
  readonly accepted: SentDocument[];
  /** Documents never answered 200 (their statuses say what they got). */
  readonly refused: SentDocument[];
  /** Per accepted docId: documents answered 200 with it, records kept with it, the error types among them. */
  readonly byDocId: Map<string, { documents: SentDocument[]; stored: KeptRecord[]; errors: KeptRecord[] }>;
  /** docIds answered 200 whose record count is not their document count (missing or duplicated). */
  readonly mismatched: { docId: string; documents: number; stored: number; errors: number }[];
  /** Records of docIds no accepted document has (not from this Firefox, or answered something else). */
  readonly strays: KeptRecord[];
}

export function reconcile(documents: readonly SentDocument[], stored: readonly KeptRecord[], errors: readonly KeptRecord[]): Reconciliation {
  const accepted = documents.filter((document) => document.statuses.includes(200));
  const refused = documents.filter((document) => !document.statuses.includes(200));
  const byDocId = new Map<string, { documents: SentDocument[]; stored: KeptRecord[]; errors: KeptRecord[] }>();
  for (const document of accepted) {
    const entry = byDocId.get(document.docId) ?? { documents: [], stored: [], errors: [] };
    entry.documents.push(document);
    byDocId.set(document.docId, entry);
  }
  const strays: KeptRecord[] = [];
  for (const [records, field] of [
    [stored, 'stored'],
    [errors, 'errors'],
  ] as const) {
    for (const record of records) {
      const entry = byDocId.get(record.docId);
      if (entry) entry[field].push(record);
      else strays.push(record);
    }
  }
  const mismatched = [...byDocId]
    .filter(([, entry]) => entry.stored.length + entry.errors.length !== entry.documents.length)
    .map(([docId, entry]) => ({ docId, documents: entry.documents.length, stored: entry.stored.length, errors: entry.errors.length }));
  return { accepted, refused, byDocId, mismatched, strays };
}

/** The error type of an error-store record: its directory (`<type>/<date>.<writer>.log`). */
export function errorType(record: KeptRecord): string {
  return record.file.split('/', 1)[0] ?? '';
}
