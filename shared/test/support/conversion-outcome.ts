import type { TextConversion } from '../../src/conversion/fast-path.js';
import { PingError } from '../../src/errors.js';

/** What a conversion produced, comparable across the fast and the general path. */
export type Outcome = { json: string; info: unknown; dropped: readonly string[]; converted: number } | { error: string; message: string };

/** Runs one conversion path; a PingError becomes its type and message, undefined means "handed back". */
export async function outcome(run: () => Promise<TextConversion | undefined>): Promise<Outcome | undefined> {
  try {
    const done = await run();
    if (done === undefined) return undefined;
    const { result, json } = done;
    return { json, info: result.info, dropped: result.droppedHistograms, converted: result.convertedHistograms };
  } catch (error) {
    if (error instanceof PingError) return { error: error.type, message: error.message };
    throw error;
  }
}
