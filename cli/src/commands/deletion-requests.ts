/**
 * `telemetry deletion-requests list`: the client ids whose Glean
 * `deletion-request` pings are in storage, one line per client and
 * namespace, for operators honouring them. Read from the stored pings
 * (STORAGE_DIR or --storage-dir), never from a second list: see docs/GLEAN.md.
 * With --output the list is written to a file atomically (temp + rename), so
 * a job reading that file never sees half of it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { parseEnv } from '@telemetry/shared/config/env';
import { isValidNamespace } from '@telemetry/shared/generic-form';
import { formatDeletionRequest, listDeletionRequests } from '@telemetry/shared/glean/deletion-requests';
import { z } from 'zod';
import { UsageError } from '../usage-error.js';
import { writeOrWait } from './io.js';

interface ListOptions {
  storageDir?: string;
  namespace?: string;
  output?: string;
}

const envSchema = z.object({ STORAGE_DIR: z.string().default('./var/storage') });

export function registerDeletionRequests(program: Command): void {
  const deletionRequests = program.command('deletion-requests').description('Client ids that asked for their data to be deleted (Glean deletion-request pings in storage)');
  deletionRequests
    .command('list')
    .description('Print "<client_id>\\t<namespace>\\t<first date>\\t<last date>\\t<requests>" per client and namespace, sorted by client id')
    .option('--storage-dir <dir>', 'storage root (default: STORAGE_DIR or ./var/storage)')
    .option('--namespace <ns>', 'only this namespace, as sent (e.g. firefox-desktop)')
    .option('--output <file>', 'write the list to this file (atomically) instead of stdout')
    .action(async (options: ListOptions) => {
      await runList(options);
    });
}

async function runList(options: ListOptions): Promise<void> {
  if (options.namespace !== undefined && !isValidNamespace(options.namespace)) {
    throw new UsageError(`--namespace must be a generic namespace ([a-z0-9_-], not telemetry), got "${options.namespace}"`);
  }
  const storageDir = options.storageDir ?? parseEnv(envSchema, process.env).STORAGE_DIR;
  const scan = await listDeletionRequests(storageDir, options.namespace === undefined ? {} : { namespace: options.namespace });
  const text = scan.clients.map(formatDeletionRequest).join('');
  if (options.output === undefined) {
    await writeOrWait(process.stdout, text);
  } else {
    await writeAtomically(options.output, text);
  }
  const requests = scan.clients.reduce((sum, client) => sum + client.requests, 0);
  process.stderr.write(
    `${scan.clients.length} client(s), ${requests} deletion-request ping(s) in ${scan.files} file(s)` +
      `${scan.withoutClientId > 0 ? `; ${scan.withoutClientId} without client_info.client_id` : ''}` +
      `${scan.tornLines > 0 ? `; ${scan.tornLines} torn line(s) skipped` : ''}\n`,
  );
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const target = path.resolve(file);
  await mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text, { flush: true });
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
