import pino from 'pino';

export type Logger = pino.Logger;

/** One JSON line per event on stderr (stdout stays free for what a command prints). */
export function createLogger(name: string, level = process.env.CODEARENA_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { node: name, pid: process.pid } }, pino.destination(2));
}
