import { RevisionUnavailableError } from '../errors.js';

/** The answer was over the byte limit: the caller treats it like an invalid file. */
export class TooLargeError extends Error {
  override readonly name = 'TooLargeError';
}

export interface RawFileLimits {
  /** Whole request, body included. */
  readonly timeoutMs: number;
  /** A larger answer is refused with TooLargeError. */
  readonly maxBytes: number;
}

/** A raw file's text, or `gone`: the server has no such revision (404/410, permanent). */
export type RawFileAnswer = { readonly kind: 'ok'; readonly text: string } | { readonly kind: 'gone'; readonly status: number };

/**
 * GETs a file from the Mercurial server. Throws TooLargeError over
 * maxBytes, RevisionUnavailableError for anything transient (network,
 * timeout, 5xx and other statuses that do not mean "no such revision").
 */
export async function fetchRawFile(url: string, limits: RawFileLimits): Promise<RawFileAnswer> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(limits.timeoutMs) });
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      return { kind: 'gone', status: response.status };
    }
    if (!response.ok) {
      await response.body?.cancel();
      // 5xx, and also 429/403 and other statuses Mercurial does not use for
      // "no such revision": retrying is safe, filing the ping is not.
      throw new RevisionUnavailableError(`${url} answered HTTP ${response.status}`);
    }
    return { kind: 'ok', text: await readLimited(response, limits.maxBytes) };
  } catch (error) {
    if (error instanceof TooLargeError || error instanceof RevisionUnavailableError) throw error;
    throw new RevisionUnavailableError(`cannot fetch ${url}: ${describe(error, limits.timeoutMs)}`, { cause: error });
  }
}

/** Reads the body as UTF-8 text, refusing more than maxBytes (never buffers more). */
async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new TooLargeError(`Content-Length ${declared} is over ${maxBytes} bytes`);
  }
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  // undici types the body as ReadableStream<any>; it yields bytes.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new TooLargeError(`body is over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
