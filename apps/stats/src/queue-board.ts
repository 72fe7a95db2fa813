/**
 * The BullMQ dashboard (bull-board) for the MapReduce queues, mounted in the
 * stats app under /admin/queues. It can retry, remove and promote jobs, so
 * it is never public: with ADMIN_TOKEN set it asks for HTTP basic auth
 * (user `admin`, password the token); without a token it answers only
 * clients on the loopback interface.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Queue } from 'bullmq';
import type { Context, Hono } from 'hono';
import { basicAuth } from 'hono/basic-auth';
import { Redis } from 'ioredis';

export const QUEUE_BOARD_PATH = '/admin/queues';

export interface QueueBoardOptions {
  readonly redisUrl: string;
  readonly queueNames: readonly string[];
  /** BullMQ key prefix of those queues. */
  readonly prefix: string;
  readonly adminToken: string | undefined;
  /** The peer address of a request (undefined when unknown, e.g. in-process tests). */
  readonly remoteAddress: (c: Context) => string | undefined;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (LOOPBACK.has(address) || address.startsWith('127.'));
}

/** Mounts the board; returns a function that closes its Redis connection. */
export function mountQueueBoard(app: Hono, options: QueueBoardOptions): () => Promise<void> {
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', () => {
    // Reconnects by itself; the board shows the queues as unavailable meanwhile.
  });
  const queues = options.queueNames.map((name) => new Queue(name, { connection, prefix: options.prefix }));
  const serverAdapter = new HonoAdapter(serveStatic);
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({ queues: queues.map((queue) => new BullMQAdapter(queue)), serverAdapter });

  if (options.adminToken) {
    app.use(`${QUEUE_BOARD_PATH}/*`, basicAuth({ username: 'admin', password: options.adminToken }));
    app.use(QUEUE_BOARD_PATH, basicAuth({ username: 'admin', password: options.adminToken }));
  } else {
    const loopbackOnly = async (c: Context, next: () => Promise<void>) => {
      if (!isLoopback(options.remoteAddress(c))) return c.json({ error: 'the queue board answers loopback clients only; set ADMIN_TOKEN to open it' }, 403);
      await next();
      return undefined;
    };
    app.use(`${QUEUE_BOARD_PATH}/*`, loopbackOnly);
    app.use(QUEUE_BOARD_PATH, loopbackOnly);
  }
  app.route(QUEUE_BOARD_PATH, serverAdapter.registerPlugin());
  return async () => {
    await Promise.all(queues.map((queue) => queue.close().catch(() => undefined)));
    await connection.quit().catch(() => undefined);
  };
}
