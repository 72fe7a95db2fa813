/**
 * Node.js 24 LTS: the tests themselves run on it (`npm test` sources
 * scripts/ensure-node.sh before anything runs), every place that names the
 * version agrees, and scripts/ensure-node.sh is fast when the Node is there
 * and fails with a clear message, leaving nothing half-installed, when the
 * npm registry cannot be reached.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/fixtures.js';

const PINNED = '24.21.0';
const MINIMUM = [24, 11] as const;

const atLeastMinimum = (version: string): boolean => {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  return major > MINIMUM[0] || (major === MINIMUM[0] && minor >= MINIMUM[1]);
};

/** PATH without the project's own Node (what a shell has before the set-up ran). */
const systemPath = (): string =>
  (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((entry) => !entry.includes(`${path.sep}.tools${path.sep}node-v`))
    .join(path.delimiter);

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const read = (file: string): string => readFileSync(path.join(REPO_ROOT, file), 'utf8');

describe('Node.js 24 LTS', () => {
  const temps: string[] = [];
  afterAll(() => {
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  it('runs these tests', () => {
    expect(atLeastMinimum(process.version), `the tests run on Node ${process.version}: run them through npm test (or put .tools/node-v${PINNED}/bin first on PATH)`).toBe(true);
  });

  it('is the version the project names everywhere', () => {
    const pkg = JSON.parse(read('package.json')) as { engines?: { node?: string } };
    expect(pkg.engines?.node).toBe(`>=${MINIMUM.join('.')}`);
    const script = read('scripts/ensure-node.sh');
    expect(script).toContain(`TELEMETRY_NODE_VERSION=${PINNED}`);
    expect(script).toContain(`TELEMETRY_NODE_MINIMUM=${MINIMUM.join('.')}`);
    expect(read('scripts/start.sh')).toContain('a > 24 || (a === 24 && b >= 11)');
    for (const file of ['scripts/start.sh', 'scripts/test.sh', '.ci/run']) expect(read(file), file).toMatch(/^source scripts\/ensure-node\.sh$/m);
    // .ci/run: npm ci only once Node 24 is on PATH.
    const ci = read('.ci/run');
    expect(ci.search(/^source scripts\/ensure-node\.sh$/m)).toBeLessThan(ci.search(/^npm ci\b/m));
    expect(ci.search(/^npm ci\b/m)).toBeGreaterThan(0);
    expect(read('deploy/Dockerfile')).not.toMatch(/FROM node:(?!24-slim)/);
    expect(read('.gitignore')).toMatch(/^\.tools\/$/m);
  });

  it('is put first on PATH by scripts/ensure-node.sh, quickly once installed, with its headers for node-gyp', () => {
    const run = () =>
      spawnSync('bash', ['-c', 'source scripts/ensure-node.sh && command -v node && node --version && echo "nodedir=${npm_config_nodedir:-}"'], {
        cwd: REPO_ROOT,
        env: { ...process.env, PATH: systemPath() },
        encoding: 'utf8',
        timeout: 120_000,
      });
    const first = run(); // installs if this checkout has no Node 24 yet (npm test installed it already)
    expect(first.status, first.stderr).toBe(0);
    const started = performance.now();
    const again = run();
    const elapsed = performance.now() - started;
    expect(again.status, again.stderr).toBe(0);
    const [where = '', version = '', nodedir = ''] = again.stdout.trim().split('\n');
    expect(atLeastMinimum(version), version).toBe(true);
    expect(again.stderr).toBe(''); // nothing to say when there is nothing to do
    expect(elapsed).toBeLessThan(3_000);
    if (where.includes(`.tools${path.sep}node-v${PINNED}`)) {
      expect(version).toBe(`v${PINNED}`);
      const headers = nodedir.replace(/^nodedir=/, '');
      expect(existsSync(path.join(headers, 'include', 'node', 'node.h')), nodedir).toBe(true);
    }
  }, 180_000);

  it('fails with a clear message and leaves nothing behind when the npm registry cannot be reached', async (context) => {
    const systemNode = spawnSync('node', ['--version'], { env: { ...process.env, PATH: systemPath() }, encoding: 'utf8' });
    if (systemNode.status !== 0 || atLeastMinimum(systemNode.stdout.trim())) {
      context.skip(); // the system's Node is recent enough (or absent): nothing would be installed
      return;
    }
    const tools = mkdtempSync(path.join(os.tmpdir(), 'ensure-node-'));
    temps.push(tools);
    const result = spawnSync('bash', ['-c', 'source scripts/ensure-node.sh && echo "sourced: $(node --version)"'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PATH: systemPath(),
        TELEMETRY_TOOLS_DIR: tools,
        npm_config_registry: `http://127.0.0.1:${await closedPort()}/`,
        npm_config_fetch_retries: '0',
        npm_config_fetch_timeout: '5000',
        npm_config_prefer_online: 'true',
      },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(result.status).not.toBe(0);
    expect(result.stdout).not.toContain('sourced:');
    expect(result.stderr).toContain(`installing Node.js ${PINNED} from the npm registry`);
    expect(result.stderr).toContain(`could not install node@${PINNED} from the npm registry`);
    expect(readdirSync(tools)).toEqual([]); // no half-installed Node, no temporary directory
  }, 180_000);
});
