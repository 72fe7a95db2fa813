/**
 * Regression: a connection that closes while `onConnected` is still setting it
 * up (the broker's Connection.Close can arrive in the same read as the last
 * setup reply, so amqplib emits 'close' before our continuation runs) must
 * count as lost and be reconnected, not kept as the current connection for
 * ever (the gateway would answer 503 and workers consume nothing, while
 * `isConnected()` said yes).
 *
 * And a broker list (the nodes of a cluster, AMQP_URL with commas): the first
 * node first, the next one after each failed attempt and each lost connection.
 * And a publishing channel that RabbitMQ refuses everything on (a quorum queue
 * client stuck on a dead leader, test/cluster) is given up for a new one.
 */
import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '@telemetry/shared/logger';

const connect = vi.hoisted(() => vi.fn());
vi.mock('amqplib', () => ({ default: { connect } }));

const { AmqpConnection } = await import('@telemetry/shared/amqp/connection');
const { parseBrokerList, connectFirst } = await import('@telemetry/shared/amqp/broker-list');
const { ConfirmPublisher } = await import('@telemetry/shared/amqp/confirm-publisher');
const { topologyEnvShape } = await import('@telemetry/shared/amqp/topology');
const { parseEnv } = await import('@telemetry/shared/config/env');
const { z } = await import('zod');

class FakeConnection extends EventEmitter {
  closed = false;
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.emit('close');
    }
    return Promise.resolve();
  }
}

describe('AmqpConnection', () => {
  afterEach(() => {
    connect.mockReset();
  });

  it('reconnects when the connection closes during onConnected', async () => {
    const first = new FakeConnection();
    const second = new FakeConnection();
    connect.mockResolvedValueOnce(first).mockResolvedValueOnce(second);
    const setUp: unknown[] = [];
    const lost = vi.fn();
    const connection = new AmqpConnection({
      url: 'amqp://fake',
      logger: silentLogger,
      minBackoffMs: 1,
      maxBackoffMs: 5,
      onDisconnected: lost,
      onConnected: (c: ChannelModel) => {
        setUp.push(c);
        // The broker closes the connection as the last setup reply arrives.
        if (c === (first as unknown as ChannelModel)) void first.close();
        return Promise.resolve();
      },
    });
    connection.start();
    await connection.waitUntilConnected(2_000);
    expect(setUp).toEqual([first, second]);
    expect(connection.connection).toBe(second);
    expect(connection.isConnected()).toBe(true);
    await connection.close();
  });

  it('keeps a connection that stays up, and reconnects after it is lost', async () => {
    const first = new FakeConnection();
    const second = new FakeConnection();
    connect.mockResolvedValueOnce(first).mockResolvedValueOnce(second);
    const lost = vi.fn();
    const connection = new AmqpConnection({
      url: 'amqp://fake',
      logger: silentLogger,
      minBackoffMs: 1,
      maxBackoffMs: 5,
      onDisconnected: lost,
      onConnected: () => Promise.resolve(),
    });
    connection.start();
    await connection.waitUntilConnected(2_000);
    expect(connection.connection).toBe(first);
    first.emit('close');
    expect(connection.isConnected()).toBe(false);
    expect(lost).toHaveBeenCalledTimes(1);
    await connection.waitUntilConnected(2_000);
    expect(connection.connection).toBe(second);
    await connection.close();
  });

  it('goes through a broker list in order: the next node after a failed attempt and after a loss', async () => {
    const onB = new FakeConnection();
    const onC = new FakeConnection();
    connect.mockRejectedValueOnce(new Error('connect ECONNREFUSED')).mockResolvedValueOnce(onB).mockResolvedValueOnce(onC);
    const connection = new AmqpConnection({
      url: 'amqp://u:p@node-a:5672, amqp://u:p@node-b:5673,amqp://u:p@node-c',
      logger: silentLogger,
      minBackoffMs: 1,
      maxBackoffMs: 5,
      onConnected: () => Promise.resolve(),
    });
    expect(connection.broker).toBe('node-a:5672');
    connection.start();
    await connection.waitUntilConnected(2_000);
    expect(connection.connection).toBe(onB);
    expect(connection.broker).toBe('node-b:5673');
    onB.emit('close'); // node b is lost: the next attempt goes to c
    await connection.waitUntilConnected(2_000);
    expect(connection.connection).toBe(onC);
    expect(connection.broker).toBe('node-c:5672');
    const urls = connect.mock.calls.map(([url]) => String(url));
    expect(urls).toEqual(['amqp://u:p@node-a:5672?heartbeat=10', 'amqp://u:p@node-b:5673?heartbeat=10', 'amqp://u:p@node-c?heartbeat=10']);
    // Every attempt is bounded, so a node that hangs (host down) is left too.
    expect(connect.mock.calls.every(([, options]) => (options as { timeout?: number }).timeout === 5_000)).toBe(true);
    await connection.close();
  });

  it('tries the whole list at the shortest delay before the backoff doubles', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(1); // no jitter: delays of exactly 100 ms, then 200 ms
    try {
      connect.mockRejectedValue(new Error('connect ECONNREFUSED'));
      const connection = new AmqpConnection({ url: 'amqp://a,amqp://b,amqp://c', logger: silentLogger, minBackoffMs: 100, maxBackoffMs: 10_000, onConnected: () => Promise.resolve() });
      connection.start();
      await vi.advanceTimersByTimeAsync(301);
      const nodes = () => connect.mock.calls.map(([url]) => String(url).replace(/\?.*/, ''));
      expect(nodes()).toEqual(['amqp://a', 'amqp://b', 'amqp://c', 'amqp://a']);
      await vi.advanceTimersByTimeAsync(198); // the second round waits 200 ms per node
      expect(nodes()).toHaveLength(4);
      await vi.advanceTimersByTimeAsync(3);
      expect(nodes()).toHaveLength(5);
      await connection.close();
    } finally {
      vi.useRealTimers();
      vi.restoreAllMocks();
    }
  });

  it('parses a broker list and refuses a bad entry without showing its password', () => {
    expect(parseBrokerList('amqp://g:g@127.0.0.1:5672')).toEqual(['amqp://g:g@127.0.0.1:5672']);
    expect(parseBrokerList(' amqp://a:5672 ,amqps://b:5671/vhost,')).toEqual(['amqp://a:5672', 'amqps://b:5671/vhost']);
    expect(() => parseBrokerList('')).toThrow(/no broker URL/);
    expect(() => parseBrokerList('amqp://u:secret@a:5672,u:secret@b:5672')).toThrow(/is not an amqp/);
    expect(() => parseBrokerList('amqp://u:secret@a:5672,http://u:secret@b:5672')).toThrow(/http:\/\/u:\*\*\*@b:5672/);
    expect(() => parseBrokerList('http://u:secret@b:5672')).not.toThrow(/secret/);
  });

  it('takes AMQP_URL as a broker list at start-up and stops on a bad entry, naming the variable', () => {
    const schema = z.object(topologyEnvShape);
    const list = 'amqp://u:p@rmq1:5672,amqp://u:p@rmq2:5672,amqp://u:p@rmq3:5672';
    expect(parseEnv(schema, { AMQP_URL: list }).AMQP_URL).toBe(list);
    expect(parseEnv(schema, {}).AMQP_URL).toBe('amqp://guest:guest@127.0.0.1:5672');
    expect(() => parseEnv(schema, { AMQP_URL: 'amqp://u:secret@rmq1:5672,rmq2:5672' })).toThrow(/AMQP_URL: .*is not an amqp/);
  });

  it('connectFirst takes the first node that answers and names each that did not', async () => {
    const onC = new FakeConnection();
    connect.mockRejectedValueOnce(new Error('connect ECONNREFUSED')).mockRejectedValueOnce(new Error('connect ETIMEDOUT')).mockResolvedValueOnce(onC);
    const { connection, url } = await connectFirst('amqp://u:p@a:1,amqp://u:p@b:2,amqp://u:p@c:3', { timeout: 100 });
    expect(connection).toBe(onC);
    expect(url).toBe('amqp://u:p@c:3');
    connect.mockRejectedValueOnce(new Error('connect ECONNREFUSED')).mockRejectedValueOnce(new Error('connect ETIMEDOUT'));
    await expect(connectFirst('amqp://u:p@a:1,amqp://u:p@b:2', { timeout: 100 })).rejects.toThrow('no broker answered (a:1: connect ECONNREFUSED; b:2: connect ETIMEDOUT)');
  });

  it('closes the connection of a channel whose every confirm of one destination is a nack for half a second', async () => {
    vi.useFakeTimers();
    try {
      let nackPersist = true;
      const channel = Object.assign(new EventEmitter(), {
        publish: (_exchange: string, key: string, _content: Buffer, _options: unknown, done: (error?: Error) => void) => {
          queueMicrotask(() => done(key === 'persist' && nackPersist ? new Error('nack') : undefined));
          return true;
        },
      });
      const connection = Object.assign(new FakeConnection(), { createConfirmChannel: () => Promise.resolve(channel) });
      const publisher = new ConfirmPublisher({ maxInFlight: 10, confirmTimeoutMs: 5_000 });
      await publisher.attach(connection as unknown as ChannelModel);
      const send = (key: string) => publisher.publish('x', key, Buffer.from('m'), {}).then(() => 'ack', () => 'nack');
      // A burst of nacks is not enough, nor are a few spread out; acks of another queue do not hide them.
      for (let i = 0; i < 8; i += 1) {
        expect(await send('persist')).toBe('nack');
        expect(await send('stats')).toBe('ack');
        await vi.advanceTimersByTimeAsync(50);
      }
      expect(connection.closed).toBe(false); // 8 nacks within 400 ms
      nackPersist = false;
      expect(await send('persist')).toBe('ack'); // an ack starts the count over
      nackPersist = true;
      for (let i = 0; i < 4; i += 1) {
        expect(await send('persist')).toBe('nack');
        await vi.advanceTimersByTimeAsync(200);
      }
      expect(connection.closed).toBe(false); // 4 nacks over 600 ms
      expect(await send('persist')).toBe('nack'); // the fifth, 800 ms after the first
      expect(connection.closed).toBe(true);
      expect(publisher.isReady()).toBe(false); // 503 at once until the reconnect attaches a new channel
    } finally {
      vi.useRealTimers();
    }
  });
});
