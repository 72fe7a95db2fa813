/**
 * docs/OPERATIONS.md lists every variable of every app's zod schema, with the
 * schema's default, and nothing the schemas do not know: the operator's guide
 * cannot drift from the code (issue 7). Schemas are read as deploy/validate.ts
 * reads them; literal defaults are read from the field helpers' arguments.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { APPS, knownVariables, type AppName } from '../deploy/validate.js';
import { REPO_ROOT } from './support/fixtures.js';

const GUIDE = readFileSync(path.join(REPO_ROOT, 'docs', 'OPERATIONS.md'), 'utf8');
const SCHEMA_FILES: Record<AppName | 'shared', string[]> = {
  gateway: ['apps/gateway/src/config.ts'],
  workers: ['apps/workers/src/config.ts'],
  stats: ['apps/stats/src/config.ts'],
  shared: ['shared/src/amqp/topology.ts', 'shared/src/config/domain.ts', 'shared/src/config/ops.ts', 'shared/src/stats/store-config.ts'],
};
const SECTION_OF: Record<AppName, string> = { gateway: 'Gateway', workers: 'Workers', stats: 'Stats' };
const SHARED_SECTIONS = ['Every app', 'RabbitMQ topology'];

/** Rows "| `NAME` | default | meaning |" of each "### " section of the configuration chapter. */
function documentedRows(): Map<string, Map<string, string>> {
  const start = GUIDE.search(/^## \d+\. Configuration$/m);
  const chapter = GUIDE.slice(start, GUIDE.indexOf('\n## ', start + 1));
  const sections = new Map<string, Map<string, string>>();
  let current = new Map<string, string>();
  for (const line of chapter.split('\n')) {
    const heading = /^### (.+)$/.exec(line);
    if (heading?.[1]) sections.set(heading[1], (current = new Map<string, string>()));
    const row = /^\| `([A-Z][A-Z0-9_]*)` \| ([^|]*) \|/.exec(line);
    if (row?.[1] && row[2] !== undefined) current.set(row[1], row[2]);
  }
  return sections;
}

/** NAME → literal default text, e.g. MAX_BODY_BYTES → 1MiB, PORT → 8080 (computed defaults are left out). */
function literalDefaults(files: string[]): Map<string, string> {
  const defaults = new Map<string, string>();
  for (const file of files) {
    const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
    for (const match of text.matchAll(/^\s+([A-Z][A-Z0-9_]*): (.*)$/gm)) {
      const [, name = '', field = ''] = match;
      const literal = /^\w+Field\('([^']*)'|^\w+Field\(([\d_]+|true|false)[,)]|\.default\('([^']*)'\)/.exec(field);
      const value = literal?.[1] ?? literal?.[2] ?? literal?.[3];
      if (value !== undefined && !field.includes('DEFAULT_')) defaults.set(name, value.replaceAll('_', ''));
    }
  }
  return defaults;
}

describe('docs/OPERATIONS.md configuration tables', () => {
  const sections = documentedRows();
  const defaultsOf = (app: AppName) => literalDefaults([...SCHEMA_FILES[app], ...SCHEMA_FILES.shared]);

  it('has a table for each app and the shared variables', () => {
    for (const title of [...SHARED_SECTIONS, ...Object.values(SECTION_OF)]) {
      expect([...sections.keys()].some((key) => key.startsWith(title)), title).toBe(true);
    }
    // The reader itself works.
    expect(defaultsOf('gateway').get('MAX_BODY_BYTES')).toBe('1MiB');
    expect(defaultsOf('workers').get('SHUTDOWN_TIMEOUT')).toBe('30s');
    expect(defaultsOf('stats').get('STATS_QUEUE_MAX_LENGTH')).toBe('100000');
  });

  it.each(APPS)('lists every variable of the %s schema with its default', (app) => {
    const rows = new Map<string, string>();
    for (const [title, section] of sections) {
      if (title.startsWith(SECTION_OF[app]) || SHARED_SECTIONS.some((shared) => title.startsWith(shared))) {
        for (const [name, cell] of section) if (!rows.has(name) || title.startsWith(SECTION_OF[app])) rows.set(name, cell);
      }
    }
    const defaults = defaultsOf(app);
    const missing = [...(knownVariables(app) ?? [])].filter((name) => !rows.has(name));
    expect(missing, `variables of ${app} not in docs/OPERATIONS.md`).toEqual([]);
    const wrongDefaults = [...(knownVariables(app) ?? [])]
      .filter((name) => defaults.has(name) && !(rows.get(name) ?? '').includes(`\`${defaults.get(name)}\``))
      .map((name) => `${name}: schema ${defaults.get(name)}, docs ${rows.get(name)}`);
    expect(wrongDefaults).toEqual([]);
  });

  it('documents no variable that no schema knows', () => {
    const known = new Set(APPS.flatMap((app) => [...(knownVariables(app) ?? [])]));
    const unknown = [...sections.entries()]
      .filter(([title]) => SHARED_SECTIONS.some((shared) => title.startsWith(shared)) || Object.values(SECTION_OF).some((s) => title.startsWith(s)))
      .flatMap(([, rows]) => [...rows.keys()])
      .filter((name) => !known.has(name));
    expect(unknown).toEqual([]);
  });
});
