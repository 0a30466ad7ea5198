// The judge's verdicts as the grading page shows them: the short code the batch grid and the CSV
// use (README "Grading a class"), a word for a person, and a colour class — always text plus colour,
// so a projector or a colour-blind reader loses nothing.

import { asShort, shortOf, type Short, type Verdict } from '../../../src/judge/verdicts.js';

// The verdict union and its short codes are the judge's own (src/judge/verdicts.ts, Node-free):
// one definition for the Gateway, the CLI and this page.
export { asShort, shortOf, type Short, type Verdict };

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
