import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file lives in test/support). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The real Firefox data, copied into the repository (`test/fixtures`, MPL 2.0
 * Mozilla files; see its README), so a clone on its own passes its tests.
 * TELEMETRY_FIXTURES_DIR points the tests at other data.
 */
const FIXTURES_DIR = process.env.TELEMETRY_FIXTURES_DIR ?? path.join(REPO_ROOT, 'test', 'fixtures');

export function fixturePath(...parts: string[]): string {
  return path.join(FIXTURES_DIR, ...parts);
}
