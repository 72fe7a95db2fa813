/** deploy/Dockerfile: the base image, npm ci, xz-utils and a tsx command. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export function validateDockerfile(root: string, problems: string[]): void {
  const file = path.join(root, 'deploy', 'Dockerfile');
  if (!existsSync(file)) {
    problems.push('deploy/Dockerfile is missing');
    return;
  }
  const text = readFileSync(file, 'utf8');
  for (const [needle, what] of [
    ['FROM node:20-slim', 'a node:20-slim base'],
    ['npm ci', 'npm ci'],
    ['xz-utils', 'xz-utils installed'],
    ['"--import", "tsx"', 'a command run through tsx'],
  ] as const) {
    if (!text.includes(needle)) problems.push(`deploy/Dockerfile: expected ${what} (${needle})`);
  }
}
