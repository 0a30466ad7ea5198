// Line numbers in compiler and interpreter messages, per file: gcc/g++ ("main.c:5:3: error:"),
// javac ("Main.java:5: error:") and Python tracebacks ('File "/box/main.py", line 3').

export interface ErrorLocation {
  file: string;
  line: number;
}

const GCC = /^(?:[^\s:]*\/)?([^\s:/]+):(\d+):(?:\d+:)? (?:fatal )?error\b/gm;
const JAVAC = /^(?:[^\s:]*\/)?([^\s:/]+\.java):(\d+): error\b/gm;
const PYTHON = /File "(?:[^"]*\/)?([^"/]+\.py)", line (\d+)/g;
const NODE = /(?:^|\()(?:[^\s:()]*\/)?([^\s:/()]+\.m?js):(\d+)(?::\d+)?/gm;
/** Messages beyond this many locations are not marked (a cascade of errors). */
const LOCATIONS_MAX = 50;

export function errorLocations(languageId: string, text: string): ErrorLocation[] {
  const patterns = languageId === 'python' ? [PYTHON] : languageId === 'java' ? [JAVAC] : languageId === 'javascript' ? [NODE] : [GCC];
  const out: ErrorLocation[] = [];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      out.push({ file: m[1] as string, line: Number(m[2]) });
      if (out.length >= LOCATIONS_MAX) return out;
    }
  }
  return out;
}
