/**
 * How the client and the workers of distributed runs find each other: Redis
 * (the only coordinator) and the queue names, nothing else.
 */
import { Redis } from 'ioredis';
import type { TaskRoots } from '../task-roots.js';

export interface DistributedOptions {
  readonly redisUrl: string;
  /** Base name: queues `<base>-map`, `<base>-reduce`, `<base>-schedule`. */
  readonly queue: string;
  /** BullMQ key prefix. */
  readonly prefix: string;
  /** Tries per task, first one included. */
  readonly attempts: number;
  /** First retry delay, doubled for each further one. */
  readonly backoffMs: number;
  /**
   * Where the workers accept job modules, data and run directories. Given, the
   * client refuses a run outside them before submitting it (the workers would
   * refuse its tasks anyway); the workers always have theirs (config.ts).
   */
  readonly roots?: TaskRoots;
}

export interface QueueNames {
  readonly map: string;
  readonly reduce: string;
  readonly schedule: string;
}

export function queueNames(base: string): QueueNames {
  return { map: `${base}-map`, reduce: `${base}-reduce`, schedule: `${base}-schedule` };
}

/** BullMQ needs maxRetriesPerRequest null: its blocking commands wait as long as they must. */
export function bullConnection(url: string, name: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: name });
}

/** Retention of finished jobs, so the queue board shows recent runs without Redis growing for ever. */
export const KEEP_COMPLETED = { age: 24 * 3600, count: 1_000 };
export const KEEP_FAILED = { age: 7 * 24 * 3600, count: 1_000 };
