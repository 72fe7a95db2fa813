import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import amqp, { type ChannelModel, type ConfirmChannel, type GetMessage } from 'amqplib';
import * as worker from '@telemetry/shared/amqp/headers';
import { assertTopology, type Topology } from '@telemetry/shared/amqp/topology';
import { batchPublishOptions, decodeMessage, encodeBatch, WIRE_CONTENT_TYPE, WIRE_TYPE_V1, type Submission } from '@telemetry/shared/amqp/wire-codec';
import { parsePackedBuffer } from '@telemetry/shared/packed/packed-reader';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshPublishOptions, summarize } from '../src/dead-letters/queue.js';
import { runTelemetry } from '../../test/support/cli.js';
import { fixturePath } from '../../test/support/fixtures.js';
import { readAllLines, startTestPipeline, type TestPipeline } from '../../test/support/pipeline.js';
import { AMQP_URL, createTestEnvironment, topologyEnv, waitFor, type TestEnvironment } from '../../test/support/services.js';

const runCli = (args: string[], env: Record<string, string>) => runTelemetry(args, { env });
const REASON = 'revision server unreachable:\tHTTP 503';
const DEAD_LETTERED_AT = '2024-01-02T03:04:05.000Z';
const RECEIVED_AT = Date.UTC(2024, 0, 2);
const BROKER_REASON = 'RabbitMQ: delivery limit passed (the message kept failing, e.g. killed its worker)';

function submission(docId: string, body: Buffer = Buffer.from('{"ver": 1}')): Submission {
  return {
    docId,
    path: `${docId}/saved-session/Firefox/23.0.1/release/20130814063812`,
    receivedAtMs: RECEIVED_AT,
    clientHeaders: { 'user-agent': 'Firefox/23.0' },
    contentEncoding: body[0] === 0x1f ? 'gzip' : undefined,
    body,
    bodyBytes: body.length,
  };
}

/** The failed run's headers, as a worker sets them once retries are exhausted. */
function runHeaders(topology: Topology): Record<string, unknown> {
  return {
    [worker.ATTEMPTS_HEADER]: 3,
    [worker.LAST_ERROR_HEADER]: 'HTTP 503',
    [worker.DEAD_LETTER_REASON_HEADER]: REASON,
    [worker.DEAD_LETTERED_AT_HEADER]: DEAD_LETTERED_AT,
    // RabbitMQ's history from the retry queue's TTL round trips.
    'x-death': [{ queue: topology.retryQueue, reason: 'expired', count: 2, exchange: '' }],
  };
}

/** A batch message in the dead-letter queue, as a worker publishes it there; resolves to its content. */
async function workerDeadLetter(channel: ConfirmChannel, topology: Topology, submissions: Submission[]): Promise<Buffer> {
  const content = encodeBatch(submissions, 'full');
  const options = batchPublishOptions(`dl-${randomUUID()}`, Date.now());
  channel.sendToQueue(topology.deadLetterQueue, content, { ...options, headers: runHeaders(topology) });
  await channel.waitForConfirms();
  return content;
}

/** A dead letter of the earlier format (one submission, metadata in headers, messageId = docId), built by hand. */
async function legacyDeadLetter(channel: ConfirmChannel, topology: Topology, docId: string): Promise<Buffer> {
  const content = Buffer.from('{"ver": 1}');
  channel.sendToQueue(topology.deadLetterQueue, content, {
    persistent: true,
    messageId: docId,
    timestamp: Math.floor(RECEIVED_AT / 1000),
    headers: { path: docId, receivedAtMs: RECEIVED_AT, 'h-user-agent': 'Firefox/23.0', ...runHeaders(topology) },
  });
  await channel.waitForConfirms();
  return content;
}

/**
 * A batch that RabbitMQ dead-letters itself: published to the persist queue
 * and handed back (nack + requeue) until it passes the delivery limit, as a
 * message does that kills every worker taking it.
 */
async function brokerDeadLetter(channel: ConfirmChannel, env: TestEnvironment, submissions: Submission[]): Promise<Buffer> {
  const { topology } = env;
  const before = await env.queueDepth(topology.deadLetterQueue);
  const content = encodeBatch(submissions, 'full');
  channel.sendToQueue(topology.persistQueue, content, batchPublishOptions(`gw-${randomUUID()}`, Date.now()));
  await channel.waitForConfirms();
  let deliveries = 0;
  for (let message = await channel.get(topology.persistQueue); message; message = await channel.get(topology.persistQueue)) {
    channel.nack(message, false, true);
    deliveries += 1;
  }
  expect(deliveries).toBe(topology.persistDeliveryLimit + 1);
  await waitFor('the broker to dead-letter it', async () => (await env.queueDepth(topology.deadLetterQueue)) === before + 1);
  return content;
}

async function drain(channel: ConfirmChannel, queue: string): Promise<GetMessage[]> {
  const messages: GetMessage[] = [];
  for (let message = await channel.get(queue, { noAck: true }); message; message = await channel.get(queue, { noAck: true })) messages.push(message);
  return messages;
}

/** A message as `basic.get` returns it (for the pure functions). */
function gotMessage(content: Buffer, properties: Partial<Omit<GetMessage['properties'], 'headers'>> & { headers?: Record<string, unknown> }): GetMessage {
  const { headers = {}, ...rest } = properties;
  return {
    content,
    fields: { deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'dl', messageCount: 0 },
    properties: {
      contentType: undefined,
      contentEncoding: undefined,
      deliveryMode: 2,
      priority: undefined,
      correlationId: undefined,
      replyTo: undefined,
      expiration: undefined,
      messageId: undefined,
      timestamp: undefined,
      type: undefined,
      userId: undefined,
      appId: undefined,
      clusterId: undefined,
      ...rest,
      headers,
    },
  };
}

describe('dead-letter summaries and replay options', () => {
  const topology = { retryQueue: 'r' } as Topology;

  it('replays with the message properties and without any header of the failed run', () => {
    const options = batchPublishOptions('m-1', RECEIVED_AT);
    const message = gotMessage(encodeBatch([submission('a')]), {
      messageId: options.messageId,
      timestamp: options.timestamp,
      contentType: options.contentType,
      type: options.type,
      headers: { ...runHeaders(topology), 'x-delivery-count': 4, 'x-first-death-reason': 'delivery_limit', 'x-first-death-queue': 'p', 'x-first-death-exchange': '', kept: 'yes' },
    });
    expect(freshPublishOptions(message)).toEqual({
      persistent: true,
      mandatory: true,
      messageId: 'm-1',
      timestamp: options.timestamp as number,
      contentType: WIRE_CONTENT_TYPE,
      type: WIRE_TYPE_V1,
      headers: { kept: 'yes' },
    });
  });

  it('names RabbitMQ reasons it does not know by reason and queue', () => {
    const message = gotMessage(encodeBatch([submission('a')]), { headers: { 'x-death': [{ reason: 'something_new', queue: 'q1', count: 1, time: { '!': 'timestamp', value: 1_700_000_000 } }] } });
    expect(summarize(message)).toMatchObject({ reason: 'RabbitMQ: something_new in q1', deadLetteredAt: new Date(1_700_000_000_000).toISOString(), attempts: 0 });
    const rejected = gotMessage(encodeBatch([submission('a')]), { headers: { 'x-death': [{ reason: 'rejected', queue: 'q1', count: 1 }] } });
    expect(summarize(rejected)).toMatchObject({ reason: 'RabbitMQ: rejected by a consumer (it could not be read or handled)', deadLetteredAt: '' });
  });
});

describe('npx telemetry dead-letters against the real RabbitMQ', () => {
  let env: TestEnvironment;
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  beforeEach(async () => {
    // Delivery limit 1: the second return of a message makes RabbitMQ dead-letter it.
    env = await createTestEnvironment('dead-letters-cli', { persistDeliveryLimit: 1 });
    connection = await amqp.connect(AMQP_URL);
    channel = await connection.createConfirmChannel();
    await assertTopology(channel, env.topology);
  });
  afterEach(async () => {
    await connection.close().catch(() => undefined);
    await env.cleanup();
  });

  /** A worker's batch of 2, a legacy message, and a batch of 7 the broker dead-lettered: what each list row must say. */
  async function fillDeadLetters() {
    const batch = [randomUUID(), randomUUID()];
    const legacy = randomUUID();
    const killer = Array.from({ length: 7 }, () => randomUUID());
    const contents = [
      await workerDeadLetter(channel, env.topology, batch.map((id) => submission(id))),
      await legacyDeadLetter(channel, env.topology, legacy),
    ];
    const beforeBroker = Date.now();
    contents.push(await brokerDeadLetter(channel, env, killer.map((id) => submission(id))));
    return { batch, legacy, killer, contents, beforeBroker };
  }

  it('list shows per message its submissions, docIds, reason (ours or RabbitMQ’s), date, attempts and size, and leaves the messages in the queue', async () => {
    const { batch, legacy, killer, contents, beforeBroker } = await fillDeadLetters();
    const [batchBytes, legacyBytes, killerBytes] = contents.map((c) => c.length);

    const text = await runCli(['dead-letters', 'list'], topologyEnv(env.topology));
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines.slice(0, 4)).toEqual([
      `${env.topology.deadLetterQueue}: 3 message(s)`,
      'docIds\tsubmissions\tattempts\tdead-lettered-at\tbytes\treason',
      `${batch.join(',')}\t2\t3\t${DEAD_LETTERED_AT}\t${batchBytes}\trevision server unreachable: HTTP 503`,
      `${legacy}\t1\t3\t${DEAD_LETTERED_AT}\t${legacyBytes}\trevision server unreachable: HTTP 503`,
    ]);
    const [docIds, count, attempts, at, bytes, reason] = (lines[4] ?? '').split('\t');
    expect([docIds, count, attempts, bytes, reason]).toEqual([`${killer.slice(0, 5).join(',')} (+2 more)`, '7', '0', String(killerBytes), BROKER_REASON]);
    // The time RabbitMQ recorded in x-death (whole seconds).
    expect(Date.parse(at ?? '')).toBeGreaterThanOrEqual(Math.floor(beforeBroker / 1000) * 1000);
    expect(Date.parse(at ?? '')).toBeLessThanOrEqual(Date.now());
    expect(lines.slice(5)).toEqual(['']);
    expect(await env.queueDepth(env.topology.deadLetterQueue)).toBe(3);

    const json = await runCli(['dead-letters', 'list', '--json'], topologyEnv(env.topology));
    expect(json.code).toBe(0);
    const document = JSON.parse(json.stdout) as { queue: string; total: number; messages: Record<string, unknown>[] };
    expect(document.queue).toBe(env.topology.deadLetterQueue);
    expect(document.total).toBe(3);
    const common = { reason: REASON, deadLetteredAt: DEAD_LETTERED_AT, attempts: 3, lastError: 'HTTP 503', decodeError: '' };
    expect(document.messages[0]).toEqual({
      ...common,
      docId: batch[0],
      path: submission(batch[0] ?? '').path,
      messageId: expect.stringMatching(/^dl-/) as unknown,
      submissions: 2,
      docIds: batch,
      bytes: batchBytes,
    });
    // The earlier format: its path header, messageId = docId.
    expect(document.messages[1]).toEqual({ ...common, docId: legacy, path: legacy, messageId: legacy, submissions: 1, docIds: [legacy], bytes: legacyBytes });
    expect(document.messages[2]).toEqual({
      docId: killer[0],
      path: submission(killer[0] ?? '').path,
      messageId: expect.stringMatching(/^gw-/) as unknown,
      submissions: 7,
      docIds: killer.slice(0, 5),
      reason: BROKER_REASON,
      deadLetteredAt: at,
      attempts: 0,
      lastError: '',
      bytes: killerBytes,
      decodeError: '',
    });

    const limited = await runCli(['dead-letters', 'list', '--json', '--limit', '1'], topologyEnv(env.topology));
    expect((JSON.parse(limited.stdout) as { total: number; messages: unknown[] }).messages).toHaveLength(1);
    expect(await env.queueDepth(env.topology.deadLetterQueue)).toBe(3);
    expect(await env.queueDepth(env.topology.persistQueue)).toBe(0);
  });

  it('list still shows a message the codec cannot read', async () => {
    const content = encodeBatch([submission(randomUUID())]).subarray(0, 20);
    channel.sendToQueue(env.topology.deadLetterQueue, content, { ...batchPublishOptions('broken-1', Date.now()), headers: runHeaders(env.topology) });
    await channel.waitForConfirms();
    const { code, stdout } = await runCli(['dead-letters', 'list', '--json'], topologyEnv(env.topology));
    expect(code).toBe(0);
    const [message] = (JSON.parse(stdout) as { messages: Record<string, unknown>[] }).messages;
    expect(message).toMatchObject({ messageId: 'broken-1', submissions: 0, docIds: [], docId: '', reason: REASON, bytes: 20 });
    expect(message?.decodeError).toMatch(/truncated batch/);
  });

  it('replay moves messages unchanged to the persist queue, without the failed run headers', async () => {
    const { batch, legacy, killer, contents } = await fillDeadLetters();

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

    const replayed = await drain(channel, env.topology.persistQueue);
    expect(replayed.map((m) => m.content)).toEqual(contents);
    for (const message of replayed) expect(message.properties.deliveryMode).toBe(2);
    // The quorum persist queue counts each message's deliveries afresh (the header itself is dropped: see freshPublishOptions below).
    const headersOf = (message: GetMessage | undefined) => {
      const { 'x-delivery-count': deliveryCount = 0, ...rest } = (message?.properties.headers ?? {}) as Record<string, unknown>;
      expect(deliveryCount).toBe(0);
      return rest;
    };
    const [batchMessage, legacyMessage, killerMessage] = replayed;
    // Batches keep their codec properties and carry no run headers at all (x-death included).
    for (const message of [batchMessage, killerMessage]) {
      expect(message?.properties).toMatchObject({ contentType: WIRE_CONTENT_TYPE, type: WIRE_TYPE_V1 });
      expect(headersOf(message)).toEqual({});
    }
    expect(Object.keys(headersOf(legacyMessage)).sort()).toEqual(['h-user-agent', 'path', 'receivedAtMs']);
    expect(legacyMessage?.properties.messageId).toBe(legacy);

    const decoded = replayed.map((m) => decodeMessage(m));
    expect(decoded.map((d) => d.submissions.map((s) => s.docId))).toEqual([batch, [legacy], killer]);
    for (const { submissions, invalid } of decoded) {
      expect(invalid).toEqual([]);
      for (const s of submissions) {
        expect(s.receivedAtMs).toBe(RECEIVED_AT);
        expect(s.clientHeaders).toEqual({ 'user-agent': 'Firefox/23.0' });
        expect(s.body.toString()).toBe('{"ver": 1}');
      }
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
      await workerDeadLetter(await connection.createConfirmChannel(), p.env.topology, [submission(docId, record?.body)]);
    } finally {
      await connection.close();
    }
    const { code, stdout } = await runCli(['dead-letters', 'replay'], topologyEnv(p.env.topology));
    expect(stdout).toContain('moved 1 message(s)');
    expect(code).toBe(0);
    await waitFor('the stored record', async () => (await readAllLines(p.storageDir)).some((l) => l.line.startsWith(`${docId}\t`)));
  });
});
