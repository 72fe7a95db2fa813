// The HTTP baseline of bench/ingest-path.ts, in its own process: a bare
// node:http server that reads the body and answers 200. Listens on loopback,
// on PORT (0 or unset: any free port), and prints {"port":N} once listening.
import http from 'node:http';

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('OK'));
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
