/**
 * The wire codec: the only writer and reader of the messages on the broker
 * (SPEC 3). The gateway frames the submissions it accepts within a few
 * milliseconds into ONE message (the broker's cost is per message, not per
 * byte); the workers, the stats consumer and the CLI read them back here.
 *
 * Format v1 (content type `application/vnd.telemetry.batch`, AMQP `type`
 * `telemetry.batch.v1`), all integers unsigned 32-bit big-endian:
 *
 *   "TLB" 0x01 | count | count × ( metaLength | meta (UTF-8 JSON) | bodyLength | body )
 *
 * `meta` is a {@link WireMeta}: docId, the path as sent, the URL dimensions
 * (telemetry form) or the generic form's namespace, docType and docVersion,
 * receive time, method, content encoding, forwarded headers, query string,
 * client IP, body size.
 * The persist queue gets the bodies; the stats queue gets the same framing
 * with empty bodies (stats counts metadata only, so a flood of big bodies
 * cannot fill the broker's disk through the stats queue).
 *
 * Messages of the earlier format (one submission per message, metadata in
 * AMQP headers; still in dead-letter queues after an upgrade) are read too.
 */
import type { MessageProperties, Options } from 'amqplib';
import type { GenericForm } from '../generic-form.js';

/** Dimension fields of the 6-component URL form, in URL order (SPEC 2). */
export const URL_DIMENSION_FIELDS = ['reason', 'appName', 'appVersion', 'appUpdateChannel', 'appBuildID'] as const;
export type UrlDimensionField = (typeof URL_DIMENSION_FIELDS)[number];
export type UrlDimensions = Readonly<Record<UrlDimensionField, string>>;

/**
 * Request headers carried as metadata, keyed by their lower-case name: the
 * edge specification's list (gcp-ingestion's metadata headers plus
 * X-Foxsec-IP-Reputation). The gateway forwards `x-forwarded-for` only when
 * STORE_CLIENT_IP is on: it holds client addresses.
 */
export const FORWARDED_HEADERS = [
  'content-length',
  'date',
  'dnt',
  'x-pingsender-version',
  'x-debug-id',
  'user-agent',
  'x-telemetry-agent',
  'x-source-tags',
  'x-pipeline-proxy',
  'x-foxsec-ip-reputation',
  'x-lb-tags',
  'x-forwarded-for',
] as const;
export type ForwardedHeader = (typeof FORWARDED_HEADERS)[number];
export type ClientHeaders = Readonly<Partial<Record<ForwardedHeader, string>>>;

/** One accepted submission, as the gateway saw it. */
export interface Submission {
  readonly docId: string;
  /**
   * The URL path as sent, after `/submit/telemetry/` (telemetry form) or after
   * `/submit/` (generic form: `<namespace>/<docType>/<docVersion>/<docId>`).
   */
  readonly path: string;
  /** Telemetry form, 6-component URL only. */
  readonly urlDimensions?: UrlDimensions | undefined;
  /** Generic form only (undefined: the telemetry form). */
  readonly generic?: GenericForm | undefined;
  readonly receivedAtMs: number;
  /** `POST` or `PUT` (absent in messages written before it was carried). */
  readonly method?: string | undefined;
  readonly contentEncoding?: string | undefined;
  readonly clientHeaders: ClientHeaders;
  readonly clientIp?: string | undefined;
  /** The query string as sent, without `?` (absent when there was none). */
  readonly query?: string | undefined;
  /** The body as received; empty in the stats view. */
  readonly body: Buffer;
  /** Size of the body as received (also in the stats view, where `body` is empty). */
  readonly bodyBytes: number;
}

export const WIRE_CONTENT_TYPE = 'application/vnd.telemetry.batch';
export const WIRE_TYPE_V1 = 'telemetry.batch.v1';
const MAGIC = Buffer.from([0x54, 0x4c, 0x42, 0x01]); // "TLB" + version 1

/** A message that is not what the gateway writes; its content is filed as `invalid_path`. */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

/** One submission's metadata on the wire (short names: it is written for every submission). */
interface WireMeta {
  id: string;
  p: string;
  t: number;
  n: number;
  d?: string[];
  /** Generic form: [namespace, docType, docVersion]. */
  g?: string[];
  m?: string;
  e?: string;
  h?: Record<string, string>;
  ip?: string;
  q?: string;
}

function metaOf(submission: Submission): WireMeta {
  const meta: WireMeta = { id: submission.docId, p: submission.path, t: submission.receivedAtMs, n: submission.bodyBytes };
  if (submission.urlDimensions) meta.d = URL_DIMENSION_FIELDS.map((field) => submission.urlDimensions?.[field] ?? '');
  if (submission.generic) meta.g = [submission.generic.namespace, submission.generic.docType, submission.generic.docVersion];
  if (submission.method !== undefined) meta.m = submission.method;
  if (submission.contentEncoding !== undefined) meta.e = submission.contentEncoding;
  let headers: Record<string, string> | undefined;
  for (const [name, value] of Object.entries(submission.clientHeaders)) {
    if (value !== undefined) (headers ??= {})[name] = value;
  }
  if (headers) meta.h = headers;
  if (submission.clientIp !== undefined) meta.ip = submission.clientIp;
  if (submission.query !== undefined) meta.q = submission.query;
  return meta;
}

/** Which part of the submissions a message carries. */
export type WireView = 'full' | 'stats';

const EMPTY = Buffer.alloc(0);

/** Frames submissions into one message body (with their bodies, or metadata only for the stats queue). */
export function encodeBatch(submissions: readonly Submission[], view: WireView = 'full'): Buffer {
  return frame(encodeMetas(submissions), view === 'full' ? submissions.map((s) => s.body) : undefined);
}

/**
 * Both views of one batch, its metadata serialised once (the gateway sends
 * both for every batch: serialising twice was work done twice per request).
 */
export function encodeBothViews(submissions: readonly Submission[]): { full: Buffer; stats: Buffer } {
  const metas = encodeMetas(submissions);
  return { full: frame(metas, submissions.map((s) => s.body)), stats: frame(metas, undefined) };
}

function encodeMetas(submissions: readonly Submission[]): Buffer[] {
  return submissions.map((s) => Buffer.from(JSON.stringify(metaOf(s)), 'utf8'));
}

/** The v1 framing of serialised metadata and, unless `bodies` is undefined (stats view), the bodies. */
function frame(metas: readonly Buffer[], bodies: readonly Buffer[] | undefined): Buffer {
  let size = MAGIC.length + 4;
  for (const [i, meta] of metas.entries()) size += 8 + meta.length + (bodies?.[i]?.length ?? 0);
  const out = Buffer.allocUnsafe(size);
  MAGIC.copy(out, 0);
  out.writeUInt32BE(metas.length, 4);
  let at = 8;
  for (const [i, meta] of metas.entries()) {
    out.writeUInt32BE(meta.length, at);
    meta.copy(out, at + 4);
    at += 4 + meta.length;
    const body = bodies?.[i] ?? EMPTY;
    out.writeUInt32BE(body.length, at);
    body.copy(out, at + 4);
    at += 4 + body.length;
  }
  return out;
}

/** The AMQP properties of a batch message. */
export function batchPublishOptions(messageId: string, nowMs: number, headers: Record<string, string | number> = {}): Options.Publish {
  return {
    persistent: true,
    messageId,
    timestamp: Math.floor(nowMs / 1000),
    contentType: WIRE_CONTENT_TYPE,
    type: WIRE_TYPE_V1,
    headers,
  };
}

/** What a consumer gets back from a message: its submissions, and those whose metadata is not the gateway's. */
export interface DecodedMessage {
  readonly submissions: Submission[];
  /** Submissions whose metadata is missing or odd, with why (filed as `invalid_path`). */
  readonly invalid: { readonly submission: Submission; readonly reason: string }[];
}

type MessageLike = { readonly content: Buffer; readonly properties: Pick<MessageProperties, 'headers' | 'messageId' | 'contentEncoding' | 'contentType'> };

/** Reads a message of either format. Throws MalformedMessageError when the framing itself is broken. */
export function decodeMessage(message: MessageLike): DecodedMessage {
  if (isBatch(message)) return decodeBatch(message.content);
  return decodeLegacy(message);
}

function isBatch(message: MessageLike): boolean {
  return message.properties.contentType === WIRE_CONTENT_TYPE || hasMagic(message.content);
}

function hasMagic(content: Buffer): boolean {
  return content.length >= MAGIC.length && content.subarray(0, MAGIC.length).equals(MAGIC);
}

/** Decodes a v1 batch; bodies are views into `content` (no copy). */
export function decodeBatch(content: Buffer): DecodedMessage {
  if (!hasMagic(content)) throw new MalformedMessageError('not a telemetry batch (bad magic or version)');
  if (content.length < 8) throw new MalformedMessageError('truncated batch header');
  const count = content.readUInt32BE(4);
  const out: DecodedMessage = { submissions: [], invalid: [] };
  let at = 8;
  const take = (what: string): Buffer => {
    if (at + 4 > content.length) throw new MalformedMessageError(`truncated batch: no ${what} length`);
    const length = content.readUInt32BE(at);
    if (at + 4 + length > content.length) throw new MalformedMessageError(`truncated batch: ${what} runs past the end`);
    const part = content.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return part;
  };
  for (let i = 0; i < count; i += 1) {
    const metaBytes = take('metadata');
    const body = take('body');
    const parsed = parseMeta(metaBytes, body);
    if ('reason' in parsed) out.invalid.push(parsed);
    else out.submissions.push(parsed);
  }
  if (at !== content.length) throw new MalformedMessageError(`batch has ${content.length - at} trailing bytes`);
  return out;
}

function parseMeta(metaBytes: Buffer, body: Buffer): Submission | { submission: Submission; reason: string } {
  let meta: Partial<WireMeta> & Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(metaBytes.toString('utf8'));
    // `null` (or any non-object) is metadata that is not ours, not a TypeError on `meta.id`.
    meta = typeof parsed === 'object' && parsed !== null ? (parsed as Partial<WireMeta> & Record<string, unknown>) : {};
  } catch {
    meta = {};
  }
  const docId = typeof meta.id === 'string' ? meta.id : '';
  const path = typeof meta.p === 'string' ? meta.p : '';
  const receivedAtMs = typeof meta.t === 'number' && Number.isFinite(meta.t) ? meta.t : Number.NaN;
  const generic = genericOf(meta.g);
  const submission: Submission = {
    docId,
    path,
    urlDimensions: dimensionsOf(meta.d),
    generic,
    receivedAtMs,
    method: typeof meta.m === 'string' ? meta.m : undefined,
    contentEncoding: typeof meta.e === 'string' ? meta.e : undefined,
    clientHeaders: headersOf(meta.h),
    clientIp: typeof meta.ip === 'string' ? meta.ip : undefined,
    query: typeof meta.q === 'string' ? meta.q : undefined,
    body,
    bodyBytes: typeof meta.n === 'number' ? meta.n : body.length,
  };
  const reason =
    docId === ''
      ? 'submission has no docId'
      : typeof meta.p !== 'string'
        ? 'submission has no path'
        : Number.isNaN(receivedAtMs)
          ? 'submission has no receive time'
          : meta.g !== undefined && generic === undefined
            ? 'submission has a malformed generic form'
            : undefined;
  if (reason === undefined) return submission;
  return { submission: { ...submission, receivedAtMs: Number.isNaN(receivedAtMs) ? Date.now() : receivedAtMs }, reason };
}

function dimensionsOf(value: unknown): UrlDimensions | undefined {
  if (!Array.isArray(value) || value.length !== URL_DIMENSION_FIELDS.length || !value.every((v) => typeof v === 'string')) return undefined;
  const [reason = '', appName = '', appVersion = '', appUpdateChannel = '', appBuildID = ''] = value;
  return { reason, appName, appVersion, appUpdateChannel, appBuildID };
}

function genericOf(value: unknown): GenericForm | undefined {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === 'string')) return undefined;
  const [namespace = '', docType = '', docVersion = ''] = value;
  return { namespace, docType, docVersion };
}

function headersOf(value: unknown): ClientHeaders {
  const headers: Partial<Record<ForwardedHeader, string>> = {};
  if (typeof value !== 'object' || value === null) return headers;
  for (const name of FORWARDED_HEADERS) {
    const v = (value as Record<string, unknown>)[name];
    if (typeof v === 'string') headers[name] = v;
  }
  return headers;
}

const LEGACY_HEADER_PREFIX = 'h-';

/** The earlier format: one submission, metadata in headers, messageId = docId. */
function decodeLegacy(message: MessageLike): DecodedMessage {
  const { properties } = message;
  const headers = (properties.headers ?? {}) as Record<string, unknown>;
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
  const docId = text(properties.messageId as unknown) ?? '';
  const path = text(headers.path);
  const receivedAtMs = Number(headers.receivedAtMs);
  const clientHeaders: Partial<Record<ForwardedHeader, string>> = {};
  for (const name of FORWARDED_HEADERS) {
    const value = text(headers[LEGACY_HEADER_PREFIX + name]);
    if (value !== undefined) clientHeaders[name] = value;
  }
  const submission: Submission = {
    docId,
    path: path ?? '',
    urlDimensions: path === undefined ? undefined : urlDimensionsFromPath(path),
    receivedAtMs: Number.isFinite(receivedAtMs) ? receivedAtMs : Date.now(),
    contentEncoding: text(properties.contentEncoding as unknown),
    clientHeaders,
    clientIp: text(headers.clientIp),
    body: message.content,
    bodyBytes: message.content.length,
  };
  const reason =
    docId === '' ? 'message has no messageId (docId)' : path === undefined ? 'message has no path header' : !Number.isFinite(receivedAtMs) ? 'message has no receivedAtMs header' : undefined;
  return reason === undefined ? { submissions: [submission], invalid: [] } : { submissions: [], invalid: [{ submission, reason }] };
}

/** The dimensions of a `docId/reason/appName/appVersion/appUpdateChannel/appBuildID` path (the gateway computes them once). */
export function urlDimensionsFromPath(path: string): UrlDimensions | undefined {
  const parts = path.split('/');
  if (parts.length !== 6) return undefined;
  const [, reason = '', appName = '', appVersion = '', appUpdateChannel = '', appBuildID = ''] = parts;
  return { reason, appName, appVersion, appUpdateChannel, appBuildID };
}
