import { z } from 'zod';

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS_BYTES: Record<string, number> = {
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1_024,
  mib: 1_048_576,
  gib: 1_073_741_824,
};

/** "300ms", "30s", "5m", "24h", "2d" or a bare number of milliseconds. */
function parseDurationMs(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = (match[2] ?? 'ms').toLowerCase();
  const factor = DURATION_UNITS_MS[unit];
  return factor === undefined ? undefined : Math.round(Number(match[1]) * factor);
}

/** "10MiB", "64 MiB", "1KB", or a bare number of bytes. */
function parseSizeBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i.exec(text);
  if (!match) return undefined;
  const factor = SIZE_UNITS_BYTES[(match[2] ?? 'b').toLowerCase()];
  return factor === undefined ? undefined : Math.round(Number(match[1]) * factor);
}

/** A zod field for a duration given as text; the parsed value is in milliseconds. */
export function durationMsField(defaultText: string) {
  return z
    .string()
    .default(defaultText)
    .transform((text, ctx) => {
      const ms = parseDurationMs(text);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (e.g. 500ms, 30s, 5m, 24h)` });
        return z.NEVER;
      }
      return ms;
    });
}

/** A zod field for a size given as text; the parsed value is in bytes. */
export function sizeBytesField(defaultText: string) {
  return z
    .string()
    .default(defaultText)
    .transform((text, ctx) => {
      const bytes = parseSizeBytes(text);
      if (bytes === undefined || bytes <= 0) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a size (e.g. 1048576, 1MiB, 64MiB)` });
        return z.NEVER;
      }
      return bytes;
    });
}

/** "1", "true", "yes", "on" (any case) are true; "0", "false", "no", "off", "" false. */
export function booleanField(defaultValue: boolean) {
  return z
    .string()
    .default(defaultValue ? 'true' : 'false')
    .transform((text, ctx) => {
      const normalised = text.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(normalised)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(normalised)) return false;
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a boolean (true/false)` });
      return z.NEVER;
    });
}

/** A positive integer given as text. */
export function integerField(defaultValue: number, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}) {
  return z.coerce.number().int().min(min).max(max).default(defaultValue);
}
