/**
 * The decode stage on generic-form submissions: a form the gateway would have
 * refused (a message not written by it) is `invalid_path` before anything
 * becomes a directory name; a good one decodes and is keyed like every
 * document (docId + decoded body).
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import { contentDigest } from '@telemetry/shared/conversion/submission';
import { formatErrorLine, parseErrorLine } from '@telemetry/shared/storage/error-store';
import { decodeStage } from '../src/stages/decode.js';

const DOC_ID = '8f2bb6a4-5b7e-4d8c-9a1e-2f6c3d4b5a69';
const BODY = '{"ping_info":{},"client_info":{}}';

function glean(overrides: Partial<Submission> = {}): Submission {
  const body = gzipSync(BODY);
  return {
    docId: DOC_ID,
    path: `firefox-desktop/baseline/1/${DOC_ID}`,
    generic: { namespace: 'firefox-desktop', docType: 'baseline', docVersion: '1' },
    receivedAtMs: Date.UTC(2026, 0, 15),
    contentEncoding: 'gzip',
    clientHeaders: {},
    body,
    bodyBytes: body.length,
    ...overrides,
  };
}

describe('decodeStage, generic form', () => {
  it('decodes a Glean ping and keys it by docId and decoded body', () => {
    const outcome = decodeStage(glean(), 1 << 20);
    expect(outcome).toEqual({ kind: 'decoded', key: contentDigest(DOC_ID, Buffer.from(BODY)), bytes: Buffer.from(BODY) });
  });

  it.each([
    ['a namespace that is not one', { namespace: '../etc', docType: 'baseline', docVersion: '1' }, DOC_ID, 'namespace'],
    ['telemetry as its namespace', { namespace: 'telemetry', docType: 'baseline', docVersion: '1' }, DOC_ID, 'namespace'],
    ['a bad docType', { namespace: 'firefox-desktop', docType: '..', docVersion: '1' }, DOC_ID, 'docType'],
    ['a bad docVersion', { namespace: 'firefox-desktop', docType: 'baseline', docVersion: '1/2' }, DOC_ID, 'docVersion'],
    ['a docId that is no UUID', { namespace: 'firefox-desktop', docType: 'baseline', docVersion: '1' }, 'abc', 'UUID'],
  ])('files %s as invalid_path, with the form in the error record', (_name, generic, docId, word) => {
    const outcome = decodeStage(glean({ generic, docId }), 1 << 20);
    if (outcome.kind !== 'file') throw new Error(`expected file, got ${outcome.kind}`);
    expect(outcome.entry.type).toBe('invalid_path');
    expect(outcome.entry.message).toContain(word);
    expect(outcome.key).toBeUndefined();
    const parsed = parseErrorLine(formatErrorLine(outcome.entry));
    expect(parsed?.record).toMatchObject({ type: 'invalid_path', path: `firefox-desktop/baseline/1/${DOC_ID}`, namespace: generic.namespace, docType: generic.docType, docVersion: generic.docVersion });
  });
});
