/**
 * Self time of a V8 .cpuprofile (node --cpu-prof), by function and by package,
 * and total (inclusive) time by function:
 *   node --import tsx bench/cpuprofile-top.ts FILE.cpuprofile [TOP]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeRow {
  readonly name: string;
  readonly where: string;
  readonly selfMs: number;
  readonly share: number;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function shortUrl(url: string): string {
  if (url === '') return '';
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  return file.startsWith(ROOT) ? path.relative(ROOT, file) : file;
}

/** Where a frame's code lives: a package (node_modules/…), node's internals, the repo's workspace, or V8 itself. */
function packageOf(url: string): string {
  const file = shortUrl(url);
  if (file === '') return '(V8 / native)';
  if (file.startsWith('node:')) return file.split('/').slice(0, 2).join('/');
  const nm = file.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = file.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? file);
  }
  return file.split('/').slice(0, 3).join('/');
}

export function selfTimes(profile: CpuProfile): { byFunction: SelfTimeRow[]; byPackage: SelfTimeRow[]; inclusive: SelfTimeRow[]; totalMs: number } {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i: charge it to that sample's node.
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let totalUs = 0;
  for (const us of selfUs.values()) totalUs += us;
  const byFunction = new Map<string, { name: string; where: string; us: number }>();
  const byPackage = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)?.callFrame;
    if (!frame) continue;
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    // tsx-compiled sources report line 0 for every function: no line then.
    const where = frame.url === '' ? '' : frame.lineNumber > 0 ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : shortUrl(frame.url);
    const key = `${name}\u0000${where}`;
    const row = byFunction.get(key) ?? { name, where, us: 0 };
    row.us += us;
    byFunction.set(key, row);
    const pkg = packageOf(frame.url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  // Inclusive: each sample counts once for every distinct function on its stack.
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const inclusive = new Map<string, { name: string; where: string; us: number }>();
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const frame = nodes.get(at)?.callFrame;
      if (!frame || frame.functionName === '(root)') continue;
      const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
      const where = shortUrl(frame.url);
      const key = `${name}\u0000${where}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const row = inclusive.get(key) ?? { name, where, us: 0 };
      row.us += profile.timeDeltas[i] ?? 0;
      inclusive.set(key, row);
    }
  });
  const rows = (entries: { name: string; where: string; us: number }[]): SelfTimeRow[] =>
    entries.sort((a, b) => b.us - a.us).map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, share: totalUs === 0 ? 0 : e.us / totalUs }));
  return {
    byFunction: rows([...byFunction.values()]),
    byPackage: rows([...byPackage].map(([name, us]) => ({ name, where: '', us }))),
    inclusive: rows([...inclusive.values()]),
    totalMs: totalUs / 1000,
  };
}

export async function readCpuProfile(file: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
}

export function formatSelfTimes(result: ReturnType<typeof selfTimes>, top: number): string {
  const pct = (share: number) => `${(share * 100).toFixed(1)}%`;
  return [
    `Sampled ${(result.totalMs / 1000).toFixed(1)} s, of which ${((result.byFunction.find((row) => row.name === '(idle)')?.selfMs ?? 0) / 1000).toFixed(1)} s idle; shares are of all samples.`,
    '',
    '| # | self | share | function | where |',
    '| ---: | ---: | ---: | --- | --- |',
    ...result.byFunction.slice(0, top).map((row, i) => `| ${i + 1} | ${row.selfMs.toFixed(0)} ms | ${pct(row.share)} | ${row.name} | ${row.where} |`),
    '',
    '| package / module | self | share |',
    '| --- | ---: | ---: |',
    ...result.byPackage.slice(0, top).map((row) => `| ${row.name} | ${row.selfMs.toFixed(0)} ms | ${pct(row.share)} |`),
    '',
    '| # | total (self + callees) | share | function | file |',
    '| ---: | ---: | ---: | --- | --- |',
    ...result.inclusive.slice(0, top * 2).map((row, i) => `| ${i + 1} | ${row.selfMs.toFixed(0)} ms | ${pct(row.share)} | ${row.name} | ${row.where} |`),
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [file, top = '15'] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node --import tsx bench/cpuprofile-top.ts FILE.cpuprofile [TOP]');
    process.exit(2);
  }
  console.log(formatSelfTimes(selfTimes(await readCpuProfile(file)), Number(top)));
}
