import { UsageError } from './usage-error.js';

/**
 * Parses an option value that must be a whole number within [min, max].
 * Commander hands option values over as strings; a typo such as `--limit 1O`
 * must be a usage error (exit 2), not NaN silently meaning "no limit".
 */
export function integerOption(name: string, value: string | undefined, fallback: number, min = 1, max = 1_000_000): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`${name} must be a whole number, got "${value}"`);
  const parsed = Number(value);
  if (parsed < min || parsed > max) throw new UsageError(`${name} must be between ${min} and ${max}, got ${parsed}`);
  return parsed;
}

/** A URL with its password hidden, for messages that end up in logs and terminals. */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return '(unparsable URL)';
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}
