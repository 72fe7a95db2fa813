import type { ConsumeMessage, Options } from 'amqplib';
import { decodeSubmission, MalformedMessageError } from '@telemetry/shared/amqp/submission-message';
import { isValidDocId } from '@telemetry/shared/doc-id';
import type { Delivery } from './batch.js';

import { ATTEMPTS_HEADER } from '@telemetry/shared/amqp/headers';

/** Turns a consumed message into a delivery; metadata that is not the gateway's becomes `invalidReason`. */
export function toDelivery(message: ConsumeMessage, nowMs: number): Delivery {
  const tag = message.fields.deliveryTag;
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const attempts = Number(headers[ATTEMPTS_HEADER] ?? 0) || 0;
  try {
    const submission = decodeSubmission(message);
    if (!isValidDocId(submission.docId)) throw new MalformedMessageError(`invalid docId "${submission.docId.slice(0, 100)}"`);
    return { tag, submission, attempts };
  } catch (error) {
    if (!(error instanceof MalformedMessageError)) throw error;
    const rawId: unknown = message.properties.messageId;
    const docId = typeof rawId === 'string' ? rawId.replace(/[^A-Za-z0-9-]/g, '_').slice(0, 100) : '';
    const path = typeof headers.path === 'string' ? headers.path : '';
    return {
      tag,
      attempts,
      invalidReason: error.message,
      submission: {
        docId: docId === '' ? `unknown-${nowMs}-${tag}` : docId,
        path,
        receivedAtMs: Number(headers.receivedAtMs) || nowMs,
        clientHeaders: {},
        body: message.content,
      },
    };
  }
}

/** The publish options that carry a consumed message on unchanged, plus extra headers. */
export function republishOptions(message: ConsumeMessage, extraHeaders: Record<string, string | number>): Options.Publish {
  const { properties } = message;
  return {
    persistent: true,
    ...(typeof properties.messageId === 'string' ? { messageId: properties.messageId } : {}),
    ...(typeof properties.timestamp === 'number' ? { timestamp: properties.timestamp } : {}),
    ...(typeof properties.contentType === 'string' ? { contentType: properties.contentType } : {}),
    ...(typeof properties.contentEncoding === 'string' ? { contentEncoding: properties.contentEncoding } : {}),
    headers: { ...((properties.headers ?? {}) as Record<string, unknown>), ...extraHeaders },
  };
}
