/**
 * Sends one record to a gateway the way Firefox submits a ping: POST to
 * `/submit/telemetry/<path>` with the body bytes unchanged, and
 * `Content-Encoding: gzip` when the body is gzip. Like Firefox it retries only
 * what may succeed later (5xx, network errors, timeouts) and treats every 4xx
 * as final: the gateway answers 4xx only for requests that can never succeed
 * (SPEC 2).
 */
import type { ReplayRecord } from './sources.js';

export interface SendOptions {
  /** The gateway's base URL without a trailing slash (may carry a path prefix). */
  readonly baseUrl: string;
  readonly maxAttempts: number;
  /** Delay before the first retry; doubled for each further one, with jitter. */
  readonly retryDelayMs: number;
  /** Upper bound of one delay, Retry-After included, so a run cannot stall for hours. */
  readonly maxRetryDelayMs: number;
  readonly timeoutMs: number;
}

export const NETWORK_ERROR = 'network_error';

export interface SendResult {
  /** The final HTTP status as text ("200", "503"), or `network_error`. */
  readonly outcome: string;
  readonly ok: boolean;
  readonly attempts: number;
  /** Why the last attempt failed, for the failure report. */
  readonly detail?: string;
}

type Attempt = { kind: 'response'; status: number; retryAfterMs: number | undefined } | { kind: 'network'; message: string };

function isGzip(body: Buffer): boolean {
  return body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b;
}

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unreadable. */
function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    // fetch reports "fetch failed" and keeps the useful part (ECONNREFUSED...) in `cause`.
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.name === 'TimeoutError' ? 'timeout' : error.message}${cause}`;
  }
  return String(error);
}

async function attempt(record: ReplayRecord, options: SendOptions): Promise<Attempt> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=UTF-8' };
  if (isGzip(record.body)) headers['Content-Encoding'] = 'gzip';
  try {
    const response = await fetch(`${options.baseUrl}/submit/telemetry/${record.path}`, {
      method: 'POST',
      headers,
      body: record.body,
      // A redirect is an answer to report, not something to follow with a re-sent body.
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    // Read the (small) answer so that the keep-alive connection can be reused.
    await response.arrayBuffer();
    return { kind: 'response', status: response.status, retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), Date.now()) };
  } catch (error) {
    return { kind: 'network', message: describeNetworkError(error) };
  }
}

function backoffMs(attemptNumber: number, retryAfterMs: number | undefined, options: SendOptions): number {
  const exponential = options.retryDelayMs * 2 ** (attemptNumber - 1);
  // Jitter spreads the retries of many concurrent requests after a gateway restart.
  const jittered = exponential * (0.5 + Math.random() / 2);
  return Math.min(options.maxRetryDelayMs, Math.max(jittered, retryAfterMs ?? 0));
}

export async function sendRecord(record: ReplayRecord, options: SendOptions): Promise<SendResult> {
  for (let attemptNumber = 1; ; attemptNumber += 1) {
    const result = await attempt(record, options);
    const retryable = result.kind === 'network' || result.status >= 500;
    if (!retryable || attemptNumber >= options.maxAttempts) {
      if (result.kind === 'network') return { outcome: NETWORK_ERROR, ok: false, attempts: attemptNumber, detail: result.message };
      const ok = result.status >= 200 && result.status < 300;
      return { outcome: String(result.status), ok, attempts: attemptNumber };
    }
    const retryAfter = result.kind === 'response' ? result.retryAfterMs : undefined;
    await new Promise((resolve) => setTimeout(resolve, backoffMs(attemptNumber, retryAfter, options)));
  }
}
