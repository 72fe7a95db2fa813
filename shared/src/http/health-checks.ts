/**
 * The /__heartbeat__ checks: each opens its own short connection (it checks
 * that the dependency answers now, not what a long-lived connection last
 * saw) and closes it, and never waits longer than `timeoutMs`.
 */
import type { StatsFs } from 'node:fs';
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { brokerAddress, connectEach } from '../amqp/broker-list.js';
import type { HealthCheck } from './dockerflow.js';

/**
 * RabbitMQ: an AMQP connection (credentials and vhost included) opens. With a
 * broker list (the nodes of a cluster) every node is tried at once and one
 * that opens is enough: the apps move to it by themselves; the message says
 * how many answered and why the others did not.
 */
export function rabbitmqCheck(url: string, timeoutMs: number): HealthCheck {
  return async () => {
    const attempts = await connectEach(url, { timeout: timeoutMs, clientProperties: { connection_name: 'telemetry heartbeat' } });
    await Promise.all(attempts.flatMap(({ connection }) => (connection ? [connection.close().catch(() => undefined)] : [])));
    const up = attempts.filter((attempt) => attempt.connection !== undefined).length;
    const failures = attempts.flatMap(({ url: broker, error }) => (error ? [`${brokerAddress(broker)}: ${describeAmqpError(error)}`] : []));
    if (up === 0) {
      const first = attempts[0]?.error;
      if (attempts.length === 1 && first) throw first.message === describeAmqpError(first) ? first : new Error(describeAmqpError(first));
      throw new Error(`no broker answered (${failures.join('; ')})`);
    }
    if (attempts.length === 1) return 'connected';
    return `connected to ${up} of ${attempts.length} brokers${failures.length > 0 ? ` (${failures.join('; ')})` : ''}`;
  };
}

/** amqplib's words for a vhost that is missing or not this user's, made plain. */
function describeAmqpError(error: Error): string {
  return error.message.includes('Expected ConnectionOpenOk') ? `the broker refused to open the vhost (${error.message})` : error.message;
}

/** Redis: PING answers PONG. */
export function redisCheck(url: string, timeoutMs: number): HealthCheck {
  return async () => {
    const redis = new Redis(url, {
      lazyConnect: true,
      connectionName: 'telemetry-heartbeat',
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await redis.ping();
    } finally {
      redis.disconnect();
    }
  };
}

/**
 * Free space of the file system holding `dir` (of its nearest existing
 * parent while `dir` is not created yet) is at least `minFreeBytes`.
 */
export function freeSpaceCheck(dir: string, minFreeBytes: number): HealthCheck {
  return async () => {
    const stats = await statfsOfNearest(path.resolve(dir));
    const free = stats.bavail * stats.bsize;
    const text = `${formatBytes(free)} free, at least ${formatBytes(minFreeBytes)} wanted`;
    if (free < minFreeBytes) throw new Error(text);
    return text;
  };
}

async function statfsOfNearest(dir: string): Promise<StatsFs> {
  for (let current = dir; ; current = path.dirname(current)) {
    try {
      return await statfs(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(current) === current) throw error;
    }
  }
}

function formatBytes(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
