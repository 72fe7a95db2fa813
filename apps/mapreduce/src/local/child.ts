/**
 * Entry of a local mapper or reducer process (forked by processes.ts): runs
 * the one task it is sent over IPC, reports progress and the result, exits.
 */
import { serializeError } from '../errors.js';
import { runMapTask } from '../map-task.js';
import { runReduceTask } from '../reduce-task.js';
import type { TaskCounters } from '../tasks.js';
import type { ChildReply, ChildRequest } from './protocol.js';

function send(reply: ChildReply): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) {
      resolve();
      return;
    }
    process.send(reply, undefined, {}, () => resolve());
  });
}

async function run(request: ChildRequest): Promise<TaskCounters> {
  if (request.kind === 'map') {
    return runMapTask(request.task, (counters) => {
      void send({ type: 'progress', counters });
    });
  }
  return runReduceTask(request.task);
}

process.once('message', (request: ChildRequest) => {
  run(request).then(
    async (counters) => {
      await send({ type: 'done', counters });
      process.exit(0);
    },
    async (error: unknown) => {
      await send({ type: 'failed', error: serializeError(error) });
      process.exit(1);
    },
  );
});

// The parent went away (killed, or it gave up on the run): nothing to report to.
process.once('disconnect', () => process.exit(1));
