/** A bad option value found after parsing (e.g. a malformed date): exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
