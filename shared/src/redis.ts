import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * A Redis client that survives Redis restarts: it reconnects with backoff
 * for ever and queues commands while offline, failing each after
 * `commandTimeoutMs` so callers see a typed failure instead of hanging.
 */
export function createRedis(url: string, logger: Logger, options: { commandTimeoutMs?: number; name?: string } = {}): Redis {
  const redis = new Redis(url, {
    connectionName: options.name ?? 'telemetry',
    maxRetriesPerRequest: 2,
    commandTimeout: options.commandTimeoutMs ?? 5_000,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)),
    reconnectOnError: () => true,
  });
  let wasReady = false;
  redis.on('ready', () => {
    if (wasReady) logger.info('reconnected to Redis');
    wasReady = true;
  });
  redis.on('error', (error: Error) => logger.warn({ err: error.message }, 'Redis error'));
  return redis;
}
