/**
 * The real-Firefox suite's resolver inside the network namespace
 * (`/etc/netns/<ns>/resolv.conf` names 127.0.0.1): it answers every query
 * NXDOMAIN at once and appends the name asked for to a file, so the suite can
 * say which Mozilla services Firefox still tried to reach (none of them can be:
 * the namespace has no route anywhere but this machine).
 *
 *   ip netns exec <ns> node --import tsx test/firefox/support/dns-sink.ts <log file>
 *
 * Prints `listening` once bound.
 */
import { appendFileSync } from 'node:fs';
import dgram from 'node:dgram';

const logFile = process.argv[2];
if (logFile === undefined) {
  process.stderr.write('usage: dns-sink.ts <log file>\n');
  process.exit(2);
}

/** The first question of a query: name and type, and where the question section ends. */
function question(message: Buffer): { name: string; type: number; end: number } | undefined {
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const length = message[offset];
    if (length === undefined || length > 63) return undefined;
    offset += 1;
    if (length === 0) break;
    labels.push(message.subarray(offset, offset + length).toString('latin1'));
    offset += length;
  }
  if (offset + 4 > message.length) return undefined;
  return { name: labels.join('.'), type: message.readUInt16BE(offset), end: offset + 4 };
}

const socket = dgram.createSocket('udp4');
socket.on('message', (message, peer) => {
  if (message.length < 12 || message.readUInt16BE(4) < 1) return;
  const asked = question(message);
  if (!asked) return;
  appendFileSync(logFile, `${JSON.stringify({ name: asked.name, type: asked.type })}\n`);
  // Header: same id, QR=1, same opcode and RD, RA=1, RCODE=3 (NXDOMAIN); one question, no records.
  const answer = Buffer.alloc(asked.end);
  message.copy(answer, 0, 0, asked.end);
  answer[2] = 0x80 | ((message[2] ?? 0) & 0x79);
  answer[3] = 0x83;
  answer.writeUInt16BE(1, 4);
  answer.writeUInt16BE(0, 6);
  answer.writeUInt16BE(0, 8);
  answer.writeUInt16BE(0, 10);
  socket.send(answer, peer.port, peer.address);
});
socket.bind(53, '127.0.0.1', () => process.stdout.write('listening\n'));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => socket.close(() => process.exit(0)));
