import { once } from 'node:events';
import { TransientError } from '@telemetry/shared/errors';

/** Writes a chunk, waiting for 'drain' when the stream's buffer is full. */
export async function writeOrWait(stream: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

/** Runs `task`, retrying transient failures with exponential backoff (then rethrows). */
export async function retryTransient<T>(task: () => Promise<T>, attempts = 3, firstDelayMs = 250): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await task();
    } catch (error) {
      if (!(error instanceof TransientError) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, firstDelayMs * 2 ** (attempt - 1)));
    }
  }
}
