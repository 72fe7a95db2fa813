/** What the deploy checks share: the apps, their ports, and tolerant accessors for parsed YAML. */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const APPS = ['gateway', 'workers', 'stats'] as const;
export type AppName = (typeof APPS)[number];

/** The port variable each app listens on (and its /ready is served on). */
export const READY_PORT_VARIABLE: Record<AppName, string> = { gateway: 'PORT', workers: 'METRICS_PORT', stats: 'STATS_PORT' };

export type Obj = Record<string, unknown>;
export const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
export const obj = (value: unknown): Obj => (isObj(value) ? value : {});
export const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);

/** The app an entry command runs (…/apps/<app>/src/main.ts), and whether that file exists. */
export function appOfCommand(command: unknown[], root: string): { app: AppName | undefined; entry: string | undefined; exists: boolean } {
  const entry = command.map(str).find((part) => part !== undefined && /apps\/[a-z]+\/src\/main\.ts$/.test(part));
  const app = APPS.find((name) => entry?.endsWith(`apps/${name}/src/main.ts`));
  return { app, entry, exists: entry !== undefined && existsSync(path.join(root, entry)) };
}

export type CheckVariables = (where: string, app: AppName, names: Iterable<string>) => void;
