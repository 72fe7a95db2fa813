import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FORWARDED_HEADERS,
  MalformedMessageError,
  URL_DIMENSION_FIELDS,
  WIRE_CONTENT_TYPE,
  batchPublishOptions,
  decodeBatch,
  decodeMessage,
  encodeBatch,
  encodeBothViews,
  urlDimensionsFromPath,
  type Submission,
} from '../src/amqp/wire-codec.js';

const MAGIC = Buffer.from([0x54, 0x4c, 0x42, 0x01]);
const RECEIVED = Date.UTC(2013, 8, 10, 6, 38, 12);
const PATH_6 = 'c0ffee00-1111-2222-3333-444455556666/idle-daily/Firefox/23.0.1/release/20130814063812';

/** Bytes that are not UTF-8 (lone continuation, overlong, 0xff) with NULs and gzip magic among them. */
const HOSTILE_BODY = Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0x00, 0x1f, 0x8b, 0xc0, 0xaf, 0x00]);

const fullSubmission: Submission = {
  docId: 'c0ffee00-1111-2222-3333-444455556666',
  path: PATH_6,
  urlDimensions: urlDimensionsFromPath(PATH_6),
  receivedAtMs: RECEIVED,
  contentEncoding: 'gzip',
  clientHeaders: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', dnt: '1', 'x-pingsender-version': '1.0', date: 'Tue, 10 Sep 2013 06:38:12 GMT' },
  clientIp: '203.0.113.7',
  query: 'v=4&x=%00&é=1',
  body: HOSTILE_BODY,
  bodyBytes: HOSTILE_BODY.length,
};

const bareSubmission: Submission = {
  docId: 'bare-1',
  path: 'bare-1',
  receivedAtMs: RECEIVED + 1,
  clientHeaders: {},
  body: Buffer.from('{"ver":1}'),
  bodyBytes: 9,
};

const emptyBodySubmission: Submission = {
  docId: 'empty-body',
  path: 'empty-body/saved-session/Fennec/24.0/beta/20130901000000',
  urlDimensions: { reason: 'saved-session', appName: 'Fennec', appVersion: '24.0', appUpdateChannel: 'beta', appBuildID: '20130901000000' },
  receivedAtMs: 0,
  clientHeaders: { 'x-debug-id': 'tab\tand\nnewline' },
  query: '',
  body: Buffer.alloc(0),
  bodyBytes: 0,
};

/** Frames raw metadata and bodies exactly like encodeBatch, to build what the encoder never writes. */
function frame(parts: readonly { meta: string; body?: Buffer }[], count = parts.length): Buffer {
  const chunks: Buffer[] = [MAGIC, u32(count)];
  for (const { meta, body = Buffer.alloc(0) } of parts) {
    const metaBytes = Buffer.from(meta, 'utf8');
    chunks.push(u32(metaBytes.length), metaBytes, u32(body.length), body);
  }
  return Buffer.concat(chunks);
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value, 0);
  return out;
}

function malformed(content: Buffer): unknown {
  try {
    decodeBatch(content);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('wire codec v1 batches', () => {
  it('round-trips several submissions with every optional field present or absent', () => {
    const submissions = [fullSubmission, bareSubmission, emptyBodySubmission];
    const decoded = decodeBatch(encodeBatch(submissions));
    expect(decoded.invalid).toEqual([]);
    expect(decoded.submissions).toEqual(submissions);
    const [full, bare, empty] = decoded.submissions;
    expect(full?.body.equals(HOSTILE_BODY)).toBe(true);
    expect(full?.urlDimensions).toEqual({ reason: 'idle-daily', appName: 'Firefox', appVersion: '23.0.1', appUpdateChannel: 'release', appBuildID: '20130814063812' });
    expect(bare?.urlDimensions).toBeUndefined();
    expect(bare?.contentEncoding).toBeUndefined();
    expect(bare?.clientIp).toBeUndefined();
    expect(bare?.query).toBeUndefined();
    expect(empty?.query).toBe('');
    expect(empty?.clientHeaders['x-debug-id']).toBe('tab\tand\nnewline');
  });

  it('keeps the order of the submissions', () => {
    const submissions = Array.from({ length: 20 }, (_, i): Submission => ({ ...bareSubmission, docId: `doc-${i}`, body: Buffer.from([i, 0, 255 - i]), bodyBytes: 3 }));
    expect(decodeBatch(encodeBatch(submissions)).submissions.map((s) => s.docId)).toEqual(submissions.map((s) => s.docId));
  });

  it('writes and reads an empty batch', () => {
    const content = encodeBatch([]);
    expect(content.length).toBe(8);
    expect(decodeBatch(content)).toEqual({ submissions: [], invalid: [] });
  });

  it('drops header values that are undefined and headers that are not forwarded', () => {
    const withUndefined: Submission = { ...bareSubmission, clientHeaders: { dnt: undefined, 'user-agent': 'UA' } };
    const [decoded] = decodeBatch(encodeBatch([withUndefined])).submissions;
    expect(decoded?.clientHeaders).toStrictEqual({ 'user-agent': 'UA' });

    const foreign = frame([{ meta: JSON.stringify({ id: 'x', p: 'x', t: 1, n: 0, h: { 'user-agent': 'UA', cookie: 'secret', dnt: 5 } }) }]);
    expect(decodeBatch(foreign).submissions[0]?.clientHeaders).toStrictEqual({ 'user-agent': 'UA' });
  });

  it('the stats view carries the metadata and bodyBytes but no bodies', () => {
    const submissions = [fullSubmission, bareSubmission, emptyBodySubmission];
    const stats = encodeBatch(submissions, 'stats');
    const full = encodeBatch(submissions, 'full');
    expect(stats.length).toBe(full.length - HOSTILE_BODY.length - bareSubmission.body.length);
    const decoded = decodeBatch(stats);
    expect(decoded.invalid).toEqual([]);
    expect(decoded.submissions.map((s) => s.body.length)).toEqual([0, 0, 0]);
    expect(decoded.submissions.map((s) => s.bodyBytes)).toEqual([HOSTILE_BODY.length, 9, 0]);
    expect(decoded.submissions).toEqual(submissions.map((s) => ({ ...s, body: Buffer.alloc(0) })));
  });

  it('decoded bodies are views into the message content, not copies', () => {
    const content = encodeBatch([fullSubmission, bareSubmission]);
    const [first, second] = decodeBatch(content).submissions;
    for (const submission of [first, second]) {
      expect(submission?.body.buffer).toBe(content.buffer);
      expect(submission!.body.byteOffset).toBeGreaterThanOrEqual(content.byteOffset);
      expect(submission!.body.byteOffset + submission!.body.length).toBeLessThanOrEqual(content.byteOffset + content.length);
    }
    // Writing through the message shows in the view.
    const at = first!.body.byteOffset - content.byteOffset;
    content[at] = 0x42;
    expect(first?.body[0]).toBe(0x42);
  });

  describe('broken framing throws MalformedMessageError', () => {
    const good = encodeBatch([fullSubmission, bareSubmission]);

    it('every truncation of a good batch', () => {
      for (let length = 0; length < good.length; length += 1) {
        const error = malformed(good.subarray(0, length));
        expect(error, `prefix of ${length} bytes`).toBeInstanceOf(MalformedMessageError);
      }
    });

    it('trailing bytes after the last submission', () => {
      const error = malformed(Buffer.concat([good, Buffer.from([0])]));
      expect(error).toBeInstanceOf(MalformedMessageError);
      expect((error as Error).message).toMatch(/1 trailing bytes/);
      expect(malformed(Buffer.concat([good, good]))).toBeInstanceOf(MalformedMessageError);
    });

    it('a wrong magic or version', () => {
      for (const bad of [Buffer.from('TLB\x02', 'latin1'), Buffer.from('XLB\x01', 'latin1'), Buffer.from('{"a":1}')]) {
        const content = Buffer.concat([bad, good.subarray(4)]);
        expect(malformed(content)).toBeInstanceOf(MalformedMessageError);
      }
    });

    it('a count larger or smaller than the submissions', () => {
      const more = Buffer.from(good);
      more.writeUInt32BE(3, 4);
      expect(malformed(more)).toBeInstanceOf(MalformedMessageError);
      const huge = Buffer.from(good);
      huge.writeUInt32BE(0xffffffff, 4);
      expect(malformed(huge)).toBeInstanceOf(MalformedMessageError);
      const fewer = Buffer.from(good);
      fewer.writeUInt32BE(1, 4);
      expect(malformed(fewer)).toBeInstanceOf(MalformedMessageError);
    });

    it('a length that runs past the end', () => {
      const metaLength = Buffer.from(good);
      metaLength.writeUInt32BE(good.length, 8);
      expect(malformed(metaLength)).toBeInstanceOf(MalformedMessageError);
      const bodyLength = Buffer.from(good);
      const firstMeta = good.readUInt32BE(8);
      bodyLength.writeUInt32BE(0xfffffff0, 12 + firstMeta);
      expect(malformed(bodyLength)).toBeInstanceOf(MalformedMessageError);
    });

    it('random bytes after the magic never throw anything else', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
          const content = Buffer.concat([MAGIC, Buffer.from(tail)]);
          try {
            const decoded = decodeBatch(content);
            expect(decoded.submissions.length + decoded.invalid.length).toBe(content.readUInt32BE(4));
          } catch (error) {
            expect(error).toBeInstanceOf(MalformedMessageError);
          }
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('metadata that is not the gateway’s lands in invalid with a reason', () => {
    const body = Buffer.from([0, 1, 2, 0xff]);

    it.each([
      ['no docId', { p: 'x', t: RECEIVED, n: 4 }, /no docId/],
      ['an empty docId', { id: '', p: 'x', t: RECEIVED, n: 4 }, /no docId/],
      ['a docId that is not a string', { id: 42, p: 'x', t: RECEIVED, n: 4 }, /no docId/],
      ['no path', { id: 'doc-1', t: RECEIVED, n: 4 }, /no path/],
      ['a path that is not a string', { id: 'doc-1', p: ['x'], t: RECEIVED, n: 4 }, /no path/],
      ['no receive time', { id: 'doc-1', p: 'doc-1', n: 4 }, /no receive time/],
      ['a receive time that is a string', { id: 'doc-1', p: 'doc-1', t: '1378795092000', n: 4 }, /no receive time/],
    ])('%s', (_label, meta, reason) => {
      const decoded = decodeBatch(frame([{ meta: JSON.stringify(meta), body }, { meta: JSON.stringify({ id: 'ok', p: 'ok', t: 1, n: 0 }) }]));
      expect(decoded.submissions.map((s) => s.docId)).toEqual(['ok']);
      expect(decoded.invalid).toHaveLength(1);
      const [invalid] = decoded.invalid;
      expect(invalid?.reason).toMatch(reason);
      expect(invalid?.submission.body.equals(body)).toBe(true);
      // Filed with a receive time the error store can place.
      expect(Number.isFinite(invalid?.submission.receivedAtMs)).toBe(true);
    });

    it('an empty path is a path', () => {
      const decoded = decodeBatch(frame([{ meta: JSON.stringify({ id: 'doc-1', p: '', t: 5, n: 0 }) }]));
      expect(decoded.invalid).toEqual([]);
      expect(decoded.submissions[0]?.path).toBe('');
    });

    it('keeps the receive time of an invalid submission that had one', () => {
      const decoded = decodeBatch(frame([{ meta: JSON.stringify({ p: 'x', t: 1234, n: 0 }) }]));
      expect(decoded.invalid[0]?.submission.receivedAtMs).toBe(1234);
    });

    it.each([['not JSON at all', '{"id": "x", '], ['invalid UTF-8', '\uFFFD\uFFFD'], ['empty', ''], ['null', 'null'], ['a number', '5'], ['a string', '"doc-1"'], ['an array', '["doc-1"]']])(
      'metadata that is %s',
      (_label, meta) => {
        const decoded = decodeBatch(frame([{ meta, body }]));
        expect(decoded.submissions).toEqual([]);
        expect(decoded.invalid).toHaveLength(1);
        expect(decoded.invalid[0]?.reason).toMatch(/no docId/);
        expect(decoded.invalid[0]?.submission.bodyBytes).toBe(body.length);
      },
    );

    it('odd optional fields are dropped rather than kept odd', () => {
      const meta = { id: 'doc-1', p: 'doc-1', t: 1, d: ['a', 'b'], e: 7, ip: null, q: false, h: 'dnt' };
      const [submission] = decodeBatch(frame([{ meta: JSON.stringify(meta), body }])).submissions;
      expect(submission).toBeDefined();
      expect(submission?.urlDimensions).toBeUndefined();
      expect(submission?.contentEncoding).toBeUndefined();
      expect(submission?.clientIp).toBeUndefined();
      expect(submission?.query).toBeUndefined();
      expect(submission?.clientHeaders).toStrictEqual({});
      expect(submission?.bodyBytes).toBe(body.length);
    });
  });

  describe('fast-check round trips', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const dimensions = fc.record(Object.fromEntries(URL_DIMENSION_FIELDS.map((field) => [field, text])) as Record<(typeof URL_DIMENSION_FIELDS)[number], typeof text>);
    const headers = fc.dictionary(fc.constantFrom(...FORWARDED_HEADERS), text);
    const time = fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((t) => !Object.is(t, -0)));
    const submission: fc.Arbitrary<Submission> = fc
      .record({
        docId: text.filter((s) => s !== ''),
        path: text,
        urlDimensions: fc.option(dimensions, { nil: undefined }),
        generic: fc.option(fc.record({ namespace: text, docType: text, docVersion: text }), { nil: undefined }),
        receivedAtMs: time,
        method: fc.option(text, { nil: undefined }),
        contentEncoding: fc.option(text, { nil: undefined }),
        clientHeaders: headers,
        clientIp: fc.option(text, { nil: undefined }),
        query: fc.option(text, { nil: undefined }),
        body: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      })
      .map((s) => ({ ...s, bodyBytes: s.body.length }));

    it('decode(encode(submissions)) is the submissions, in both views', () => {
      fc.assert(
        fc.property(fc.array(submission, { maxLength: 8 }), (submissions) => {
          const full = decodeBatch(encodeBatch(submissions, 'full'));
          expect(full.invalid).toEqual([]);
          expect(full.submissions).toEqual(submissions);
          const stats = decodeBatch(encodeBatch(submissions, 'stats'));
          expect(stats.invalid).toEqual([]);
          expect(stats.submissions).toEqual(submissions.map((s) => ({ ...s, body: Buffer.alloc(0) })));
          // Through decodeMessage too, recognised by the content type or by the magic alone.
          const content = encodeBatch(submissions);
          expect(decodeMessage({ content, properties: { headers: {}, messageId: 'm', contentEncoding: undefined, contentType: WIRE_CONTENT_TYPE } }).submissions).toEqual(submissions);
          expect(decodeMessage({ content, properties: { headers: undefined, messageId: undefined, contentEncoding: undefined, contentType: undefined } }).submissions).toEqual(submissions);
        }),
        { numRuns: 300 },
      );
    });
  });

  it('batchPublishOptions marks the message as a persistent v1 batch', () => {
    const options = batchPublishOptions('batch-1', 1_378_795_092_999, { 'x-retry': 2 });
    expect(options).toMatchObject({ persistent: true, messageId: 'batch-1', timestamp: 1_378_795_092, contentType: WIRE_CONTENT_TYPE, type: 'telemetry.batch.v1', headers: { 'x-retry': 2 } });
  });
});

describe('encodeBothViews (the gateway: metadata serialised once for both queues)', () => {
  it('gives exactly the full and the stats messages encodeBatch gives', () => {
    const submissions = [fullSubmission, bareSubmission, { ...fullSubmission, docId: 'other', body: Buffer.from('{}'), bodyBytes: 2 }];
    const { full, stats } = encodeBothViews(submissions);
    expect(full.equals(encodeBatch(submissions, 'full'))).toBe(true);
    expect(stats.equals(encodeBatch(submissions, 'stats'))).toBe(true);
    expect(decodeBatch(stats).submissions.map((s) => [s.docId, s.body.length, s.bodyBytes])).toEqual(submissions.map((s) => [s.docId, 0, s.bodyBytes]));
  });
});

describe('legacy one-submission-per-message format', () => {
  const body = Buffer.from([0x1f, 0x8b, 0x00, 0xff, 0xc3, 0x28]);
  /** A message of the earlier format; `messageId` and `contentEncoding` may be passed as undefined explicitly. */
  const legacy = (headers: Record<string, unknown> | undefined, ...rest: [messageId?: unknown, contentEncoding?: unknown]) => ({
    content: body,
    properties: { headers, messageId: rest.length > 0 ? rest[0] : fullSubmission.docId, contentEncoding: rest.length > 1 ? rest[1] : 'gzip', contentType: undefined },
  });

  it('decodes to one submission with the fields of its headers', () => {
    const decoded = decodeMessage(
      legacy({
        path: PATH_6,
        receivedAtMs: RECEIVED,
        'h-user-agent': 'Mozilla/5.0 (X11; Linux x86_64)',
        'h-dnt': '1',
        'h-x-pingsender-version': Buffer.from('1.0'),
        'h-cookie': 'not forwarded',
        clientIp: '203.0.113.7',
        'x-delivery-count': 1,
      }),
    );
    expect(decoded.invalid).toEqual([]);
    expect(decoded.submissions).toHaveLength(1);
    expect(decoded.submissions[0]).toEqual({
      docId: fullSubmission.docId,
      path: PATH_6,
      urlDimensions: urlDimensionsFromPath(PATH_6),
      receivedAtMs: RECEIVED,
      contentEncoding: 'gzip',
      clientHeaders: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', dnt: '1', 'x-pingsender-version': '1.0' },
      clientIp: '203.0.113.7',
      body,
      bodyBytes: body.length,
    });
    expect(decoded.submissions[0]?.body).toBe(body);
  });

  it('reads a receive time sent as a string, and a path without dimensions', () => {
    const [submission] = decodeMessage(legacy({ path: 'just-a-doc-id', receivedAtMs: String(RECEIVED) }, Buffer.from('just-a-doc-id'), undefined)).submissions;
    expect(submission?.docId).toBe('just-a-doc-id');
    expect(submission?.receivedAtMs).toBe(RECEIVED);
    expect(submission?.urlDimensions).toBeUndefined();
    expect(submission?.contentEncoding).toBeUndefined();
    expect(submission?.clientHeaders).toStrictEqual({});
  });

  it('round-trips through the batch format with the same fields', () => {
    const [fromLegacy] = decodeMessage(legacy({ path: PATH_6, receivedAtMs: RECEIVED, 'h-dnt': '1', clientIp: '::1' })).submissions;
    expect(fromLegacy).toBeDefined();
    expect(decodeBatch(encodeBatch([fromLegacy!])).submissions).toEqual([fromLegacy]);
  });

  it.each([
    ['no messageId', legacy({ path: PATH_6, receivedAtMs: RECEIVED }, undefined), /no messageId/],
    ['an empty messageId', legacy({ path: PATH_6, receivedAtMs: RECEIVED }, ''), /no messageId/],
    ['no path header', legacy({ receivedAtMs: RECEIVED }), /no path/],
    ['no headers at all', legacy(undefined), /no path/],
    ['no receivedAtMs header', legacy({ path: PATH_6 }), /no receivedAtMs/],
    ['a receivedAtMs that is not a number', legacy({ path: PATH_6, receivedAtMs: 'yesterday' }), /no receivedAtMs/],
  ])('a message with %s lands in invalid', (_label, message, reason) => {
    const decoded = decodeMessage(message);
    expect(decoded.submissions).toEqual([]);
    expect(decoded.invalid).toHaveLength(1);
    expect(decoded.invalid[0]?.reason).toMatch(reason);
    expect(decoded.invalid[0]?.submission.body).toBe(body);
    expect(Number.isFinite(decoded.invalid[0]?.submission.receivedAtMs)).toBe(true);
  });
});

describe('urlDimensionsFromPath', () => {
  it('reads the five dimensions of a six-component path', () => {
    expect(urlDimensionsFromPath('id/saved-session/Fennec/24.0/beta/20130901000000')).toEqual({
      reason: 'saved-session',
      appName: 'Fennec',
      appVersion: '24.0',
      appUpdateChannel: 'beta',
      appBuildID: '20130901000000',
    });
    expect(urlDimensionsFromPath('id/////')).toEqual({ reason: '', appName: '', appVersion: '', appUpdateChannel: '', appBuildID: '' });
  });

  it.each(['id', 'id/a/b/c/d', 'id/a/b/c/d/e/f', ''])('has none for %j', (path) => {
    expect(urlDimensionsFromPath(path)).toBeUndefined();
  });
});
