/**
 * `npm start`: the supervisor on its own (restart with backoff, stop on a
 * configuration error, SIGKILL after the stop timeout, nothing left behind),
 * then the real command end to end: gateway, workers and stats (when
 * present) against the real RabbitMQ and Redis, a ping stored, a clean exit
 * on SIGTERM, and a bad configuration value stopping everything at once.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@telemetry/shared/logger';
import { resolveEnvFile, shellExports, parseEnvText } from '../scripts/supervisor/env-file.js';
import { LineForwarder } from '../scripts/supervisor/line-forwarder.js';
import { backoffDelayMs, fatalMessage, liveGroupMembers, readProcStat, Supervisor, type AppSpec } from '../scripts/supervisor/supervisor.js';
import { startHgServer, type HgServer } from './support/hg-server.js';
import { descendants, npmStart, waitForNpmStart, type NpmStartRun } from './support/process-tree.js';
import { REPO_ROOT } from './support/fixtures.js';
import { readAllLines } from './support/pipeline.js';
import { createTestEnvironment, REDIS_URL, topologyEnv, waitFor, type TestEnvironment } from './support/services.js';

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString('utf8');
    callback();
  }
}

/** A node one-liner as an app. */
function nodeApp(name: string, code: string): AppSpec {
  return { name, command: process.execPath, args: ['-e', code] };
}

function isGone(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat === undefined || stat.state === 'Z' || stat.state === 'X';
}

function processTitle(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('supervisor (scripts/supervisor)', () => {
  it('computes an exponential backoff with a cap', () => {
    const backoff = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, backoff))).toEqual([500, 1_000, 2_000, 4_000]);
    expect(backoffDelayMs(20, backoff)).toBe(30_000);
  });

  it('forwards whole lines only and keeps a tail', () => {
    const out = new Collect();
    const forwarder = new LineForwarder(out, 2);
    forwarder.write(Buffer.from('{"a":1}\n{"b"'));
    expect(out.text).toBe('{"a":1}\n');
    forwarder.write(Buffer.from(':2}\nthird\nfour'));
    expect(out.text).toBe('{"a":1}\n{"b":2}\nthird\n');
    forwarder.flush();
    expect(out.text.endsWith('four\n')).toBe(true);
    expect(forwarder.tail).toEqual(['third', 'four']);
  });

  it('takes the message of the last fatal JSON log line', () => {
    const stdout = new LineForwarder(new Collect());
    const stderr = new LineForwarder(new Collect());
    stdout.write(Buffer.from('{"level":30,"msg":"hello"}\n{"level":60,"msg":"Invalid configuration:\\n  PORT: bad"}\n'));
    expect(fatalMessage({ stdout, stderr })).toBe('Invalid configuration:\n  PORT: bad');
  });

  it('reads .env with the real environment winning', async () => {
    const file = path.join(os.tmpdir(), `envfile-${randomBytes(4).toString('hex')}.env`);
    await writeFile(file, '# comment\nPORT=1\nexport WORKERS=3\nQUOTED="a b"\nSINGLE=\'it\'\n');
    try {
      expect(parseEnvText('A=1\nB="two words"')).toEqual({ A: '1', B: 'two words' });
      const result = resolveEnvFile(file, { PORT: '8080' });
      expect(result.applied).toEqual({ WORKERS: '3', QUOTED: 'a b', SINGLE: 'it' });
      expect(result.shadowed).toEqual(['PORT']);
      expect(shellExports({ A: "it's" })).toBe(`export A='it'\\''s'\n`);
    } finally {
      await rm(file, { force: true });
    }
  });

  it('restarts a crashing app with backoff and stops everything on SIGTERM-style stop', async () => {
    const out = new Collect();
    const supervisor = new Supervisor({
      apps: [nodeApp('crasher', 'console.log("up"); setTimeout(() => process.exit(3), 30)')],
      cwd: REPO_ROOT,
      env: process.env,
      logger: silentLogger,
      stopTimeoutMs: 5_000,
      backoff: { initialMs: 50, maxMs: 200, resetAfterMs: 60_000 },
      stdout: out,
    });
    supervisor.start();
    await waitFor('three starts', () => out.text.split('up\n').length - 1 >= 3, 10_000);
    const result = await supervisor.stop();
    expect(result.exitCode).toBe(0);
    expect(await supervisor.done).toBe(result);
  });

  it('stops everything on a configuration error (exit 78) without restarting', async () => {
    const out = new Collect();
    const supervisor = new Supervisor({
      apps: [
        nodeApp('bad', 'console.log(JSON.stringify({ level: 60, msg: "Invalid configuration:\\n  MAX_BODY_BYTES: bad" })); process.exit(78)'),
        nodeApp('good', 'console.log("good up"); setInterval(() => {}, 1000)'),
      ],
      cwd: REPO_ROOT,
      env: process.env,
      logger: silentLogger,
      stopTimeoutMs: 5_000,
      backoff: { initialMs: 10, maxMs: 10, resetAfterMs: 60_000 },
      stdout: out,
    });
    supervisor.start();
    const good = supervisor.pids().good;
    const result = await supervisor.done;
    expect(result.exitCode).toBe(78);
    expect(result.reason).toContain('bad: Invalid configuration');
    expect(result.reason).toContain('MAX_BODY_BYTES');
    expect(out.text.match(/MAX_BODY_BYTES/g)).toHaveLength(1);
    expect(good === undefined || isGone(good)).toBe(true);
  });

  it('SIGKILLs an app and what it forked when they ignore SIGTERM past the stop timeout', async () => {
    const stubborn = [
      'const { spawn } = require("node:child_process");',
      'process.on("SIGTERM", () => {});',
      'const child = spawn(process.execPath, ["-e", "process.on(\'SIGTERM\', () => {}); setInterval(() => {}, 1000)"], { stdio: "ignore" });',
      'console.log("grandchild " + child.pid);',
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const out = new Collect();
    const supervisor = new Supervisor({ apps: [nodeApp('stubborn', stubborn)], cwd: REPO_ROOT, env: process.env, logger: silentLogger, stopTimeoutMs: 500, stdout: out });
    supervisor.start();
    await waitFor('the grandchild', () => /grandchild \d+/.test(out.text), 10_000);
    const grandchild = Number(/grandchild (\d+)/.exec(out.text)?.[1]);
    const pid = supervisor.pids().stubborn ?? 0;
    const started = Date.now();
    const result = await supervisor.stop();
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(result.killed).toContain('stubborn');
    expect(isGone(pid)).toBe(true);
    await waitFor('the grandchild to be gone', () => isGone(grandchild), 2_000);
    expect(liveGroupMembers(pid)).toEqual([]);
  });
});

type Run = NpmStartRun;

async function exitWithin(run: Run, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`npm start did not exit within ${ms} ms:\n${run.output().slice(-4_000)}`)), ms);
  });
  try {
    return await Promise.race([run.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Pids of the apps the supervisor started, from its own log lines. */
function childPids(output: string): number[] {
  return [...output.matchAll(/"childPid":(\d+)/g)].map((m) => Number(m[1]));
}

describe('npm start (the whole stack, end to end)', () => {
  let env: TestEnvironment;
  let hg: HgServer;
  let baseEnv: NodeJS.ProcessEnv;
  let envFile: string;
  let hostId: string;
  const runs: Run[] = [];
  const seenPids = new Set<number>();
  const statsPresent = existsSync(path.join(REPO_ROOT, 'apps/stats/src/main.ts'));

  beforeAll(async () => {
    env = await createTestEnvironment('start', { retryDelayMs: 500 });
    hg = await startHgServer();
    hostId = `start_${randomBytes(4).toString('hex')}`;
    envFile = path.join(env.dir, 'test.env');
    // The env file sets the writer's host id (taken) and a port the real environment overrides.
    await writeFile(envFile, `# written by test/start.test.ts\nWORKER_HOST_ID=${hostId}\nPORT=1\n`);
    const dataDir = await mkdtemp(path.join(env.dir, 'data-'));
    baseEnv = {
      ...process.env,
      ...topologyEnv(env.topology),
      ENV_FILE: envFile,
      REDIS_URL,
      HOST: '127.0.0.1',
      GATEWAY_PROCESSES: '1',
      WORKERS: '1',
      STORAGE_DIR: path.join(dataDir, 'storage'),
      ERRORS_DIR: path.join(dataDir, 'errors'),
      REVISION_CACHE_DIR: path.join(dataDir, 'revisions'),
      HG_SERVER: hg.url,
      DEDUP_PREFIX: env.redisPrefix,
      BATCH_MAX_WAIT: '20ms',
      METRICS_PORT: '0',
      STATS_HOST: '127.0.0.1',
      STATS_PREFIX: `${env.prefix}stats`,
      STATS_DATA_DIR: path.join(dataDir, 'dashboard'),
      START_STOP_TIMEOUT: '20s',
      LOG_LEVEL: 'info',
    };
  });

  afterAll(async () => {
    for (const run of runs) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    for (const pid of seenPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone, as it should be.
      }
    }
    await hg?.close();
    await env?.cleanup();
  });

  it('runs gateway, workers (and stats), stores a ping, and exits 0 on SIGTERM leaving no process', async () => {
    const port = await freePort();
    const statsPort = await freePort();
    // PATH as before any set-up: npm start brings its own Node 24 (scripts/ensure-node.sh) when the system's is older.
    const systemPath = (process.env.PATH ?? '').split(path.delimiter).filter((entry) => !entry.includes(`${path.sep}.tools${path.sep}node-v`));
    const run = npmStart({ ...baseEnv, PATH: systemPath.join(path.delimiter), PORT: String(port), STATS_PORT: String(statsPort) });
    runs.push(run);
    const base = `http://127.0.0.1:${port}`;
    await waitForNpmStart(run, 'the gateway to be ready', `${base}/ready`, 40_000);

    const docId = randomUUID();
    const ping = { ver: 2, info: { reason: 'idle-daily', appName: 'Firefox', appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812' } };
    const response = await fetch(`${base}/submit/telemetry/${docId}/idle-daily/Firefox/23.0.1/release/20130814063812`, {
      method: 'POST',
      body: JSON.stringify(ping),
    });
    expect(response.status).toBe(200);
    const stored = async () => (await readAllLines(baseEnv.STORAGE_DIR ?? '')).find((l) => l.line.startsWith(`${docId}\t`));
    await waitFor('the ping in STORAGE_DIR', async () => (await stored()) !== undefined, 15_000);
    // The writer id comes from the env file; PORT from the real environment (it wins).
    expect((await stored())?.file).toContain(`.${hostId}_w0.`);

    if (statsPresent) {
      // The stats app starts beside the gateway, not before it: give it its own wait.
      await waitFor('the stats app', async () => (await fetch(`http://127.0.0.1:${statsPort}/status`).catch(() => undefined))?.status === 200, 30_000);
    }
    const tree = descendants(run.child.pid ?? 0);
    for (const pid of tree) seenPids.add(pid);
    const titles = tree.map(processTitle);
    expect(titles).toContain('telemetry-start');
    // The stack runs on Node.js 24 LTS (24.11 or newer), whatever Node ran npm.
    const supervisor = tree.find((pid) => processTitle(pid) === 'telemetry-start') ?? 0;
    const version = execFileSync(readlinkSync(`/proc/${supervisor}/exe`), ['--version'], { encoding: 'utf8' }).trim();
    const [major = 0, minor = 0] = version.slice(1).split('.').map(Number);
    expect(major > 24 || (major === 24 && minor >= 11), `the supervisor runs on Node ${version}`).toBe(true);
    expect(titles).toContain('telemetry-gatew'); // /proc comm keeps 15 characters
    expect(titles).toContain('telemetry-worke');
    if (statsPresent) expect(titles).toContain('telemetry-stats');

    run.child.kill('SIGTERM');
    const exit = await exitWithin(run, 30_000);
    expect(exit, run.output().slice(-4_000)).toEqual({ code: 0, signal: null });
    for (const pid of [...tree, ...childPids(run.output())]) expect(isGone(pid), `pid ${pid} (${processTitle(pid)}) still running`).toBe(true);
    // Shut down gracefully: the record is still there (its file finished and compressed).
    expect((await stored())?.line).toBeDefined();
    expect(run.output()).toContain('"msg":"all apps stopped"');
    expect(run.output()).not.toContain('exited unexpectedly');
  }, 60_000);

  it('leaves no process behind when the supervisor is SIGKILLed under load, and the next npm start stores every 200', async () => {
    const port = await freePort();
    const statsPort = await freePort();
    // Pools of two, so the pooled processes (grandchildren of the supervisor) are covered too.
    const runEnv = { ...baseEnv, PORT: String(port), STATS_PORT: String(statsPort), GATEWAY_PROCESSES: '2', WORKERS: '2' };
    const run = npmStart(runEnv);
    runs.push(run);
    const base = `http://127.0.0.1:${port}`;
    const ready = async (): Promise<boolean> => (await fetch(`${base}/ready`).catch(() => undefined))?.status === 200;
    await waitFor('the gateway to be ready', ready, 40_000);
    const supervisorPid = descendants(run.child.pid ?? 0).find((pid) => processTitle(pid) === 'telemetry-start');
    expect(supervisorPid).toBeDefined();

    // Load: 8 clients sending real-shaped pings until told to stop; every 200 is remembered.
    const accepted: string[] = [];
    let sending = true;
    const client = async (): Promise<void> => {
      while (sending) {
        const docId = randomUUID();
        const ping = { ver: 2, info: { reason: 'idle-daily', appName: 'Firefox', appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812' } };
        const response = await fetch(`${base}/submit/telemetry/${docId}/idle-daily/Firefox/23.0.1/release/20130814063812`, { method: 'POST', body: JSON.stringify(ping) }).catch(() => undefined);
        if (response?.status === 200) accepted.push(docId);
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const clients = Array.from({ length: 8 }, () => client());
    await waitFor('some accepted pings', () => accepted.length >= 200, 20_000);

    const tree = descendants(supervisorPid ?? 0);
    for (const pid of tree) seenPids.add(pid);
    expect(tree.length).toBeGreaterThanOrEqual(6); // gateway primary + 2, workers primary + 2, stats …
    process.kill(supervisorPid ?? 0, 'SIGKILL');
    const killedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    sending = false;
    await Promise.all(clients);
    // Their output went with the supervisor: what shows they noticed is that they are gone.
    await waitFor('every process of the stack to exit', () => tree.every(isGone), 10_000 - (Date.now() - killedAt)).catch((error: unknown) => {
      // Name the stragglers: which app did not notice, or took too long to stop.
      const left = tree.filter((pid) => !isGone(pid)).map((pid) => `${pid} ${processTitle(pid)}`);
      throw new Error(`${error instanceof Error ? error.message : String(error)}; still running: ${left.join(', ')}`);
    });
    console.info(`SIGKILL of the supervisor: ${tree.length} processes gone within ${Date.now() - killedAt} ms; ${accepted.length} pings accepted`);

    // The next npm start comes up (ports and writer ids free) and stores everything answered 200.
    const again = npmStart(runEnv);
    runs.push(again);
    await waitForNpmStart(again, 'the gateway to be ready again', `${base}/ready`, 40_000);
    const storedIds = async (): Promise<Set<string>> => new Set((await readAllLines(baseEnv.STORAGE_DIR ?? '')).map((l) => l.line.slice(0, l.line.indexOf('\t'))));
    await waitFor(`all ${accepted.length} accepted pings stored`, async () => {
      const ids = await storedIds();
      return accepted.every((id) => ids.has(id));
    }, 30_000);
    for (const pid of descendants(again.child.pid ?? 0)) seenPids.add(pid);
    again.child.kill('SIGTERM');
    expect((await exitWithin(again, 30_000)).code).toBe(0);
  }, 150_000);

  it('stops with a message naming the variable on a bad configuration value, without a restart loop', async () => {
    const run = npmStart({ ...baseEnv, PORT: String(await freePort()), STATS_PORT: String(await freePort()), MAX_BODY_BYTES: 'abc' });
    runs.push(run);
    const exit = await exitWithin(run, 30_000);
    const output = run.output();
    expect(exit.code, output.slice(-4_000)).toBe(78);
    expect(output).toContain('[telemetry-start] stopped: gateway: Invalid configuration');
    expect(output).toMatch(/MAX_BODY_BYTES: "abc" is not a size/);
    expect(output.match(/"child":"gateway","childPid":\d+,"restarts":0,"msg":"started"/g)).toHaveLength(1);
    expect(output).not.toContain('exited unexpectedly');
    for (const pid of childPids(output)) expect(isGone(pid)).toBe(true);
  }, 40_000);
});
