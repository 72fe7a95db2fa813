import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { decodeSubmission, encodeSubmission } from '@telemetry/shared/amqp/submission-message';
import { assertTopology, type Topology } from '@telemetry/shared/amqp/topology';
import { parsePackedBuffer } from '@telemetry/shared/packed/packed-reader';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as worker from '@telemetry/shared/amqp/headers';
import { runTelemetry } from '../../test/support/cli.js';
import { fixturePath } from '../../test/support/fixtures.js';
import { readAllLines, startTestPipeline, type TestPipeline } from '../../test/support/pipeline.js';
import { AMQP_URL, createTestEnvironment, topologyEnv, waitFor, type TestEnvironment } from '../../test/support/services.js';

const runCli = (args: string[], env: Record<string, string>) => runTelemetry(args, { env });
const REASON = 'revision server unreachable:\tHTTP 503';


/** Publishes a submission to the dead-letter queue as a worker does once retries are exhausted. */
async function deadLetter(channel: ConfirmChannel, topology: Topology, docId: string, body: Buffer = Buffer.from('{"ver": 1}')): Promise<void> {
  const { content, options } = encodeSubmission({
    docId,
    path: docId,
    receivedAtMs: Date.UTC(2024, 0, 2),
    clientHeaders: { 'user-agent': 'Firefox/23.0' },
    contentEncoding: body[0] === 0x1f ? 'gzip' : undefined,
    body,
  });
  const headers: Record<string, unknown> = {
    ...(options.headers as Record<string, unknown>),
    [worker.ATTEMPTS_HEADER]: 3,
    [worker.LAST_ERROR_HEADER]: 'HTTP 503',
    [worker.DEAD_LETTER_REASON_HEADER]: REASON,
    [worker.DEAD_LETTERED_AT_HEADER]: '2024-01-02T03:04:05.000Z',
    // RabbitMQ's history from the retry queue's TTL round trips.
    'x-death': [{ queue: topology.retryQueue, reason: 'expired', count: 2, exchange: '' }],
  };
  channel.sendToQueue(topology.deadLetterQueue, content, { ...options, headers });
  await channel.waitForConfirms();
}


describe('npx telemetry dead-letters against the real RabbitMQ', () => {
  let env: TestEnvironment;
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  beforeEach(async () => {
    env = await createTestEnvironment('dead-letters-cli');
    connection = await amqp.connect(AMQP_URL);
    channel = await connection.createConfirmChannel();
    await assertTopology(channel, env.topology);
  });
  afterEach(async () => {
    await connection.close().catch(() => undefined);
    await env.cleanup();
  });

  it('list shows docId, reason, date, attempts and size, and leaves the messages in the queue', async () => {
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) await deadLetter(channel, env.topology, id);

    const text = await runCli(['dead-letters', 'list'], topologyEnv(env.topology));
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')).toEqual([
      `${env.topology.deadLetterQueue}: 2 message(s)`,
      'docId\tattempts\tdead-lettered-at\tbytes\treason',
      ...ids.map((id) => `${id}\t3\t2024-01-02T03:04:05.000Z\t10\trevision server unreachable: HTTP 503`),
      '',
    ]);
    expect(await env.queueDepth(env.topology.deadLetterQueue)).toBe(2);

    const json = await runCli(['dead-letters', 'list', '--json', '--limit', '1'], topologyEnv(env.topology));
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      queue: env.topology.deadLetterQueue,
      total: 2,
      messages: [{ docId: ids[0], path: ids[0], reason: REASON, deadLetteredAt: '2024-01-02T03:04:05.000Z', attempts: 3, lastError: 'HTTP 503', bytes: 10 }],
    });
    expect(await env.queueDepth(env.topology.deadLetterQueue)).toBe(2);
    expect(await env.queueDepth(env.topology.persistQueue)).toBe(0);
  });

  it('replay moves messages to the persist queue with the failed run headers removed', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of ids) await deadLetter(channel, env.topology, id);

    const first = await runCli(['dead-letters', 'replay', '--limit', '2'], topologyEnv(env.topology));
    expect(first.stdout).toContain('moved 2 message(s)');
    expect(first.stdout).toContain('1 left');
    expect(first.code).toBe(0);
    expect(await env.queueDepth(env.topology.deadLetterQueue)).toBe(1);
    expect(await env.queueDepth(env.topology.persistQueue)).toBe(2);

    const rest = await runCli(['dead-letters', 'replay'], topologyEnv(env.topology));
    expect(rest.stdout).toContain('moved 1 message(s)');
    expect(rest.code).toBe(0);
    expect(await env.queueDepth(env.topology.deadLetterQueue)).toBe(0);
    expect(await env.queueDepth(env.topology.persistQueue)).toBe(3);

    const replayed = [];
    for (let message = await channel.get(env.topology.persistQueue, { noAck: true }); message; message = await channel.get(env.topology.persistQueue, { noAck: true })) {
      replayed.push(message);
    }
    expect(replayed.map((m) => m.properties.messageId as string)).toEqual(ids);
    for (const message of replayed) {
      expect(Object.keys(message.properties.headers ?? {}).sort()).toEqual(['h-user-agent', 'path', 'receivedAtMs']);
      expect(message.properties.deliveryMode).toBe(2);
      const submission = decodeSubmission(message);
      expect(submission.receivedAtMs).toBe(Date.UTC(2024, 0, 2));
      expect(submission.clientHeaders).toEqual({ 'user-agent': 'Firefox/23.0' });
      expect(submission.body.toString()).toBe('{"ver": 1}');
    }
  });

  it('exits 1 when the broker or a queue is missing, 2 on a usage error', async () => {
    const missingQueue = await runCli(['dead-letters', 'list'], { ...topologyEnv(env.topology), DEAD_LETTER_QUEUE: `${env.prefix}absent` });
    expect(missingQueue.code).toBe(1);
    expect(missingQueue.stderr).toContain('does not exist');
    const missingPersist = await runCli(['dead-letters', 'replay'], { ...topologyEnv(env.topology), PERSIST_QUEUE: `${env.prefix}absent` });
    expect(missingPersist.code).toBe(1);

    const noBroker = await runCli(['dead-letters', 'list'], { ...topologyEnv(env.topology), AMQP_URL: 'amqp://guest:hidden@127.0.0.1:1' });
    expect(noBroker.code).toBe(1);
    expect(noBroker.stderr).toContain('cannot connect');
    expect(noBroker.stderr).not.toContain('hidden');

    expect((await runCli(['dead-letters', 'list', '--limit', '0'], topologyEnv(env.topology))).code).toBe(2);
    expect((await runCli(['dead-letters', 'replay', '--limit', 'all'], topologyEnv(env.topology))).code).toBe(2);
    expect((await runCli(['dead-letters', 'list'], { ...topologyEnv(env.topology), STATS_QUEUE_MAX_LENGTH: 'lots' })).code).toBe(2);
    expect((await runCli(['dead-letters'], topologyEnv(env.topology))).code).toBe(2);
  });
});

describe('dead-letters replay end to end', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline('dead-letters-e2e');
  });
  afterAll(async () => {
    await p.stop();
  });

  it('a replayed dead letter is processed by the workers and stored', async () => {
    const [record] = parsePackedBuffer(await readFile(fixturePath('pings', 'telemetry1.packed'))).records;
    const docId = randomUUID();
    const connection = await amqp.connect(AMQP_URL);
    try {
      await deadLetter(await connection.createConfirmChannel(), p.env.topology, docId, record?.body);
    } finally {
      await connection.close();
    }
    const { code, stdout } = await runCli(['dead-letters', 'replay'], topologyEnv(p.env.topology));
    expect(stdout).toContain('moved 1 message(s)');
    expect(code).toBe(0);
    await waitFor('the stored record', async () => (await readAllLines(p.storageDir)).some((l) => l.line.startsWith(`${docId}\t`)));
  });
});
