import type { Redis } from 'ioredis';
import { TransientError } from '@telemetry/shared/errors';
import type { ClaimResult, DedupStore } from './dedup-store.js';

/** Redis did not answer: the batch waits and is tried again (never acked unpersisted). */
class DedupUnavailableError extends TransientError {
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
 * Redis keys `<prefix><16-byte digest>` (binary: the smallest key that tells
 * documents apart): a claim holds `claim:<owner>` with the lease as expiry, a
 * persisted document holds `done` for DEDUP_TTL.
 */
export class RedisDedupStore implements DedupStore {
  private readonly prefix: Buffer;

  constructor(
    private readonly redis: Redis,
    prefix = 'telemetry:dedup:',
  ) {
    this.prefix = Buffer.from(prefix, 'utf8');
  }

  private keysOf(keys: readonly Buffer[]): Buffer[] {
    return keys.map((key) => Buffer.concat([this.prefix, key]));
  }

  async claim(digests: readonly Buffer[], owner: string, leaseMs: number): Promise<ClaimResult[]> {
    if (digests.length === 0) return [];
    const keys = this.keysOf(digests);
    const results = (await guarded('claim', () =>
      this.redis.eval(CLAIM_SCRIPT, keys.length, ...keys, `claim:${owner}`, String(leaseMs)),
    )) as string[];
    return results.map((result) => {
      if (result === 'claimed' || result === 'done' || result === 'busy') return result;
      throw new Error(`unexpected claim result ${result}`);
    });
  }

  async markDone(digests: readonly Buffer[], ttlMs: number): Promise<void> {
    if (digests.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const key of this.keysOf(digests)) pipeline.set(key, DONE, 'PX', ttlMs);
    const results = await guarded('mark done', () => pipeline.exec());
    const failed = results?.find(([error]) => error !== null);
    if (failed?.[0]) throw failed[0];
  }

  async release(digests: readonly Buffer[], owner: string): Promise<void> {
    if (digests.length === 0) return;
    const keys = this.keysOf(digests);
    await guarded('release', () => this.redis.eval(RELEASE_SCRIPT, keys.length, ...keys, `claim:${owner}`));
  }
}
