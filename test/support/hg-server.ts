import { createReadStream } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fixturePath } from './fixtures.js';

export interface HgServer {
  /** Base URL, e.g. `http://127.0.0.1:41234` (use as HG_SERVER). */
  readonly url: string;
  /** Path (with query) of every request received, in order, faults included. */
  readonly requests: string[];
  /**
   * The next `count` requests answer `status` (default 500) instead of the
   * file; status 0 destroys the connection without an answer (network error).
   */
  failNext(count: number, status?: number): void;
  /** Wait this long before answering each request (for timeouts). */
  setDelayMs(ms: number): void;
  close(): Promise<void>;
}

export interface HgServerOptions {
  /** Directory laid out like the server's URLs (default: fixtures `hg/`). */
  root?: string;
}

/**
 * A static server of a `<repo>/raw-file/<rev>/<path>` tree that answers like
 * the Mercurial server for it: the file with 200, 404 for anything else,
 * never a file outside the root. As hg does, a revision in the URL may be any
 * unique prefix of a revision directory's id (`a55c55` or `a55c55edf302` for
 * a directory `a55c55edf302`, or the 12-digit short id for a directory named
 * by a full 40-digit id); an ambiguous prefix is 404. Real HTTP on
 * 127.0.0.1, random port.
 */
export async function startHgServer(options: HgServerOptions = {}): Promise<HgServer> {
  const root = path.resolve(options.root ?? fixturePath('hg'));
  const requests: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let failures: { count: number; status: number } = { count: 0, status: 500 };
  let delayMs = 0;

  const answer = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    if (failures.count > 0) {
      failures = { count: failures.count - 1, status: failures.status };
      if (failures.status === 0) {
        request.socket.destroy();
        return;
      }
      response.writeHead(failures.status, { 'content-type': 'text/plain' }).end(`injected failure ${failures.status}\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    void serveFile(root, request, response);
  };

  const server = http.createServer((request, response) => {
    requests.push(request.url ?? '');
    if (delayMs <= 0) {
      answer(request, response);
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      // The client may have given up (timeout test): nothing to answer then.
      if (!request.socket.destroyed) answer(request, response);
    }, delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(count: number, status = 500) {
      failures = { count, status };
    },
    setDelayMs(ms: number) {
      delayMs = ms;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections (fetch pools them) would hold close() open.
        server.closeAllConnections();
      });
    },
  };
}

async function serveFile(root: string, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const file = await resolveRevision(root, resolveInside(root, request.url ?? '/'));
  const info = file === undefined ? undefined : await stat(file).catch(() => undefined);
  if (file === undefined || info === undefined || !info.isFile()) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  response.writeHead(200, {
    'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
    'content-length': info.size,
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  createReadStream(file)
    .on('error', () => response.destroy())
    .pipe(response);
}

/** The file a URL path names under root, or undefined for anything that could leave it. */
function resolveInside(root: string, url: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.split('?')[0] ?? '');
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) return undefined;
  const file = path.resolve(root, ...segments);
  return file.startsWith(root + path.sep) ? file : undefined;
}

/**
 * `<root>/<repo>/raw-file/<prefix>/<path>` with the prefix replaced by the one
 * revision directory it starts; unchanged when no such directory, or several.
 */
async function resolveRevision(root: string, file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  const segments = path.relative(root, file).split(path.sep);
  const at = segments.indexOf('raw-file');
  const prefix = segments[at + 1];
  if (at < 1 || prefix === undefined || !/^[0-9a-f]{1,40}$/.test(prefix)) return file;
  const revisionsDir = path.join(root, ...segments.slice(0, at + 1));
  const revisions = await readdir(revisionsDir, { withFileTypes: true }).catch(() => []);
  const matches = revisions.filter((entry) => entry.isDirectory() && entry.name.startsWith(prefix));
  if (matches.length !== 1 || matches[0] === undefined) return matches.length > 1 ? undefined : file;
  return path.join(revisionsDir, matches[0].name, ...segments.slice(at + 2));
}

/** Relative URL path of a revision's Histograms.json, as the server (and the fixtures tree) lays it out. */
export function histogramsPath(repo: string, revision: string): string {
  return `/${repo}/raw-file/${revision}/toolkit/components/telemetry/Histograms.json`;
}

/** Puts a revision's Histograms.json into a server root (a temp dir the test owns). */
export async function writeHgRevision(root: string, repo: string, revision: string, contents: string | Uint8Array): Promise<string> {
  const file = path.join(root, ...histogramsPath(repo, revision).split('/'));
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, contents);
  return file;
}
