/**
 * Where one gateway process spends its CPU under the ingest-path load:
 *   node --import tsx bench/profile-gateway.ts [SECONDS] [TOP]
 * One process (GATEWAY_PROCESSES=1) under `node --cpu-prof`, on a private
 * topology with nothing consuming; wrk as in bench/ingest-path.ts phase 1
 * (50 connections, 2 KiB JSON bodies, unique docIds). Prints the wrk result
 * and the profile's top self-time functions and packages; the .cpuprofile is
 * kept (its path is printed) for Chrome DevTools or speedscope. The profile
 * includes the process's start-up (a second or so of module loading).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatSelfTimes, readCpuProfile, selfTimes } from './cpuprofile-top.js';
import { firefoxPingBody } from './load.js';
import { benchStack, waitForHttp } from './stack.js';
import { ensureBenchTools, runWrk } from './wrk.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.argv[2] ?? 20);
const top = Number(process.argv[3] ?? 15);

ensureBenchTools();
const profileDir = await mkdtemp(path.join(os.tmpdir(), 'gateway-profile-'));
const stack = await benchStack('gwprof', { GATEWAY_PROCESSES: '1' });
const bodyFile = path.join(stack.dir, 'body.json');
await writeFile(bodyFile, firefoxPingBody(2048));
const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profileDir, '--import', 'tsx', path.join(ROOT, 'apps/gateway/src/main.ts')], {
  cwd: ROOT,
  env: { ...process.env, LOG_LEVEL: 'warn', ...stack.env },
  stdio: ['ignore', 'ignore', 'inherit'],
});
try {
  const url = `http://127.0.0.1:${stack.port}`;
  await waitForHttp(`${url}/ready`);
  const load = { url, connections: 50, threads: 2, bodyFile, idPrefix: `prof${Date.now().toString(36)}` };
  await runWrk({ ...load, seconds: 3, idPrefix: `${load.idPrefix}w` });
  const wrk = await runWrk({ ...load, seconds });
  console.log(`wrk: ${wrk.rate.toFixed(0)} req/s, p50 ${wrk.p50Ms.toFixed(1)} ms, p99 ${wrk.p99Ms.toFixed(1)} ms, ${wrk.non2xx} non-2xx, ${wrk.socketErrors} socket errors (${seconds} s, after a 3 s warm-up)`);
} finally {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM'); // the gateway exits through process.exit: --cpu-prof writes the profile then
    await exited;
  }
  await stack.cleanup();
}
// CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (others: tsx's loader thread, idle).
const file = (await readdir(profileDir)).find((name) => /\.0\.\d+\.cpuprofile$/.test(name));
if (!file) throw new Error(`no main-thread .cpuprofile in ${profileDir}`);
console.log(`profile: ${path.join(profileDir, file)}\n`);
console.log(formatSelfTimes(selfTimes(await readCpuProfile(path.join(profileDir, file))), top));
