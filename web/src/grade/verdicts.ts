// The judge's verdicts as the grading page shows them: the short code the batch grid and the CSV
// use (README "Grading a class"), a word for a person, and a colour class — always text plus colour,
// so a projector or a colour-blind reader loses nothing.

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

const WORDS: Record<Short, string> = {
  AC: 'accepted',
  PA: 'partial',
  WA: 'wrong answer',
  TLE: 'time limit',
  MLE: 'memory limit',
  RE: 'runtime error',
  OLE: 'output limit',
  CE: 'compile error',
  IE: 'judge error',
  SK: 'skipped',
};

const SHORTS = new Set<string>(Object.keys(WORDS));

/** A short code from the API (a grid cell), or null for a test not judged yet or an unknown code. */
export function asShort(s: string | null | undefined): Short | null {
  return s && SHORTS.has(s) ? (s as Short) : null;
}

export function wordOf(s: Short): string {
  return WORDS[s];
}

/** CSS class of a verdict: good, partly good, the program's fault, compile, the judge's, none. */
export function toneOf(s: Short | null): string {
  switch (s) {
    case null:
      return 'v-pending';
    case 'AC':
      return 'v-ok';
    case 'PA':
      return 'v-partial';
    case 'WA':
    case 'RE':
      return 'v-bad';
    case 'TLE':
    case 'MLE':
    case 'OLE':
      return 'v-limit';
    case 'CE':
      return 'v-compile';
    case 'IE':
      return 'v-internal';
    case 'SK':
      return 'v-skipped';
    default: {
      const never: never = s;
      return never;
    }
  }
}
