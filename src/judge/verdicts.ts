// The judge's verdicts and their short codes, in one Node-free module: the Gateway (batch views,
// the CSV), the CLI (its table) and the grading page (web/src/grade, bundled by esbuild) all import
// this file, so a new verdict is added once and every exhaustive switch over it fails to compile
// until it is handled.

export type Verdict =
  | 'accepted'
  | 'partial'
  | 'wrong_answer'
  | 'time_limit'
  | 'memory_limit'
  | 'runtime_error'
  | 'output_limit'
  | 'compile_error'
  | 'internal_error'
  | 'skipped';

/** Every verdict, in the order the CLI and the page list counts. */
export const VERDICTS: readonly Verdict[] = ['accepted', 'partial', 'wrong_answer', 'time_limit', 'memory_limit', 'runtime_error', 'output_limit', 'compile_error', 'internal_error', 'skipped'];

/** The short code of a verdict, as the batch grid, the CSV and the CLI table show it. */
export type Short = 'AC' | 'PA' | 'WA' | 'TLE' | 'MLE' | 'RE' | 'OLE' | 'CE' | 'IE' | 'SK';

export function shortOf(v: Verdict): Short {
  switch (v) {
    case 'accepted':
      return 'AC';
    case 'partial':
      return 'PA';
    case 'wrong_answer':
      return 'WA';
    case 'time_limit':
      return 'TLE';
    case 'memory_limit':
      return 'MLE';
    case 'runtime_error':
      return 'RE';
    case 'output_limit':
      return 'OLE';
    case 'compile_error':
      return 'CE';
    case 'internal_error':
      return 'IE';
    case 'skipped':
      return 'SK';
    default: {
      const never: never = v;
      return never;
    }
  }
}

const SHORTS = new Set<string>(VERDICTS.map(shortOf));

/** A short code from the API (a grid cell), or null for a test not judged yet or an unknown code. */
export function asShort(s: string | null | undefined): Short | null {
  return s && SHORTS.has(s) ? (s as Short) : null;
}
