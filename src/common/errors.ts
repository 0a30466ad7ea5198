// Operating errors: each has a stable code, a one-line message and the fix.
// Broken invariants are not these: they are node:assert failures and crash the process.

export type ErrorCode =
  | 'UNKNOWN_LANGUAGE'
  | 'UNKNOWN_EXTENSION'
  | 'FILE_NOT_FOUND'
  | 'BAD_LIMIT'
  | 'SOURCE_TOO_LARGE'
  | 'BAD_FILE_NAME'
  | 'BWRAP_MISSING'
  | 'USERNS_DISABLED'
  | 'SANDBOX_USER_MISSING'
  | 'TOOLCHAIN_MISSING'
  | 'INIT_MISSING'
  | 'BAD_CONFIG'
  | 'BAD_INPUT'
  | 'SANDBOX_FAILED';

export class CodeArenaError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;

  constructor(code: ErrorCode, message: string, hint: string) {
    super(message);
    this.name = 'CodeArenaError';
    this.code = code;
    this.hint = hint;
  }

  /** One line for a terminal: the problem, then the fix. */
  oneLine(): string {
    return this.hint ? `${this.message} — ${this.hint}` : this.message;
  }
}

export function isCodeArenaError(err: unknown): err is CodeArenaError {
  return err instanceof CodeArenaError;
}
