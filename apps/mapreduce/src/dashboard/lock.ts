/**
 * One dashboard run at a time per published directory (an incremental merge
 * run twice at once would count the same files twice): a lock file
 * `<out>/.lock` created exclusively, naming its holder, whose modification
 * time the holder renews every few seconds. A lock not renewed for
 * STALE_MS belongs to a run that died (any host on the shared storage): it
 * is taken over.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const LOCK = '.lock';
const RENEW_MS = 5_000;
const STALE_MS = 60_000;

/** Another run holds the directory. */
export class DashboardBusyError extends Error {
  override readonly name = 'DashboardBusyError';
}

export interface DashboardLock {
  release(): Promise<void>;
}

async function tryCreate(file: string, content: string): Promise<boolean> {
  try {
    await writeFile(file, content, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Moves a stale lock aside; true when it was still the stale one (else it is put back). */
async function takeOver(file: string, staleContent: string): Promise<boolean> {
  const aside = `${file}.stale-${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved === staleContent) {
    await rm(aside, { force: true });
    return true;
  }
  // Another process took it over between our look and our move: give its lock back (link fails if a third one exists).
  await link(aside, file).catch(() => undefined);
  await rm(aside, { force: true });
  return false;
}

export async function acquireDashboardLock(outDir: string): Promise<DashboardLock> {
  const file = path.join(outDir, LOCK);
  const content = JSON.stringify({ host: os.hostname(), pid: process.pid, startedAt: new Date().toISOString(), id: randomBytes(8).toString('hex') });
  for (let attempt = 0; ; attempt += 1) {
    if (await tryCreate(file, content)) break;
    const [holder, info] = await Promise.all([readFile(file, 'utf8').catch(() => ''), stat(file).catch(() => undefined)]);
    const stale = info === undefined || Date.now() - info.mtimeMs > STALE_MS;
    if (!stale || attempt >= 2 || !(await takeOver(file, holder))) {
      throw new DashboardBusyError(`another dashboard run is publishing into ${outDir} (${holder || 'lock file .lock'}); it renews its lock every ${RENEW_MS / 1000} s, a lock older than ${STALE_MS / 1000} s is taken over`);
    }
  }
  const renew = setInterval(() => {
    const now = new Date();
    utimes(file, now, now).catch(() => undefined);
  }, RENEW_MS);
  renew.unref();
  return {
    async release() {
      clearInterval(renew);
      // Only our own lock: one taken over from us (we stalled) is the other run's.
      if ((await readFile(file, 'utf8').catch(() => '')) === content) await rm(file, { force: true });
    },
  };
}
