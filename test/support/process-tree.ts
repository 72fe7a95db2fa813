/** The process tree of a command a test started (from /proc), for checks and clean-up. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readProcStat } from '../../scripts/supervisor/supervisor.js';
import { REPO_ROOT } from './fixtures.js';
import { waitFor } from './services.js';

/** Every live descendant of `root` (by parent pid; zombies left out). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (!stat || stat.state === 'Z') continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift() ?? 0) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

export interface NpmStartRun {
  readonly child: ChildProcess;
  /** Its stdout and stderr so far (the last ~2 MB). */
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm start` in the repository with `env`, its output collected. */
export function npmStart(env: NodeJS.ProcessEnv): NpmStartRun {
  const child = spawn('npm', ['start'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const append = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    if (text.length > 4_000_000) text = text.slice(-2_000_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, output: () => text, exited };
}

/** Waits until `url` answers 200 (e.g. the gateway's /ready); fails at once, with its output, if `npm start` exits first. */
export async function waitForNpmStart(run: NpmStartRun, what: string, url: string, timeoutMs: number): Promise<void> {
  await waitFor(
    what,
    async () => {
      if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.output().slice(-4_000)}`);
      return (await fetch(url).catch(() => undefined))?.status === 200;
    },
    timeoutMs,
  );
}
