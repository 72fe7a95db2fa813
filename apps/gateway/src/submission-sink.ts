import type { Submission } from '@telemetry/shared/amqp/wire-codec';

/**
 * Where accepted submissions go. Resolves once the submission is safe (the
 * broker confirmed it); rejects with a TransientError when it cannot be made
 * safe now (answered 503 so the client retries).
 */
export interface SubmissionSink {
  isReady(): boolean;
  publish(submission: Submission): Promise<void>;
}
