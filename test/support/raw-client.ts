/** A raw TCP client for the servers' slow-client tests: what a careless or hostile HTTP client does. */
import net from 'node:net';

/**
 * Sends `chunks` one by one, `delayMs` apart (then nothing more); resolves
 * with what came back and when the server closed the socket, rejects when the
 * server kept it open `giveUpMs`.
 */
export function rawClient(port: number, chunks: string[], delayMs: number, giveUpMs = 15_000): Promise<{ response: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let response = '';
    let index = 0;
    let timer: NodeJS.Timeout | undefined;
    const sendNext = () => {
      if (socket.destroyed || index >= chunks.length) return;
      socket.write(chunks[index++] ?? '', () => undefined);
      timer = setTimeout(sendNext, delayMs);
    };
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${giveUpMs} ms`));
    }, giveUpMs);
    socket.on('data', (data) => (response += data.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(giveUp);
      resolve({ response, closedAfterMs: Date.now() - started });
    });
    socket.on('connect', sendNext);
  });
}
