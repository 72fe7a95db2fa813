/**
 * The MapReduce queue board (bull-board on /admin/queues) inside the real
 * stats app, over real Redis and BullMQ queues of a unique prefix: who may
 * see it, and that only an authenticated same-origin JSON request changes a
 * queue. The attack of issue 15: a page in a browser on the stats host (or
 * behind a rebound DNS name) POSTs `text/plain` JSON to `.../add`, adding a
 * job whose data names the job module a mapreduce-worker imports.
 */
import { Queue } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '@telemetry/shared/clock';
import { RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { deleteKeys, REDIS_URL, uniqueName } from '../../../test/support/services.js';
import { createStatsApp } from '../src/app.js';
import { isLoopback, mountQueueBoard, QUEUE_BOARD_PATH } from '../src/queue-board.js';
import { StatsService } from '../src/stats-service.js';

const HOUR_MS = 3_600_000;
const TOKEN = 'a-very-long-admin-token';
const AUTH = `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`;
/** What a forged job would carry: a job module and directories of the attacker's choosing. */
const FORGED = { name: 'map', data: { kind: 'map', task: { jobModule: '/tmp/evil.mjs', runDir: '/tmp/x', dataDir: '/etc' } } };

type LogLine = { level: number; msg: string; err?: unknown; stack?: unknown };

interface Board {
  readonly app: Hono;
  readonly queueNames: readonly string[];
  readonly prefix: string;
  readonly logs: LogLine[];
}

describe('the MapReduce queue board (bull-board) is never public and never changed by a foreign page', () => {
  const closers: (() => Promise<void>)[] = [];
  const prefixes: string[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
    const redis = new Redis(REDIS_URL);
    for (const prefix of prefixes.splice(0)) {
      await deleteKeys(redis, `${prefix}:`);
    }
    redis.disconnect();
  });

  function boardOnly(adminToken: string | undefined, remote: string | undefined): Hono {
    const app = new Hono();
    const prefix = uniqueName('bull');
    prefixes.push(prefix);
    closers.push(mountQueueBoard(app, { redisUrl: REDIS_URL, queueNames: [uniqueName('board-map'), uniqueName('board-reduce')], prefix, adminToken, remoteAddress: () => remote }));
    return app;
  }

  /** The whole stats app (its error handler and request guards) with the board mounted, logging into `logs`. */
  function statsWithBoard(adminToken: string | undefined, remote: string | undefined): Board {
    const prefix = uniqueName('bull');
    prefixes.push(prefix);
    const queueNames = [uniqueName('board-map'), uniqueName('board-reduce')];
    const logs: LogLine[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as LogLine) });
    // The board's tests never query counters: this connection is never opened.
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    closers.push(() => {
      redis.disconnect();
      return Promise.resolve();
    });
    const store = new RedisCounterStore(redis, { prefix: uniqueName('stats'), retentionMs: HOUR_MS, detailRetentionMs: HOUR_MS, maxValuesPerHour: 5 });
    const app = createStatsApp({
      service: new StatsService(store, systemClock, { detailRetentionMs: HOUR_MS, maxScanCounters: 1_000 }),
      retentionMs: HOUR_MS,
      logger,
      registry: new Registry(),
      isReady: () => true,
      limits: { queries: { maxConcurrent: 1, maxQueued: 1 }, maxStreams: 1 },
      mount: (statsApp) => closers.push(mountQueueBoard(statsApp, { redisUrl: REDIS_URL, queueNames, prefix, adminToken, remoteAddress: () => remote })),
    });
    return { app, queueNames, prefix, logs };
  }

  /** Jobs in any state of a board's queue, read from Redis by BullMQ itself. */
  async function jobsIn(board: Board, name: string): Promise<number> {
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(name, { connection, prefix: board.prefix });
    try {
      return Object.values(await queue.getJobCounts()).reduce((sum, n) => sum + n, 0);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }

  const addPath = (board: Board) => `${QUEUE_BOARD_PATH}/api/queues/${encodeURIComponent(board.queueNames[0] ?? '')}/add`;
  const post = (board: Board, headers: Record<string, string>, body = JSON.stringify(FORGED)) =>
    board.app.request(`http://localhost:8081${addPath(board)}`, { method: 'POST', headers: { host: 'localhost:8081', ...headers }, body });

  it('without ADMIN_TOKEN answers loopback clients and refuses others', async () => {
    expect((await boardOnly(undefined, '127.0.0.1').request(QUEUE_BOARD_PATH)).status).toBe(200);
    expect((await boardOnly(undefined, '::1').request(`${QUEUE_BOARD_PATH}/api/queues`)).status).toBe(200);
    const refused = await boardOnly(undefined, '203.0.113.9').request(QUEUE_BOARD_PATH);
    expect(refused.status).toBe(403);
    expect((await boardOnly(undefined, undefined).request(`${QUEUE_BOARD_PATH}/api/queues`)).status).toBe(403);
  });

  it('with ADMIN_TOKEN asks for basic auth, from anywhere', async () => {
    const app = boardOnly(TOKEN, '203.0.113.9');
    expect((await app.request(QUEUE_BOARD_PATH)).status).toBe(401);
    expect((await app.request(QUEUE_BOARD_PATH, { headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` } })).status).toBe(401);
    const ok = await app.request(`${QUEUE_BOARD_PATH}/api/queues`, { headers: { authorization: AUTH } });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues).toHaveLength(2);
    expect(body.queues.every((queue) => !queue.readOnlyMode)).toBe(true);
  });

  it('answers missing or wrong credentials with 401 and WWW-Authenticate, logged without a stack and below error', async () => {
    const board = statsWithBoard(TOKEN, '203.0.113.9');
    for (const headers of [{}, { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` }, { authorization: 'Bearer x' }]) {
      const response = await board.app.request(`${QUEUE_BOARD_PATH}/api/queues`, { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Basic realm="telemetry queue board"');
      expect(((await response.json()) as { error: string }).error).toMatch(/ADMIN_TOKEN/);
    }
    expect(board.logs.filter((line) => line.msg === 'stats request refused')).toHaveLength(3);
    expect(board.logs.filter((line) => line.level >= 40 || line.err !== undefined || line.stack !== undefined)).toEqual([]);
  });

  it('refuses the text/plain add-job attack in loopback mode, and no job lands in the queue', async () => {
    const board = statsWithBoard(undefined, '127.0.0.1');
    // A page elsewhere: its Origin gives it away.
    const crossSite = await post(board, { origin: 'http://attacker.example', 'content-type': 'text/plain;charset=UTF-8' });
    expect(crossSite.status).toBe(403);
    expect(((await crossSite.json()) as { error: string }).error).toMatch(/Origin http:\/\/attacker\.example/);
    // No Origin (a client that sends none): the text/plain body alone is refused.
    const noOrigin = await post(board, { 'content-type': 'text/plain' });
    expect(noOrigin.status).toBe(415);
    expect(((await noOrigin.json()) as { error: string }).error).toMatch(/application\/json/);
    const form = await post(board, { 'content-type': 'application/x-www-form-urlencoded' }, 'name=map');
    expect(form.status).toBe(415);
    // DNS rebinding: same origin as far as the browser knows, but the Host is the attacker's name.
    const rebound = await post(board, { host: 'attacker.example:8081', origin: 'http://attacker.example:8081', 'content-type': 'application/json' });
    expect(rebound.status).toBe(403);
    expect(((await rebound.json()) as { error: string }).error).toMatch(/Host attacker\.example:8081 is not allowed/);
    // Even a well-formed same-origin JSON request changes nothing without ADMIN_TOKEN.
    const sameOrigin = await post(board, { origin: 'http://localhost:8081', 'content-type': 'application/json' });
    expect(sameOrigin.status).toBe(403);
    expect(((await sameOrigin.json()) as { error: string }).error).toMatch(/read-only without ADMIN_TOKEN/);
    expect(await jobsIn(board, board.queueNames[0] ?? '')).toBe(0);
  });

  it('keeps the board read-only without ADMIN_TOKEN: retry, add, clean, pause are refused; reading works', async () => {
    const board = statsWithBoard(undefined, '127.0.0.1');
    const queue = encodeURIComponent(board.queueNames[0] ?? '');
    const headers = { host: '127.0.0.1:8081', origin: 'http://127.0.0.1:8081' };
    const changes = [
      { method: 'PUT', path: `/api/queues/${queue}/retry/failed` },
      { method: 'PUT', path: `/api/queues/${queue}/clean/completed` },
      { method: 'PUT', path: `/api/queues/${queue}/pause` },
      { method: 'POST', path: `/api/queues/${queue}/add`, body: JSON.stringify(FORGED) },
      { method: 'DELETE', path: `/api/queues/${queue}/obliterate` },
    ];
    for (const change of changes) {
      const response = await board.app.request(`http://127.0.0.1:8081${QUEUE_BOARD_PATH}${change.path}`, {
        method: change.method,
        headers: change.body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(change.body === undefined ? {} : { body: change.body }),
      });
      expect(response.status, `${change.method} ${change.path}`).toBe(403);
      expect(((await response.json()) as { error: string }).error).toMatch(/read-only/);
    }
    const read = await board.app.request(`${QUEUE_BOARD_PATH}/api/queues`);
    expect(read.status).toBe(200);
    // bull-board's own read-only mode too: the UI shows no buttons that would change a queue.
    expect(((await read.json()) as { queues: { readOnlyMode: boolean }[] }).queues.map((q) => q.readOnlyMode)).toEqual([true, true]);
    expect(await jobsIn(board, board.queueNames[0] ?? '')).toBe(0);
  });

  it('refuses a foreign Host on every /admin request, reads included (DNS rebinding)', async () => {
    const board = statsWithBoard(undefined, '127.0.0.1');
    const response = await board.app.request(`${QUEUE_BOARD_PATH}/api/queues`, { headers: { host: 'rebound.attacker.example' } });
    expect(response.status).toBe(403);
    expect((await board.app.request(`${QUEUE_BOARD_PATH}/api/queues`, { headers: { host: 'localhost:8081' } })).status).toBe(200);
  });

  it('with ADMIN_TOKEN adds a job from a same-origin JSON request, and refuses the same request from another origin', async () => {
    const board = statsWithBoard(TOKEN, '203.0.113.9');
    const job = { name: 'hello', data: { note: 'added from the board' } };
    // Cached basic credentials go with a cross-site request too: the Origin check is what stops it.
    const crossSite = await post(board, { authorization: AUTH, origin: 'https://attacker.example', 'content-type': 'application/json' }, JSON.stringify(job));
    expect(crossSite.status).toBe(403);
    expect(await jobsIn(board, board.queueNames[0] ?? '')).toBe(0);

    const added = await post(board, { authorization: AUTH, origin: 'http://localhost:8081', 'content-type': 'application/json' }, JSON.stringify(job));
    expect(added.status).toBe(200);
    expect(((await added.json()) as { job: { name: string } }).job.name).toBe('hello');
    expect(await jobsIn(board, board.queueNames[0] ?? '')).toBe(1);
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(board.queueNames[0] ?? '', { connection, prefix: board.prefix });
    try {
      const [stored] = await queue.getJobs(['waiting', 'prioritized', 'delayed']);
      expect(stored?.data).toEqual(job.data);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.0.0.53', '::1', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['10.0.0.1', '::ffff:10.0.0.1', '', undefined].some((a) => isLoopback(a))).toBe(false);
  });

  it('logs nothing at error level for refused requests', async () => {
    const board = statsWithBoard(undefined, '127.0.0.1');
    await post(board, { 'content-type': 'text/plain' });
    await board.app.request(`${QUEUE_BOARD_PATH}/api/queues`, { headers: { host: 'attacker.example' } });
    expect(board.logs.filter((line) => line.level >= 50)).toEqual([]);
  });
});
