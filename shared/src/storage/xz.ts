/**
 * xz / lzma through the `xz` command-line tool, as a Duplex stream. Node 20's
 * zlib has no xz, and the npm codecs either lack the legacy `.lzma` ("alone")
 * format of the 2013 archives or need Node 22; xz-utils reads both.
 */
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';

/** The `xz` program is not installed (or not on PATH). */
export class XzUnavailableError extends Error {
  override readonly name = 'XzUnavailableError';
}

/**
 * The compressed input ended before its end marker (a file cut short). Readers
 * treat it as a torn tail, not as corruption.
 */
export class TruncatedInputError extends Error {
  override readonly name = 'TruncatedInputError';
}

const STDERR_LIMIT = 4096;

/**
 * Run `xz <args>` with the stream's writable side as stdin and its readable
 * side as stdout. A non-zero exit becomes a stream error carrying xz's message;
 * "Unexpected end of input" becomes a TruncatedInputError.
 */
export function xzStream(args: readonly string[]): Duplex {
  // LC_ALL=C: the truncation check below reads xz's English message.
  const child = spawn('xz', [...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  let stderr = '';
  let failed = false;

  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      // A write error here (EPIPE) only means xz already quit; its exit status
      // says why, so that is the error reported, not the broken pipe.
      child.stdin.write(chunk, () => callback());
    },
    final(callback) {
      if (!child.stdin.destroyed) child.stdin.end();
      callback();
    },
    read() {
      child.stdout.resume();
    },
    destroy(error, callback) {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      callback(error);
    },
  });

  child.stdin.on('error', () => undefined);
  child.stdout.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) child.stdout.pause();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += text;
  });
  child.on('error', (error: NodeJS.ErrnoException) => {
    failed = true;
    duplex.destroy(
      error.code === 'ENOENT'
        ? new XzUnavailableError('the `xz` program is not installed (install xz-utils) but is needed for .xz/.lzma files', {
            cause: error,
          })
        : error,
    );
  });
  // 'close' comes after stdout has ended, so every decoded byte was pushed first.
  child.on('close', (code, signal) => {
    if (failed || duplex.destroyed) return;
    if (code === 0) {
      duplex.push(null);
      return;
    }
    const message = stderr.trim() || `exited with ${code ?? signal ?? 'unknown status'}`;
    duplex.destroy(
      /Unexpected end of input/.test(stderr)
        ? new TruncatedInputError(`xz: ${message}`)
        : new Error(`xz ${args.join(' ')} failed: ${message}`),
    );
  });
  return duplex;
}
