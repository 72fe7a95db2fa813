import type { Redis } from 'ioredis';
import { TransientError } from '@telemetry/shared/errors';
import type { ClaimResult, DedupStore } from './dedup-store.js';

/** Redis did not answer: the batch waits and is tried again (never acked unpersisted). */
export class DedupUnavailableError extends TransientError {
  override readonly name = 'DedupUnavailableError';
}

async function guarded<T>(operation: string, task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    throw new DedupUnavailableError(`Redis ${operation} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

const DONE = 'done';

// One round trip for a whole batch; atomic per key.
const CLAIM_SCRIPT = `
local results = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value == false then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    results[i] = 'claimed'
  elseif value == '${DONE}' then
    results[i] = 'done'
  elseif value == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    results[i] = 'claimed'
  else
    results[i] = 'busy'
  end
end
return results`;

const RELEASE_SCRIPT = `
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0`;

/**
 * Redis keys `<prefix><docId>`: a claim holds `claim:<owner>` with the lease
 * as expiry, a persisted docId holds `done` for DEDUP_TTL.
 */
export class RedisDedupStore implements DedupStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'telemetry:dedup:',
  ) {}

  async claim(docIds: readonly string[], owner: string, leaseMs: number): Promise<ClaimResult[]> {
    if (docIds.length === 0) return [];
    const keys = docIds.map((id) => this.prefix + id);
    const results = (await guarded('claim', () =>
      this.redis.eval(CLAIM_SCRIPT, keys.length, ...keys, `claim:${owner}`, String(leaseMs)),
    )) as string[];
    return results.map((result) => {
      if (result === 'claimed' || result === 'done' || result === 'busy') return result;
      throw new Error(`unexpected claim result ${result}`);
    });
  }

  async markDone(docIds: readonly string[], ttlMs: number): Promise<void> {
    if (docIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of docIds) pipeline.set(this.prefix + id, DONE, 'PX', ttlMs);
    const results = await guarded('mark done', () => pipeline.exec());
    const failed = results?.find(([error]) => error !== null);
    if (failed?.[0]) throw failed[0];
  }

  async release(docIds: readonly string[], owner: string): Promise<void> {
    if (docIds.length === 0) return;
    const keys = docIds.map((id) => this.prefix + id);
    await guarded('release', () => this.redis.eval(RELEASE_SCRIPT, keys.length, ...keys, `claim:${owner}`));
  }
}
