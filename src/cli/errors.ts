import { CommanderError } from 'commander';
import { isCodeArenaError } from '../common/errors.js';

/** Exit code for bad input of any kind: unknown language, missing file, bad limit, no bwrap. */
export const EXIT_USAGE = 2;
/** Exit code when CodeArena itself failed (sysexits EX_SOFTWARE). */
export const EXIT_INTERNAL = 70;

/** Prints one line for any error and exits; never a stack trace unless CODEARENA_DEBUG is set. */
export function exitOnError(err: unknown): never {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  if (isCodeArenaError(err)) {
    process.stderr.write(`codearena: ${err.oneLine()}\n`);
    process.exit(EXIT_USAGE);
  }
  const e = err as Error;
  process.stderr.write(`codearena: internal error: ${e?.message ?? String(err)}\n`);
  if (process.env.CODEARENA_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
  process.exit(EXIT_INTERNAL);
}
