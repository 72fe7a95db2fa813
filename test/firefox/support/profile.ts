/**
 * The Firefox profile of the real-Firefox suite: a fresh directory with
 * test/firefox/user.js.template (its server and address replaced, Glean pointed
 * at a localhost port), and what Firefox leaves in it afterwards: the legacy pings
 * it archived (`datareporting/archived/<yyyy-mm>/<ms>.<docId>.<type>.jsonlz4`)
 * and the pings still waiting to be sent, legacy (`saved-telemetry-pings/<docId>`)
 * and Glean (`datareporting/glean/pending_pings/<docId>`, `…/deletion_request/<docId>`).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMozLz4 } from './mozlz4.js';

const USER_JS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'user.js.template');
const PLACEHOLDER_ADDRESS = '10.203.0.1';
const PLACEHOLDER_SERVER = `http://${PLACEHOLDER_ADDRESS}:PORT`;

/**
 * Writes `<dir>/user.js`: legacy telemetry to `server`, Glean to
 * http://localhost:<gleanPort>, and the template's dead-port URLs at `host`.
 */
export function writeProfile(dir: string, target: { host: string; server: string; gleanPort: number }): string {
  mkdirSync(dir, { recursive: true });
  const template = readFileSync(USER_JS, 'utf8');
  if (!template.includes(`"${PLACEHOLDER_SERVER}"`)) throw new Error(`${USER_JS}: no toolkit.telemetry.server "${PLACEHOLDER_SERVER}" to replace`);
  const prefs = template.replaceAll(`"${PLACEHOLDER_SERVER}"`, JSON.stringify(target.server)).replaceAll(PLACEHOLDER_ADDRESS, target.host);
  if (prefs.includes(':PORT')) throw new Error(`${USER_JS}: a PORT placeholder is left after substitution`);
  const text = `${prefs.trimEnd()}\nuser_pref("telemetry.fog.test.localhost_port", ${target.gleanPort});\n`;
  writeFileSync(path.join(dir, 'user.js'), text);
  return text;
}

export interface ArchivedPing {
  readonly id: string;
  readonly type: string;
  readonly file: string;
}

function filesIn(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => entry.name);
  } catch {
    return [];
  }
}

/** Every legacy ping the profile archived, decoded (the id and type inside, which must match the file name). */
export function archivedPings(profileDir: string): ArchivedPing[] {
  const root = path.join(profileDir, 'datareporting', 'archived');
  const out: ArchivedPing[] = [];
  let months: string[] = [];
  try {
    months = readdirSync(root);
  } catch {
    return out;
  }
  for (const month of months.sort()) {
    for (const name of filesIn(path.join(root, month)).sort()) {
      if (!name.endsWith('.jsonlz4')) continue;
      const file = path.join(root, month, name);
      const ping = JSON.parse(decodeMozLz4(readFileSync(file)).toString('utf8')) as { id?: unknown; type?: unknown };
      if (typeof ping.id !== 'string' || typeof ping.type !== 'string') throw new Error(`${file}: no id or type in the archived ping`);
      if (!name.includes(`.${ping.id}.${ping.type}.`)) throw new Error(`${file}: the name does not match its id ${ping.id} and type ${ping.type}`);
      out.push({ id: ping.id, type: ping.type, file: path.relative(profileDir, file) });
    }
  }
  return out;
}

/** Ids of the legacy pings still pending (not yet answered 2xx/4xx by the server). */
export function pendingLegacyPings(profileDir: string): string[] {
  return filesIn(path.join(profileDir, 'saved-telemetry-pings')).filter((name) => !name.endsWith('.tmp'));
}

/** Glean pings still pending upload: docId and the submission path of each (the file's first line). */
export function pendingGleanPings(profileDir: string): { docId: string; path: string }[] {
  const out: { docId: string; path: string }[] = [];
  for (const sub of ['pending_pings', 'deletion_request']) {
    const dir = path.join(profileDir, 'datareporting', 'glean', sub);
    for (const name of filesIn(dir)) {
      const firstLine = readFileSync(path.join(dir, name), 'utf8').split('\n', 1)[0] ?? '';
      out.push({ docId: name, path: firstLine });
    }
  }
  return out;
}
