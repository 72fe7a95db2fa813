import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file lives in test/support). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The real Firefox data shipped beside the repository (`../shared/fixtures`).
 * TELEMETRY_FIXTURES_DIR overrides it for a checkout laid out differently.
 */
export const FIXTURES_DIR = process.env.TELEMETRY_FIXTURES_DIR ?? path.resolve(REPO_ROOT, '../shared/fixtures');

export function fixturePath(...parts: string[]): string {
  return path.join(FIXTURES_DIR, ...parts);
}
