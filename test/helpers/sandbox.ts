import { findLanguage } from '../../src/sandbox/languages.js';
import { validateLimits, type Limits } from '../../src/sandbox/limits.js';
import { startRun, type RunResult } from '../../src/sandbox/runner.js';
import type { Chunk } from '../../src/sandbox/chunker.js';
import type { SandboxPool } from '../../src/sandbox/sandbox-process.js';

export interface Ran {
  result: RunResult;
  chunks: Chunk[];
  stdout: Buffer;
  stderr: Buffer;
  compile: string;
}

export async function runCode(
  lang: string,
  source: string,
  opts: { stdin?: string | Buffer; limits?: Partial<Limits>; interactive?: boolean; pool?: SandboxPool } = {},
): Promise<Ran> {
  const run = startRun({
    language: findLanguage(lang),
    source: Buffer.from(source),
    interactive: opts.interactive ?? false,
    limits: validateLimits(opts.limits ?? {}),
    ...(opts.stdin !== undefined ? { stdin: Buffer.from(opts.stdin) } : {}),
    ...(opts.pool ? { pool: opts.pool } : {}),
  });
  run.endInput();
  const chunks: Chunk[] = [];
  for await (const c of run.chunks) chunks.push(c);
  const result = await run.result;
  const of = (s: string) => Buffer.concat(chunks.filter((c) => c.stream === s).map((c) => c.data));
  return { result, chunks, stdout: of('stdout'), stderr: of('stderr'), compile: of('compile').toString() };
}

export const IS_ROOT = process.getuid?.() === 0;
