/**
 * deploy/Dockerfile: the pipeline's needs (base image, production-only npm ci,
 * xz-utils, a tsx command, a non-root user), then the Dockerfile linter of
 * npm `dockerfile-utils` (the one behind VS Code's Docker language server:
 * syntax, instruction arguments, unknown instructions, …).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { validate as lintDockerfile } from 'dockerfile-utils';

export function validateDockerfile(root: string, problems: string[]): void {
  const file = path.join(root, 'deploy', 'Dockerfile');
  if (!existsSync(file)) {
    problems.push('deploy/Dockerfile is missing');
    return;
  }
  const text = readFileSync(file, 'utf8');
  for (const [needle, what] of [
    ['FROM node:20-slim', 'a node:20-slim base'],
    ['npm ci --omit=dev', 'npm ci --omit=dev (no dev dependencies in the image)'],
    ['xz-utils', 'xz-utils installed'],
    ['"--import", "tsx"', 'a command run through tsx'],
  ] as const) {
    if (!text.includes(needle)) problems.push(`deploy/Dockerfile: expected ${what} (${needle})`);
  }
  const users = [...text.matchAll(/^USER\s+(\S+)/gm)].map((match) => match[1] ?? '');
  const finalUser = users[users.length - 1];
  if (finalUser === undefined || /^(root|0)(:|$)/.test(finalUser)) problems.push('deploy/Dockerfile: the image must run as a non-root user (a final USER that is not root)');
  for (const diagnostic of lintDockerfile(text)) {
    const message = typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value;
    problems.push(`deploy/Dockerfile:${diagnostic.range.start.line + 1}: ${message}`);
  }
}
