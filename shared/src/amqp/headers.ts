/** Headers the workers add when a message is retried or dead-lettered (read by `telemetry dead-letters`). */
export const ATTEMPTS_HEADER = 'x-telemetry-attempts';
export const LAST_ERROR_HEADER = 'x-telemetry-last-error';
export const DEAD_LETTER_REASON_HEADER = 'x-telemetry-dead-letter-reason';
export const DEAD_LETTERED_AT_HEADER = 'x-telemetry-dead-lettered-at';
