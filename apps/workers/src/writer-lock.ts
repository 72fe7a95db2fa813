import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

/** Another live process on this host already writes with this writer id. */
export class WriterIdTakenError extends Error {
  override readonly name = 'WriterIdTakenError';
}

/**
 * Makes sure only one process on this host writes as `writerId` (two would
 * interleave lines in one file). A lock left by a dead process is taken over.
 * Returns the release function.
 */
export async function lockWriterId(storageDir: string, writerId: string): Promise<() => Promise<void>> {
  const dir = path.join(storageDir, '.writers');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${writerId}.pid`);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new WriterIdTakenError(`writer id ${writerId} is in use by pid ${holder} (${file})`);
      }
      await rm(file, { force: true });
    }
  }
  throw new WriterIdTakenError(`could not lock writer id ${writerId}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
