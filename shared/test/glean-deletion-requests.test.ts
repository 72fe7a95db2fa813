/**
 * `telemetry deletion-requests list` reads the stored deletion-request pings:
 * written here by the real PartitionedWriter (rotated, gzip-compressed and
 * still-open files), in the generic layout, through convertGenericDecoded.
 */
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_GENERIC_SCHEMA_FILE } from '../src/config/domain.js';
import { convertGenericDecoded } from '../src/glean/convert-glean.js';
import { clientIdOf, formatDeletionRequest, listDeletionRequests } from '../src/glean/deletion-requests.js';
import { GenericSchemas } from '../src/glean/generic-schema.js';
import { PartitionedWriter } from '../src/storage/writer.js';
import { baselinePing, deletionRequestPing } from '../../test/support/glean.js';

const DAY_1 = Date.UTC(2026, 0, 15, 10);
const DAY_2 = Date.UTC(2026, 0, 17, 23, 59);
const CLIENT_A = 'a0000000-0000-4000-8000-00000000000a';
const CLIENT_B = 'b0000000-0000-4000-8000-00000000000b';

let root: string;
let schemas: GenericSchemas;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'deletion-requests-'));
  schemas = await GenericSchemas.load(DEFAULT_GENERIC_SCHEMA_FILE);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function record(docId: string, namespace: string, docType: string, ping: unknown, receivedAtMs: number) {
  const converted = convertGenericDecoded({ docId, receivedAtMs, generic: { namespace, docType, docVersion: '1' } }, Buffer.from(JSON.stringify(ping)), schemas);
  return { dir: converted.dir, fileStem: converted.fileStem, line: `${converted.docId}\t${converted.json}` };
}

describe('listDeletionRequests', () => {
  it('lists each client once per namespace with its first and last date, from finished, compressed and open files alike', async () => {
    const writer = new PartitionedWriter({ rootDir: root, writerId: 'w1', maxFileBytes: 1 << 20, maxFileAgeMs: 60_000, compression: 'gzip' });
    await writer.appendBatch([
      record('d1', 'firefox-desktop', 'deletion-request', deletionRequestPing(CLIENT_B), DAY_1),
      record('d2', 'firefox-desktop', 'deletion-request', deletionRequestPing(CLIENT_A, { channel: 'release', displayVersion: '154.0' }), DAY_1),
      // Not deletion requests: never listed.
      record('b1', 'firefox-desktop', 'baseline', baselinePing({ clientId: 'c0000000-0000-4000-8000-00000000000c' }), DAY_1),
    ]);
    await writer.close(); // finished and gzip-compressed
    const second = new PartitionedWriter({ rootDir: root, writerId: 'w2', maxFileBytes: 1 << 20, maxFileAgeMs: 60_000, compression: 'none' });
    await second.appendBatch([
      record('d3', 'firefox-desktop', 'deletion-request', deletionRequestPing(CLIENT_A), DAY_2),
      // A copy of d3 (a redelivery written in the crash window): one document, counted once.
      record('d3', 'firefox-desktop', 'deletion-request', deletionRequestPing(CLIENT_A), DAY_2),
      record('d4', 'org-mozilla-fenix', 'deletion-request', deletionRequestPing(CLIENT_A, { channel: 'nightly' }), DAY_2),
      record('d5', 'org-mozilla-fenix', 'deletion-request', { ping_info: {}, client_info: {} }, DAY_2),
    ]); // left open, as a running worker's file is

    const scan = await listDeletionRequests(root);
    expect(scan.clients).toEqual([
      { clientId: CLIENT_A, namespace: 'firefox_desktop', firstDate: '20260115', lastDate: '20260117', requests: 2 },
      { clientId: CLIENT_A, namespace: 'org_mozilla_fenix', firstDate: '20260117', lastDate: '20260117', requests: 1 },
      { clientId: CLIENT_B, namespace: 'firefox_desktop', firstDate: '20260115', lastDate: '20260115', requests: 1 },
    ]);
    expect(scan.withoutClientId).toBe(1);
    expect(scan.files).toBe(5);
    expect(scan.clients.map(formatDeletionRequest)[0]).toBe(`${CLIENT_A}\tfirefox_desktop\t20260115\t20260117\t2\n`);

    expect((await listDeletionRequests(root, { namespace: 'org-mozilla-fenix' })).clients.map((c) => c.clientId)).toEqual([CLIENT_A]);
    expect((await listDeletionRequests(root, { namespace: 'org-mozilla-focus' })).clients).toEqual([]);
    await second.close();
  });

  it('skips and counts a torn last line, and finds nothing (no error) where there is no generic storage yet', async () => {
    expect(await listDeletionRequests(path.join(root, 'absent'))).toEqual({ clients: [], withoutClientId: 0, files: 0, tornLines: 0 });
    const writer = new PartitionedWriter({ rootDir: root, writerId: 'w1', maxFileBytes: 1 << 20, maxFileAgeMs: 60_000, compression: 'none' });
    const entry = record('d1', 'firefox-desktop', 'deletion-request', deletionRequestPing(CLIENT_A), DAY_1);
    await writer.appendBatch([entry]);
    await appendFile(path.join(root, entry.dir, `${entry.fileStem}.w1.log`), `d2\t{"ping_info":{},"client_info":{"client_id":"${CLIENT_B}"`);
    const scan = await listDeletionRequests(root);
    expect(scan.clients.map((c) => c.clientId)).toEqual([CLIENT_A]);
    expect(scan.tornLines).toBe(1);
    await writer.close();
  });
});

describe('clientIdOf', () => {
  it('reads client_info.client_id, and nothing else', () => {
    expect(clientIdOf(JSON.stringify(deletionRequestPing(CLIENT_A)))).toBe(CLIENT_A);
    expect(clientIdOf('{"client_info":{"client_id":"a\\tb\\nc"}}')).toBe('a_b_c');
    for (const json of ['{', '[]', '{"client_info":{}}', '{"client_info":{"client_id":7}}', '{"client_info":{"client_id":""}}', '{"client_id":"x"}']) {
      expect(clientIdOf(json), json).toBeUndefined();
    }
  });
});
