/**
 * The message the gateway publishes for each accepted submission: the body
 * bytes exactly as received, and the metadata in AMQP properties/headers.
 */
import type { ConsumeMessage, Options } from 'amqplib';

/** Dimension fields of the 6-component URL form, in URL order (SPEC 2). */
export const URL_DIMENSION_FIELDS = ['reason', 'appName', 'appVersion', 'appUpdateChannel', 'appBuildID'] as const;
export type UrlDimensionField = (typeof URL_DIMENSION_FIELDS)[number];
export type UrlDimensions = Readonly<Record<UrlDimensionField, string>>;

/** Request headers carried as metadata (SPEC 2), keyed by their lower-case name. */
export const FORWARDED_HEADERS = ['date', 'dnt', 'x-pingsender-version', 'x-debug-id', 'user-agent'] as const;
export type ForwardedHeader = (typeof FORWARDED_HEADERS)[number];

export interface Submission {
  readonly docId: string;
  /** The URL path after `/submit/telemetry/`. */
  readonly path: string;
  readonly urlDimensions?: UrlDimensions | undefined;
  readonly receivedAtMs: number;
  readonly contentEncoding?: string | undefined;
  readonly clientHeaders: Readonly<Partial<Record<ForwardedHeader, string>>>;
  readonly clientIp?: string | undefined;
  readonly body: Buffer;
}

const HEADER_PREFIX = 'h-';

export function encodeSubmission(submission: Submission): { content: Buffer; options: Options.Publish } {
  const headers: Record<string, string | number> = {
    path: submission.path,
    receivedAtMs: submission.receivedAtMs,
  };
  if (submission.clientIp !== undefined) headers.clientIp = submission.clientIp;
  for (const [name, value] of Object.entries(submission.clientHeaders)) {
    if (value !== undefined) headers[HEADER_PREFIX + name] = value;
  }
  return {
    content: submission.body,
    options: {
      persistent: true,
      messageId: submission.docId,
      timestamp: Math.floor(submission.receivedAtMs / 1000),
      contentType: 'application/json',
      ...(submission.contentEncoding === undefined ? {} : { contentEncoding: submission.contentEncoding }),
      headers,
    },
  };
}

/** Raised for a message that did not come from our gateway (missing/odd metadata). */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

export function decodeSubmission(message: Pick<ConsumeMessage, 'content' | 'properties'>): Submission {
  const { properties } = message;
  const headers = (properties.headers ?? {}) as Record<string, unknown>;
  const docId: unknown = properties.messageId;
  const path = headers.path;
  const receivedAtMs = Number(headers.receivedAtMs);
  if (typeof docId !== 'string' || docId === '') throw new MalformedMessageError('message has no messageId (docId)');
  if (typeof path !== 'string') throw new MalformedMessageError('message has no path header');
  if (!Number.isFinite(receivedAtMs)) throw new MalformedMessageError('message has no receivedAtMs header');
  const clientHeaders: Partial<Record<ForwardedHeader, string>> = {};
  for (const name of FORWARDED_HEADERS) {
    const value = headers[HEADER_PREFIX + name];
    if (typeof value === 'string') clientHeaders[name] = value;
    else if (Buffer.isBuffer(value)) clientHeaders[name] = value.toString('utf8');
  }
  const contentEncoding: unknown = properties.contentEncoding;
  const clientIp = headers.clientIp;
  return {
    docId,
    path,
    urlDimensions: urlDimensionsFromPath(path),
    receivedAtMs,
    contentEncoding: typeof contentEncoding === 'string' ? contentEncoding : undefined,
    clientHeaders,
    clientIp: typeof clientIp === 'string' ? clientIp : undefined,
    body: message.content,
  };
}

/** The dimensions of a `docId/reason/appName/appVersion/appUpdateChannel/appBuildID` path. */
export function urlDimensionsFromPath(path: string): UrlDimensions | undefined {
  const parts = path.split('/');
  if (parts.length !== 6) return undefined;
  const [, reason = '', appName = '', appVersion = '', appUpdateChannel = '', appBuildID = ''] = parts;
  return { reason, appName, appVersion, appUpdateChannel, appBuildID };
}
