/**
 * Regression: a connection that closes while `onConnected` is still setting it
 * up (the broker's Connection.Close can arrive in the same read as the last
 * setup reply, so amqplib emits 'close' before our continuation runs) must
 * count as lost and be reconnected, not kept as the current connection for
 * ever (the gateway would answer 503 and workers consume nothing, while
 * `isConnected()` said yes).
 */
import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '@telemetry/shared/logger';

const connect = vi.hoisted(() => vi.fn());
vi.mock('amqplib', () => ({ default: { connect } }));

const { AmqpConnection } = await import('@telemetry/shared/amqp/connection');

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
});
