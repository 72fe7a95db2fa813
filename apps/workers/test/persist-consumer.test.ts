import amqp from 'amqplib';
import { batchPublishOptions, encodeBatch } from '@telemetry/shared/amqp/wire-codec';
import { DEAD_LETTER_REASON_HEADER } from '@telemetry/shared/amqp/headers';
import { assertTopology } from '@telemetry/shared/amqp/topology';
import { silentLogger } from '@telemetry/shared/logger';
import { afterEach, describe, expect, it } from 'vitest';
import { AMQP_URL, createTestEnvironment, waitFor, type TestEnvironment } from '../../../test/support/services.js';
import { PersistConsumer } from '../src/persist-consumer.js';

describe('persist consumer', () => {
  let env: TestEnvironment | undefined;
  afterEach(async () => {
    await env?.cleanup();
  });

  it('dead-letters each submission of a batch that fails with a non-transient error instead of looping or stalling', async () => {
    env = await createTestEnvironment('consumer');
    const { topology } = env;
    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createConfirmChannel();
    await assertTopology(channel, topology);
    // Five submissions in two messages, as a gateway batches them.
    const submission = (i: number) => ({ docId: `bug-${i}`, path: `bug-${i}`, receivedAtMs: Date.now(), clientHeaders: {}, body: Buffer.from('{}'), bodyBytes: 2 });
    channel.sendToQueue(topology.persistQueue, encodeBatch([0, 1, 2].map(submission)), batchPublishOptions('m1', Date.now()));
    channel.sendToQueue(topology.persistQueue, encodeBatch([3, 4].map(submission)), batchPublishOptions('m2', Date.now()));
    await channel.waitForConfirms();

    let calls = 0;
    const consumer = new PersistConsumer({
      url: AMQP_URL,
      topology,
      prefetch: 10,
      batch: { maxSize: 10, maxBytes: 1 << 20, maxWaitMs: 20 },
      holdRecheckMs: 100,
      confirmTimeoutMs: 5_000,
      maxUncompressedBytes: 1 << 20,
      poisonLimit: 2,
      deathCounts: (ids) => Promise.resolve(ids.map(() => 0)),
      logger: silentLogger,
      connectionName: 'test',
      process: () => {
        calls += 1;
        return Promise.reject(new Error('invariant broken'));
      },
    });
    consumer.start();
    try {
      await waitFor('all five dead-lettered', async () => (await env!.queueDepth(topology.deadLetterQueue)) === 5);
      expect(await env.queueDepth(topology.persistQueue)).toBe(0);
      expect(calls).toBe(1);
      const message = await channel.get(topology.deadLetterQueue, { noAck: true });
      const headers = (message ? message.properties.headers : {}) as Record<string, unknown>;
      expect(String(headers[DEAD_LETTER_REASON_HEADER])).toContain('invariant broken');
    } finally {
      await consumer.stop();
      await connection.close();
    }
  });
});
