/**
 * Convert stage: a claimed unit's decoded body to a {@link ConvertOutcome},
 * failures decided by error class (classifyError), never by message text.
 * The decoded bytes are dropped from the unit once converted.
 */
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import type { ConvertedRecord } from '@telemetry/shared/conversion/submission';
import { classifyError } from '@telemetry/shared/errors';
import { errorEntry } from './decode.js';
import type { ConvertOutcome, Unit } from './unit.js';

export type ConvertDecoded = (submission: Submission, bytes: Uint8Array) => Promise<ConvertedRecord>;

export async function convertStage(unit: Unit, convert: ConvertDecoded): Promise<ConvertOutcome> {
  const { decoded, submission } = unit;
  switch (decoded.kind) {
    case 'file':
      return { kind: 'file', entry: decoded.entry };
    case 'deadLetter':
      return { kind: 'deadLetter', reason: decoded.reason };
    case 'converted':
      return decoded.outcome;
    case 'pending':
      throw new Error('unit converted before it was decoded');
    case 'decoded':
      break;
  }
  const outcome = await convertBytes(submission, decoded.bytes, convert);
  // A transient failure keeps the bytes: the unit is tried again from them.
  if (outcome.kind !== 'retry') unit.decoded = { kind: 'converted', key: decoded.key, outcome };
  return outcome;
}

async function convertBytes(submission: Submission, bytes: Uint8Array, convert: ConvertDecoded): Promise<ConvertOutcome> {
  try {
    return { kind: 'store', record: await convert(submission, bytes) };
  } catch (error) {
    const disposition = classifyError(error);
    switch (disposition.kind) {
      case 'file':
        return { kind: 'file', entry: errorEntry(submission, disposition.type, disposition.message, disposition.decodedBody) };
      case 'retry':
        return { kind: 'retry', reason: disposition.message };
      case 'crash':
        // A bug must not crash-loop the pool: keep the submission for replay after a fix.
        return { kind: 'deadLetter', reason: `internal error: ${String(disposition.error)}` };
    }
  }
}
