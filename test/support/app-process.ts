/**
 * An app as a real child process, the way `npm start` runs it
 * (`node --import tsx apps/<app>/src/main.ts`), with its output kept for
 * failure messages. No metrics port unless `env` sets METRICS_PORT (tests
 * run in parallel: the apps' default ports would be shared).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { REPO_ROOT } from './fixtures.js';

export interface AppProcess {
  readonly child: ChildProcess;
  /** The last output lines. */
  tail(lines?: number): string;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once it exited. */
  stop(timeoutMs?: number): Promise<void>;
}

export function spawnApp(app: 'gateway' | 'workers' | 'stats', env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'apps', app, 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      lines.push(...chunk.split('\n').filter((line) => line !== ''));
      if (lines.length > 200) lines.splice(0, lines.length - 200);
    });
  }
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit').then(() => undefined);
  return {
    child,
    tail: (count = 20) => lines.slice(-count).join('\n'),
    async stop(timeoutMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
