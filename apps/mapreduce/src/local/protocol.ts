/** Messages between the local engine and its mapper/reducer processes. */
import type { SerializedError } from '../errors.js';
import type { MapTaskSpec, ReduceTaskSpec, TaskCounters } from '../tasks.js';

export type ChildRequest = { kind: 'map'; task: MapTaskSpec } | { kind: 'reduce'; task: ReduceTaskSpec };

export type ChildReply =
  | { type: 'progress'; counters: TaskCounters }
  | { type: 'done'; counters: TaskCounters }
  | { type: 'failed'; error: SerializedError };
