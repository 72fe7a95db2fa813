/**
 * The BullMQ dashboard (bull-board) for the MapReduce queues, mounted in the
 * stats app under /admin/queues. It can add, retry, remove and promote jobs,
 * and a job's data names the job module a mapreduce-worker imports, so it is
 * never public:
 * - with ADMIN_TOKEN set it asks for HTTP basic auth (user `admin`, password
 *   the token, compared in constant time by hono's basicAuth): 401 with
 *   `WWW-Authenticate` without them;
 * - without a token it answers only clients on the loopback interface and is
 *   read-only (bull-board's readOnlyMode, and 403 for any state-changing
 *   method here): a loopback peer may be any program or browser page on the
 *   stats host, so nothing it sends may change a queue.
 * The stats app's request guards (request-guard.ts) check Host, Origin and
 * Content-Type before these.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Queue } from 'bullmq';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { basicAuth } from 'hono/basic-auth';
import { Redis } from 'ioredis';
import { isStateChanging } from './request-guard.js';

export const QUEUE_BOARD_PATH = '/admin/queues';
const REALM = 'telemetry queue board';

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
  const readOnlyMode = !options.adminToken;
  createBullBoard({ queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode })), serverAdapter });

  const guards: MiddlewareHandler[] = [];
  if (options.adminToken) {
    guards.push(basicAuth({ username: 'admin', password: options.adminToken, realm: REALM, invalidUserMessage: { error: 'the queue board needs the admin credentials (user admin, password ADMIN_TOKEN)' } }));
  } else {
    guards.push(async (c, next) => {
      if (!isLoopback(options.remoteAddress(c))) return c.json({ error: 'the queue board answers loopback clients only; set ADMIN_TOKEN to open it' }, 403);
      await next();
      return undefined;
    });
    // readOnlyMode hides the buttons and bull-board refuses the queue routes it knows of: refuse every change here too.
    guards.push(async (c, next) => {
      if (isStateChanging(c.req.method)) return c.json({ error: 'the queue board is read-only without ADMIN_TOKEN: set it to retry, add or remove jobs' }, 403);
      await next();
      return undefined;
    });
  }
  for (const guard of guards) {
    app.use(`${QUEUE_BOARD_PATH}/*`, guard);
    app.use(QUEUE_BOARD_PATH, guard);
  }
  app.route(QUEUE_BOARD_PATH, serverAdapter.registerPlugin());
  return async () => {
    await Promise.all(queues.map((queue) => queue.close().catch(() => undefined)));
    await connection.quit().catch(() => undefined);
  };
}
