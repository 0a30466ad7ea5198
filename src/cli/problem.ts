import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { PackageError } from '../judge/package-files.js';
import { describeProblem, loadProblem } from '../judge/problem.js';

/** A folder that is itself a problem (rather than a folder of problems). */
function looksLikeProblem(dir: string): boolean {
  if (existsSync(path.join(dir, 'problem.yaml')) || existsSync(path.join(dir, 'data'))) return true;
  return readdirSync(dir).some((n) => n.endsWith('.in'));
}

/**
 * `codearena problem check PATH`: one line per problem found (PATH itself, or every problem folder
 * and zip inside it): "ok NAME: what it holds" or "FAIL NAME: what is wrong". Exit 0 only if all
 * are ok; 2 if any is not (bad input, as elsewhere in the CLI).
 */
export function problemCheckCommand(target: string, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): number {
  if (!existsSync(target)) {
    out(`FAIL ${target}: does not exist`);
    return 2;
  }
  const candidates =
    statSync(target).isDirectory() && !looksLikeProblem(target)
      ? readdirSync(target)
          .sort()
          .map((n) => path.join(target, n))
          .filter((p) => (statSync(p).isDirectory() && looksLikeProblem(p)) || p.toLowerCase().endsWith('.zip'))
      : [target];
  if (candidates.length === 0) {
    out(`FAIL ${target}: no problem found (problem.yaml, data/, NAME.in + NAME.out, or zips of those)`);
    return 2;
  }
  let failed = 0;
  for (const c of candidates) {
    const label = path.basename(c);
    try {
      const p = loadProblem(c);
      out(`ok   ${label}: "${p.name}", ${describeProblem(p)}`);
    } catch (err) {
      if (!(err instanceof PackageError)) throw err;
      failed++;
      out(`FAIL ${label}: ${err.message}`);
    }
  }
  return failed === 0 ? 0 : 2;
}
