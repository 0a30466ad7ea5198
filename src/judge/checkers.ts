/**
 * Output checkers: pure functions from (expected answer, program output) to a verdict. The custom
 * checker runs as a sandboxed program (see submission.ts); here only its exit is interpreted.
 *
 * Conventions follow the judges people already know: `lines` is Moodle CodeRunner's and Judge0's
 * exact match (trailing whitespace per line and trailing blank lines ignored), `tokens` is DMOJ's
 * `standard` / testlib's `wcmp`, `float` is DMOJ's `floats`, and custom checkers use testlib's exit
 * codes (0 accepted, 1 wrong answer, 7 partial with "points X" on stderr).
 */

export type CheckerSpec =
  | { kind: 'exact' }
  | { kind: 'lines' }
  | { kind: 'tokens' }
  /** Numbers equal within absEps OR within relEps of the expected value; other tokens exactly. */
  | { kind: 'float'; absEps: number; relEps: number }
  /**
   * A program run in the sandbox (compiled once, like a submission). testlib: `checker input.data
   * output.data answer.data`, exit 0/1/7; kattis: `validator input.data answer.data .` with the
   * output on stdin, exit 42/43. The first file is the main source.
   */
  | { kind: 'custom'; language: string; protocol: 'testlib' | 'kattis'; files: Array<{ name: string; content: string }> };

export const FLOAT_EPS_DEFAULT = 1e-6;
/** Characters of expected/got kept in a wrong answer's excerpt. */
export const EXCERPT_CHARS_MAX = 80;
/** Bytes of a custom checker's stderr shown to the student. */
export const CHECKER_MESSAGE_BYTES_MAX = 1024;

export interface Difference {
  /** 1-based line of the expected answer where they first differ (token checkers: the token's line). */
  line: number;
  expected: string;
  got: string;
}

export type CheckOutcome =
  | { verdict: 'accepted' }
  /** fraction of the test's points in [0, 1] (custom checkers' exit 7). */
  | { verdict: 'partial'; fraction: number; message: string }
  | { verdict: 'wrong_answer'; diff: Difference | null; message?: string }
  | { verdict: 'internal_error'; message: string };

function clip(s: string): string {
  return s.length > EXCERPT_CHARS_MAX ? `${s.slice(0, EXCERPT_CHARS_MAX)}…` : s;
}

/** Splits into lines, CRLF taken as LF, with trailing whitespace per line and trailing blank lines dropped. */
function normalLines(text: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/[ \t\r\f\v]+$/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function checkExact(expected: Buffer, got: Buffer): CheckOutcome {
  if (expected.equals(got)) return { verdict: 'accepted' };
  const n = Math.min(expected.length, got.length);
  let i = 0;
  while (i < n && expected[i] === got[i]) i++;
  let line = 1;
  for (let k = 0; k < i; k++) if (expected[k] === 10) line++;
  const start = expected.lastIndexOf(10, i - 1) + 1;
  const lineOf = (b: Buffer) => {
    const end = b.indexOf(10, start);
    return JSON.stringify(b.subarray(start, end < 0 ? b.length : end + 1).toString('utf8')).slice(1, -1);
  };
  return { verdict: 'wrong_answer', diff: { line, expected: clip(lineOf(expected)), got: clip(lineOf(got)) } };
}

function checkLines(expected: Buffer, got: Buffer): CheckOutcome {
  const e = normalLines(expected.toString('utf8'));
  const g = normalLines(got.toString('utf8'));
  const n = Math.max(e.length, g.length);
  for (let i = 0; i < n; i++) {
    if (e[i] !== g[i]) {
      return { verdict: 'wrong_answer', diff: { line: i + 1, expected: clip(e[i] ?? '<end of output>'), got: clip(g[i] ?? '<end of output>') } };
    }
  }
  return { verdict: 'accepted' };
}

/** ASCII whitespace, as testlib and DMOJ split tokens. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * Walks whitespace-separated tokens of both texts without building arrays, so a huge output costs
 * no more memory than the output itself (the output limit bounds it).
 */
class Tokens {
  private i = 0;
  line = 1;
  constructor(private readonly s: string) {}
  next(): string | null {
    const s = this.s;
    while (this.i < s.length && isSpace(s.charCodeAt(this.i))) {
      if (s.charCodeAt(this.i) === 10) this.line++;
      this.i++;
    }
    if (this.i >= s.length) return null;
    const start = this.i;
    while (this.i < s.length && !isSpace(s.charCodeAt(this.i))) this.i++;
    return s.slice(start, this.i);
  }
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:inf|infinity|nan)$/i;

function floatEqual(e: string, g: string, absEps: number, relEps: number): boolean {
  if (!NUMBER.test(e)) return e === g;
  if (!NUMBER.test(g)) return false;
  const x = Number(e.replace(/inf(inity)?$/i, 'Infinity').replace(/^([+-]?)nan$/i, 'NaN'));
  const y = Number(g.replace(/inf(inity)?$/i, 'Infinity').replace(/^([+-]?)nan$/i, 'NaN'));
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  const d = Math.abs(x - y);
  return d <= absEps || d <= relEps * Math.abs(x);
}

function checkTokens(expected: Buffer, got: Buffer, eq: (e: string, g: string) => boolean): CheckOutcome {
  const e = new Tokens(expected.toString('utf8'));
  const g = new Tokens(got.toString('utf8'));
  for (;;) {
    const a = e.next();
    const b = g.next();
    if (a === null && b === null) return { verdict: 'accepted' };
    if (a === null || b === null || !eq(a, b)) {
      return { verdict: 'wrong_answer', diff: { line: a === null ? g.line : e.line, expected: clip(a ?? '<end of output>'), got: clip(b ?? '<end of output>') } };
    }
  }
}

/** Compares a program's output with the expected answer. `custom` is not pure and is refused here. */
export function check(spec: Exclude<CheckerSpec, { kind: 'custom' }>, expected: Buffer, got: Buffer): CheckOutcome {
  switch (spec.kind) {
    case 'exact':
      return checkExact(expected, got);
    case 'lines':
      return checkLines(expected, got);
    case 'tokens':
      return checkTokens(expected, got, (a, b) => a === b);
    case 'float':
      return checkTokens(expected, got, (a, b) => floatEqual(a, b, spec.absEps, spec.relEps));
    default: {
      const never: never = spec;
      throw new Error(`unhandled checker ${JSON.stringify(never)}`);
    }
  }
}

/** What a custom checker's run ended with, as far as its verdict needs. */
export interface CheckerRunEnd {
  /** The sandbox's status for the checker run: only `ok` and `runtime_error` carry a verdict. */
  status: string;
  exitCode: number | null;
  stderr: string;
}

/**
 * testlib's convention: 0 accepted, 1 wrong answer (2, presentation error, counts as wrong too),
 * 7 partial with `points X` (X in [0, 1], or a percentage when above 1) on stderr. A checker killed
 * by a limit, crashing, or exiting with anything else is the judge's fault, never the student's
 * success: internal_error.
 */
export function interpretCheckerExit(end: CheckerRunEnd, protocol: 'testlib' | 'kattis' = 'testlib'): CheckOutcome {
  const message = end.stderr.slice(0, CHECKER_MESSAGE_BYTES_MAX).trim();
  if (end.status !== 'ok' && end.status !== 'runtime_error') {
    return { verdict: 'internal_error', message: `checker ended with ${end.status}${message ? `: ${message}` : ''}` };
  }
  if (protocol === 'kattis') {
    // Kattis output validators: 42 accepted, 43 wrong answer, anything else the validator's fault.
    if (end.exitCode === 42) return { verdict: 'accepted' };
    if (end.exitCode === 43) return { verdict: 'wrong_answer', diff: null, ...(message ? { message } : {}) };
    return { verdict: 'internal_error', message: `validator exited ${end.exitCode ?? 'by a signal'}${message ? `: ${message}` : ''}` };
  }
  switch (end.exitCode) {
    case 0:
      return { verdict: 'accepted' };
    case 1:
    case 2:
      return { verdict: 'wrong_answer', diff: null, ...(message ? { message } : {}) };
    case 7: {
      const m = /points\s+([0-9]*\.?[0-9]+(?:[eE][+-]?\d+)?)/.exec(end.stderr);
      const x = m ? Number(m[1]) : NaN;
      if (!Number.isFinite(x) || x < 0 || x > 100) return { verdict: 'internal_error', message: `checker exited 7 without a valid "points X" on stderr${message ? `: ${message}` : ''}` };
      return { verdict: 'partial', fraction: x > 1 ? x / 100 : x, message };
    }
    default:
      return { verdict: 'internal_error', message: `checker exited ${end.exitCode ?? 'by a signal'}${message ? `: ${message}` : ''}` };
  }
}

/** Reads a checker spec from problem.yaml's `validation` / our JSON's `checker` (see problem.ts). */
export function describeChecker(spec: CheckerSpec): string {
  switch (spec.kind) {
    case 'exact':
    case 'lines':
    case 'tokens':
      return spec.kind;
    case 'float':
      return `float (abs ${spec.absEps}, rel ${spec.relEps})`;
    case 'custom':
      return `custom (${spec.language})`;
    default: {
      const never: never = spec;
      throw new Error(`unhandled checker ${JSON.stringify(never)}`);
    }
  }
}
