import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout (stderr would mix with CLI output contracts). */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid, app: name } });
}

/** A logger that drops everything: for library code used from CLIs and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
