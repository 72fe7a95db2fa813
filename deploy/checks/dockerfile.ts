/**
 * deploy/Dockerfile: the pipeline's needs (Node 24 LTS base images,
 * production-only npm ci, xz-utils, a tsx command, a fixed non-root uid:gid,
 * Dockerflow's version.json written from build args where the apps read it),
 * then the Dockerfile linter of npm `dockerfile-utils` (the one behind VS
 * Code's Docker language server: syntax, instruction arguments, unknown
 * instructions, …).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { validate as lintDockerfile } from 'dockerfile-utils';

/** The base image of every stage. */
const NODE_IMAGE = 'node:24-slim';
/** Dockerflow's version.json: where the image writes it (VERSION_FILE's default, `version.json`, in WORKDIR /app). */
const VERSION_JSON = '/app/version.json';
/** The build args that fill version.json. */
const VERSION_ARGS = ['VERSION', 'COMMIT', 'SOURCE', 'BUILD'] as const;

function dockerfileText(root: string): string | undefined {
  const file = path.join(root, 'deploy', 'Dockerfile');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

/** The final `USER uid:gid` of the Dockerfile when it is numeric; undefined otherwise. */
export function dockerfileUser(root: string): { uid: number; gid: number } | undefined {
  const text = dockerfileText(root);
  const users = text === undefined ? [] : [...text.matchAll(/^USER\s+(\S+)/gm)].map((match) => match[1] ?? '');
  const match = /^(\d+):(\d+)$/.exec(users[users.length - 1] ?? '');
  return match ? { uid: Number(match[1]), gid: Number(match[2]) } : undefined;
}

export function validateDockerfile(root: string, problems: string[]): void {
  const text = dockerfileText(root);
  if (text === undefined) {
    problems.push('deploy/Dockerfile is missing');
    return;
  }
  for (const [needle, what] of [
    ['npm ci --omit=dev', 'npm ci --omit=dev (no dev dependencies in the image)'],
    ['xz-utils', 'xz-utils installed'],
    ['"--import", "tsx"', 'a command run through tsx'],
  ] as const) {
    if (!text.includes(needle)) problems.push(`deploy/Dockerfile: expected ${what} (${needle})`);
  }
  const bases = [...text.matchAll(/^FROM\s+(\S+)/gim)].map((match) => match[1] ?? '');
  if (bases.length === 0 || bases.some((base) => base !== NODE_IMAGE)) {
    problems.push(`deploy/Dockerfile: every stage must start FROM ${NODE_IMAGE} (Node.js 24 LTS), not ${bases.join(', ') || 'nothing'}`);
  }

  const users = [...text.matchAll(/^USER\s+(\S+)/gm)].map((match) => match[1] ?? '');
  const finalUser = users[users.length - 1];
  if (finalUser === undefined || /^(root|0)(:|$)/.test(finalUser)) problems.push('deploy/Dockerfile: the image must run as a non-root user (a final USER that is not root)');
  else if (!/^[1-9]\d*:\d+$/.test(finalUser)) {
    problems.push(`deploy/Dockerfile: the final USER must be a numeric non-root uid:gid (e.g. 1000:1000, the node user), which Kubernetes' runAsNonRoot can verify and the manifests name; got ${finalUser}`);
  }

  // The final stage writes version.json from the build args, where the apps read it.
  const finalStage = text.slice(Math.max(0, text.search(/^FROM\s[^\n]*$(?![\s\S]*^FROM\s)/m)));
  if (!/^WORKDIR\s+\/app\s*$/m.test(finalStage)) problems.push('deploy/Dockerfile: the final stage must work in /app (VERSION_FILE defaults to version.json there)');
  const writer = /^RUN\s+node --import tsx deploy\/version-file\.ts\s+(\S+)\s*$/m.exec(finalStage);
  if (!writer || writer[1] !== VERSION_JSON) {
    problems.push(`deploy/Dockerfile: the final stage must write Dockerflow's ${VERSION_JSON} (RUN node --import tsx deploy/version-file.ts ${VERSION_JSON})`);
  } else {
    const before = finalStage.slice(0, writer.index);
    for (const arg of VERSION_ARGS) {
      if (!new RegExp(`^ARG\\s+${arg}(=|\\s*$)`, 'm').test(before)) problems.push(`deploy/Dockerfile: ARG ${arg} must be declared in the final stage before version.json is written`);
    }
  }
  if (!existsSync(path.join(root, 'deploy', 'version-file.ts'))) problems.push('deploy/Dockerfile: deploy/version-file.ts (which writes version.json) is missing');
  const ignore = path.join(root, 'deploy', 'Dockerfile.dockerignore');
  if (!existsSync(ignore) || !/^\.tools\/?$/m.test(readFileSync(ignore, 'utf8'))) {
    problems.push('deploy/Dockerfile.dockerignore: must leave out .tools (the project Node of scripts/ensure-node.sh, ~190 MB)');
  }

  for (const diagnostic of lintDockerfile(text)) {
    const message = typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value;
    problems.push(`deploy/Dockerfile:${diagnostic.range.start.line + 1}: ${message}`);
  }
}
