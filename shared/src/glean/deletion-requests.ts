/**
 * The client ids that asked for their data to be deleted: Glean sends a
 * `deletion-request` ping (with `client_info.client_id`) when a user turns
 * data upload off. Those pings are stored like every document; this reads
 * them back from the generic layout, so the list is exactly what storage
 * holds (deduplicated, durable) and needs no second write path:
 *
 *   STORAGE_DIR/generic-pings/<namespace>/deletion_request/<docVersion>/<channel>/<version>.<date>.v2.<writer>[.<seq>].log[.gz|.zst|.xz]
 *
 * Only those directories are read (deletion requests are a sliver of the
 * data). Namespaces are as stored, i.e. sanitised (`firefox-desktop` is the
 * directory `firefox_desktop`).
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { sanitizeDimensionValue } from '../dimensions/sanitize.js';
import { GENERIC_LAYOUT_DIR, parseStorageFileName } from '../dimensions/storage-path.js';
import { parseRecordLine, readRecordLines, type ReadCounters } from '../storage/reader.js';
import { DELETION_REQUEST_DOC_TYPE } from './generic-schema.js';

/** One client's deletion requests in one namespace. */
export interface DeletionRequest {
  readonly clientId: string;
  /** As stored (sanitised). */
  readonly namespace: string;
  /** Submission dates (YYYYMMDD, UTC) of its first and last request. */
  readonly firstDate: string;
  readonly lastDate: string;
  /** Distinct documents (docIds). */
  readonly requests: number;
}

export interface DeletionRequestScan {
  /** Sorted by client id, then namespace. */
  readonly clients: DeletionRequest[];
  /** Stored deletion-request pings without a string `client_info.client_id` (nothing to delete by). */
  readonly withoutClientId: number;
  readonly files: number;
  readonly tornLines: number;
}

/** The client id of a stored Glean ping's JSON, or undefined (not JSON, no string `client_info.client_id`). */
export function clientIdOf(json: string): string | undefined {
  let ping: unknown;
  try {
    ping = JSON.parse(json);
  } catch {
    return undefined;
  }
  const clientInfo = typeof ping === 'object' && ping !== null ? (ping as { client_info?: unknown }).client_info : undefined;
  const clientId = typeof clientInfo === 'object' && clientInfo !== null ? (clientInfo as { client_id?: unknown }).client_id : undefined;
  // A client id goes into a tab-separated line: control characters would break it.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  return typeof clientId === 'string' && clientId !== '' ? clientId.replace(/[\u0000-\u001f\u007f]/g, '_') : undefined;
}

interface Accumulated {
  clientId: string;
  namespace: string;
  firstDate: string;
  lastDate: string;
  docIds: Set<string>;
}

/** Reads every stored deletion-request ping (of one namespace, as sent, when given). */
export async function listDeletionRequests(storageDir: string, options: { namespace?: string } = {}): Promise<DeletionRequestScan> {
  const root = path.join(storageDir, GENERIC_LAYOUT_DIR);
  const namespaces = options.namespace === undefined ? await subdirectories(root) : [sanitizeDimensionValue(options.namespace)];
  const byClient = new Map<string, Accumulated>();
  const counters: ReadCounters = { tornLines: 0 };
  let withoutClientId = 0;
  let files = 0;
  for (const namespace of namespaces) {
    for (const { file, date } of await recordFiles(path.join(root, namespace, sanitizeDimensionValue(DELETION_REQUEST_DOC_TYPE)))) {
      files += 1;
      for await (const line of readRecordLines(file, counters)) {
        const record = parseRecordLine(line);
        const clientId = record && clientIdOf(record.json);
        if (record === undefined || clientId === undefined) {
          withoutClientId += 1;
          continue;
        }
        const key = `${namespace}\t${clientId}`;
        const seen = byClient.get(key);
        if (seen) {
          if (date < seen.firstDate) seen.firstDate = date;
          if (date > seen.lastDate) seen.lastDate = date;
          seen.docIds.add(record.docId);
        } else {
          byClient.set(key, { clientId, namespace, firstDate: date, lastDate: date, docIds: new Set([record.docId]) });
        }
      }
    }
  }
  const clients = [...byClient.values()]
    .map(({ docIds, ...rest }) => ({ ...rest, requests: docIds.size }))
    .sort((a, b) => compare(a.clientId, b.clientId) || compare(a.namespace, b.namespace));
  return { clients, withoutClientId, files, tornLines: counters.tornLines };
}

/** `clientId  namespace  firstDate  lastDate  requests`, tab-separated, one line per client and namespace. */
export function formatDeletionRequest(request: DeletionRequest): string {
  return `${request.clientId}\t${request.namespace}\t${request.firstDate}\t${request.lastDate}\t${request.requests}\n`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    // No generic pings yet, or none of this namespace or docType: nothing to list.
    if ((error as { code?: unknown }).code === 'ENOENT') return [];
    throw error;
  }
}

async function subdirectories(dir: string): Promise<string[]> {
  return (await entriesOf(dir)).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
}

/** The storage files under a docType directory (docVersion/channel/<files>), with their submission date. */
async function recordFiles(docTypeDir: string): Promise<{ file: string; date: string }[]> {
  const out: { file: string; date: string }[] = [];
  for (const docVersion of await subdirectories(docTypeDir)) {
    for (const channel of await subdirectories(path.join(docTypeDir, docVersion))) {
      const dir = path.join(docTypeDir, docVersion, channel);
      for (const entry of await entriesOf(dir)) {
        // Temp files of an unfinished compression and strays are not storage file names.
        const name = entry.isFile() ? parseStorageFileName(entry.name) : undefined;
        if (name) out.push({ file: path.join(dir, entry.name), date: name.dims[1] });
      }
    }
  }
  return out.sort((a, b) => compare(a.file, b.file));
}
