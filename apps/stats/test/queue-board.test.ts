import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_URL, uniqueName } from '../../../test/support/services.js';
import { isLoopback, mountQueueBoard, QUEUE_BOARD_PATH } from '../src/queue-board.js';

describe('the MapReduce queue board (bull-board) is never public', () => {
  const closers: (() => Promise<void>)[] = [];
  const prefixes: string[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
    const redis = new Redis(REDIS_URL);
    for (const prefix of prefixes.splice(0)) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
  });

  function board(adminToken: string | undefined, remote: string | undefined): Hono {
    const app = new Hono();
    const prefix = uniqueName('bull');
    prefixes.push(prefix);
    closers.push(
      mountQueueBoard(app, {
        redisUrl: REDIS_URL,
        queueNames: [uniqueName('board-map'), uniqueName('board-reduce')],
        prefix,
        adminToken,
        remoteAddress: () => remote,
      }),
    );
    return app;
  }

  it('without ADMIN_TOKEN answers loopback clients and refuses others', async () => {
    expect((await board(undefined, '127.0.0.1').request(QUEUE_BOARD_PATH)).status).toBe(200);
    expect((await board(undefined, '::1').request(`${QUEUE_BOARD_PATH}/api/queues`)).status).toBe(200);
    const refused = await board(undefined, '203.0.113.9').request(QUEUE_BOARD_PATH);
    expect(refused.status).toBe(403);
    expect((await board(undefined, undefined).request(`${QUEUE_BOARD_PATH}/api/queues`)).status).toBe(403);
  });

  it('with ADMIN_TOKEN asks for basic auth, from anywhere', async () => {
    const token = 'a-very-long-admin-token';
    const app = board(token, '203.0.113.9');
    expect((await app.request(QUEUE_BOARD_PATH)).status).toBe(401);
    expect((await app.request(QUEUE_BOARD_PATH, { headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` } })).status).toBe(401);
    const ok = await app.request(`${QUEUE_BOARD_PATH}/api/queues`, { headers: { authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` } });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { queues: { name: string }[] };
    expect(body.queues).toHaveLength(2);
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.0.0.53', '::1', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['10.0.0.1', '::ffff:10.0.0.1', '', undefined].some((a) => isLoopback(a))).toBe(false);
  });
});
